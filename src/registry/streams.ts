// Stream helpers of the registry client: the upload verifier (a wrong local blob never completes on the registry),
// a progress counter, and the errors and small utilities the upload and download paths share.

import { Transform, type Readable, type Writable } from 'node:stream';
import { DheError, isDheError } from '../errors.js';
import { createVerifier, splitDigest } from '../oci/digest.js';
import { pace } from '../runtime/gc-pacer.js';

const LOCAL_BLOB_HINT = "run 'dhe-cli store verify --repair', then pull or load the image again";
const SOURCE_BLOB_HINT = 'the source registry, its storage or something between altered the content; the destination did not keep it';

/**
 * The content of a blob we upload does not match its descriptor: not the network's fault, never retried. `from`:
 * where the bytes were read (a copy's source registry); none: the local store.
 */
export function sentBlobError(code: 'DIGEST_MISMATCH' | 'SIZE_MISMATCH', digest: string, detail: string, opts: { from?: string | undefined; cause?: unknown } = {}): DheError {
  const what = code === 'SIZE_MISMATCH' ? 'size' : 'digest';
  const blob = opts.from === undefined ? `the local blob ${digest}` : `blob ${digest} read from ${opts.from}`;
  return new DheError(code, `${blob} does not match its ${what} (${detail})`, {
    hint: opts.from === undefined ? LOCAL_BLOB_HINT : SOURCE_BLOB_HINT,
    cause: opts.cause,
  });
}

export class BodyTooLarge extends Error {
  /** atStart: nothing reached the registry yet (the proxy refused the first body): the session can be reused. */
  constructor(readonly sent: number, readonly atStart = true) {
    super('413 Request Entity Too Large');
  }
}

export function pow2Floor(n: number): number {
  return 2 ** Math.floor(Math.log2(Math.max(1, n)));
}

export function waitDrain(w: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      w.off('drain', done);
      w.off('close', done);
      resolve();
    };
    w.on('drain', done);
    w.on('close', done);
  });
}

/**
 * Passes the blob's bytes through, hashing and counting them with the one verifier (src/oci/digest.ts): more bytes
 * than desc.size, fewer, or another digest → `onBad(error)` and the stream fails before the last byte is sent (the
 * registry never gets a wrong blob). Errors name the local blob, or `from` (never retried: not the network's fault).
 */
export function verifying(raw: Readable, desc: { digest: string; size: number }, onBad: (e: DheError) => void, from?: string): Readable {
  splitDigest(desc.digest, 'INVALID_REFERENCE');
  const verifier = createVerifier({ digest: desc.digest });
  let held: Buffer | undefined;
  const bad = (e: DheError): DheError => {
    onBad(e);
    return e;
  };
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (verifier.bytes + chunk.length > desc.size) return cb(bad(sentBlobError('SIZE_MISMATCH', desc.digest, `more than ${desc.size} bytes`, { from })));
      verifier.update(chunk);
      pace(chunk.length);
      // Hold back the latest chunk until the digest is checked: a wrong blob never completes on the registry.
      const prev = held;
      held = chunk;
      cb(null, prev);
    },
    flush(cb) {
      const n = verifier.bytes;
      if (n !== desc.size) return cb(bad(sentBlobError('SIZE_MISMATCH', desc.digest, `${n} bytes, expected ${desc.size}`, { from })));
      try {
        verifier.result();
      } catch (e) {
        const got = isDheError(e) ? String(e.details?.actual ?? '') : '';
        return cb(bad(sentBlobError('DIGEST_MISMATCH', desc.digest, `its content hashes to ${got}`, { from, cause: e })));
      }
      cb(null, held);
    },
  });
  raw.on('error', (e) => t.destroy(e));
  t.on('close', () => raw.destroy());
  return raw.pipe(t);
}

export function counting(src: Readable, onProgress?: (n: number) => void): Readable {
  let n = 0;
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      n += chunk.length;
      onProgress?.(n);
      cb(null, chunk);
    },
  });
  src.on('error', (e) => t.destroy(e));
  return src.pipe(t);
}
