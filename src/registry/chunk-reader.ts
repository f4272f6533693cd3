// Cutting a blob's byte stream into upload chunks without holding a chunk in memory: take(n) is a body of exactly
// n bytes that streams from the source as the socket asks for it (what a chunked upload PATCHes), and rest() reads
// the source to its end (so that its checks — size and digest, src/registry/streams.ts verifying() — run).

import type { Readable } from 'node:stream';

export class ChunkReader {
  readonly #it: AsyncIterator<Buffer>;
  #leftover: Buffer | undefined;
  #skip: number;

  /** `skip`: bytes of the source read (and so checked) but not handed out: the ones the registry already has. */
  constructor(src: Readable, skip = 0) {
    this.#it = src[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    this.#skip = skip;
  }

  async #next(): Promise<Buffer | undefined> {
    if (this.#leftover) {
      const b = this.#leftover;
      this.#leftover = undefined;
      return b;
    }
    for (;;) {
      const r = await this.#it.next();
      if (r.done) return undefined;
      let b = r.value;
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, b.length);
        this.#skip -= n;
        b = b.subarray(n);
      }
      if (b.length > 0) return b;
    }
  }

  /** The next `n` bytes, as they arrive. A source that ends sooner ends the body short (the request then fails). */
  async *take(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      const b = await this.#next();
      if (!b) return;
      if (b.length > left) {
        this.#leftover = b.subarray(left);
        yield b.subarray(0, left);
        return;
      }
      left -= b.length;
      yield b;
    }
  }

  /** Reads the source to its end; the bytes found after what was taken (none for a source of the right size). */
  async rest(): Promise<number> {
    let extra = 0;
    for (let b = await this.#next(); b; b = await this.#next()) extra += b.length;
    return extra;
  }
}
