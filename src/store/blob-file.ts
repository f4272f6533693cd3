// The temporary file a blob is streamed into (DIR/tmp/<pid>-<nonce>.partial, 0600, tracked for removal on a forced
// exit). Appended buffers are batched and written with writev (no concat copy), with at most one write in flight, so
// hashing the next chunks overlaps the disk write (fc64e74: 1 GiB pull 7.7-8.3 s → 5.4-5.7 s). Nothing here decides
// whether the content is right: the caller verifies it, then commits (fsync, close, rename) or discards.

import { promises as fsp } from 'node:fs';
import { fsError } from '../errors.js';
import { tempPath } from '../fs/atomic.js';
import { trackTemp } from '../fs/cleanup.js';
import { PRIVATE_FILE_MODE } from '../fs/private.js';

const WRITE_CHUNK = 4 << 20; // one 4 MiB write in flight
const MAX_BATCH_BUFFERS = 512;

/** Writes all of `bufs` (writev may write less than asked). */
async function writeAll(file: fsp.FileHandle, bufs: Buffer[]): Promise<void> {
  let rest = bufs;
  while (rest.length > 0) {
    const { bytesWritten } = await file.writev(rest);
    let n = bytesWritten;
    const next: Buffer[] = [];
    for (const b of rest) {
      if (n >= b.length) {
        n -= b.length;
        continue;
      }
      next.push(n > 0 ? b.subarray(n) : b);
      n = 0;
    }
    rest = next;
  }
}

export class TempBlobFile {
  readonly path: string;
  readonly #file: fsp.FileHandle;
  readonly #untrack: () => void;
  readonly #what: string;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #inflight: Promise<void> = Promise.resolve();
  #writeError: unknown;
  #closed = false;

  private constructor(path: string, file: fsp.FileHandle, untrack: () => void, what: string) {
    this.path = path;
    this.#file = file;
    this.#untrack = untrack;
    this.#what = what;
  }

  /** Creates a new temporary file in `tmpDir`; `what` names the store in write errors. */
  static async create(tmpDir: string, what: string): Promise<TempBlobFile> {
    const path = tempPath(tmpDir, '.partial');
    const untrack = trackTemp(path);
    try {
      return new TempBlobFile(path, await fsp.open(path, 'wx', PRIVATE_FILE_MODE), untrack, what);
    } catch (e) {
      untrack();
      throw fsError(e, `creating a temporary file in ${tmpDir}`);
    }
  }

  /**
   * A kept download under partial/ (partials.ts): not tracked for removal on a forced exit, since what it holds is
   * kept for the next run; `append` continues an existing file.
   */
  static async kept(path: string, what: string, append: boolean): Promise<TempBlobFile> {
    try {
      return new TempBlobFile(path, await fsp.open(path, append ? 'a' : 'wx', PRIVATE_FILE_MODE), () => {}, what);
    } catch (e) {
      throw fsError(e, `opening ${path}`);
    }
  }

  /** Writes what is queued and closes the file, leaving it where it is (a kept download). Never throws. */
  async keep(): Promise<void> {
    await this.drain().catch(() => {});
    if (!this.#closed) await this.#file.close().catch(() => {});
    this.#closed = true;
  }

  /** Queues a buffer; once a batch is full, waits for the write in flight and starts the next one. */
  async append(buf: Buffer): Promise<void> {
    this.#pending.push(buf);
    this.#pendingBytes += buf.length;
    if (this.#pendingBytes >= WRITE_CHUNK || this.#pending.length >= MAX_BATCH_BUFFERS) await this.#flush();
  }

  async #flush(): Promise<void> {
    await this.#inflight;
    this.#throwWriteError();
    if (this.#pendingBytes === 0) return;
    const bufs = this.#pending;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#inflight = writeAll(this.#file, bufs).catch((e: unknown) => {
      this.#writeError = e;
    });
  }

  #throwWriteError(): void {
    if (this.#writeError !== undefined) throw fsError(this.#writeError, `writing to ${this.#what}`);
  }

  /** Writes what is queued and waits for it. */
  async drain(): Promise<void> {
    await this.#flush();
    await this.#inflight;
    this.#throwWriteError();
  }

  /** fsync and close; the file stays for the caller to rename or remove. */
  async syncAndClose(): Promise<void> {
    await this.#file.sync();
    this.#closed = true;
    await this.#file.close();
  }

  /** Renames the (synced, closed) file to `dest`; it is no longer tracked. */
  async commit(dest: string): Promise<void> {
    await fsp.rename(this.path, dest);
    this.#untrack();
  }

  /** Waits for the write in flight, closes and removes the file. Never throws. */
  async discard(): Promise<void> {
    await this.#inflight;
    if (!this.#closed) await this.#file.close().catch(() => {});
    this.#closed = true;
    await fsp.unlink(this.path).catch(() => {});
    this.#untrack();
  }
}
