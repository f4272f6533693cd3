// An archive being written (save): every blob and document becomes a tar entry blobs/<alg>/<hex>, each once,
// streamed; save.ts adds index.json / manifest.json / oci-layout / repositories and finishes it. The tar goes to a
// private temporary file renamed into place at the end (or to a given stream).

import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { DheError, fsError } from '../errors.js';
import { trackTemp } from '../fs/cleanup.js';
import { PRIVATE_FILE_MODE } from '../fs/private.js';
import type { Descriptor } from '../oci/index.js';
import type { BlobOpener, ImageSink, PutBlobOptions } from './sink.js';

const EPOCH = new Date(0);

export const blobEntryName = (digest: string) => `blobs/${digest.replace(':', '/')}`;

/** An error creating or writing the output file, with what the user can do about it. */
export function outputError(e: unknown, out: string): DheError {
  if (e instanceof DheError) return e;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const io = (why: string, hint: string) => new DheError('IO', `cannot write the archive ${out}: ${why}`, { hint, cause: e });
  if (code === 'ENOENT') return io(`the folder ${dirname(out)} does not exist`, 'create the folder first, or choose another path with -o');
  if (code === 'ENOTDIR') return io(`${dirname(out)} is not a folder`, 'choose another path with -o');
  if (code === 'EISDIR') return io('it is a folder', 'give a file name with -o, e.g. -o image.tar');
  return fsError(e, `writing the archive ${out}`);
}

export class ArchiveSink implements ImageSink {
  readonly kind = 'archive';
  /** save decides what goes in (a whole index, or one platform of it) and writes that as it is. */
  readonly keepsPartialIndex = true;
  readonly #pack = tar.pack();
  readonly #entries = new Set<string>();
  readonly #piping: Promise<void>;
  readonly #failed: Promise<never>;
  #error: unknown;
  #written = 0;
  #tmp: string | undefined;
  #untrack: () => void;

  private constructor(
    readonly out: Writable | string,
    sink: Writable,
    tmp: string | undefined,
    untrack: () => void,
    opts: { end?: boolean; onProgress?: (bytes: number) => void },
  ) {
    this.#tmp = tmp;
    this.#untrack = untrack;
    this.#pack.on('data', (c: unknown) => {
      this.#written += (c as Buffer).length;
      opts.onProgress?.(this.#written);
    });
    this.#piping = pipeline(this.#pack, sink, { end: typeof out === 'string' ? true : (opts.end ?? true) });
    // A failing sink (disk full, closed pipe) must end the save, never go unhandled while a blob streams.
    this.#failed = new Promise<never>((_, rej) => {
      this.#piping.catch((e: unknown) => {
        this.#error ??= e;
        rej(e);
      });
    });
    this.#failed.catch(() => {});
  }

  /** Opens the output first: a missing folder or a denied write fails here, before any stream is wired up. */
  static async open(out: Writable | string, opts: { end?: boolean; onProgress?: (bytes: number) => void } = {}): Promise<ArchiveSink> {
    if (typeof out !== 'string') return new ArchiveSink(out, out, undefined, () => {}, opts);
    const tmp = join(dirname(out), `.${basename(out)}.${process.pid}-${randomBytes(4).toString('hex')}.partial`);
    let fh: FileHandle;
    try {
      fh = await fsp.open(tmp, 'wx', PRIVATE_FILE_MODE); // 0600 whatever the umask (the archive holds private layers)
    } catch (e) {
      throw outputError(e, out);
    }
    return new ArchiveSink(out, fh.createWriteStream({ highWaterMark: 1 << 20 }), tmp, trackTemp(tmp), opts);
  }

  get bytes(): number {
    return this.#written;
  }

  async has(desc: Descriptor): Promise<boolean> {
    return this.#entries.has(blobEntryName(desc.digest));
  }

  async putBlob(desc: Descriptor, open: BlobOpener, opts: PutBlobOptions): Promise<{ written: boolean; size: number }> {
    const name = blobEntryName(desc.digest);
    if (this.#entries.has(name)) return { written: false, size: desc.size };
    this.#entries.add(name);
    await this.#stream(name, desc.size, await open(), opts.signal);
    return { written: true, size: desc.size };
  }

  async putManifest(desc: Descriptor, bytes: Buffer): Promise<void> {
    const name = blobEntryName(desc.digest);
    if (this.#entries.has(name)) return;
    this.#entries.add(name);
    await this.addFile(name, bytes);
  }

  async commit(): Promise<void> {}

  /** A small file (index.json, manifest.json …). */
  addFile(name: string, content: string | Buffer): Promise<void> {
    return Promise.race([
      this.#failed,
      new Promise<void>((res, rej) => {
        this.#pack.entry({ name, mode: 0o644, mtime: EPOCH }, content, (err) => (err ? rej(err) : res()));
      }),
    ]);
  }

  async #stream(name: string, size: number, source: Readable, signal?: AbortSignal): Promise<void> {
    const written = new Promise<void>((res, rej) => {
      const entry = this.#pack.entry({ name, size, mode: 0o644, mtime: EPOCH }, (err) => (err ? rej(err) : res()));
      entry.on('error', (e: unknown) => rej(e)); // a destroyed pack destroys its entry: never an unhandled 'error'
      (async () => {
        for await (const chunk of source) {
          if (signal?.aborted) throw new DheError('INTERRUPTED', 'interrupted');
          if (this.#error !== undefined) throw this.#error;
          if (!entry.write(chunk as Buffer)) await new Promise<void>((r) => entry.once('drain', () => r()));
        }
        entry.end(undefined as unknown as Buffer);
      })().catch((e: unknown) => {
        source.destroy();
        rej(e);
        entry.destroy(e as Error);
      });
    });
    await Promise.race([this.#failed, written]);
  }

  /** Ends the tar and moves the file into place. */
  async finish(): Promise<void> {
    this.#pack.finalize();
    await this.#piping;
    if (this.#tmp !== undefined) {
      await fsp.rename(this.#tmp, this.out as string);
      this.#tmp = undefined;
    }
  }

  /** After a failed transfer: the tar is abandoned (the temporary file goes in dispose()). */
  async close(error?: unknown): Promise<void> {
    if (error === undefined) return;
    this.#pack.destroy();
    await this.#piping.catch(() => {});
  }

  /** Always, last: a temporary file not renamed into place is removed. */
  async dispose(): Promise<void> {
    if (this.#tmp !== undefined) {
      this.#pack.destroy();
      await this.#piping.catch(() => {});
      await fsp.unlink(this.#tmp).catch(() => {});
      this.#tmp = undefined;
    }
    this.#untrack();
  }
}
