// The local image store: an OCI image layout (oci-layout, index.json, blobs/<alg>/<hex>) that skopeo's `oci:DIR:NAME`
// transport and umoci can read. ImageStore is a thin facade over its parts, one file each:
//   layout.ts   paths, the index lock, creating the layout          blobs.ts    verified writes, reads, stat, open
//   names.ts    index.json: names, resolve, list                    sources.ts  where blobs came from (mounts)
//   graph.ts    the one typed walk of manifests and indexes         gc.ts       prune, discard, verify (+ repair)
//   leases.ts   what running pulls/pushes/loads protect from prune  lock.ts     the cross-process lock file
//   uploads.ts  push sessions kept across runs (uploads/)           partials.ts interrupted downloads kept (partial/)
// Every blob is written to DIR/tmp while being hashed and renamed into blobs/ only when digest and size match;
// index.json and sources.json are replaced atomically under a cross-process lock.

import type { Readable } from 'node:stream';
import { silentTrace, type Trace } from '../trace.js';
import { BlobStore, type BlobSource, type WriteBlobOptions, type WriteBlobResult } from './blobs.js';
import { Collector, type VerifyReport } from './gc.js';
import { initLayout, storeContext, type StoreContext } from './layout.js';
import { createLease, type Lease } from './leases.js';
import { NameIndex, type StoredImage } from './names.js';
import { SourceIndex } from './sources.js';
import { PartialBlobs } from './partials.js';
import { UploadRecords } from './uploads.js';
import type { Descriptor } from './types.js';

export interface ImageStoreOptions {
  trace?: Trace;
  /** How long index updates wait for another process's lock (default 60 s). */
  lockTimeoutMs?: number;
}

export type { WriteBlobOptions, WriteBlobResult } from './blobs.js';
export type { VerifyReport } from './gc.js';
export type { Lease } from './leases.js';
export { splitName, type StoredImage } from './names.js';

export class ImageStore {
  readonly dir: string;
  readonly #ctx: StoreContext;
  readonly #blobs: BlobStore;
  readonly #names: NameIndex;
  readonly #sources: SourceIndex;
  readonly #gc: Collector;
  readonly #uploads: UploadRecords;
  readonly #partials: PartialBlobs;

  private constructor(dir: string, opts: ImageStoreOptions) {
    this.dir = dir;
    this.#ctx = storeContext(dir, opts.trace ?? silentTrace, opts.lockTimeoutMs ?? 60_000);
    this.#blobs = new BlobStore(this.#ctx);
    this.#names = new NameIndex(this.#ctx, this.#blobs);
    this.#sources = new SourceIndex(this.#ctx);
    this.#uploads = new UploadRecords(this.#ctx.paths.uploads, this.#ctx.paths.tmp, this.#ctx.trace);
    this.#partials = new PartialBlobs(this.#ctx.paths.partial, this.#ctx.trace);
    this.#gc = new Collector(this.#ctx, this.#blobs, this.#names, this.#sources, { uploads: this.#uploads, partials: this.#partials });
  }

  /** Opens the store at `dir`, creating an empty OCI layout there if there is none. */
  static async open(dir: string, opts: ImageStoreOptions = {}): Promise<ImageStore> {
    const s = new ImageStore(dir, opts);
    await initLayout(s.#ctx);
    return s;
  }

  // ---------------------------------------------------------------- blobs (blobs.ts)

  /** Where a blob lives; throws MALFORMED_MANIFEST for anything that is not a digest. */
  blobPath(digest: string): string {
    return this.#blobs.path(digest);
  }

  statBlob(digest: string): Promise<{ size: number } | null> {
    return this.#blobs.stat(digest);
  }

  hasBlob(digest: string): Promise<boolean> {
    return this.#blobs.has(digest);
  }

  /** A stream of the blob's bytes (from `start`); errors with BLOB_UNKNOWN when it is not in the store. */
  openBlob(digest: string, opts: { start?: number; end?: number } = {}): Readable {
    return this.#blobs.open(digest, opts);
  }

  /** Reads a small blob (manifest, config) whole, refusing more than maxBytes, and checks its digest. */
  readBlob(digest: string, maxBytes: number): Promise<Buffer> {
    return this.#blobs.read(digest, maxBytes);
  }

  /**
   * Streams `source` into the store, verified (digest, and size when given) before it is renamed into blobs/; an
   * existing blob is not read again (`existed`). See BlobStore.write.
   */
  writeBlob(source: BlobSource, expect: { digest?: string; size?: number }, opts: WriteBlobOptions = {}): Promise<WriteBlobResult> {
    return this.#blobs.write(source, expect, opts);
  }

  /** Stores small content held in memory (manifests, configs). */
  putBlob(bytes: Uint8Array, expectDigest?: string): Promise<{ digest: string; size: number }> {
    return this.#blobs.put(bytes, expectDigest);
  }

  // ---------------------------------------------------------------- names (names.ts)

  /** Every named entry of the index, in index order. */
  listImages(): Promise<StoredImage[]> {
    return this.#names.list();
  }

  /**
   * Finds what a full normalised reference names: the entry with that exact name; for "repo@digest", an entry of
   * the same repository with that digest, or a child of such an entry's index present in the store.
   */
  resolve(ref: string): Promise<Descriptor | null> {
    return this.#names.resolve(ref);
  }

  /** Names `descriptor` (a manifest or index already in the store) `name`, replacing what the name meant before. */
  async setName(name: string, descriptor: Descriptor): Promise<void> {
    await this.#names.setNames([[name, descriptor]]);
  }

  /** Several names at once: one index update (load of an archive naming many images). */
  setNames(pairs: Array<[name: string, descriptor: Descriptor]>): Promise<void> {
    return this.#names.setNames(pairs);
  }

  /** Forgets a name; its blobs stay until prune. False when there was no such name. */
  async removeName(name: string): Promise<boolean> {
    return (await this.#names.removeWhere((_, n) => n === name)).length > 0;
  }

  // ---------------------------------------------------------------- prune, verify (gc.ts)

  /**
   * Deletes every blob no name reaches and no live lease protects; removes temp files and leases of dead
   * processes. Runs under the index lock, so names and leases cannot appear half-way through.
   */
  prune(): Promise<{ removedBlobs: number; freedBytes: number }> {
    return this.#gc.prune();
  }

  /**
   * Deletes these blobs unless a name or a live lease (other than `ownLease`) still reaches them: undoes what a
   * failed or partial import wrote. Returns how many were deleted.
   */
  discardBlobs(digests: string[], opts: { ownLease?: Lease } = {}): Promise<number> {
    return this.#gc.discard(digests, opts.ownLease);
  }

  /**
   * Checks that every blob hashes to its name and every name's manifest, config and layers are present. With
   * `repair`, corrupt blobs are deleted, names left incomplete are removed and dead processes' temp files go.
   */
  verify(opts: { repair?: boolean } = {}): Promise<VerifyReport> {
    return this.#gc.verify(opts);
  }

  // ---------------------------------------------------------------- upload sessions (uploads.ts)

  /** Upload sessions kept across runs, so an interrupted push continues where the registry stands. */
  get uploads(): UploadRecords {
    return this.#uploads;
  }

  /**
   * writeBlob for a download that can continue from a byte offset (`open(offset)`): what an interrupted earlier
   * download kept under partial/ is re-hashed and only the rest fetched (partials.ts).
   */
  writeBlobResumable(
    open: (offset: number) => Promise<BlobSource>,
    expect: { digest: string; size: number },
    opts: WriteBlobOptions & { onResume?: (offset: number) => void } = {},
  ): Promise<WriteBlobResult> {
    return this.#blobs.writeResumable(open, expect, this.#partials, opts);
  }

  // ---------------------------------------------------------------- leases (leases.ts)

  /** Protects these blobs (present or about to be written) from prune until released or this process dies. */
  lease(digests: string[]): Promise<Lease> {
    return createLease(this.#ctx.paths.leases, digests, this.#ctx.withLock);
  }

  // ---------------------------------------------------------------- sources, for cross-repository mounts (sources.ts)

  /** Records that blob `digest` came from (or was pushed to) "host/repository". */
  addSource(digest: string, registryRepo: string): Promise<void> {
    return this.#sources.add([[digest, registryRepo]]);
  }

  addSources(pairs: Array<[digest: string, registryRepo: string]>): Promise<void> {
    return this.#sources.add(pairs);
  }

  /** Repositories ("host/repository") the blob is known to exist in, most recent first. */
  sources(digest: string): Promise<string[]> {
    return this.#sources.of(digest);
  }
}
