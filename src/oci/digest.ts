// Content digests: "<algorithm>:<hex>", sha256 (the default), sha384 and sha512. Whole buffers (manifests,
// configs), incremental hashing for streams, and ONE verifier for every byte stream that must have a digest and size:
//
//   const v = createVerifier({ digest?, size?, what? });   // digest: expected "<alg>:<hex>" (its algorithm is used;
//                                                           // sha256 without one); size: expected byte count
//   await pipeline(source, v, sink);   // as a Transform: passes bytes through, fails the pipeline
//   v.update(chunk);                   // or fed directly (no stream machinery, e.g. the store's write loop)
//   v.result();                        // → { digest, size } at the end
//
// Failures are DheErrors (exit 7): SIZE_MISMATCH at the first byte beyond `size` (update throws / the stream fails
// right there, so a caller stops reading) or, at the end, when fewer arrived; DIGEST_MISMATCH at the end when the
// content hashes to something else (the message names both digests). A malformed `digest` throws MALFORMED_MANIFEST
// from createVerifier.

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

function mismatch(what: string | undefined, expected: string, actual: string, hint?: string): DheError {
  return new DheError('DIGEST_MISMATCH', `digest mismatch${what ? ` for ${what}` : ''}: expected ${expected}, got ${actual}`, {
    hint: hint ?? 'the content was corrupted on the way or by its source (registry, archive); retry, and if it persists report it to whoever serves it',
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

export interface VerifierOptions {
  /** The digest the content must have; without it, the digest is computed (sha256) and only reported. */
  digest?: string;
  /** The number of bytes the content must have. */
  size?: number;
  /** What is verified, for messages ("layer sha256:…", "blob sha256:…"). */
  what?: string;
  /** The hint of a mismatch error, when the caller knows better what it means (the default suits any source). */
  hint?: string;
}

export interface Verifier extends Transform {
  /** Hashes and counts a chunk; throws SIZE_MISMATCH as soon as more than `size` bytes have arrived. */
  update(chunk: Uint8Array): void;
  /** Bytes seen so far. */
  readonly bytes: number;
  /** At the end: digest and size of what was seen; throws SIZE_MISMATCH or DIGEST_MISMATCH when they are off. */
  result(): { digest: string; size: number };
}

/** The one hashing, counting and checking pass over a byte stream (see the top of this file). */
export function createVerifier(opts: VerifierOptions = {}): Verifier {
  const { digest: expected, size: expectedSize, what, hint } = opts;
  const digester = expected !== undefined ? digesterFor(expected) : createDigester();
  const sizeError = (got: string) =>
    new DheError('SIZE_MISMATCH', `size mismatch${what ? ` for ${what}` : ''}: expected ${expectedSize} bytes, got ${got}`, {
      hint: hint ?? 'the transfer was cut short or the content is not what the manifest says; retry',
      details: { expected: expectedSize, digest: expected },
    });
  const update = (chunk: Uint8Array): void => {
    digester.update(chunk);
    if (expectedSize !== undefined && digester.size > expectedSize) throw sizeError(`more than that (${digester.size} so far)`);
  };
  const result = (): { digest: string; size: number } => {
    if (expectedSize !== undefined && digester.size !== expectedSize) throw sizeError(String(digester.size));
    const actual = digester.digest();
    if (expected !== undefined && actual !== expected) throw mismatch(what, expected, actual, hint);
    return { digest: actual, size: digester.size };
  };
  const t = new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      try {
        update(chunk);
      } catch (e) {
        cb(e as Error);
        return;
      }
      cb(null, chunk);
    },
    flush(cb: TransformCallback) {
      try {
        result();
      } catch (e) {
        cb(e as Error);
        return;
      }
      cb();
    },
  });
  return Object.defineProperties(Object.assign(t, { update, result }), {
    bytes: { get: () => digester.size, enumerable: true },
  }) as Verifier;
}
