// push: local store → registry. Per blob: HEAD (exists) → cross-repository mount from a repository it came from →
// upload. Blobs concurrently, then manifests (children before their index).

import { DheError } from '../errors.js';
import { shortId, type Descriptor, type Platform } from '../oci/index.js';
import type { Reference } from '../reference/index.js';
import type { RegistryClient } from '../registry/index.js';
import type { ImageStore } from '../store/index.js';
import { compressStoredImage, type Compression } from './compress.js';
import { noEvents, type EventSink } from './events.js';
import { runPool } from './pool.js';
import { pickLocalPlatform } from './local.js';
import { platformString, readStoredManifest } from './pull.js';

export interface PushOptions {
  store: ImageStore;
  client: RegistryClient;
  concurrency?: number;
  onEvent?: EventSink;
  signal?: AbortSignal;
  /** For a partially pulled multi-platform image: the platform to push (default the host's). */
  platform?: string;
  /** Layers stored uncompressed are gzip-compressed once before the push (default), or pushed as they are. */
  compression?: Compression;
}

export interface PushResult {
  reference: string;
  digest: string;
  size: number;
  mediaType: string;
  pushedBlobs: number;
  mountedBlobs: number;
  existingBlobs: number;
}

const FOREIGN = /foreign|nondistributable/;

export function notLocalError(name: string): DheError {
  return new DheError('IMAGE_NOT_LOCAL', `no such image in the local store: ${name}`, {
    hint: `get it there first: 'dhe-cli pull ${name}', 'dhe-cli tag SOURCE ${name}' or 'dhe-cli load -i FILE'`,
  });
}

export async function pushImage(ref: Reference, opts: PushOptions): Promise<PushResult> {
  const { store, client } = opts;
  const emit = opts.onEvent ?? noEvents;
  const name = ref.toString();
  let top = await store.resolve(name);
  if (!top) throw notLocalError(ref.familiar);
  emit({ type: 'push-start', reference: name, repository: ref.name });
  if ((opts.compression ?? 'gzip') === 'gzip') {
    const compressed = await compressStoredImage(store, top, opts.signal);
    if (compressed.layers.length > 0) {
      top = compressed.top;
      const mb = (n: number) => `${(n / 1e6).toFixed(1)}MB`;
      const before = compressed.layers.reduce((n, l) => n + l.size, 0);
      const after = compressed.layers.reduce((n, l) => n + l.compressedSize, 0);
      const count = compressed.layers.length;
      emit({ type: 'note', message: `compressed ${count} layer${count > 1 ? 's' : ''} stored uncompressed with gzip: ${mb(before)} → ${mb(after)} (same IMAGE ID)` });
    }
  }
  client.intendPush(ref.repository);

  const topManifest = await readStoredManifest(store, top);
  // Which image manifests go up, and which document is put under the tag.
  const images: Array<{ desc: Descriptor; bytes: Buffer; layers: Descriptor[]; config: Descriptor }> = [];
  let tagged: { bytes: Buffer; mediaType: string; digest: string };
  if (topManifest.parsed.kind === 'index') {
    const children = topManifest.parsed.index.manifests;
    const present: Descriptor[] = [];
    for (const c of children) if (await store.hasBlob(c.digest)) present.push(c);
    let chosen: Descriptor[];
    if (present.length === children.length) {
      chosen = children;
      tagged = { bytes: topManifest.bytes, mediaType: topManifest.parsed.mediaType, digest: top.digest };
    } else {
      // A partially pulled index cannot be pushed whole (the registry checks every child). Push one platform.
      const child = pickLocalPlatform(topManifest.parsed.index, present, opts.platform, top);
      if (!child) throw new DheError('CORRUPT_STORE', `no platform of ${ref.familiar} is complete in the local store`, { hint: `pull it again: dhe-cli pull ${ref.familiar}` });
      chosen = [child];
      const childBytes = await store.readBlob(child.digest, 4 * 1024 * 1024);
      tagged = { bytes: childBytes, mediaType: child.mediaType, digest: child.digest };
      emit({
        type: 'note',
        message: `only ${platformString((child as Descriptor & { platform?: Platform }).platform)} of this multi-platform image is in the local store; pushing that platform's manifest (pull with --all-platforms to push the whole index)`,
      });
    }
    for (const c of chosen) {
      const m = await readStoredManifest(store, c);
      if (m.parsed.kind !== 'image') throw new DheError('MALFORMED_MANIFEST', `nested index ${c.digest} is not supported`);
      images.push({ desc: c, bytes: m.bytes, layers: m.parsed.manifest.layers, config: m.parsed.manifest.config });
    }
  } else {
    const m = topManifest.parsed.manifest;
    images.push({ desc: top, bytes: topManifest.bytes, layers: m.layers, config: m.config });
    tagged = { bytes: topManifest.bytes, mediaType: topManifest.parsed.mediaType, digest: top.digest };
  }

  const blobs = new Map<string, Descriptor>();
  const layerDigests = new Set<string>();
  for (const img of images) {
    for (const l of img.layers) {
      if (FOREIGN.test(l.mediaType)) continue;
      layerDigests.add(l.digest);
      blobs.set(l.digest, l);
    }
    blobs.set(img.config.digest, img.config);
  }
  for (const d of blobs.keys()) {
    if (!(await store.hasBlob(d))) {
      throw new DheError('CORRUPT_STORE', `blob ${d} of ${ref.familiar} is missing from the local store`, {
        hint: `run 'dhe-cli store verify --repair', then pull or load the image again`,
      });
    }
  }

  const tagOrDigest = ref.tag ?? ref.digest ?? 'latest';
  const putAs = ref.digest && !ref.tag ? tagged.digest : tagOrDigest;

  // An unchanged image: when the registry already serves this very manifest under the tag (or digest), it holds
  // every blob and child manifest it references (a registry refuses a manifest whose blobs it lacks), so one HEAD
  // replaces a HEAD per blob and the manifest PUT. Anything else (404, a different digest, a refused or failed
  // HEAD) takes the normal path below.
  const already = await client.headManifest(ref.repository, putAs, { signal: opts.signal }).catch((e: unknown) => {
    if (opts.signal?.aborted) throw e;
    return null;
  });
  if (already?.digest === tagged.digest) {
    for (const d of blobs.values()) {
      if (layerDigests.has(d.digest)) emit({ type: 'layer', id: shortId(d.digest), digest: d.digest, size: d.size, status: 'layer-exists' });
    }
    await store.addSources([...blobs.keys()].map((d): [string, string] => [d, ref.name]));
    emit({ type: 'manifest-pushed', tag: tagOrDigest, digest: tagged.digest, size: tagged.bytes.length });
    return {
      reference: name,
      digest: tagged.digest,
      size: tagged.bytes.length,
      mediaType: tagged.mediaType,
      pushedBlobs: 0,
      mountedBlobs: 0,
      existingBlobs: blobs.size,
    };
  }

  let pushedBlobs = 0;
  let mountedBlobs = 0;
  let existingBlobs = 0;
  const lease = await store.lease([...blobs.keys(), ...images.map((i) => i.desc.digest), top.digest]);
  try {
    await runPool(
      [...blobs.values()],
      opts.concurrency ?? 4,
      async (desc, signal) => {
        const id = shortId(desc.digest);
        const isLayer = layerDigests.has(desc.digest);
        const say = (status: 'layer-exists' | 'mounted' | 'pushed' | 'pushing', from?: string) => {
          if (isLayer) emit({ type: 'layer', id, digest: desc.digest, size: desc.size, status, from });
        };
        if (await client.headBlob(ref.repository, desc.digest)) {
          existingBlobs++;
          say('layer-exists');
          return;
        }
        const sameRegistry = (await store.sources(desc.digest))
          .filter((s) => s.startsWith(client.registry + '/'))
          .map((s) => s.slice(client.registry.length + 1))
          .filter((repo) => repo !== ref.repository);
        for (const from of sameRegistry.slice(0, 3)) {
          signal.throwIfAborted();
          try {
            if (await client.mountBlob(ref.repository, desc.digest, from)) {
              mountedBlobs++;
              say('mounted', from);
              return;
            }
          } catch (e) {
            // Denied on the source repository: fall back to an upload.
            if (!(e instanceof DheError) || (e.exitCode !== 3 && e.exitCode !== 5)) throw e;
          }
        }
        say('pushing');
        await client.uploadBlob(ref.repository, { digest: desc.digest, size: desc.size }, () => store.openBlob(desc.digest), {
          signal,
          onProgress: isLayer
            ? (bytes: number) => emit({ type: 'progress', id, digest: desc.digest, bytes, total: desc.size })
            : undefined,
        });
        pushedBlobs++;
        say('pushed');
      },
      opts.signal,
    );

    if (images.length > 1 || tagged.digest !== images[0]?.desc.digest) {
      for (const img of images) {
        opts.signal?.throwIfAborted();
        await client.putManifest(ref.repository, img.desc.digest, img.bytes, img.desc.mediaType);
      }
    }
    opts.signal?.throwIfAborted();
    const put = await client.putManifest(ref.repository, putAs, tagged.bytes, tagged.mediaType);
    if (put.digest && put.digest !== tagged.digest) {
      throw new DheError('DIGEST_MISMATCH', `the registry stored the manifest as ${put.digest}, expected ${tagged.digest}`);
    }
    await store.addSources([...blobs.keys()].map((d): [string, string] => [d, ref.name]));
    emit({ type: 'manifest-pushed', tag: tagOrDigest, digest: tagged.digest, size: tagged.bytes.length });
  } finally {
    await lease.release();
  }
  return {
    reference: name,
    digest: tagged.digest,
    size: tagged.bytes.length,
    mediaType: tagged.mediaType,
    pushedBlobs,
    mountedBlobs,
    existingBlobs,
  };
}
