// A stream read whole, refusing more than a limit (without undici, so the image model can use it too).

import type { Readable } from 'node:stream';
import { DheError } from '../errors.js';

/** The bytes of `body`, or `tooLarge(n)` (default a PROTOCOL error naming `what`) once more than `limit` arrived. */
export async function readLimited(body: Readable, limit: number, what = 'response', tooLarge?: (n: number) => Error): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of body) {
    const b = Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array);
    n += b.length;
    if (n > limit) {
      body.destroy();
      throw (
        tooLarge?.(n) ??
        new DheError('PROTOCOL', `${what} is larger than ${limit} bytes`, {
          hint: 'the server sent an unexpectedly large body; check that the URL points at a registry',
        })
      );
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}
