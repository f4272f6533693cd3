// The temporary file a blob is streamed into (DIR/tmp/<pid>-<nonce>.partial, 0600, tracked for removal on a forced
// exit). Appended bytes are copied into a reused 512 KiB write buffer (write-buffers.ts: the caller's buffers die
// young instead of piling up in RSS until a full GC); a full buffer is written while the next one fills, with at most
// one write in flight, so hashing the next chunks overlaps the disk write; every 64 MiB a datasync starts behind the
// writes. Nothing here decides whether the content is right: the caller verifies it, then commits (fsync, close,
// rename) or discards.

import { promises as fsp } from 'node:fs';
import { fsError } from '../errors.js';
import { tempPath } from '../fs/atomic.js';
import { trackTemp } from '../fs/cleanup.js';
import { PRIVATE_FILE_MODE } from '../fs/private.js';
import { returnWriteBuffer, takeWriteBuffer } from './write-buffers.js';

/** A datasync is started behind the writes after each SYNC_EVERY bytes, so the final fsync finds little to write. */
const SYNC_EVERY = 64 << 20;

/** Writes `length` bytes of `buf` (a write may write less than asked), then gives the buffer back. */
async function writeAll(file: fsp.FileHandle, buf: Buffer, length: number): Promise<void> {
  try {
    let at = 0;
    while (at < length) {
      const { bytesWritten } = await file.write(buf, at, length - at);
      at += bytesWritten;
    }
  } finally {
    returnWriteBuffer(buf);
  }
}

export class TempBlobFile {
  readonly path: string;
  readonly #file: fsp.FileHandle;
  readonly #untrack: () => void;
  readonly #what: string;
  /** The buffer being filled (taken on the first append) and how much of it is filled. */
  #buf: Buffer | undefined;
  #filled = 0;
  #inflight: Promise<void> = Promise.resolve();
  /** A datasync started behind the writes (see SYNC_EVERY), and the bytes written since the last one started. */
  #syncing: Promise<void> | undefined;
  #unsynced = 0;
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
    await this.#syncing;
    if (!this.#closed) await this.#file.close().catch(() => {});
    this.#closed = true;
  }

  /** Copies `data` into the write buffer; each time it is full, waits for the write in flight and starts its write. */
  async append(data: Uint8Array): Promise<void> {
    let at = 0;
    while (at < data.length) {
      this.#buf ??= takeWriteBuffer();
      const n = Math.min(data.length - at, this.#buf.length - this.#filled);
      this.#buf.set(n === data.length ? data : data.subarray(at, at + n), this.#filled);
      this.#filled += n;
      at += n;
      if (this.#filled === this.#buf.length) await this.#flush();
    }
  }

  async #flush(): Promise<void> {
    await this.#inflight;
    this.#throwWriteError();
    const buf = this.#buf;
    if (buf === undefined) return;
    const length = this.#filled;
    this.#buf = undefined;
    this.#filled = 0;
    this.#inflight = writeAll(this.#file, buf, length).catch((e: unknown) => {
      this.#writeError = e;
    });
    this.#unsynced += length;
    if (this.#unsynced >= SYNC_EVERY && this.#syncing === undefined) this.#syncInBackground();
  }

  /**
   * Starts writing what is written so far to disk while the transfer goes on. The page cache holds gigabytes before
   * the kernel writes back on its own, so without this a large blob's final fsync wrote all of it after the last
   * byte had arrived (1 GiB: ~1 s of waiting).
   */
  #syncInBackground(): void {
    this.#unsynced = 0;
    this.#syncing = this.#inflight
      .then(() => this.#file.datasync())
      .catch((e: unknown) => {
        this.#writeError ??= e;
      })
      .finally(() => {
        this.#syncing = undefined;
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
    await this.#syncing;
    this.#throwWriteError();
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
    await this.#syncing;
    if (!this.#closed) await this.#file.close().catch(() => {});
    this.#closed = true;
    await fsp.unlink(this.path).catch(() => {});
    this.#untrack();
  }
}
