// pull: registry → local store. Resolves the manifest (choosing a platform from an index), downloads config and
// layers concurrently into the store (each verified and renamed into place by the store), then names the image.

import { finished, type Readable } from 'node:stream';
import { DheError } from '../errors.js';
import {
  formatPlatform,
  hostPlatform,
  parseConfig,
  parseManifest,
  platformMatches,
  parsePlatform,
  selectManifest,
  shortId,
  type Descriptor,
  type Manifest,
  type Platform,
} from '../oci/index.js';
import type { Reference } from '../reference/index.js';
import type { RegistryClient } from '../registry/index.js';
import type { ImageStore } from '../store/index.js';
import { noEvents, type EventSink } from './events.js';
import { PLATFORM_ANNOTATION } from './local.js';
import { runPool } from './pool.js';

export interface PullOptions {
  store: ImageStore;
  client: RegistryClient;
  /** "os/arch[/variant]"; the host's when absent. */
  platform?: string;
  allPlatforms?: boolean;
  concurrency?: number;
  onEvent?: EventSink;
  signal?: AbortSignal;
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

const FOREIGN = /foreign|nondistributable/;
const MANIFEST_CAP = 4 * 1024 * 1024;

/**
 * The chunks of a Readable one by one, as they arrive ('data' events, paused above `maxQueued` bytes). Unlike
 * `for await (const c of readable)`, whose read() joins every buffered chunk into a new Buffer, this never copies.
 */
export async function* chunksOf(stream: Readable, maxQueued = 4 * 1024 * 1024): AsyncGenerator<Buffer> {
  const queue: Buffer[] = [];
  let head = 0;
  let queued = 0;
  let done = false;
  let error: unknown;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const onData = (c: Buffer | string) => {
    const b = typeof c === 'string' ? Buffer.from(c) : c;
    queue.push(b);
    queued += b.length;
    if (queued >= maxQueued) stream.pause();
    notify();
  };
  stream.on('data', onData);
  const cleanup = finished(stream, { writable: false }, (err) => {
    if (err) error = err;
    done = true;
    notify();
  });
  try {
    for (;;) {
      if (error !== undefined) throw error;
      if (head < queue.length) {
        const c = queue[head]!;
        queue[head++] = EMPTY;
        if (head > 64 && head * 2 > queue.length) {
          queue.splice(0, head);
          head = 0;
        }
        queued -= c.length;
        if (!done && stream.isPaused() && queued < maxQueued / 2) stream.resume();
        yield c;
        continue;
      }
      if (done) return;
      await new Promise<void>((r) => (wake = r));
    }
  } finally {
    stream.off('data', onData);
    cleanup();
    if (!done) stream.destroy();
  }
}
const EMPTY = Buffer.alloc(0);

export function platformString(p: { os?: string; architecture?: string; variant?: string } | undefined): string {
  if (!p) return 'unknown';
  return [p.os ?? 'unknown', p.architecture ?? 'unknown', p.variant].filter(Boolean).join('/');
}

export async function pullImage(ref: Reference, opts: PullOptions): Promise<PullResult> {
  const { store, client } = opts;
  const emit = opts.onEvent ?? noEvents;
  const signal = opts.signal;
  const name = ref.toString();
  const want: Platform | undefined = opts.platform ? parsePlatform(opts.platform) : undefined;

  // Nothing is printed before the registry has answered (docker prints nothing on stdout for a failed pull).
  const top = await client.getManifest(ref.repository, ref.identifier);
  const parsed = parseManifest(top.bytes, top.mediaType);
  emit({ type: 'pull-start', reference: name, tag: ref.tag ?? ref.digest ?? 'latest', repository: ref.name });
  emit({ type: 'resolved', digest: top.digest, mediaType: parsed.mediaType });

  // The manifests to fetch blobs for, with their bytes (kept small: manifests are size-capped).
  const images: Array<{ digest: string; bytes: Buffer; mediaType: string; manifest: Manifest; platform?: string }> = [];
  const platforms: string[] = [];
  if (parsed.kind === 'index') {
    let children: Descriptor[];
    if (opts.allPlatforms) {
      children = parsed.index.manifests;
    } else {
      children = [selectManifest(parsed.index, want ?? hostPlatform())];
    }
    for (const child of children) {
      signal?.throwIfAborted();
      const got = await client.getManifest(ref.repository, child.digest);
      const p = parseManifest(got.bytes, got.mediaType);
      if (p.kind !== 'image') {
        throw new DheError('MALFORMED_MANIFEST', `nested index ${child.digest} in ${name} is not supported`);
      }
      const plat = platformString((child as Descriptor & { platform?: Platform }).platform);
      platforms.push(plat);
      images.push({ digest: got.digest, bytes: got.bytes, mediaType: got.mediaType, manifest: p.manifest, platform: plat });
    }
  } else {
    images.push({ digest: top.digest, bytes: top.bytes, mediaType: parsed.mediaType, manifest: parsed.manifest });
  }

  // Every blob once (layers are often shared between platforms).
  const blobs = new Map<string, Descriptor>();
  for (const img of images) {
    for (const d of [img.manifest.config, ...img.manifest.layers]) {
      if (FOREIGN.test(d.mediaType)) continue;
      if (!blobs.has(d.digest)) blobs.set(d.digest, d);
    }
  }

  const previous = await store.resolve(name);
  const lease = await store.lease([...blobs.keys(), ...images.map((i) => i.digest), top.digest]);
  let downloadedBlobs = 0;
  let downloadedBytes = 0;
  const writtenHere: string[] = [];
  try {
    const layerDigests = new Set(images.flatMap((i) => i.manifest.layers.map((l) => l.digest)));
    await runPool(
      [...blobs.values()],
      opts.concurrency ?? 4,
      async (desc, jobSignal) => {
        const id = shortId(desc.digest);
        const isLayer = layerDigests.has(desc.digest);
        if (await store.hasBlob(desc.digest)) {
          if (isLayer) emit({ type: 'layer', id, digest: desc.digest, size: desc.size, status: 'already-exists' });
          return;
        }
        if (isLayer) emit({ type: 'layer', id, digest: desc.digest, size: desc.size, status: 'downloading' });
        // verify: false — the store hashes every byte on the way to disk and renames the blob into place only when
        // digest and size match (DIGEST_MISMATCH / SIZE_MISMATCH otherwise); hashing here too would cost a second
        // SHA-256 pass over the layer on the event loop.
        const stream = await client.getBlob(ref.repository, { digest: desc.digest, size: desc.size }, { signal: jobSignal, verify: false });
        const written = await store.writeBlob(
          chunksOf(stream),
          { digest: desc.digest, size: desc.size },
          {
            signal: jobSignal,
            onProgress: isLayer
              ? (bytes: number) => emit({ type: 'progress', id, digest: desc.digest, bytes, total: desc.size })
              : undefined,
          },
        );
        if (!written.existed) {
          writtenHere.push(desc.digest);
          downloadedBlobs++;
          downloadedBytes += written.size;
        }
        if (isLayer) emit({ type: 'layer', id, digest: desc.digest, size: desc.size, status: 'pull-complete' });
      },
      signal,
    );

    // Manifests after their blobs, so a name never points at something incomplete.
    for (const img of images) await store.putBlob(img.bytes, img.digest);
    if (parsed.kind === 'index') await store.putBlob(top.bytes, top.digest);
    signal?.throwIfAborted();
    await store.setName(name, {
      mediaType: parsed.mediaType,
      digest: top.digest,
      size: top.bytes.length,
      // one platform of an index: the name means that platform from now on (images, inspect, push, mutate)
      ...(parsed.kind === 'index' && !opts.allPlatforms && platforms[0] ? { annotations: { [PLATFORM_ANNOTATION]: platforms[0] } } : {}),
    });
    const source = ref.name;
    // One locked read-modify-write of the sources file for all blobs (not one per blob: 50 layers = 50 fsyncs).
    await store.addSources([...blobs.keys()].map((d): [string, string] => [d, source]));
  } catch (e) {
    // An integrity failure means this registry served content that is not what its manifest says: keep nothing
    // of this pull (blobs that were already in the store, or that another name or pull needs, stay). After a
    // network failure the completed blobs stay, so the next pull does not fetch them again.
    if (e instanceof DheError && e.exitCode === 7 && writtenHere.length > 0) {
      await store.discardBlobs(writtenHere, { ownLease: lease }).catch(() => 0);
    }
    throw e;
  } finally {
    await lease.release();
  }

  const upToDate = previous?.digest === top.digest && downloadedBlobs === 0;
  const platformMismatch = want && parsed.kind === 'image' ? await mismatchOf(store, parsed.manifest, want) : undefined;
  return {
    ...(platformMismatch ? { platformMismatch } : {}),
    reference: name,
    digest: top.digest,
    mediaType: parsed.mediaType,
    downloadedBlobs,
    downloadedBytes,
    upToDate,
    platforms,
  };
}

/** For a single image pulled with an explicit platform: its own platform when that does not run as the one asked for. */
async function mismatchOf(store: ImageStore, manifest: Manifest, want: Platform): Promise<PullResult['platformMismatch']> {
  const config = parseConfig(await store.readBlob(manifest.config.digest, MANIFEST_CAP));
  const have = { os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) };
  if (platformMatches(want, have)) return undefined;
  return { image: formatPlatform(have), requested: formatPlatform(want) };
}

/** Reads a manifest blob from the store (size-capped), parsed. */
export async function readStoredManifest(store: ImageStore, desc: { digest: string; mediaType?: string }) {
  const bytes = await store.readBlob(desc.digest, MANIFEST_CAP);
  return { bytes, parsed: parseManifest(bytes, desc.mediaType) };
}
