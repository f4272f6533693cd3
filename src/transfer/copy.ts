// copy: registry → registry, streaming each blob from source to destination without the local store.
// Same registry: blobs are mounted across repositories. Digests are preserved (manifests are copied as bytes).

import { PassThrough, pipeline } from 'node:stream';
import { DheError } from '../errors.js';
import { hostPlatform, parseManifest, parsePlatform, selectManifest, shortId, type Descriptor } from '../oci/index.js';
import type { Reference } from '../reference/index.js';
import type { RegistryClient } from '../registry/index.js';
import { noEvents, type EventSink } from './events.js';
import { runPool } from './pool.js';
import { platformString } from './pull.js';

export interface CopyOptions {
  source: RegistryClient;
  destination: RegistryClient;
  allPlatforms?: boolean;
  platform?: string;
  concurrency?: number;
  onEvent?: EventSink;
  signal?: AbortSignal;
}

export interface CopyResult {
  digest: string;
  mediaType: string;
  size: number;
  copiedBlobs: number;
  mountedBlobs: number;
  existingBlobs: number;
}

const FOREIGN = /foreign|nondistributable/;

export async function copyImage(src: Reference, dst: Reference, opts: CopyOptions): Promise<CopyResult> {
  const emit = opts.onEvent ?? noEvents;
  const { source, destination } = opts;
  destination.intendPush(dst.repository);
  const top = await source.getManifest(src.repository, src.identifier, { signal: opts.signal });
  const parsed = parseManifest(top.bytes, top.mediaType);
  const manifests: Array<{ digest: string; bytes: Buffer; mediaType: string; blobs: Descriptor[]; layers: Set<string> }> = [];
  let tagged = { digest: top.digest, bytes: top.bytes, mediaType: parsed.mediaType };
  const collect = (digest: string, bytes: Buffer, mediaType: string) => {
    const p = parseManifest(bytes, mediaType);
    if (p.kind !== 'image') throw new DheError('MALFORMED_MANIFEST', `nested index ${digest} is not supported`);
    const layers = p.manifest.layers.filter((l) => !FOREIGN.test(l.mediaType));
    manifests.push({ digest, bytes, mediaType: p.mediaType, blobs: [p.manifest.config, ...layers], layers: new Set(layers.map((l) => l.digest)) });
  };
  if (parsed.kind === 'index') {
    if (opts.allPlatforms) {
      for (const c of parsed.index.manifests) {
        const got = await source.getManifest(src.repository, c.digest, { signal: opts.signal });
        collect(got.digest, got.bytes, got.mediaType);
      }
    } else {
      const child = selectManifest(parsed.index, opts.platform ? parsePlatform(opts.platform) : hostPlatform());
      const got = await source.getManifest(src.repository, child.digest, { signal: opts.signal });
      collect(got.digest, got.bytes, got.mediaType);
      tagged = { digest: got.digest, bytes: got.bytes, mediaType: got.mediaType };
      emit({ type: 'note', message: `copying one platform (${platformString(child.platform)}) of a multi-platform image; use --all-platforms for the whole index` });
    }
  } else {
    collect(top.digest, top.bytes, parsed.mediaType);
  }

  if (dst.digest && dst.digest !== tagged.digest) {
    throw new DheError('USAGE', `${src.familiar} is ${tagged.digest}, not the ${dst.digest} the destination names`, {
      hint: 'leave the digest out of the destination, or name the source by that digest',
    });
  }
  emit({ type: 'push-start', reference: dst.toString(), repository: dst.name });
  const blobs = new Map<string, Descriptor>();
  const layerSet = new Set<string>();
  for (const m of manifests) {
    for (const b of m.blobs) blobs.set(b.digest, b);
    for (const l of m.layers) layerSet.add(l);
  }
  const sameRegistry = source.registry === destination.registry;
  let copiedBlobs = 0;
  let mountedBlobs = 0;
  let existingBlobs = 0;
  await runPool(
    [...blobs.values()],
    opts.concurrency ?? 4,
    async (desc, signal) => {
      const id = shortId(desc.digest);
      const isLayer = layerSet.has(desc.digest);
      const say = (status: 'layer-exists' | 'mounted' | 'pushed' | 'pushing', from?: string) => {
        if (isLayer) emit({ type: 'layer', id, digest: desc.digest, size: desc.size, status, from });
      };
      if (await destination.headBlob(dst.repository, desc.digest)) {
        existingBlobs++;
        say('layer-exists');
        return;
      }
      if (sameRegistry && src.repository !== dst.repository) {
        if (await destination.mountBlob(dst.repository, desc.digest, src.repository)) {
          mountedBlobs++;
          say('mounted', src.repository);
          return;
        }
      }
      say('pushing');
      const open = () => {
        const pt = new PassThrough({ highWaterMark: 1 << 20 });
        source
          .getBlob(src.repository, { digest: desc.digest, size: desc.size }, { verify: true, signal })
          .then((s: NodeJS.ReadableStream) => pipeline(s, pt, () => {}))
          .catch((e: unknown) => pt.destroy(e as Error));
        return pt;
      };
      await destination.uploadBlob(dst.repository, { digest: desc.digest, size: desc.size }, open, {
        signal,
        onProgress: isLayer ? (bytes: number) => emit({ type: 'progress', id, digest: desc.digest, bytes, total: desc.size }) : undefined,
      });
      copiedBlobs++;
      say('pushed');
    },
    opts.signal,
  );
  if (parsed.kind === 'index' && opts.allPlatforms) {
    for (const m of manifests) await destination.putManifest(dst.repository, m.digest, m.bytes, m.mediaType);
  }
  const target = dst.tag ?? tagged.digest;
  await destination.putManifest(dst.repository, target, tagged.bytes, tagged.mediaType);
  emit({ type: 'manifest-pushed', tag: dst.tag ?? tagged.digest, digest: tagged.digest, size: tagged.bytes.length });
  return { digest: tagged.digest, mediaType: tagged.mediaType, size: tagged.bytes.length, copiedBlobs, mountedBlobs, existingBlobs };
}
