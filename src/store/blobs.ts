// Blobs under DIR/blobs/<alg>/<hex>: written through a temporary file while hashed and counted by the one verifier
// (src/oci/digest.ts createVerifier), fsynced and renamed into place only when digest and size match, so the store
// never holds a partial or unverified blob; read whole (capped, digest checked), streamed, stat'ed and listed.

import { createReadStream, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { DheError, fsError, isDheError } from '../errors.js';
import { errnoCode } from '../fs/atomic.js';
import { mkdirPrivate } from '../fs/private.js';
import { createVerifier, digestOf, verifyDigest, type Verifier } from '../oci/digest.js';
import { pace } from '../runtime/gc-pacer.js';
import { TempBlobFile } from './blob-file.js';
import { isValidDigest, parseDigest } from './digest.js';
import type { Lease } from './leases.js';
import type { PartialBlobs } from './partials.js';
import type { StoreContext } from './layout.js';

export interface WriteBlobOptions {
  /** Called with the total number of bytes received so far. */
  onProgress?: (bytes: number) => void;
  signal?: AbortSignal;
  /**
   * The blob is added to this lease before it becomes visible under blobs/ (or, when the digest is known up front,
   * before the existence check), so a concurrent prune can never take it between the write and the caller's naming.
   */
  lease?: Lease;
}

export interface WriteBlobResult {
  digest: string;
  size: number;
  /** True when the blob was already in the store (the source was then not read). */
  existed: boolean;
}

export type BlobSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Readable;

/** A file under blobs/: its digest (null when the file name is not one), path, and "<alg>/<hex>" name. */
export interface BlobFile {
  digest: string | null;
  path: string;
  name: string;
}

const READ_CHUNK = 1 << 20;
/**
 * Reads of a blob streamed out (open: what a push sends): small enough that the few in flight die young (what waits
 * outlives scavenges and is freed only by a full GC: src/runtime/gc-pacer.ts).
 */
const STREAM_CHUNK = 256 << 10;

function interrupted(signal: AbortSignal): DheError {
  const r: unknown = signal.reason;
  if (isDheError(r)) return r;
  return new DheError('INTERRUPTED', 'interrupted', { cause: r });
}

function blobUnknown(digest: string, cause: unknown): DheError {
  return new DheError('BLOB_UNKNOWN', `blob ${digest} is not in the local store`, { cause });
}

/** Stops a source we will not read. */
function discard(source: BlobSource): void {
  if (source instanceof Readable) {
    source.destroy();
    return;
  }
  const it = (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]?.();
  void it?.return?.()?.catch?.(() => {});
}

function toBuffer(chunk: Uint8Array | string): Buffer {
  return typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

export class BlobStore {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  /** Where the blob lives; throws MALFORMED_MANIFEST for anything that is not a digest, before it becomes a path. */
  path(digest: string): string {
    const { algorithm, hex } = parseDigest(digest);
    return join(this.#ctx.paths.blobs, algorithm, hex);
  }

  async stat(digest: string): Promise<{ size: number } | null> {
    try {
      const st = await fsp.stat(this.path(digest));
      return st.isFile() ? { size: st.size } : null;
    } catch (e) {
      if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return null;
      throw fsError(e, `reading blob ${digest}`);
    }
  }

  async has(digest: string): Promise<boolean> {
    return (await this.stat(digest)) !== null;
  }

  /** A stream of the blob's bytes (from `start`); errors with BLOB_UNKNOWN when it is not in the store. */
  open(digest: string, opts: { start?: number; end?: number } = {}): Readable {
    const rs = createReadStream(this.path(digest), {
      start: opts.start ?? 0,
      ...(opts.end !== undefined ? { end: opts.end } : {}),
      highWaterMark: STREAM_CHUNK,
    });
    // Translate "missing" into our error type; other errors pass as they are.
    const out = new Readable({
      highWaterMark: 1, // one read waits here at most (the file stream holds the next)
      read() {
        rs.resume();
      },
      destroy(err, cb) {
        rs.destroy();
        cb(err);
      },
    });
    rs.on('data', (chunk) => {
      if (!out.push(chunk)) rs.pause();
    });
    rs.on('end', () => out.push(null));
    rs.on('error', (e) => {
      out.destroy(errnoCode(e) === 'ENOENT' ? blobUnknown(digest, e) : fsError(e, `reading blob ${digest}`));
    });
    return out;
  }

  /** Reads a small blob (manifest, config) whole, refusing more than maxBytes, and checks its digest. */
  async read(digest: string, maxBytes: number): Promise<Buffer> {
    const path = this.path(digest);
    let buf: Buffer;
    try {
      const fh = await fsp.open(path, 'r');
      try {
        const st = await fh.stat();
        if (st.size > maxBytes) {
          throw new DheError('MALFORMED_MANIFEST', `blob ${digest} is ${st.size} bytes, more than the ${maxBytes} allowed`);
        }
        buf = await fh.readFile();
      } finally {
        await fh.close();
      }
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') throw blobUnknown(digest, e);
      throw fsError(e, `reading blob ${digest}`);
    }
    if (digestOf(buf, parseDigest(digest).algorithm) !== digest) {
      throw new DheError('CORRUPT_STORE', `blob ${digest} in the local store does not match its digest`, {
        hint: 'run `dhe-cli store verify --repair`, then pull the image again',
      });
    }
    return buf;
  }

  /**
   * Streams `source` into the store. The bytes go to a temp file under DIR/tmp while verified; the file is fsynced
   * and renamed into blobs/ only when digest (and size, when given) match. Without `expect.digest` the digest is
   * computed and the blob adopted under it. If the blob is already present the source is not read (a Readable is
   * destroyed) and `existed` is true.
   */
  async write(source: BlobSource, expect: { digest?: string; size?: number }, opts: WriteBlobOptions = {}): Promise<WriteBlobResult> {
    const { signal, lease } = opts;
    if (expect.size !== undefined && (!Number.isSafeInteger(expect.size) || expect.size < 0)) {
      throw new DheError('SIZE_MISMATCH', `invalid expected size ${expect.size}`);
    }
    const verifier = createVerifier({ ...expect, what: `blob ${expect.digest ?? ''}`.trim() });
    if (expect.digest !== undefined) {
      if (lease) await lease.add([expect.digest]);
      const st = await this.stat(expect.digest);
      if (st && (expect.size === undefined || st.size === expect.size)) {
        discard(source);
        return { digest: expect.digest, size: st.size, existed: true };
      }
    }
    if (signal?.aborted) {
      discard(source);
      throw interrupted(signal);
    }
    let tmp: TempBlobFile;
    try {
      tmp = await TempBlobFile.create(this.#ctx.paths.tmp, this.#ctx.dir);
    } catch (e) {
      discard(source);
      throw e;
    }
    const onAbort = () => {
      if (source instanceof Readable) source.destroy(interrupted(signal!));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const { digest, size } = await this.#fill(tmp, source, verifier, opts);
      if (lease && expect.digest === undefined) await lease.add([digest]);
      return await this.#commit(tmp, digest, size);
    } catch (e) {
      if (source instanceof Readable && !source.destroyed) source.destroy();
      await tmp.discard();
      throw e;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * write(), for a download that can continue from a byte offset: a prefix kept under partial/ is re-hashed and
   * `open(offset)` asked for the rest. The bytes go to a file under partial/ that stays there when the download is
   * interrupted or the network fails (never on an integrity failure); only a verified blob is renamed into blobs/.
   * A resumed blob that does not verify is thrown away and downloaded once more from byte 0.
   */
  async writeResumable(
    open: (offset: number) => Promise<BlobSource>,
    expect: { digest: string; size: number },
    partials: PartialBlobs,
    opts: WriteBlobOptions & { onResume?: (offset: number) => void } = {},
  ): Promise<WriteBlobResult> {
    if (opts.lease) await opts.lease.add([expect.digest]);
    const st = await this.stat(expect.digest);
    if (st && st.size === expect.size) return { digest: expect.digest, size: st.size, existed: true };
    const kept = await partials.claim(expect.digest, expect.size);
    try {
      return await this.#writeFrom(open, expect, partials, kept, opts);
    } catch (e) {
      if (!kept || !isDheError(e) || e.exitCode !== 7 || opts.signal?.aborted) throw e;
      this.#ctx.trace.log(`store: the resumed ${expect.digest} did not verify (${e.message}); downloading it again from byte 0`);
      return this.#writeFrom(open, expect, partials, undefined, opts);
    }
  }

  async #writeFrom(
    open: (offset: number) => Promise<BlobSource>,
    expect: { digest: string; size: number },
    partials: PartialBlobs,
    kept: { path: string; bytes: number } | undefined,
    opts: WriteBlobOptions & { onResume?: (offset: number) => void },
  ): Promise<WriteBlobResult> {
    const { signal } = opts;
    if (signal?.aborted) throw interrupted(signal);
    const verifier = createVerifier({ ...expect, what: `blob ${expect.digest}` });
    const tmp = await TempBlobFile.kept(kept?.path ?? (await partials.pathFor(expect.digest)), this.#ctx.dir, kept !== undefined);
    let source: BlobSource | undefined;
    const onAbort = () => {
      if (source instanceof Readable) source.destroy(interrupted(signal!));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (kept) {
        for await (const c of createReadStream(tmp.path, { highWaterMark: READ_CHUNK })) verifier.update(c as Buffer);
        opts.onResume?.(kept.bytes);
      }
      source = await open(kept?.bytes ?? 0);
      const { digest, size } = await this.#fill(tmp, source, verifier, opts);
      return await this.#commit(tmp, digest, size);
    } catch (e) {
      if (source instanceof Readable && !source.destroyed) source.destroy();
      if (isDheError(e) && e.exitCode === 7) await tmp.discard();
      else await tmp.keep();
      throw e;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Copies the source into the temp file through the verifier; returns the verified digest and size. */
  async #fill(tmp: TempBlobFile, source: BlobSource, verifier: Verifier, opts: WriteBlobOptions): Promise<{ digest: string; size: number }> {
    const { signal, onProgress } = opts;
    for await (const chunk of source as AsyncIterable<Uint8Array | string>) {
      if (signal?.aborted) throw interrupted(signal);
      const buf = toBuffer(chunk);
      verifier.update(buf); // throws SIZE_MISMATCH at the first byte too many: nothing more is read
      await tmp.append(buf); // copies: `buf` is garbage from here
      pace(buf.length);
      onProgress?.(verifier.bytes);
    }
    if (signal?.aborted) throw interrupted(signal);
    await tmp.drain();
    return verifier.result();
  }

  /** fsync and rename a verified temp file into blobs/ (unless an equal blob got there first). */
  async #commit(tmp: TempBlobFile, digest: string, size: number): Promise<WriteBlobResult> {
    try {
      await tmp.syncAndClose();
      const existing = await this.stat(digest);
      if (existing && existing.size === size) {
        await tmp.discard();
        return { digest, size, existed: true };
      }
      const { algorithm } = parseDigest(digest);
      if (algorithm !== 'sha256') await mkdirPrivate(join(this.#ctx.paths.blobs, algorithm));
      await tmp.commit(this.path(digest));
    } catch (e) {
      throw isDheError(e) ? e : fsError(e, `storing blob ${digest}`);
    }
    this.#ctx.trace.log(`store: wrote blob ${digest} (${size} bytes)`);
    return { digest, size, existed: false };
  }

  /** Stores small content held in memory (manifests, configs); DIGEST_MISMATCH when it does not hash to expectDigest. */
  async put(bytes: Uint8Array, expectDigest?: string): Promise<{ digest: string; size: number }> {
    if (expectDigest !== undefined) verifyDigest(bytes, expectDigest);
    const digest = expectDigest ?? digestOf(bytes);
    const r = await this.write([bytes], { digest, size: bytes.byteLength });
    return { digest: r.digest, size: r.size };
  }

  /** Every file under blobs/<alg>/. */
  async list(): Promise<BlobFile[]> {
    const out: BlobFile[] = [];
    const base = this.#ctx.paths.blobs;
    let algs: string[];
    try {
      algs = await fsp.readdir(base);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return out;
      throw fsError(e, `listing ${base}`);
    }
    for (const alg of algs) {
      const files = await fsp.readdir(join(base, alg)).catch(() => [] as string[]);
      for (const f of files) {
        const digest = `${alg}:${f}`;
        out.push({ digest: isValidDigest(digest) ? digest : null, path: join(base, alg, f), name: `${alg}/${f}` });
      }
    }
    return out;
  }

  /** Removes a blob file; false when it was not there. */
  async remove(digest: string): Promise<boolean> {
    try {
      await fsp.unlink(this.path(digest));
      return true;
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return false;
      throw fsError(e, `removing blob ${digest}`);
    }
  }
}
