// Layers stored uncompressed (from a docker-save archive, an OCI layout with plain tar layers) are gzip-compressed
// once before they are pushed, as docker and skopeo push them: a quarter of the bytes on the wire and in the
// registry. The config (and so the IMAGE ID and the diff_ids) stays the same; the manifest gets the gzip layer
// descriptors, and every local name of the image moves to that manifest, so the next push is a no-op and the
// uncompressed copies become prunable.

import { createHash } from 'node:crypto';
import { createGzip } from 'node:zlib';
import { DheError } from '../errors.js';
import { MediaType, type Descriptor } from '../oci/index.js';
import type { ImageStore, Lease } from '../store/index.js';
import type { Doc } from '../image/source.js';
import { StoreSource } from '../image/store.js';
import { presentChildren, walkImage } from '../image/walk.js';

export type Compression = 'gzip' | 'none';
const COMPRESSIONS: readonly Compression[] = ['gzip', 'none'];

/** Uncompressed layer media type → its gzip counterpart. */
const GZIP_OF: Record<string, string> = {
  [MediaType.dockerLayer]: MediaType.dockerLayerGzip,
  [MediaType.ociLayer]: MediaType.ociLayerGzip,
};

export interface CompressedLayer {
  from: string;
  to: string;
  size: number;
  compressedSize: number;
}

export interface CompressResult {
  /** The image's top descriptor afterwards (the one given when no layer was stored uncompressed). */
  top: Descriptor;
  layers: CompressedLayer[];
}

/** `--compression` as given: gzip or none (zstd would need a Node.js with a zstd compressor, 22.15 or later). */
export function parseCompression(text: string): Compression {
  if ((COMPRESSIONS as readonly string[]).includes(text)) return text as Compression;
  const zstd = text === 'zstd' ? ` (zstd needs Node.js 22.15 or later; this is ${process.versions.node})` : '';
  throw new DheError('USAGE', `--compression must be gzip or none, not "${text}"${zstd}`, { hint: 'gzip is the default, as docker pushes' });
}

/** Whether a layer media type is a plain (uncompressed) tar that gzip would shrink. */
/**
 * Compresses the uncompressed layers of the image that `names` call `top` (an image, or an index whose children
 * are in the store), stores the new manifests, and points every one of those names at the result.
 */
export async function compressStoredImage(store: ImageStore, top: Descriptor, signal?: AbortSignal): Promise<CompressResult> {
  const done = new Map<string, CompressedLayer>();
  // What this writes is leased until the names point at it, so a concurrent prune cannot take it in between.
  const lease = await store.lease([]);
  try {
    const rewritten = await rewriteImage({ store, lease, done, ...(signal ? { signal } : {}) }, top);
    if (!rewritten) return { top, layers: [] };
    const names = (await store.listImages()).filter((i) => i.descriptor.digest === top.digest);
    const moved = { ...rewritten, ...(top.annotations ? { annotations: top.annotations } : {}) };
    await store.setNames(names.map((n): [string, Descriptor] => [n.name, { ...rewritten, ...(n.descriptor.annotations ? { annotations: n.descriptor.annotations } : {}) }]));
    return { top: moved, layers: [...done.values()] };
  } finally {
    await lease.release();
  }
}

interface Job {
  store: ImageStore;
  lease: Lease;
  done: Map<string, CompressedLayer>;
  signal?: AbortSignal;
}

/**
 * The image `top` with compressed layers (every rewritten document stored), or null when nothing in it changes.
 * The one walk (image/walk.ts) descends the index to the children the store has (a platform that was not pulled
 * stays as it is) and lists them children first, so each document is rewritten after the ones it names.
 */
async function rewriteImage(job: Job, top: Descriptor): Promise<Descriptor | null> {
  const source = new StoreSource(job.store, top);
  const graph = await walkImage(source, await source.root(), { choose: presentChildren(source), ...(job.signal ? { signal: job.signal } : {}) });
  const images = new Set(graph.images.map((i) => i.desc.digest));
  const moved = new Map<string, Descriptor>(); // digest of a document → its rewritten descriptor
  for (const doc of [...graph.manifests, graph.top]) {
    const next = await rewriteDocument(job, doc, images.has(doc.desc.digest), moved);
    if (next) moved.set(doc.desc.digest, next);
  }
  const next = moved.get(graph.top.desc.digest);
  return next ? { ...next, mediaType: top.mediaType } : null;
}

/** One document with its compressed layers (an image) or its rewritten children (an index), stored; null if unchanged. */
async function rewriteDocument(job: Job, from: Doc, image: boolean, moved: Map<string, Descriptor>): Promise<Descriptor | null> {
  const { store, done, signal } = job;
  const doc = JSON.parse(from.bytes.toString('utf8')) as { manifests?: Descriptor[]; layers?: Descriptor[] };
  let changed = false;
  if (!image) {
    const children = doc.manifests ?? [];
    for (let i = 0; i < children.length; i++) {
      const child = children[i]!;
      const next = moved.get(child.digest);
      if (next) {
        children[i] = { ...child, digest: next.digest, size: next.size };
        changed = true;
      }
    }
  } else {
    const layers = doc.layers ?? [];
    for (let i = 0; i < layers.length; i++) {
      const layer = layers[i]!;
      const gz = GZIP_OF[layer.mediaType];
      if (!gz) continue;
      signal?.throwIfAborted();
      const c = done.get(layer.digest) ?? (await gzipBlob(job, layer));
      done.set(layer.digest, c);
      layers[i] = { ...layer, mediaType: gz, digest: c.to, size: c.compressedSize };
      changed = true;
    }
  }
  if (!changed) return null;
  const out = Buffer.from(JSON.stringify(doc, null, 2));
  const digest = `sha256:${createHash('sha256').update(out).digest('hex')}`;
  await job.lease.add([digest]);
  const put = await store.putBlob(out, digest);
  return { mediaType: from.desc.mediaType, digest: put.digest, size: put.size };
}

/** gzip of one stored blob, written to the store as a verified blob of its own (its digest computed on the way). */
async function gzipBlob(job: Job, layer: Descriptor): Promise<CompressedLayer> {
  const { store, signal, lease } = job;
  const source = store.openBlob(layer.digest);
  const gzip = createGzip({ level: 6 });
  source.on('error', (e) => gzip.destroy(e));
  source.pipe(gzip);
  const written = await store.writeBlob(gzip, {}, { signal, lease });
  return { from: layer.digest, to: written.digest, size: layer.size, compressedSize: written.size };
}
