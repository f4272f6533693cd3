// pull: registry → local store, as the one transfer engine does it (src/image/copy.ts): the registry's image is
// walked (one platform of an index, or all), its blobs go into the store (each verified and renamed into place by
// the store), then its documents, then the name.

import { formatPlatform, hostPlatform, parsePlatform, PLATFORM_ANNOTATION, platformMatches, platformString, selectManifest, type Manifest, type Platform } from '../oci/index.js';
import type { Reference } from '../reference/index.js';
import type { RegistryClient } from '../registry/index.js';
import type { ImageStore } from '../store/index.js';
import { transfer } from '../image/copy.js';
import { readStoredConfig } from '../image/config.js';
import { RemoteSource } from '../image/remote.js';
import { StoreSink } from '../image/store.js';
import { parseDoc, walkImage, type ChildChooser } from '../image/walk.js';
import { noEvents, type EventSink } from './events.js';

export { chunksOf, readStoredManifest } from '../image/store.js';
export { platformString } from '../oci/index.js';

export interface PullOptions {
  store: ImageStore;
  client: RegistryClient;
  /** "os/arch[/variant]"; the host's when absent. */
  platform?: string;
  allPlatforms?: boolean;
  concurrency?: number;
  onEvent?: EventSink;
  signal?: AbortSignal;
  /** Keep an interrupted download for the next run, and continue one an earlier run kept (default true). */
  resume?: boolean;
  /** Fetch this manifest digest instead of what REF's tag names now (pull --verify-key: the digest it verified). */
  pinDigest?: string;
}

export interface PullResult {
  /** The full name the image is stored under. */
  reference: string;
  digest: string;
  mediaType: string;
  /** A single image (no index) whose config names another platform than the one asked for with --platform. */
  platformMismatch?: { image: string; requested: string };
  /** Blobs downloaded (0 on a re-pull of an unchanged image). */
  downloadedBlobs: number;
  downloadedBytes: number;
  /** The name already pointed at this digest and nothing had to be downloaded. */
  upToDate: boolean;
  /** Platforms whose manifests, configs and layers are now in the store (empty for a single-platform image). */
  platforms: string[];
}

/** The children a registry image is copied with: all, or the one that best fits the platform (default the host's). */
export function registryChooser(opts: { allPlatforms?: boolean; platform?: string }): ChildChooser {
  return (index) => (opts.allPlatforms ? index.manifests : [selectManifest(index, opts.platform ? parsePlatform(opts.platform) : hostPlatform())]);
}

export async function pullImage(ref: Reference, opts: PullOptions): Promise<PullResult> {
  const { store, client } = opts;
  const emit = opts.onEvent ?? noEvents;
  const name = ref.toString();
  const want: Platform | undefined = opts.platform ? parsePlatform(opts.platform) : undefined;

  // Nothing is printed before the registry has answered (docker prints nothing on stdout for a failed pull).
  const source = new RemoteSource(client, ref.repository, opts.pinDigest ?? ref.identifier);
  const root = parseDoc(await source.root());
  emit({ type: 'pull-start', reference: name, tag: ref.tag ?? ref.digest ?? 'latest', repository: ref.name });
  emit({ type: 'resolved', digest: root.desc.digest, mediaType: root.parsed.mediaType });
  const graph = await walkImage(source, root, { choose: registryChooser(opts), ...(opts.signal ? { signal: opts.signal } : {}) });
  const top = graph.top;
  const isIndex = top.parsed.kind === 'index';
  const platforms = isIndex ? graph.images.map((i) => platformString(i.desc.platform)) : [];

  const previous = await store.resolve(name);
  const moved = await transfer(source, new StoreSink(store, { source: ref.name, discard: 'integrity', resume: opts.resume !== false }), graph, {
    tag: name,
    // one platform of an index: the name means that platform from now on (images, inspect, push, mutate)
    ...(isIndex && !opts.allPlatforms && platforms[0] ? { rootAnnotations: { [PLATFORM_ANNOTATION]: platforms[0] } } : {}),
    concurrency: opts.concurrency ?? 4,
    onEvent: emit,
    events: 'pull',
    // the store hashes every byte on the way to disk: hashing here too would cost a second SHA-256 pass
    verifyBlobs: false,
    ...(opts.signal ? { signal: opts.signal } : {}),
  });

  const upToDate = previous?.digest === top.desc.digest && moved.written === 0;
  const platformMismatch = want && top.parsed.kind === 'image' ? await mismatchOf(store, top.parsed.manifest, want) : undefined;
  return {
    ...(platformMismatch ? { platformMismatch } : {}),
    reference: name,
    digest: top.desc.digest,
    mediaType: top.parsed.mediaType,
    downloadedBlobs: moved.written,
    downloadedBytes: moved.writtenBytes,
    upToDate,
    platforms,
  };
}

/** For a single image pulled with an explicit platform: its own platform when that does not run as the one asked for. */
async function mismatchOf(store: ImageStore, manifest: Manifest, want: Platform): Promise<PullResult['platformMismatch']> {
  const config = await readStoredConfig(store, manifest.config);
  const have = { os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) };
  if (platformMatches(want, have)) return undefined;
  return { image: formatPlatform(have), requested: formatPlatform(want) };
}
