// load: reads a docker save archive (old form with <id>/layer.tar and <id>.json, new form with blobs/sha256/...),
// a skopeo docker-archive: or oci-archive:, or an OCI layout tar, gzip-compressed or not, as a stream. Every
// regular file is streamed into the store while hashed (entries named blobs/<alg>/<hex> must match that digest);
// metadata files are kept in memory under a cap. Names are set only after every image checks out; on any failure
// the blobs this load added are removed again, so the store is as it was.

import { ARCHIVE_META_MAX_BYTES, ARCHIVE_META_TOTAL_MAX_BYTES, CONFIG_MAX_BYTES, INDEX_DEPTH_MAX } from '../oci/limits.js';
import { createReadStream, promises as fsp } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { DheError, fsError, isDheError } from '../errors.js';
import { parseReference } from '../reference/index.js';
import { silentTrace, type Trace } from '../trace.js';
import type { ImageStore, Lease } from '../store/index.js';
import { isValidDigest, parseDigest } from '../store/digest.js';
import {
  DHE_NAME_ANNOTATION,
  MEDIA_TYPES,
  REF_NAME_ANNOTATION,
  isIndexMediaType,
  isManifestMediaType,
  type Descriptor,
} from '../store/types.js';
import { GraphBudget, GunzipBudget, interruptedError, tarBytesOf } from './graph.js';
import { badArchive, cleanEntryName, resolveLinkTarget, shownName } from './paths.js';

export interface LoadOptions {
  trace?: Trace;
  signal?: AbortSignal;
  /** A name for the image when the archive names none (used only when it holds exactly one image). */
  name?: string;
  /** Called as entries are read: the entry name and bytes of it stored so far. */
  onProgress?: (e: { entry: string; bytes: number }) => void;
}

export interface LoadedImage {
  /** Full normalised names given to it (empty when the archive named it nowhere). */
  names: string[];
  descriptor: Descriptor;
  /** The image ID (config digest) for a single-platform image. */
  configDigest?: string;
}

export interface LoadResult {
  /** Every name set, in archive order. */
  names: string[];
  images: LoadedImage[];
}

const CONTAINERD_NAME_ANNOTATION = 'io.containerd.image.name';
const MAX_META_BYTES = ARCHIVE_META_MAX_BYTES;
const MAX_META_TOTAL = ARCHIVE_META_TOTAL_MAX_BYTES;
const MAX_ENTRIES = 200_000;
const MAX_LINK_DEPTH = 16;
/** Per tar entry, room for a PAX or GNU long-name header before it (not reported as entries by tar-stream). */
const LONG_HEADER_ALLOWANCE = 2048;

interface StoredEntry {
  digest: string;
  size: number;
  head: Buffer;
}

type Json = Record<string, unknown>;

function isMetaName(p: string): boolean {
  return (
    p === 'manifest.json' ||
    p === 'index.json' ||
    p === 'repositories' ||
    p === 'oci-layout' ||
    p.endsWith('/json') ||
    p.endsWith('/VERSION')
  );
}

function blobEntryDigest(p: string): string | undefined {
  const m = /^blobs\/([a-z0-9]+)\/([a-f0-9]+)$/.exec(p);
  if (!m) return undefined;
  const d = `${m[1]}:${m[2]}`;
  return isValidDigest(d) ? d : undefined;
}

function asObject(v: unknown, what: string): Json {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw badArchive(`${what} is not a JSON object`);
  return v as Json;
}

function parseJson(buf: Buffer, what: string): unknown {
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (e) {
    throw badArchive(`${what} in the archive is not valid JSON`, e);
  }
}

function checkDescriptor(v: unknown, what: string): Descriptor {
  const d = asObject(v, what);
  if (typeof d.mediaType !== 'string' || d.mediaType.length === 0 || d.mediaType.length > 255) {
    throw badArchive(`${what} has no valid mediaType`);
  }
  if (typeof d.digest !== 'string' || !isValidDigest(d.digest)) throw badArchive(`${what} has an invalid digest`);
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) throw badArchive(`${what} has an invalid size`);
  return d as unknown as Descriptor;
}

function layerMediaTypeOf(head: Buffer, docker: boolean): string {
  if (head[0] === 0x1f && head[1] === 0x8b) return docker ? MEDIA_TYPES.dockerLayerGzip : MEDIA_TYPES.ociLayerGzip;
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return MEDIA_TYPES.ociLayerZstd;
  return docker ? MEDIA_TYPES.dockerLayer : MEDIA_TYPES.ociLayer;
}

function normaliseName(raw: string, where: string): string {
  try {
    return parseReference(raw).toString();
  } catch (e) {
    throw badArchive(`${where} names an invalid image reference "${shownName(raw)}"`, e);
  }
}

async function openInput(input: Readable | string): Promise<Readable> {
  if (typeof input !== 'string') return input;
  try {
    const st = await fsp.stat(input);
    if (!st.isFile() && !st.isFIFO()) throw new DheError('USAGE', `${input} is not a file`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new DheError('NOT_FOUND', `archive ${input} does not exist`, { hint: 'check the path given to load -i' });
    }
    throw fsError(e, `opening ${input}`);
  }
  return createReadStream(input, { highWaterMark: 1 << 20 });
}

/** The input with its first bytes looked at: gzip is undone on the fly; other compressions are refused. */
async function sniff(src: Readable): Promise<{ stream: Readable; gzip: boolean }> {
  const it = (src as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let n = 0;
  let ended = false;
  while (n < 6) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    const b = typeof r.value === 'string' ? Buffer.from(r.value) : Buffer.from(r.value);
    head.push(b);
    n += b.length;
  }
  const first = Buffer.concat(head);
  if (first.length === 0) throw badArchive('the archive is empty');
  if (first[0] === 0x28 && first[1] === 0xb5 && first[2] === 0x2f && first[3] === 0xfd) {
    throw badArchive('zstd-compressed archives are not supported', undefined).withHint('decompress it first (zstd -d) or use gzip');
  }
  if (first.subarray(0, 3).toString('latin1') === 'BZh' || first.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) {
    throw badArchive('bzip2/xz-compressed archives are not supported').withHint('decompress it first, or use gzip');
  }
  const gen = async function* () {
    try {
      yield first;
      if (ended) return;
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        yield r.value;
      }
    } finally {
      await it.return?.();
    }
  };
  const stream = Readable.from(gen(), { objectMode: false, highWaterMark: 1 << 20 });
  return { stream, gzip: first[0] === 0x1f && first[1] === 0x8b };
}

/** Reads an archive into the store and names what it names. See the module comment for the guarantees. */
export async function loadArchive(store: ImageStore, input: Readable | string, opts: LoadOptions = {}): Promise<LoadResult> {
  const trace = opts.trace ?? silentTrace;
  const signal = opts.signal;
  const lease = await store.lease([]);
  const created = new Set<string>();
  let source: Readable | undefined;
  const onAbort = () => source?.destroy(new DheError('INTERRUPTED', 'interrupted'));
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (signal?.aborted) throw new DheError('INTERRUPTED', 'interrupted');
    source = await openInput(input);
    const result = await readAndName(store, source, lease, created, opts, trace, signal);
    // Whatever the archive held that no named image uses (junk entries, v1 json files) goes again.
    await store.discardBlobs([...created], { ownLease: lease });
    return result;
  } catch (e) {
    source?.destroy();
    await store.discardBlobs([...created], { ownLease: lease }).catch(() => {});
    if (signal?.aborted) throw isDheError(e) && e.code === 'INTERRUPTED' ? e : new DheError('INTERRUPTED', 'interrupted', { cause: e });
    if (isDheError(e)) {
      if (e.code === 'DIGEST_MISMATCH' || e.code === 'SIZE_MISMATCH' || e.code === 'MALFORMED_MANIFEST') {
        throw badArchive(`the archive is corrupt: ${e.message}`, e);
      }
      throw e;
    }
    throw badArchive(`the archive could not be read: ${e instanceof Error ? e.message : String(e)}`, e);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await lease.release();
  }
}

async function readAndName(
  store: ImageStore,
  source: Readable,
  lease: Lease,
  created: Set<string>,
  opts: LoadOptions,
  trace: Trace,
  signal: AbortSignal | undefined,
): Promise<LoadResult> {
  const { stream, gzip } = await sniff(source);
  trace.log(`archive: reading ${gzip ? 'gzip-compressed ' : ''}tar`);
  const extract = tar.extract();
  let pipeError: unknown;
  // gzip: the decompressed bytes may exceed what the tar headers declare only by a margin (no gzip bombs).
  const gunzipBudget = gzip ? new GunzipBudget() : undefined;
  const piping = (gunzipBudget ? pipeline(stream, createGunzip(), gunzipBudget, extract) : pipeline(stream, extract)).catch(
    (e: unknown) => {
      pipeError = e;
    },
  );
  const budget = new GraphBudget(signal);

  const files = new Map<string, StoredEntry>();
  const meta = new Map<string, Buffer>();
  const links = new Map<string, string>();
  let metaTotal = 0;
  let entries = 0;

  const seen = (p: string) => files.has(p) || meta.has(p) || links.has(p);

  try {
    for await (const entry of extract) {
      if (signal?.aborted) throw interruptedError(signal);
      if (++entries > MAX_ENTRIES) throw badArchive(`the archive has more than ${MAX_ENTRIES} entries`);
      const h = entry.header;
      gunzipBudget?.declare(tarBytesOf(h.size ?? 0) + LONG_HEADER_ALLOWANCE);
      if (entries % 256 === 0) await budget.tick();
      const type: string = h.type ?? 'file';
      if (type === 'pax-global-header') {
        entry.resume();
        continue;
      }
      const path = cleanEntryName(h.name);
      if (type === 'directory') {
        entry.resume();
        continue;
      }
      if (path === '') throw badArchive(`archive entry "${shownName(h.name)}" has no name`);
      if (seen(path)) throw badArchive(`the archive has two entries named "${shownName(path)}"`);
      if (type === 'symlink' || type === 'link') {
        links.set(path, resolveLinkTarget(path, h.linkname ?? '', type));
        entry.resume();
        continue;
      }
      if (type !== 'file' && type !== 'contiguous-file') {
        throw badArchive(`archive entry "${shownName(path)}" is a ${type}; only files, folders and links are allowed`);
      }
      if (isMetaName(path)) {
        if ((h.size ?? 0) > MAX_META_BYTES || metaTotal + (h.size ?? 0) > MAX_META_TOTAL) {
          throw badArchive(`archive entry "${shownName(path)}" is too large (${h.size} bytes)`);
        }
        const chunks: Buffer[] = [];
        for await (const c of entry) chunks.push(c as Buffer);
        const buf = Buffer.concat(chunks);
        metaTotal += buf.length;
        meta.set(path, buf);
        continue;
      }
      const expectDigest = blobEntryDigest(path);
      const size = h.size ?? 0;
      if (expectDigest !== undefined) {
        await lease.add([expectDigest]);
        const st = await store.statBlob(expectDigest);
        if (st && st.size === size) {
          // Already stored (and verified when it was): skip the bytes.
          for await (const _ of entry) void _;
          files.set(path, { digest: expectDigest, size, head: await readHead(store, expectDigest) });
          continue;
        }
      }
      let head = Buffer.alloc(0);
      const tap = async function* () {
        for await (const c of entry) {
          const b = c as Buffer;
          if (head.length < 8) head = Buffer.concat([head, b.subarray(0, 8 - head.length)]);
          yield b;
        }
      };
      const r = await store.writeBlob(
        tap(),
        { ...(expectDigest !== undefined ? { digest: expectDigest } : {}), size },
        {
          lease,
          ...(signal ? { signal } : {}),
          ...(opts.onProgress ? { onProgress: (bytes: number) => opts.onProgress!({ entry: path, bytes }) } : {}),
        },
      ).catch((e: unknown) => {
        if (isDheError(e) && e.code === 'DIGEST_MISMATCH') {
          throw badArchive(`archive entry "${shownName(path)}" does not match its digest`, e);
        }
        throw e;
      });
      if (!r.existed) created.add(r.digest);
      files.set(path, { digest: r.digest, size: r.size, head });
    }
  } catch (e) {
    extract.destroy();
    stream.destroy();
    await piping;
    // the gzip budget's own error says more than "premature close" of the extractor it ended
    if (isDheError(pipeError) && pipeError.code === 'BAD_ARCHIVE' && !(isDheError(e) && e.code === 'INTERRUPTED')) throw pipeError;
    throw e;
  }
  await piping;
  if (pipeError !== undefined) throw pipeError;
  trace.log(`archive: ${files.size} files stored, ${meta.size} metadata files, ${links.size} links`);

  // ---- interpret
  const follow = <T>(map: Map<string, T>, p: string): T | undefined => {
    let cur = p;
    for (let i = 0; i < MAX_LINK_DEPTH; i++) {
      const v = map.get(cur);
      if (v !== undefined) return v;
      const next = links.get(cur);
      if (next === undefined) return undefined;
      cur = next;
    }
    throw badArchive(`links in the archive loop or nest too deep at "${shownName(p)}"`);
  };
  const fileAt = (p: string) => follow(files, p);

  // RepoTags of manifest.json, by config digest (docker writes both forms; skopeo's docker-archive only this one).
  let dockerManifest: Json[] | undefined;
  const metaManifest = follow(meta, 'manifest.json');
  if (metaManifest) {
    const v = parseJson(metaManifest, 'manifest.json');
    if (!Array.isArray(v)) throw badArchive('manifest.json in the archive is not a list');
    dockerManifest = v.map((x, i) => asObject(x, `manifest.json entry ${i}`));
  }
  const repoTagsByConfig = new Map<string, string[]>();

  // Every lookup is remembered: an archive naming the same blob many times costs one stat (see graph.ts).
  const presence = new Map<string, boolean>();
  const blobPresent = async (d: Descriptor): Promise<boolean> => {
    const key = `${d.size} ${d.digest}`;
    const known = presence.get(key);
    if (known !== undefined) return known;
    const f = fileAt(`blobs/${d.digest.replace(':', '/')}`);
    if (f) {
      if (f.size !== d.size) throw badArchive(`blob ${d.digest} is ${f.size} bytes in the archive, but ${d.size} are declared`);
      presence.set(key, true);
      return true;
    }
    const st = await store.statBlob(d.digest);
    const present = !!st && st.size === d.size;
    if (present) await lease.add([d.digest]);
    presence.set(key, present);
    return present;
  };

  // Checks that an image (or an index and its present children) is complete; returns the config digest of an image.
  // Each (media type, digest) is checked once; its height (index levels below it) tells whether a later reference
  // from deeper down nests too deep. Every reference counts against the budget.
  const MAX_DEPTH = INDEX_DEPTH_MAX;
  const checked = new Map<string, Promise<{ configDigest: string | undefined; height: number }>>();
  const checkTree = async (d: Descriptor, depth: number): Promise<string | undefined> => {
    if (depth > MAX_DEPTH) throw badArchive('indexes nest too deep');
    const key = `${d.mediaType} ${d.size} ${d.digest}`;
    await budget.ref(key);
    let p = checked.get(key);
    if (!p) {
      p = checkOnce(d, depth);
      checked.set(key, p);
    }
    const r = await p;
    if (depth + r.height > MAX_DEPTH) throw badArchive('indexes nest too deep');
    return r.configDigest;
  };
  const checkOnce = async (d: Descriptor, depth: number): Promise<{ configDigest: string | undefined; height: number }> => {
    if (!(await blobPresent(d))) throw badArchive(`the archive does not contain ${d.mediaType} ${d.digest}`);
    if (!isManifestMediaType(d.mediaType) && !isIndexMediaType(d.mediaType)) return { configDigest: undefined, height: 0 };
    const doc = asObject(parseJson(await store.readBlob(d.digest, ARCHIVE_META_MAX_BYTES), `manifest ${d.digest}`), `manifest ${d.digest}`);
    await budget.tick();
    if (typeof doc.mediaType === 'string' && doc.mediaType !== d.mediaType) {
      throw badArchive(`manifest ${d.digest} is a ${doc.mediaType}, but is referred to as a ${d.mediaType}`);
    }
    if (isIndexMediaType(d.mediaType)) {
      if (!Array.isArray(doc.manifests)) throw badArchive(`index ${d.digest} has no manifests`);
      let present = 0;
      let height = 1;
      for (const [i, c] of doc.manifests.entries()) {
        const child = checkDescriptor(c, `index ${d.digest} manifests[${i}]`);
        if (await blobPresent(child)) {
          present++;
          await checkTree(child, depth + 1);
          const done = await checked.get(`${child.mediaType} ${child.size} ${child.digest}`);
          if (done) height = Math.max(height, done.height + 1);
        } else {
          await budget.ref(`${child.mediaType} ${child.size} ${child.digest}`);
        }
      }
      if (present === 0) throw badArchive(`the archive contains none of the images of index ${d.digest}`);
      return { configDigest: undefined, height };
    }
    const config = checkDescriptor(doc.config, `manifest ${d.digest} config`);
    await budget.ref(`config ${config.size} ${config.digest}`);
    if (!(await blobPresent(config))) throw badArchive(`the archive does not contain config ${config.digest}`);
    if (!Array.isArray(doc.layers)) throw badArchive(`manifest ${d.digest} has no layers`);
    for (const [i, l] of doc.layers.entries()) {
      const layer = checkDescriptor(l, `manifest ${d.digest} layers[${i}]`);
      await budget.ref(`layer ${layer.size} ${layer.digest}`);
      if (layer.urls !== undefined && !(await blobPresent(layer))) continue; // foreign layer, not distributable
      if (!(await blobPresent(layer))) throw badArchive(`the archive does not contain layer ${layer.digest}`);
    }
    return { configDigest: config.digest, height: 0 };
  };

  interface Candidate {
    descriptor: Descriptor;
    names: string[];
    configDigest?: string;
  }
  const candidates: Candidate[] = [];
  const candidateByDigest = new Map<string, Candidate>();
  const addCandidate = (c: Candidate) => {
    candidates.push(c);
    candidateByDigest.set(c.descriptor.digest, c);
  };

  // Docker manifest.json → config digests and RepoTags (and, when there is no usable index.json, the images).
  const fromDockerManifest: Array<{ entry: Json; configPath: string }> = [];
  for (const [i, e] of (dockerManifest ?? []).entries()) {
    await budget.ref(`manifest.json ${i}`);
    if (typeof e.Config !== 'string') throw badArchive(`manifest.json entry ${i} has no Config`);
    const configPath = cleanEntryName(e.Config);
    const cfg = fileAt(configPath);
    if (!cfg) throw badArchive(`manifest.json names config "${shownName(configPath)}" which the archive does not contain`);
    const tags = e.RepoTags === undefined || e.RepoTags === null ? [] : e.RepoTags;
    if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string')) throw badArchive(`manifest.json entry ${i} has invalid RepoTags`);
    const names = (tags as string[]).map((t) => normaliseName(t, 'manifest.json'));
    for (const n of names) await budget.ref(`name ${n}`);
    const tagged = repoTagsByConfig.get(cfg.digest);
    if (tagged) tagged.push(...names);
    else repoTagsByConfig.set(cfg.digest, names);
    fromDockerManifest.push({ entry: e, configPath });
  }

  const indexBuf = follow(meta, 'index.json');
  let usedIndex = false;
  if (indexBuf) {
    const idx = asObject(parseJson(indexBuf, 'index.json'), 'index.json');
    if (!Array.isArray(idx.manifests)) throw badArchive('index.json has no manifests');
    const roots = idx.manifests.map((m, i) => checkDescriptor(m, `index.json manifests[${i}]`));
    // Docker's own index.json is only a convenience when manifest.json is there too: use it when all it names is present.
    const allPresent = await (async () => {
      for (const r of roots) if (!(await blobPresent(r))) return false;
      return true;
    })();
    if (roots.length > 0 && (allPresent || !dockerManifest)) {
      usedIndex = true;
      for (const root of roots) {
        if (!isManifestMediaType(root.mediaType) && !isIndexMediaType(root.mediaType)) {
          trace.log(`archive: skipping index.json entry of type ${root.mediaType}`);
          await budget.ref(`${root.mediaType} ${root.size} ${root.digest}`);
          continue;
        }
        const configDigest = await checkTree(root, 0);
        const a = root.annotations ?? {};
        let names: string[] = [];
        const full = a[CONTAINERD_NAME_ANNOTATION] ?? a[DHE_NAME_ANNOTATION];
        if (typeof full === 'string' && full) names = [normaliseName(full, 'index.json')];
        else if (configDigest && repoTagsByConfig.has(configDigest)) names = [...repoTagsByConfig.get(configDigest)!];
        else if (typeof a[REF_NAME_ANNOTATION] === 'string' && a[REF_NAME_ANNOTATION]) {
          names = [normaliseName(a[REF_NAME_ANNOTATION], 'index.json')];
        }
        const descriptor: Descriptor = { mediaType: root.mediaType, digest: root.digest, size: root.size };
        if (root.platform) descriptor.platform = root.platform;
        const same = candidateByDigest.get(root.digest);
        if (same) same.names.push(...names.filter((n) => !same.names.includes(n)));
        else addCandidate({ descriptor, names, ...(configDigest ? { configDigest } : {}) });
      }
    }
  }

  if (!usedIndex) {
    if (!dockerManifest) {
      throw badArchive('the archive has neither manifest.json (docker save) nor index.json (OCI layout)');
    }
    // A config named by many entries is read and parsed once.
    const configs = new Map<string, Json>();
    for (const { entry, configPath } of fromDockerManifest) {
      const cfg = fileAt(configPath)!;
      let config = configs.get(cfg.digest);
      if (!config) {
        config = asObject(parseJson(await store.readBlob(cfg.digest, CONFIG_MAX_BYTES), `config ${configPath}`), 'image config');
        configs.set(cfg.digest, config);
      }
      await budget.tick();
      const rootfs = asObject(config.rootfs, `config ${configPath} rootfs`);
      const diffIds = rootfs.diff_ids;
      if (!Array.isArray(diffIds)) throw badArchive(`config ${configPath} has no rootfs.diff_ids`);
      if (!Array.isArray(entry.Layers) || entry.Layers.some((l) => typeof l !== 'string')) {
        throw badArchive(`manifest.json entry for ${configPath} has no valid Layers`);
      }
      const layerPaths = (entry.Layers as string[]).map(cleanEntryName);
      if (layerPaths.length !== diffIds.length) {
        throw badArchive(`config ${configPath} lists ${diffIds.length} layers, manifest.json ${layerPaths.length}`);
      }
      const layers: Descriptor[] = [];
      let allDocker = true;
      for (const [i, lp] of layerPaths.entries()) {
        await budget.ref(`layer ${lp}`);
        const f = fileAt(lp);
        if (!f) throw badArchive(`manifest.json names layer "${shownName(lp)}" which the archive does not contain`);
        const mediaType = layerMediaTypeOf(f.head, true);
        if (mediaType === MEDIA_TYPES.ociLayerZstd) allDocker = false;
        if ((mediaType === MEDIA_TYPES.dockerLayer) && f.digest !== diffIds[i]) {
          throw badArchive(`layer "${shownName(lp)}" hashes to ${f.digest}, but the config expects ${String(diffIds[i])}`);
        }
        layers.push({ mediaType, size: f.size, digest: f.digest });
      }
      // The manifest docker itself would write for this image (docker push: 3-space indented JSON).
      const manifest = {
        schemaVersion: 2,
        mediaType: allDocker ? MEDIA_TYPES.dockerManifest : MEDIA_TYPES.ociManifest,
        config: { mediaType: allDocker ? MEDIA_TYPES.dockerConfig : MEDIA_TYPES.ociConfig, size: cfg.size, digest: cfg.digest },
        layers: layers.map((l) => ({
          mediaType: allDocker ? l.mediaType : l.mediaType.replace(MEDIA_TYPES.dockerLayerGzip, MEDIA_TYPES.ociLayerGzip).replace(MEDIA_TYPES.dockerLayer, MEDIA_TYPES.ociLayer),
          size: l.size,
          digest: l.digest,
        })),
      };
      const bytes = Buffer.from(JSON.stringify(manifest, null, 3));
      const w = await store.writeBlob([bytes], {}, { lease });
      if (!w.existed) created.add(w.digest);
      const descriptor: Descriptor = { mediaType: manifest.mediaType, digest: w.digest, size: w.size };
      const names = repoTagsByConfig.get(cfg.digest) ?? [];
      if (!candidateByDigest.has(w.digest)) addCandidate({ descriptor, names: [...new Set(names)], configDigest: cfg.digest });
    }
  }

  if (candidates.length === 0) throw badArchive('the archive contains no image');
  if (opts.name !== undefined && candidates.length === 1 && candidates[0]!.names.length === 0) {
    candidates[0]!.names = [normaliseName(opts.name, 'the name given')];
  }
  if (signal?.aborted) throw new DheError('INTERRUPTED', 'interrupted');
  if (candidates.every((c) => c.names.length === 0)) {
    throw new DheError('USAGE', `the archive names none of its ${candidates.length} image(s), so nothing was loaded`, {
      hint: 'give the image a name when loading it (an archive made with `docker save IMAGE-ID` carries no name)',
      details: { manifests: candidates.map((c) => c.descriptor.digest) },
    });
  }

  const names: string[] = [];
  const pairs: Array<[string, Descriptor]> = [];
  for (const c of candidates) {
    c.names = [...new Set(c.names)];
    for (const n of c.names) {
      pairs.push([n, c.descriptor]);
      names.push(n);
    }
  }
  budget.check();
  await store.setNames(pairs); // one index update, however many names

  return {
    names,
    images: candidates.map((c) => ({
      names: c.names,
      descriptor: c.descriptor,
      ...(c.configDigest ? { configDigest: c.configDigest } : {}),
    })),
  };
}

async function readHead(store: ImageStore, digest: string): Promise<Buffer> {
  parseDigest(digest);
  const fh = await fsp.open(store.blobPath(digest), 'r');
  try {
    const buf = Buffer.alloc(8);
    const { bytesRead } = await fh.read(buf, 0, 8, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}
