// save: writes images of the store as a tar, streaming every blob from the store.
//  - docker format (what `docker save` writes since docker 25): blobs/sha256/<hex> for manifests, configs and
//    layers, manifest.json ({Config, RepoTags, Layers}), repositories, and an OCI index.json + oci-layout, so both
//    `docker load` (any version) and OCI tools read it. The stored manifest is kept: loading it back keeps digests.
//  - oci format: an OCI image layout (oci-layout, index.json, blobs/), names in org.opencontainers.image.ref.name,
//    as skopeo's oci-archive: transport reads it.

import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { DheError, fsError } from '../errors.js';
import { trackTemp } from '../fs/cleanup.js';
import { PRIVATE_FILE_MODE } from '../fs/private.js';
import { parseReference } from '../reference/index.js';
import { silentTrace, type Trace } from '../trace.js';
import type { ImageStore } from '../store/index.js';
import {
  DHE_NAME_ANNOTATION,
  MEDIA_TYPES,
  REF_NAME_ANNOTATION,
  isIndexMediaType,
  isManifestMediaType,
  type Descriptor,
  type Platform,
} from '../store/types.js';
import { splitName } from '../store/store.js';

export type ArchiveFormat = 'docker' | 'oci';

export interface SaveOptions {
  format?: ArchiveFormat;
  /** docker format, multi-platform image: the platform to save (default: the only platform in the store). */
  platform?: Pick<Platform, 'os' | 'architecture' | 'variant'>;
  /** When `out` is a stream: end it when done (default true). */
  end?: boolean;
  signal?: AbortSignal;
  trace?: Trace;
  /** Bytes of the archive written so far. */
  onProgress?: (bytes: number) => void;
}

export interface SaveResult {
  images: Array<{ name: string; descriptor: Descriptor }>;
  /** Size of the archive in bytes. */
  bytes: number;
}

const MAX_DOC = 8 << 20;
const EPOCH = new Date(0);
const CONTAINERD_NAME_ANNOTATION = 'io.containerd.image.name';

type Json = Record<string, unknown>;

function interrupted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new DheError('INTERRUPTED', 'interrupted');
}

/** A blob of the store whose bytes no longer match its digest or size. */
function corruptBlob(digest: string, what: string): DheError {
  return new DheError('CORRUPT_STORE', `blob ${digest} in the local store ${what}: the store is damaged`, {
    hint: 'run `dhe-cli store verify --repair`, then pull or load the image again',
  });
}

/** An error creating or writing the output file, with what the user can do about it. */
function outputError(e: unknown, out: string): DheError {
  if (e instanceof DheError) return e;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') {
    return new DheError('IO', `cannot write the archive ${out}: the folder ${dirname(out)} does not exist`, {
      hint: 'create the folder first, or choose another path with -o',
      cause: e,
    });
  }
  if (code === 'ENOTDIR') {
    return new DheError('IO', `cannot write the archive ${out}: ${dirname(out)} is not a folder`, {
      hint: 'choose another path with -o',
      cause: e,
    });
  }
  if (code === 'EISDIR') {
    return new DheError('IO', `cannot write the archive ${out}: it is a folder`, {
      hint: 'give a file name with -o, e.g. -o image.tar',
      cause: e,
    });
  }
  return fsError(e, `writing the archive ${out}`);
}

function namedPlatform(text: string): Pick<Platform, 'os' | 'architecture' | 'variant'> {
  const [os = '', architecture = '', variant] = text.split('/');
  return { os, architecture, ...(variant ? { variant } : {}) };
}

function platformMatches(p: Platform | undefined, want: SaveOptions['platform']): boolean {
  if (!p || !want) return false;
  return p.os === want.os && p.architecture === want.architecture && (want.variant === undefined || p.variant === want.variant);
}

/** docker's short form of a name ("alpine:3.20", "host:5000/team/app:1"); undefined for digest-only names. */
function repoTagOf(name: string): string | undefined {
  if (splitName(name).digest !== undefined) return undefined;
  try {
    return parseReference(name).familiar;
  } catch {
    return undefined;
  }
}

export async function saveArchive(
  store: ImageStore,
  refs: string[],
  out: Writable | string,
  opts: SaveOptions = {},
): Promise<SaveResult> {
  const format = opts.format ?? 'docker';
  const trace = opts.trace ?? silentTrace;
  const signal = opts.signal;
  if (refs.length === 0) throw new DheError('USAGE', 'save needs at least one image');

  const images: Array<{ name: string; descriptor: Descriptor }> = [];
  for (const ref of refs) {
    const d = await store.resolve(ref);
    if (!d) {
      throw new DheError('IMAGE_NOT_LOCAL', `image ${ref} is not in the local store`, {
        hint: 'pull, tag or load it first (dhe-cli images lists what is there)',
      });
    }
    images.push({ name: ref, descriptor: d });
  }

  const readDoc = async (digest: string): Promise<Json> => {
    const v: unknown = JSON.parse((await store.readBlob(digest, MAX_DOC)).toString('utf8'));
    if (!v || typeof v !== 'object') throw new DheError('CORRUPT_STORE', `manifest ${digest} is not a JSON object`);
    return v as Json;
  };

  // What goes in: blobs in order, each once, and the entries of manifest.json / index.json.
  const blobs = new Map<string, number>(); // digest → size
  const addBlob = async (d: Descriptor, required: boolean): Promise<boolean> => {
    const st = await store.statBlob(d.digest);
    if (!st) {
      if (required) {
        throw new DheError('CORRUPT_STORE', `blob ${d.digest} of the image is missing from the local store`, {
          hint: 'run `dhe-cli store verify --repair`, then pull the image again',
        });
      }
      return false;
    }
    if (typeof d.size === 'number' && st.size !== d.size) throw corruptBlob(d.digest, `has ${st.size} bytes, not ${d.size}`);
    blobs.set(d.digest, st.size);
    return true;
  };
  /** Adds an image manifest, its config and layers; returns the parsed manifest. */
  const addImage = async (d: Descriptor): Promise<{ config: Descriptor; layers: Descriptor[] }> => {
    const m = await readDoc(d.digest);
    const config = m.config as Descriptor;
    const layers = (Array.isArray(m.layers) ? m.layers : []) as Descriptor[];
    await addBlob(config, true);
    for (const l of layers) await addBlob(l, !(Array.isArray(l.urls) && l.urls.length > 0));
    await addBlob(d, true);
    return { config, layers };
  };
  const treesAdded = new Set<string>(); // an index naming the same child many times is walked once
  const addTree = async (d: Descriptor, depth: number): Promise<void> => {
    if (depth > 4 || treesAdded.has(d.digest)) return;
    treesAdded.add(d.digest);
    interrupted(signal);
    if (isManifestMediaType(d.mediaType)) {
      await addImage(d);
      return;
    }
    if (isIndexMediaType(d.mediaType)) {
      const idx = await readDoc(d.digest);
      for (const c of (Array.isArray(idx.manifests) ? idx.manifests : []) as Descriptor[]) {
        if (await store.hasBlob(c.digest)) await addTree(c, depth + 1);
      }
    }
    await addBlob(d, true);
  };

  const indexEntries: Descriptor[] = [];
  const dockerEntries: Array<{ Config: string; RepoTags: string[]; Layers: string[] }> = [];
  const repositories: Record<string, Record<string, string>> = {};
  const blobName = (digest: string) => `blobs/${digest.replace(':', '/')}`;

  /**
   * The one platform of an index to save: --platform, else the platform the name was pulled for (`pull --platform`),
   * else the only one present. `whole` says why one is needed (a docker archive, or an index not all in the store).
   */
  const onePlatform = (name: string, named: Descriptor, present: Descriptor[], whole: boolean): Descriptor => {
    const pulledFor = named.annotations?.['io.dhe-cli.platform'];
    const want = opts.platform ?? (pulledFor ? namedPlatform(pulledFor) : undefined);
    let chosen = want ? present.filter((c) => platformMatches(c.platform, want)) : present;
    if (!opts.platform && chosen.length !== 1) chosen = present;
    if (chosen.length !== 1) {
      throw new DheError(
        opts.platform ? 'PLATFORM_NOT_FOUND' : 'USAGE',
        opts.platform
          ? `${name} has no ${opts.platform.os}/${opts.platform.architecture} image in the local store`
          : whole
            ? `${name} is a multi-platform image with ${present.length} platforms in the store; a docker archive holds one`
            : `${name} is a multi-platform image of which only ${present.length} platforms are in the local store`,
        { hint: whole ? 'choose one with --platform, or save with --format oci to keep the whole index' : `choose one with --platform, or pull it with --all-platforms to save the whole index` },
      );
    }
    return chosen[0]!;
  };
  const presentChildren = async (d: Descriptor): Promise<{ children: Descriptor[]; present: Descriptor[] }> => {
    const idx = await readDoc(d.digest);
    const children = ((Array.isArray(idx.manifests) ? idx.manifests : []) as Descriptor[]).filter((c) => isManifestMediaType(c.mediaType));
    const present: Descriptor[] = [];
    for (const c of children) if (await store.hasBlob(c.digest)) present.push(c);
    return { children, present };
  };

  for (const { name, descriptor } of images) {
    let d = descriptor;
    if (isIndexMediaType(d.mediaType)) {
      const { children, present } = await presentChildren(d);
      // docker's manifest.json holds single images; an OCI index must not list a manifest the archive lacks
      // (`skopeo inspect oci-archive:` fails on it): save the name's platform then, as push pushes it
      if (format === 'docker') d = onePlatform(name, descriptor, present, true);
      else if (present.length < children.length) d = onePlatform(name, descriptor, present, false);
    }
    if (format === 'docker') {
      if (!isManifestMediaType(d.mediaType)) throw new DheError('UNSUPPORTED', `${name} is a ${d.mediaType}, not an image`);
      const { config, layers } = await addImage(d);
      const tag = repoTagOf(name);
      const cfgName = blobName(config.digest);
      let entry = dockerEntries.find((e) => e.Config === cfgName);
      if (!entry) {
        entry = { Config: cfgName, RepoTags: [], Layers: layers.map((l) => blobName(l.digest)) };
        dockerEntries.push(entry);
      }
      if (tag !== undefined && !entry.RepoTags.includes(tag)) {
        entry.RepoTags.push(tag);
        const ref = parseReference(name);
        const top = layers.at(-1);
        if (top && ref.tag) (repositories[ref.familiarName] ??= {})[ref.tag] = top.digest.slice(top.digest.indexOf(':') + 1);
      }
      const ann: Record<string, string> = { [CONTAINERD_NAME_ANNOTATION]: name, [DHE_NAME_ANNOTATION]: name };
      const t = splitName(name).tag;
      if (t !== undefined) ann[REF_NAME_ANNOTATION] = t;
      indexEntries.push({ mediaType: d.mediaType, digest: d.digest, size: d.size, annotations: ann });
    } else {
      await addTree(d, 0);
      indexEntries.push({
        mediaType: d.mediaType,
        digest: d.digest,
        size: d.size,
        ...(d.platform ? { platform: d.platform } : {}),
        annotations: { [REF_NAME_ANNOTATION]: name, [DHE_NAME_ANNOTATION]: name },
      });
    }
  }

  // Keep every blob safe from a concurrent prune while we stream it out.
  const lease = await store.lease([...blobs.keys()]);
  let tmpPath: string | undefined;
  let untrackTmp = () => {};
  try {
    let sink: Writable;
    if (typeof out === 'string') {
      tmpPath = join(dirname(out), `.${basename(out)}.${process.pid}-${randomBytes(4).toString('hex')}.partial`);
      // Open it first: a missing folder or a denied write fails here, before any stream is wired up.
      let fh: FileHandle;
      try {
        fh = await fsp.open(tmpPath, 'wx', PRIVATE_FILE_MODE); // 0600 whatever the umask (the archive holds private layers)
        untrackTmp = trackTemp(tmpPath);
      } catch (e) {
        tmpPath = undefined; // never created
        throw outputError(e, out);
      }
      sink = fh.createWriteStream({ highWaterMark: 1 << 20 });
    } else {
      sink = out;
    }
    const pack = tar.pack();
    let written = 0;
    pack.on('data', (c: unknown) => {
      written += (c as Buffer).length;
      opts.onProgress?.(written);
    });
    const piping = pipeline(pack, sink, { end: typeof out === 'string' ? true : opts.end ?? true });
    // A failing sink (disk full, closed pipe) must end the save, never go unhandled while a blob streams.
    let sinkError: unknown;
    const sinkFailed = new Promise<never>((_, rej) => {
      piping.catch((e: unknown) => {
        sinkError ??= e;
        rej(e);
      });
    });
    sinkFailed.catch(() => {});

    const addFile = (name: string, content: string) =>
      Promise.race([
        sinkFailed,
        new Promise<void>((res, rej) => {
          pack.entry({ name, mode: 0o644, mtime: EPOCH }, content, (err) => (err ? rej(err) : res()));
        }),
      ]);
    const addStream = async (name: string, digest: string, size: number) => {
      const written = new Promise<void>((res, rej) => {
        const entry = pack.entry({ name, size, mode: 0o644, mtime: EPOCH }, (err) => (err ? rej(err) : res()));
        entry.on('error', (e: unknown) => rej(e)); // a destroyed pack destroys its entry: never an unhandled 'error'
        (async () => {
          // Hash while streaming: a blob changed on disk (bit rot, bytes appended) must not go out silently.
          const hash = createHash('sha256');
          let n = 0;
          for await (const chunk of store.openBlob(digest)) {
            interrupted(signal);
            if (sinkError !== undefined) throw sinkError;
            const buf = chunk as Buffer;
            n += buf.length;
            if (n > size) throw corruptBlob(digest, `is larger than its ${size} bytes`);
            hash.update(buf);
            if (!entry.write(buf)) await new Promise<void>((r) => entry.once('drain', () => r()));
          }
          if (n !== size) throw corruptBlob(digest, `has ${n} bytes, not ${size}`);
          const got = `sha256:${hash.digest('hex')}`;
          if (digest.startsWith('sha256:') && got !== digest) throw corruptBlob(digest, `has the content of ${got}`);
          entry.end(undefined as unknown as Buffer);
        })().catch((e: unknown) => {
          rej(e);
          entry.destroy(e as Error);
        });
      });
      await Promise.race([sinkFailed, written]);
    };

    try {
      for (const [digest, size] of blobs) {
        interrupted(signal);
        await addStream(blobName(digest), digest, size);
      }
      const index = { schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: indexEntries };
      await addFile('index.json', JSON.stringify(index));
      if (format === 'docker') await addFile('manifest.json', JSON.stringify(dockerEntries));
      await addFile('oci-layout', JSON.stringify({ imageLayoutVersion: '1.0.0' }));
      if (format === 'docker') await addFile('repositories', JSON.stringify(repositories));
      pack.finalize();
      await piping;
    } catch (e) {
      pack.destroy();
      await piping.catch(() => {});
      if (typeof out === 'string' && !(e instanceof DheError)) throw outputError(e, out);
      throw e;
    }
    if (tmpPath !== undefined) {
      await fsp.rename(tmpPath, out as string);
      tmpPath = undefined;
    }
    trace.log(`archive: saved ${images.length} image(s), ${blobs.size} blobs, ${written} bytes (${format})`);
    return { images, bytes: written };
  } catch (e) {
    if (e instanceof DheError) throw e;
    throw fsError(e, `writing the archive${typeof out === 'string' ? ` ${out}` : ''}`);
  } finally {
    if (tmpPath !== undefined) await fsp.unlink(tmpPath).catch(() => {});
    untrackTmp();
    await lease.release();
  }
}
