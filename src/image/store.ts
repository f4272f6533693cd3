// The local store as a source and as a sink, over ImageStore.

import { PassThrough, finished, type Readable } from 'node:stream';
import { DheError, isDheError } from '../errors.js';
import { createVerifier, parseManifest, type Descriptor, type Index } from '../oci/index.js';
import type { ImageStore, Lease } from '../store/index.js';
import { MANIFEST_MAX_BYTES } from '../oci/limits.js';
import type { BlobOpener, ImageSink, PutBlobOptions } from './sink.js';
import type { BlobReadOptions, Doc, ImageSource } from './source.js';

/** Reads a document from the store (size-capped, digest checked by the store), parsed. */
export async function readStoredManifest(store: ImageStore, desc: { digest: string; mediaType?: string }) {
  const bytes = await store.readBlob(desc.digest, MANIFEST_MAX_BYTES);
  return { bytes, parsed: parseManifest(bytes, desc.mediaType) };
}

/** The children of a stored index whose manifests are in the store (a single-platform pull keeps only its own). */
export async function presentChildren(store: ImageStore, index: Index): Promise<Descriptor[]> {
  const present: Descriptor[] = [];
  for (const c of index.manifests) if (await store.hasBlob(c.digest)) present.push(c);
  return present;
}

export class StoreSource implements ImageSource {
  readonly kind = 'store';

  /** `top`: the descriptor a name resolved to (root() reads it). */
  constructor(
    readonly store: ImageStore,
    readonly top?: Descriptor,
  ) {}

  async root(): Promise<Doc> {
    if (!this.top) throw new DheError('IMAGE_NOT_LOCAL', 'no image given');
    return this.manifest(this.top);
  }

  async manifest(desc: Descriptor): Promise<Doc> {
    const bytes = await this.store.readBlob(desc.digest, MANIFEST_MAX_BYTES);
    return { desc: { ...desc, size: bytes.length }, bytes };
  }

  /** Verified on request: the store hashed every blob on the way in, so only a damaged store fails here. */
  blob(desc: Descriptor, opts: BlobReadOptions = {}): Readable {
    const raw = this.store.openBlob(desc.digest);
    if (opts.verify === false) return raw;
    const check = createVerifier({ digest: desc.digest, size: desc.size, what: `blob ${desc.digest} in the local store` });
    const out = new PassThrough({ highWaterMark: 1 << 20 });
    const fail = (e: unknown) => out.destroy(damaged(e) as Error);
    raw.on('error', fail);
    check.on('error', fail);
    out.on('close', () => {
      raw.destroy();
      check.destroy();
    });
    raw.pipe(check).pipe(out);
    return out;
  }

  has(digest: string): Promise<boolean> {
    return this.store.hasBlob(digest);
  }

  origins(digest: string): Promise<string[]> {
    return this.store.sources(digest);
  }
}

/** A stored blob whose bytes are not what its digest says: the store is damaged (not the network, not the registry). */
function damaged(e: unknown): unknown {
  if (!isDheError(e) || (e.code !== 'DIGEST_MISMATCH' && e.code !== 'SIZE_MISMATCH')) return e;
  return new DheError('CORRUPT_STORE', `${e.message}: the local store is damaged`, {
    hint: 'run `dhe-cli store verify --repair`, then pull or load the image again',
    cause: e,
  });
}

export interface StoreSinkOptions {
  /** "registry/repository" the blobs came from (recorded for later cross-repository mounts). */
  source?: string;
  /** What a failure discards of the blobs this transfer wrote: after an integrity failure only (pull), or always (load). */
  discard?: 'integrity' | 'always';
  /** Keep an interrupted download under partial/ and continue it on the next run (pull; off with DHE_NO_RESUME). */
  resume?: boolean;
}

export class StoreSink implements ImageSink {
  readonly kind = 'store';
  readonly keepsPartialIndex = true;
  #lease: Lease | undefined;
  readonly #written: string[] = [];
  #blobs: string[] = [];

  constructor(
    readonly store: ImageStore,
    readonly opts: StoreSinkOptions = {},
  ) {}

  async begin(blobs: string[], documents: string[]): Promise<void> {
    this.#blobs = blobs;
    this.#lease = await this.store.lease([...blobs, ...documents]);
  }

  has(desc: Descriptor): Promise<boolean> {
    return this.store.hasBlob(desc.digest);
  }

  async putBlob(desc: Descriptor, open: BlobOpener, opts: PutBlobOptions): Promise<{ written: boolean; size: number }> {
    if (opts.resumable && this.opts.resume) return this.#putResumable(desc, open, opts);
    const stream = await open();
    // the store hashes every byte on the way to disk and renames the blob into place only when digest and size match
    const written = await this.store.writeBlob(chunksOf(stream), { digest: desc.digest, size: desc.size }, {
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      ...(this.#lease ? { lease: this.#lease } : {}),
    });
    if (!written.existed) this.#written.push(desc.digest);
    return { written: !written.existed, size: written.size };
  }

  /** A download kept under partial/ when interrupted, continued from there by the next run. */
  async #putResumable(desc: Descriptor, open: BlobOpener, opts: PutBlobOptions): Promise<{ written: boolean; size: number }> {
    const written = await this.store.writeBlobResumable(async (offset) => chunksOf(await open(offset)), { digest: desc.digest, size: desc.size }, {
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      ...(opts.onResume ? { onResume: opts.onResume } : {}),
      ...(this.#lease ? { lease: this.#lease } : {}),
    });
    if (!written.existed) this.#written.push(desc.digest);
    return { written: !written.existed, size: written.size };
  }

  async putManifest(desc: Descriptor, bytes: Buffer, tag?: string): Promise<void> {
    await this.store.putBlob(bytes, desc.digest);
    if (tag === undefined) return;
    const { mediaType, digest, size, annotations } = desc;
    await this.store.setName(tag, { mediaType, digest, size, ...(annotations ? { annotations } : {}) });
  }

  async commit(): Promise<void> {
    const from = this.opts.source;
    // One locked read-modify-write of the sources file for all blobs (not one per blob: 50 layers = 50 fsyncs).
    if (from !== undefined) await this.store.addSources(this.#blobs.map((d): [string, string] => [d, from]));
  }

  /**
   * An integrity failure means the source served content that is not what its manifest says: nothing this
   * transfer wrote is kept (blobs that were already there, or that another name or lease needs, stay). After a
   * network failure the completed blobs stay, so the next transfer does not fetch them again.
   */
  async close(error?: unknown): Promise<void> {
    try {
      const integrity = error instanceof DheError && error.exitCode === 7;
      if (error !== undefined && (integrity || this.opts.discard === 'always') && this.#written.length > 0) {
        await this.store.discardBlobs(this.#written, this.#lease ? { ownLease: this.#lease } : {}).catch(() => 0);
      }
    } finally {
      await this.#lease?.release();
    }
  }
}

/**
 * The chunks of a Readable one by one, as they arrive ('data' events, paused above `maxQueued` bytes). Unlike
 * `for await (const c of readable)`, whose read() joins every buffered chunk into a new Buffer, this never copies.
 */
export async function* chunksOf(stream: Readable, maxQueued = 128 * 1024): AsyncGenerator<Buffer> {
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
