// Content digests: "<algorithm>:<hex>", sha256 (the default), sha384 and sha512. Whole buffers (manifests,
// configs) and incremental hashing for streams; a pass-through verifier for layers.

import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { DheError, type ErrorCode } from '../errors.js';
import { DIGEST_HEX_LENGTHS, digestProblem } from '../reference/index.js';
import type { Descriptor } from './types.js';

export type DigestAlgorithm = 'sha256' | 'sha384' | 'sha512';

export const DIGEST_ALGORITHMS: readonly DigestAlgorithm[] = Object.keys(DIGEST_HEX_LENGTHS) as DigestAlgorithm[];

/** Splits a digest into algorithm and hex, throwing DheError(code) when it is not a supported, well-formed digest. */
export function splitDigest(digest: string, code: ErrorCode = 'MALFORMED_MANIFEST'): { algorithm: DigestAlgorithm; hex: string } {
  const problem = digestProblem(digest);
  if (problem !== undefined) {
    const shown = typeof digest === 'string' ? digest.slice(0, 140) : String(digest);
    throw new DheError(code, `invalid digest "${shown}": ${problem}`, {
      hint: 'a digest is sha256: followed by 64 lowercase hex digits',
    });
  }
  const i = digest.indexOf(':');
  return { algorithm: digest.slice(0, i) as DigestAlgorithm, hex: digest.slice(i + 1) };
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** "sha256:<hex>" (or another algorithm) of a buffer. */
export function digestOf(data: Uint8Array | string, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

/** The descriptor of a document: its media type, digest and size. */
export function descriptorOf(data: Uint8Array | string, mediaType: string, algorithm: DigestAlgorithm = 'sha256'): Descriptor {
  const size = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
  return { mediaType, digest: digestOf(data, algorithm), size };
}

export interface Digester {
  readonly algorithm: DigestAlgorithm;
  /** Bytes seen so far. */
  readonly size: number;
  update(chunk: Uint8Array | string): Digester;
  /** "<algorithm>:<hex>" of everything seen; further updates are refused after this. */
  digest(): string;
}

/** Incremental hashing, for streams: update() with each chunk, then digest(). */
export function createDigester(algorithm: DigestAlgorithm = 'sha256'): Digester {
  if (!(algorithm in DIGEST_HEX_LENGTHS)) {
    throw new DheError('UNSUPPORTED', `unsupported digest algorithm "${String(algorithm)}"`);
  }
  const hash: Hash = createHash(algorithm);
  let size = 0;
  let result: string | undefined;
  const d: Digester = {
    algorithm,
    get size() {
      return size;
    },
    update(chunk) {
      if (result !== undefined) throw new Error('digester already finished');
      hash.update(chunk);
      size += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
      return d;
    },
    digest() {
      result ??= `${algorithm}:${hash.digest('hex')}`;
      return result;
    },
  };
  return d;
}

/** A digester for the algorithm of an expected digest (which must be valid). */
export function digesterFor(expected: string): Digester {
  return createDigester(splitDigest(expected).algorithm);
}

/** Whether the data has the digest (false also when the digest is malformed). */
export function digestMatches(data: Uint8Array | string, expected: string): boolean {
  if (digestProblem(expected) !== undefined) return false;
  return digestOf(data, splitDigest(expected).algorithm) === expected;
}

function mismatch(what: string | undefined, expected: string, actual: string): DheError {
  return new DheError('DIGEST_MISMATCH', `digest mismatch${what ? ` for ${what}` : ''}: expected ${expected}, got ${actual}`, {
    hint: 'the content was corrupted on the way or by the registry; retry, and if it persists report it to the registry owner',
    details: { expected, actual },
  });
}

/**
 * Throws DheError DIGEST_MISMATCH unless the data has the expected digest (sha256, sha384 or sha512).
 * A malformed expected digest throws MALFORMED_MANIFEST.
 */
export function verifyDigest(data: Uint8Array | string, expected: string, what?: string): void {
  const { algorithm } = splitDigest(expected);
  const actual = digestOf(data, algorithm);
  if (actual !== expected) throw mismatch(what, expected, actual);
}

/** The first 12 hex digits of a digest, as docker shows image and layer IDs. */
export function shortId(digest: string): string {
  const i = digest.indexOf(':');
  return (i >= 0 ? digest.slice(i + 1) : digest).slice(0, 12);
}

/**
 * A pass-through stream that hashes what flows through it and fails the pipeline, at the end, with DIGEST_MISMATCH
 * when the digest differs, or with SIZE_MISMATCH as soon as more bytes than `expectedSize` arrive or, at the end,
 * when fewer did.
 */
export function digestVerifier(expected: string, expectedSize?: number, what?: string): Transform & { digester: Digester } {
  const digester = digesterFor(expected);
  const sizeError = (got: string) =>
    new DheError('SIZE_MISMATCH', `size mismatch${what ? ` for ${what}` : ''}: expected ${expectedSize} bytes, got ${got}`, {
      hint: 'the transfer was cut short or the content is not what the manifest says; retry',
      details: { expected: expectedSize, digest: expected },
    });
  const t = new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      digester.update(chunk);
      if (expectedSize !== undefined && digester.size > expectedSize) {
        cb(sizeError(`more than that (${digester.size} so far)`));
        return;
      }
      cb(null, chunk);
    },
    flush(cb: TransformCallback) {
      if (expectedSize !== undefined && digester.size !== expectedSize) {
        cb(sizeError(String(digester.size)));
        return;
      }
      const actual = digester.digest();
      cb(actual === expected ? null : mismatch(what, expected, actual));
    },
  });
  return Object.assign(t, { digester });
}
