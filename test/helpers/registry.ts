// Small helpers shared by the library-level registry tests.

import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { DheError } from '../../src/errors.js';

/** Random bytes with their digest, as a blob to upload. */
export function blob(size: number): { digest: string; size: number; bytes: Buffer } {
  const bytes = randomBytes(size);
  return { digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`, size, bytes };
}

export async function readAll(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** The DheError a promise rejects with (anything else, or success, fails the test). */
export async function caught(p: Promise<unknown>): Promise<DheError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof DheError) return e;
    throw e;
  }
  throw new Error('expected a DheError, got success');
}
