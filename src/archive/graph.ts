// Limits for walking what an archive describes. An archive is untrusted: its indexes may name the same child
// thousands of times at every level (a 50 KB file whose naive walk visits 40^4 documents), name more documents
// than any real image has, or hide a gzip bomb. The walk visits each descriptor once (results are remembered),
// counts every reference against a budget, checks the abort signal as it goes and yields to the event loop so a
// signal is handled at once; the gunzipped bytes may exceed what the tar headers declare only by a small margin.

import { setImmediate as yieldNow } from 'node:timers/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { DheError } from '../errors.js';
import { badArchive } from './paths.js';

/** Distinct descriptors (manifests, indexes, configs, layers) one archive may describe. */
const MAX_DISTINCT_DESCRIPTORS = 20_000;
/** References to descriptors (each entry of each manifests/layers list, each config) one archive may hold. */
const MAX_REFERENCES = 100_000;
/** How much more a gzip-compressed archive may decompress to than its tar headers account for. */
const GUNZIP_MARGIN_BYTES = 8 << 20;
const YIELD_EVERY = 512;

export function interruptedError(signal: AbortSignal | undefined): DheError {
  const r: unknown = signal?.reason;
  if (r instanceof DheError) return r;
  return new DheError('INTERRUPTED', 'interrupted');
}

/** Counts references and distinct descriptors, checks the signal, and yields now and then. */
export class GraphBudget {
  readonly #signal: AbortSignal | undefined;
  readonly #distinct = new Set<string>();
  #refs = 0;
  readonly maxDistinct: number;
  readonly maxRefs: number;

  constructor(signal?: AbortSignal, limits: { maxDistinct?: number; maxRefs?: number } = {}) {
    this.#signal = signal;
    this.maxDistinct = limits.maxDistinct ?? MAX_DISTINCT_DESCRIPTORS;
    this.maxRefs = limits.maxRefs ?? MAX_REFERENCES;
  }

  get references(): number {
    return this.#refs;
  }

  /** One more reference to `key` (a digest, or media type + digest). */
  async ref(key: string): Promise<void> {
    this.check();
    if (++this.#refs > this.maxRefs) {
      throw badArchive(`the archive's indexes and manifests hold more than ${this.maxRefs} references to blobs`).withHint(
        'this is not an archive docker save, skopeo or dhe-cli save writes; split it into smaller archives (nothing from it was kept)',
      );
    }
    if (!this.#distinct.has(key)) {
      this.#distinct.add(key);
      if (this.#distinct.size > this.maxDistinct) {
        throw badArchive(`the archive describes more than ${this.maxDistinct} distinct blobs`).withHint(
          'split it into smaller archives, e.g. one per image (nothing from it was kept)',
        );
      }
    }
    if (this.#refs % YIELD_EVERY === 0) await this.tick();
  }

  /** Throws INTERRUPTED when the signal fired. */
  check(): void {
    if (this.#signal?.aborted) throw interruptedError(this.#signal);
  }

  /** Lets the event loop run (signal handlers, timers), then checks the signal. */
  async tick(): Promise<void> {
    await yieldNow();
    this.check();
  }
}

/** Bytes a tar entry with this declared size takes in the stream: its 512-byte header and its padded data. */
export function tarBytesOf(size: number): number {
  return 512 + Math.ceil(Math.max(0, size) / 512) * 512;
}

/**
 * Passes gunzipped bytes through while counting them; fails the stream (BAD_ARCHIVE, exit 7) as soon as they
 * exceed what the tar entries seen so far declare (`declare()`) plus GUNZIP_MARGIN_BYTES — trailing zeros after
 * the end of the tar, or entries that are not there, of a gzip bomb.
 */
export class GunzipBudget extends Transform {
  #declared = 0;
  #seen = 0;
  readonly #margin: number;

  constructor(margin = GUNZIP_MARGIN_BYTES) {
    super();
    this.#margin = margin;
  }

  declare(bytes: number): void {
    this.#declared += bytes;
  }

  get decompressed(): number {
    return this.#seen;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#seen += chunk.length;
    if (this.#seen > this.#declared + this.#margin) {
      cb(
        badArchive(
          `the gzip-compressed archive decompresses to more than its tar entries declare (over ${this.#declared + this.#margin} bytes): it is damaged or a decompression bomb`,
        ),
      );
      return;
    }
    cb(null, chunk);
  }
}
