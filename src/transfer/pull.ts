// pull: registry → local store. Resolves the manifest (choosing a platform from an index), downloads config and
// layers concurrently into the store (each verified and renamed into place by the store), then names the image.

import { DheError } from '../errors.js';
import {
  hostPlatform,
  parseManifest,
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

export function platformString(p: { os?: string; architecture?: string; variant?: string } | undefined): string {
  if (!p) return 'unknown';
  return [p.os ?? 'unknown', p.architecture ?? 'unknown', p.variant].filter(Boolean).join('/');
}

export async function pullImage(ref: Reference, opts: PullOptions): Promise<PullResult> {
  const { store, client } = opts;
  const emit = opts.onEvent ?? noEvents;
  const signal = opts.signal;
  const name = ref.toString();
  emit({ type: 'pull-start', reference: name, tag: ref.tag ?? ref.digest ?? 'latest', repository: ref.name });

  const top = await client.getManifest(ref.repository, ref.identifier);
  const parsed = parseManifest(top.bytes, top.mediaType);
  emit({ type: 'resolved', digest: top.digest, mediaType: parsed.mediaType });

  // The manifests to fetch blobs for, with their bytes (kept small: manifests are size-capped).
  const images: Array<{ digest: string; bytes: Buffer; mediaType: string; manifest: Manifest; platform?: string }> = [];
  const platforms: string[] = [];
  if (parsed.kind === 'index') {
    let children: Descriptor[];
    if (opts.allPlatforms) {
      children = parsed.index.manifests;
    } else {
      const want: Platform = opts.platform ? parsePlatform(opts.platform) : hostPlatform();
      children = [selectManifest(parsed.index, want)];
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
        const stream = await client.getBlob(ref.repository, { digest: desc.digest, size: desc.size }, { signal: jobSignal });
        const written = await store.writeBlob(
          stream,
          { digest: desc.digest, size: desc.size },
          {
            signal: jobSignal,
            onProgress: isLayer
              ? (bytes: number) => emit({ type: 'progress', id, digest: desc.digest, bytes, total: desc.size })
              : undefined,
          },
        );
        if (!written.existed) {
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
    await store.setName(name, { mediaType: parsed.mediaType, digest: top.digest, size: top.bytes.length });
    const source = ref.name;
    for (const d of blobs.keys()) await store.addSource(d, source);
  } finally {
    await lease.release();
  }

  const upToDate = previous?.digest === top.digest && downloadedBlobs === 0;
  return {
    reference: name,
    digest: top.digest,
    mediaType: parsed.mediaType,
    downloadedBlobs,
    downloadedBytes,
    upToDate,
    platforms,
  };
}

/** Reads a manifest blob from the store (size-capped), parsed. */
export async function readStoredManifest(store: ImageStore, desc: { digest: string; mediaType?: string }) {
  const bytes = await store.readBlob(desc.digest, MANIFEST_CAP);
  return { bytes, parsed: parseManifest(bytes, desc.mediaType) };
}
