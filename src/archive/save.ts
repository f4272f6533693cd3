// save: store → archive writer, as the one transfer engine does it (src/image/copy.ts): each image is walked in
// the store and its blobs and documents streamed (verified) into the tar, then the archive's own files.
//  - docker format (what `docker save` writes since docker 25): blobs/sha256/<hex> for manifests, configs and
//    layers, manifest.json ({Config, RepoTags, Layers}), repositories, and an OCI index.json + oci-layout, so both
//    `docker load` (any version) and OCI tools read it. The stored manifest is kept: loading it back keeps digests.
//  - oci format: an OCI image layout (oci-layout, index.json, blobs/), names in org.opencontainers.image.ref.name,
//    as skopeo's oci-archive: transport reads it.

import type { Writable } from 'node:stream';
import { DheError, fsError } from '../errors.js';
import { exactLocalPlatform, isImageIndexMediaType, isImageManifestMediaType, type Descriptor, type Platform } from '../oci/index.js';
import { parseReference } from '../reference/index.js';
import { silentTrace, type Trace } from '../trace.js';
import type { ImageStore } from '../store/index.js';
import { DHE_NAME_ANNOTATION, MEDIA_TYPES, REF_NAME_ANNOTATION } from '../store/types.js';
import { splitName } from '../store/store.js';
import { ArchiveSink, blobEntryName, outputError } from '../image/archive-sink.js';
import { transfer } from '../image/copy.js';
import { StoreSource, presentChildren, readStoredManifest } from '../image/store.js';
import { walkImage, type ImageGraph } from '../image/walk.js';

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

const CONTAINERD_NAME_ANNOTATION = 'io.containerd.image.name';

interface Planned {
  name: string;
  descriptor: Descriptor;
  graph: ImageGraph;
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

/**
 * The one platform of an index to save: --platform, else the platform the name was pulled for (`pull --platform`),
 * else the only one present. `whole` says why one is needed (a docker archive, or an index not all in the store).
 */
function onePlatform(name: string, named: Descriptor, present: Descriptor[], whole: boolean, want: SaveOptions['platform']): Descriptor {
  const chosen = exactLocalPlatform(present, want, named);
  if (chosen.length === 1) return chosen[0]!;
  throw new DheError(
    want ? 'PLATFORM_NOT_FOUND' : 'USAGE',
    want
      ? `${name} has no ${want.os}/${want.architecture} image in the local store`
      : whole
        ? `${name} is a multi-platform image with ${present.length} platforms in the store; a docker archive holds one`
        : `${name} is a multi-platform image of which only ${present.length} platforms are in the local store`,
    { hint: whole ? 'choose one with --platform, or save with --format oci to keep the whole index' : `choose one with --platform, or pull it with --all-platforms to save the whole index` },
  );
}

/** Which document of a name goes in, walked in the store; every blob it needs checked before anything is written. */
async function plan(store: ImageStore, name: string, format: ArchiveFormat, opts: SaveOptions): Promise<Planned> {
  const named = await store.resolve(name);
  if (!named) {
    throw new DheError('IMAGE_NOT_LOCAL', `image ${name} is not in the local store`, { hint: 'pull, tag or load it first (dhe-cli images lists what is there)' });
  }
  let d = named;
  if (isImageIndexMediaType(d.mediaType)) {
    const { parsed } = await readStoredManifest(store, d);
    const children = parsed.kind === 'index' ? parsed.index.manifests.filter((c) => isImageManifestMediaType(c.mediaType)) : [];
    const present = await presentChildren(store, { schemaVersion: 2, manifests: children });
    // docker's manifest.json holds single images; an OCI index must not list a manifest the archive lacks
    // (`skopeo inspect oci-archive:` fails on it): save the name's platform then, as push pushes it
    if (format === 'docker') d = onePlatform(name, named, present, true, opts.platform);
    else if (present.length < children.length) d = onePlatform(name, named, present, false, opts.platform);
  }
  if (format === 'docker' && !isImageManifestMediaType(d.mediaType)) throw new DheError('UNSUPPORTED', `${name} is a ${d.mediaType}, not an image`);
  const source = new StoreSource(store, d);
  const graph = await walkImage(source, await source.root(), { choose: (index) => presentChildren(store, index), ...(opts.signal ? { signal: opts.signal } : {}) });
  for (const b of [...graph.blobs, ...graph.manifests.map((m) => m.desc)]) {
    const st = await store.statBlob(b.digest);
    if (!st) {
      throw new DheError('CORRUPT_STORE', `blob ${b.digest} of the image is missing from the local store`, { hint: 'run `dhe-cli store verify --repair`, then pull the image again' });
    }
    if (st.size !== b.size) {
      throw new DheError('CORRUPT_STORE', `blob ${b.digest} in the local store has ${st.size} bytes, not ${b.size}: the store is damaged`, {
        hint: 'run `dhe-cli store verify --repair`, then pull or load the image again',
      });
    }
  }
  return { name, descriptor: named, graph };
}

/** The archive's own files: index.json (both formats), manifest.json and repositories (docker). */
function archiveFiles(planned: Planned[], format: ArchiveFormat): Array<[string, string]> {
  const indexEntries: Descriptor[] = [];
  const dockerEntries: Array<{ Config: string; RepoTags: string[]; Layers: string[] }> = [];
  const repositories: Record<string, Record<string, string>> = {};
  for (const { name, graph } of planned) {
    const d = graph.top.desc;
    if (format === 'oci' || graph.top.parsed.kind !== 'image') {
      indexEntries.push({ mediaType: d.mediaType, digest: d.digest, size: d.size, ...(d.platform ? { platform: d.platform } : {}), annotations: { [REF_NAME_ANNOTATION]: name, [DHE_NAME_ANNOTATION]: name } });
      continue;
    }
    const { config, layers } = graph.top.parsed.manifest;
    const cfgName = blobEntryName(config.digest);
    let entry = dockerEntries.find((e) => e.Config === cfgName);
    if (!entry) {
      entry = { Config: cfgName, RepoTags: [], Layers: layers.map((l) => blobEntryName(l.digest)) };
      dockerEntries.push(entry);
    }
    const tag = repoTagOf(name);
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
  }
  const files: Array<[string, string]> = [['index.json', JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: indexEntries })]];
  if (format === 'docker') files.push(['manifest.json', JSON.stringify(dockerEntries)]);
  files.push(['oci-layout', JSON.stringify({ imageLayoutVersion: '1.0.0' })]);
  if (format === 'docker') files.push(['repositories', JSON.stringify(repositories)]);
  return files;
}

export async function saveArchive(store: ImageStore, refs: string[], out: Writable | string, opts: SaveOptions = {}): Promise<SaveResult> {
  const format = opts.format ?? 'docker';
  const trace = opts.trace ?? silentTrace;
  if (refs.length === 0) throw new DheError('USAGE', 'save needs at least one image');
  const planned: Planned[] = [];
  for (const ref of refs) planned.push(await plan(store, ref, format, opts));

  // Keep every blob safe from a concurrent prune while we stream it out.
  const lease = await store.lease(planned.flatMap((p) => [...p.graph.blobs.map((b) => b.digest), ...p.graph.manifests.map((m) => m.desc.digest), p.graph.top.desc.digest]));
  let sink: ArchiveSink | undefined;
  try {
    sink = await ArchiveSink.open(out, { ...(opts.end !== undefined ? { end: opts.end } : {}), ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) });
    try {
      for (const p of planned) {
        // one blob at a time: the tar is written in order
        await transfer(new StoreSource(store, p.graph.top.desc), sink, p.graph, { concurrency: 1, verifyBlobs: true, ...(opts.signal ? { signal: opts.signal } : {}) });
      }
      for (const [name, content] of archiveFiles(planned, format)) await sink.addFile(name, content);
      await sink.finish();
    } catch (e) {
      await sink.close(e);
      if (opts.signal?.aborted) throw new DheError('INTERRUPTED', 'interrupted');
      if (typeof out === 'string' && !(e instanceof DheError)) throw outputError(e, out);
      throw e;
    }
    const blobs = new Set(planned.flatMap((p) => p.graph.blobs.map((b) => b.digest))).size;
    trace.log(`archive: saved ${planned.length} image(s), ${blobs} blobs, ${sink.bytes} bytes (${format})`);
    return { images: planned.map((p) => ({ name: p.name, descriptor: p.descriptor })), bytes: sink.bytes };
  } catch (e) {
    if (e instanceof DheError) throw e;
    throw fsError(e, `writing the archive${typeof out === 'string' ? ` ${out}` : ''}`);
  } finally {
    await sink?.dispose();
    await lease.release();
  }
}
