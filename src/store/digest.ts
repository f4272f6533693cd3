// Digest strings as the store uses them: "<alg>:<hex>", sha256 and sha512 only, validated before they become paths.

import { createHash, type Hash } from 'node:crypto';
import { DheError } from '../errors.js';

const DIGEST_RE = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

export type DigestAlgorithm = 'sha256' | 'sha512';

export function isValidDigest(d: string): boolean {
  return DIGEST_RE.test(d);
}

/** Splits and validates a digest; anything else is refused before it can name a file. */
export function parseDigest(d: string): { algorithm: DigestAlgorithm; hex: string } {
  if (typeof d !== 'string' || !DIGEST_RE.test(d)) {
    throw new DheError('MALFORMED_MANIFEST', `invalid or unsupported digest "${String(d).slice(0, 100)}"`, {
      hint: 'digests look like sha256:<64 lowercase hex digits>',
    });
  }
  const i = d.indexOf(':');
  return { algorithm: d.slice(0, i) as DigestAlgorithm, hex: d.slice(i + 1) };
}

export function newHash(algorithm: DigestAlgorithm = 'sha256'): Hash {
  return createHash(algorithm);
}

export function digestOf(bytes: Uint8Array | string, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}
