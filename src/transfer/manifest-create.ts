// manifest create: a multi-platform index (OCI image index or docker manifest list) made from images already on the
// registry, without moving a layer. Each SOURCE is read as the registry serves it: an image manifest contributes
// itself, with the platform its config names (os, architecture, variant, os.version, os.features); an index
// contributes every child as it lists it. When a source lives in another repository of the registry, its blobs are
// cross-repository mounted into TARGET's repository (HEAD first; never uploaded: a blob that cannot be mounted is an
// error naming it) and its manifests are PUT there byte for byte by digest; then the index goes up under TARGET.

import { DheError } from '../errors.js';
import { MediaType, digestOf, isAttestation, isConfigMediaType, normalizePlatform, platformString, shortId, type Descriptor, type Index, type Platform } from '../oci/index.js';
import type { Reference } from '../reference/index.js';
import type { RegistryClient } from '../registry/index.js';
import { readConfig } from '../image/config.js';
import { resolveDescriptor, type ResolvedRef } from '../image/referrers.js';
import { RemoteSink, RemoteSource } from '../image/remote.js';
import { walkImage, type ImageGraph } from '../image/walk.js';
import { noEvents, type EventSink } from './events.js';
import { runPool } from './pool.js';

export type IndexFormat = 'oci' | 'docker';

export interface CreateIndexOptions {
  /** The client of TARGET's registry (every SOURCE must be on it). */
  client: RegistryClient;
  /** Default: docker when every source is docker schema 2 (manifest or manifest list) and no annotation is given. */
  format?: IndexFormat;
  /** Annotations of the index (OCI format only). */
  annotations?: Record<string, string>;
  concurrency?: number;
  onEvent?: EventSink;
  signal?: AbortSignal;
}

export interface CreateIndexResult {
  digest: string;
  mediaType: string;
  size: number;
  /** The index's entries, in order. */
  manifests: Descriptor[];
  /** Blobs mounted into TARGET's repository, and blobs it had already. */
  mountedBlobs: number;
  existingBlobs: number;
}

/** One SOURCE as read: its document, the walk below it, and the entries it gives the index. */
interface ReadSource {
  ref: Reference;
  doc: ResolvedRef;
  graph: ImageGraph;
  entries: Array<{ desc: Descriptor; from: string }>;
}

export async function createIndex(target: Reference, sources: Reference[], opts: CreateIndexOptions): Promise<CreateIndexResult> {
  const { client, signal } = opts;
  const emit = opts.onEvent ?? noEvents;
  checkReferences(client, target, sources);
  const read: ReadSource[] = [];
  for (const ref of sources) read.push(await readSource(client, ref, signal));
  const entries = read.flatMap((s) => s.entries);
  checkPlatforms(entries);
  const mediaType = chooseFormat(read, opts);
  const bytes = Buffer.from(JSON.stringify(indexDocument(mediaType, entries.map((e) => e.desc), opts.annotations)));
  const digest = digestOf(bytes);
  if (target.digest && target.digest !== digest) {
    throw new DheError('USAGE', `the index is ${digest}, not the ${target.digest} ${target.familiarName} names`, { hint: 'name TARGET by a tag' });
  }
  emit({ type: 'push-start', reference: target.toString(), repository: target.name });
  const sink = new RemoteSink(client, target.repository);
  const moved = { mounted: 0, existing: 0 };
  for (const s of read) if (s.ref.repository !== target.repository) await bringIn(s, sink, moved, opts);
  const tag = target.tag ?? digest;
  await sink.putManifest({ mediaType, digest, size: bytes.length }, bytes, tag, signal);
  emit({ type: 'manifest-pushed', tag, digest, size: bytes.length });
  return { digest, mediaType, size: bytes.length, manifests: entries.map((e) => e.desc), mountedBlobs: moved.mounted, existingBlobs: moved.existing };
}

function checkReferences(client: RegistryClient, target: Reference, sources: Reference[]): void {
  if (sources.length === 0) {
    throw new DheError('USAGE', 'manifest create needs at least one SOURCE', { hint: 'dhe-cli manifest create TARGET SOURCE...' });
  }
  if (target.registry !== client.registry) {
    throw new DheError('USAGE', `the client is for ${client.registry}, not for ${target.registry} where ${target.familiar} is`);
  }
  for (const ref of sources) {
    if (ref.registry !== target.registry) {
      throw new DheError('USAGE', `${ref.familiar} is on ${ref.registry}, not on ${target.registry} where ${target.familiar} goes`, {
        hint: `an index is made from images on its own registry (their blobs are mounted, not copied): dhe-cli copy ${ref.familiar} ${target.registry}/REPO:TAG first, then name that`,
      });
    }
  }
}

/** Reads a SOURCE: its document, the walk below it (child manifests only: no layer is read), and its entries. */
async function readSource(client: RegistryClient, ref: Reference, signal?: AbortSignal): Promise<ReadSource> {
  const doc = await resolveDescriptor(client, ref.repository, ref.identifier, signal);
  const source = new RemoteSource(client, ref.repository, ref.identifier, signal);
  const graph = await walkImage(source, doc, signal ? { signal } : {});
  const name = ref.familiar;
  if (doc.parsed.kind === 'index') {
    const entries = doc.parsed.index.manifests.map((desc) => ({ desc, from: `${name} (${shortId(desc.digest)})` }));
    return { ref, doc, graph, entries };
  }
  const config = doc.parsed.manifest.config;
  if (!isConfigMediaType(config.mediaType)) {
    throw new DheError('USAGE', `${name} is not a container image (its config is ${JSON.stringify(config.mediaType.slice(0, 100))})`, {
      hint: 'an index lists images; artifacts are found with dhe-cli referrers',
    });
  }
  const platform = platformOf(await readConfig(source, config, signal));
  const { mediaType, digest, size } = doc.desc;
  return { ref, doc, graph, entries: [{ desc: { mediaType, digest, size, platform }, from: name }] };
}

/** The platform fields of an image config, in the order docker writes them. */
function platformOf(c: Platform): Platform {
  return {
    architecture: c.architecture,
    os: c.os,
    ...(c['os.version'] ? { 'os.version': c['os.version'] } : {}),
    ...(c['os.features']?.length ? { 'os.features': c['os.features'] } : {}),
    ...(c.variant ? { variant: c.variant } : {}),
  };
}

/** Two entries of one platform (os/architecture/variant after normalisation, and os.version): a usage error. */
function checkPlatforms(entries: ReadSource['entries']): void {
  const seen = new Map<string, string>();
  for (const { desc, from } of entries) {
    if (!desc.platform || isAttestation(desc)) continue;
    const p = desc.platform;
    const shown = platformString(normalizePlatform(p)) + (p['os.version'] ? ` (os.version ${p['os.version']})` : '');
    const other = seen.get(shown);
    if (other !== undefined) {
      throw new DheError('USAGE', `two entries for ${shown}: ${other} and ${from}`, { hint: 'an index has one image per platform; leave one of them out' });
    }
    seen.set(shown, from);
  }
}

const isDocker = (mt: string) => mt === MediaType.dockerManifest || mt === MediaType.dockerManifestList;

/** --format, else docker when every source and entry is docker schema 2 and there are no annotations, else OCI. */
function chooseFormat(read: ReadSource[], opts: CreateIndexOptions): string {
  const annotated = Object.keys(opts.annotations ?? {}).length > 0;
  if (opts.format === 'docker') {
    if (annotated) throw new DheError('USAGE', 'a docker manifest list has no annotations', { hint: 'leave --annotation out, or use --format oci' });
    for (const s of read) {
      const oci = s.entries.find((e) => e.desc.mediaType !== MediaType.dockerManifest);
      if (oci) {
        throw new DheError('USAGE', `${oci.from} is ${JSON.stringify(oci.desc.mediaType.slice(0, 100))}: a docker manifest list lists docker schema 2 manifests only`, {
          hint: 'use --format oci (or leave --format out)',
        });
      }
    }
    return MediaType.dockerManifestList;
  }
  if (opts.format === 'oci' || annotated) return MediaType.ociIndex;
  const docker = read.every((s) => isDocker(s.doc.desc.mediaType) && s.entries.every((e) => e.desc.mediaType === MediaType.dockerManifest));
  return docker ? MediaType.dockerManifestList : MediaType.ociIndex;
}

function indexDocument(mediaType: string, manifests: Descriptor[], annotations?: Record<string, string>): Index {
  if (mediaType === MediaType.dockerManifestList) {
    // a manifest list's entries have no annotations or artifactType
    const plain = manifests.map(({ mediaType: mt, digest, size, urls, platform }) => ({ mediaType: mt, digest, size, ...(urls ? { urls } : {}), ...(platform ? { platform } : {}) }));
    return { schemaVersion: 2, mediaType, manifests: plain };
  }
  const noted = annotations && Object.keys(annotations).length > 0 ? { annotations } : {};
  return { schemaVersion: 2, mediaType, manifests, ...noted };
}

/**
 * A source in another repository: every blob (configs and layers) is made present in TARGET's repository (HEAD,
 * else a cross-repository mount from the source's; nothing is uploaded), then every manifest the index will name,
 * children before the index that lists them, is PUT there by digest, byte for byte.
 */
async function bringIn(s: ReadSource, sink: RemoteSink, moved: { mounted: number; existing: number }, opts: CreateIndexOptions): Promise<void> {
  const emit = opts.onEvent ?? noEvents;
  const origin = [`${opts.client.registry}/${s.ref.repository}`];
  await runPool(s.graph.blobs, opts.concurrency ?? 4, async (blob, signal) => {
    const event = { type: 'layer' as const, id: shortId(blob.digest), digest: blob.digest, size: blob.size };
    if (await sink.has(blob)) {
      moved.existing++;
      emit({ ...event, status: 'layer-exists' });
      return;
    }
    const from = await sink.mount(blob, origin, signal);
    if (from === undefined) throw unmountable(blob, s, sink.repository);
    moved.mounted++;
    emit({ ...event, status: 'mounted', from });
  }, opts.signal);
  const docs = s.doc.parsed.kind === 'image' ? [...s.graph.manifests, s.doc] : s.graph.manifests;
  for (const doc of docs) {
    const there = await opts.client.headManifest(sink.repository, doc.desc.digest, opts.signal ? { signal: opts.signal } : {});
    if (there?.digest === doc.desc.digest) continue;
    await sink.putManifest(doc.desc, doc.bytes, undefined, opts.signal);
  }
}

function unmountable(blob: Descriptor, s: ReadSource, targetRepo: string): DheError {
  return new DheError('BLOB_UNKNOWN', `blob ${blob.digest} of ${s.ref.familiar} is not in ${s.ref.repository} and could not be mounted into ${targetRepo}`, {
    hint: `the source image is incomplete on the registry: push it again (or dhe-cli copy it from where it is whole)`,
    details: { digest: blob.digest, source: s.ref.toString() },
  });
}
