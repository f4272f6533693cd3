// Reading blobs: HEAD, and GET as a stream that follows redirects (Authorization only to the registry's origin),
// resumes a broken download with Range from the bytes already received, and (verify, the default) ends with
// DIGEST_MISMATCH / SIZE_MISMATCH instead of 'end' when the content is wrong.

import { PassThrough, type Readable } from 'node:stream';
import { DheError, isDheError } from '../errors.js';
import { createVerifier, splitDigest, type Verifier } from '../oci/digest.js';
import { backoffDelay, isRetryable, pause } from '../transport/retry.js';
import { checkBlobDigest } from './checks.js';
import type { Exchange, SentResponse } from './exchange.js';
import { waitDrain } from './streams.js';

export interface BlobDescriptor {
  digest: string;
  size?: number;
}

export interface GetBlobOptions {
  /** Check size and digest at the end (default true): the stream errors with DIGEST_MISMATCH / SIZE_MISMATCH. */
  verify?: boolean;
  /** Called with the total bytes received so far. */
  onProgress?: (n: number) => void;
  signal?: AbortSignal;
  /** How many times a broken download resumes with Range (default 5). */
  maxResumes?: number;
  /**
   * Start at this byte (the caller holds the bytes before it, from an earlier run, and hashes them itself: no
   * verification here). A registry that ignores the Range (200) or answers another range or length is read from
   * byte 0 with the first `offset` bytes dropped: a fresh download.
   */
  offset?: number;
}

/** Whether a Range answer is the rest of the blob from `offset`: 206, `bytes offset-…/size`. */
function rangeFits(res: SentResponse, offset: number, size: number | undefined): boolean {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.header('content-range') ?? '');
  return res.status === 206 && !!m && Number(m[1]) === offset && (m[3] === '*' || size === undefined || Number(m[3]) === size);
}

const DEFAULT_MAX_RESUMES = 5;

export class BlobReader {
  constructor(readonly x: Exchange) {}

  async head(repo: string, digest: string, opts: { signal?: AbortSignal } = {}): Promise<{ size: number } | null> {
    const res = await this.x.send({ method: 'HEAD', url: `/v2/${repo}/blobs/${checkBlobDigest(digest)}`, scopes: this.x.scopes(repo, ['pull']), what: `blob ${digest} in ${repo}`, repo, signal: opts.signal });
    await res.dump();
    if (res.status === 404) return null;
    await this.x.checkStatus(res, 200);
    const size = Number(res.header('content-length'));
    return { size: Number.isFinite(size) ? size : -1 };
  }

  /** GET from `offset` (a Range request when above 0: 206, or 200 when the registry ignores the Range). */
  async open(repo: string, digest: string, offset: number, signal?: AbortSignal): Promise<SentResponse> {
    const res = await this.x.send({
      method: 'GET',
      url: `/v2/${repo}/blobs/${checkBlobDigest(digest)}`,
      headers: offset > 0 ? { range: `bytes=${offset}-` } : {},
      scopes: this.x.scopes(repo, ['pull']),
      what: `blob ${digest} in ${repo}`,
      repo,
      signal,
    });
    return offset > 0 ? this.x.checkStatus(res, 200, 206) : this.x.checkStatus(res, 200);
  }

  async get(repo: string, desc: BlobDescriptor, opts: GetBlobOptions = {}): Promise<Readable> {
    splitDigest(desc.digest, 'INVALID_REFERENCE');
    const offset = opts.offset ?? 0;
    let first = await this.open(repo, desc.digest, offset, opts.signal);
    let skip = 0;
    if (offset > 0 && !rangeFits(first, offset, desc.size)) {
      this.x.trace.log(`blob ${desc.digest.slice(0, 19)}: Range from byte ${offset} answered ${first.status} ${first.header('content-range') ?? ''}; downloading it afresh`);
      if (first.status !== 200) {
        first.body.destroy();
        first = await this.open(repo, desc.digest, 0, opts.signal);
      }
      skip = offset;
    }
    return new Download(this, repo, desc, opts, first, offset, skip).start();
  }
}

/** One blob download: the response being read, what came so far, and the resumes left. */
class Download {
  // small: what waits here outlives scavenges and is freed only by a full GC (src/runtime/gc-pacer.ts)
  private readonly out = new PassThrough({ highWaterMark: 64 * 1024 });
  /** The one verifying pass (oci/digest.ts), or none with `verify: false` (the store then hashes once). */
  private readonly verifier: Verifier | undefined;
  private readonly maxResumes: number;
  private received = 0;
  /** Bytes to drop at the start of the current response (a Range the registry ignored: it sent from byte 0). */
  private skip = 0;
  private resumes = 0;

  constructor(
    private readonly reader: BlobReader,
    private readonly repo: string,
    private readonly desc: BlobDescriptor,
    private readonly opts: GetBlobOptions,
    private res: SentResponse,
    offset = 0,
    skip = 0,
  ) {
    this.received = offset;
    this.skip = skip;
    this.verifier =
      opts.verify === false || offset > 0
        ? undefined
        : createVerifier({
            digest: desc.digest,
            ...(desc.size !== undefined ? { size: desc.size } : {}),
            what: `blob ${desc.digest} from ${reader.x.registry}`,
            hint: 'the registry, its storage or something between altered the content; nothing was stored',
          });
    this.maxResumes = opts.maxResumes ?? DEFAULT_MAX_RESUMES;
    // The consumer may not listen yet (a generator attaches when first read), or may stop listening between our
    // destroy(e) and the 'error' event a tick later (a reader that returned early on Ctrl-C): an 'error' event
    // without a listener would crash the process. The error stays on the stream (`errored`), where finished(),
    // pipeline() and async iteration report it.
    this.out.on('error', () => undefined);
    // A consumer that stops reading (destroys the stream) releases the connection at once.
    this.out.on('close', () => {
      if (!this.res.body.readableEnded) this.res.body.destroy();
    });
  }

  private get registry(): string {
    return this.reader.x.registry;
  }

  start(): Readable {
    this.run().catch((e: unknown) => {
      this.out.destroy(isDheError(e) ? e : new DheError('NETWORK', `download of ${this.desc.digest} failed: ${(e as Error).message}`, { cause: e }));
    });
    return this.out;
  }

  private async run(): Promise<void> {
    for (;;) {
      try {
        if (!(await this.pump())) return;
        break;
      } catch (e) {
        if (this.out.destroyed) return;
        if (!(await this.resume(e))) return;
      }
    }
    this.verifier?.result();
    this.out.end();
  }

  /** Copies the current response into the stream; false when the consumer went away. */
  private async pump(): Promise<boolean> {
    const { desc } = this;
    for await (const c of this.res.body) {
      let chunk = c as Buffer;
      if (this.skip > 0) {
        if (chunk.length <= this.skip) {
          this.skip -= chunk.length;
          continue;
        }
        chunk = chunk.subarray(this.skip);
        this.skip = 0;
      }
      if (this.out.destroyed) {
        this.res.body.destroy();
        return false;
      }
      this.received += chunk.length;
      try {
        this.verifier?.update(chunk);
      } catch (e) {
        this.res.body.destroy();
        throw e;
      }
      this.opts.onProgress?.(this.received);
      if (!this.out.write(chunk)) await waitDrain(this.out);
    }
    if (desc.size !== undefined && this.received < desc.size) {
      throw Object.assign(new Error(`body ended after ${this.received} of ${desc.size} bytes`), { code: 'UND_ERR_SOCKET' });
    }
    return true;
  }

  /** After a failure mid-body: a new GET with Range from the bytes received (true), or the error to end with. */
  private async resume(e: unknown): Promise<boolean> {
    const { signal } = this.opts;
    if (isDheError(e) && !isRetryable(e)) throw e;
    if (!isRetryable(e) || this.resumes >= this.maxResumes || signal?.aborted) throw this.broken(e);
    this.resumes++;
    this.reader.x.trace.log(`blob ${this.desc.digest.slice(0, 19)} broke after ${this.received} bytes (${(e as Error).message}); resuming with Range (${this.resumes}/${this.maxResumes})`);
    await pause(backoffDelay(this.resumes, this.reader.x.transport.retry), signal);
    if (signal?.aborted) throw this.broken(e);
    this.res = await this.reader.open(this.repo, this.desc.digest, this.received, signal);
    if (this.out.destroyed) {
      this.res.body.destroy();
      return false;
    }
    if (this.res.status === 200) {
      this.skip = this.received; // Range ignored: discard what we already have
      return true;
    }
    const cr = this.res.header('content-range') ?? '';
    const m = /bytes (\d+)-/.exec(cr);
    if (m && Number(m[1]) !== this.received) {
      this.res.body.destroy();
      throw new DheError('PROTOCOL', `${this.registry} answered a Range request for byte ${this.received} with ${cr}`, { hint: 'try again' });
    }
    return true;
  }

  /** The error a download ends with when it does not resume: cancelled, the typed error, or "broke after N bytes". */
  private broken(e: unknown): DheError {
    if (this.opts.signal?.aborted) return new DheError('INTERRUPTED', 'download cancelled', { cause: e });
    if (isDheError(e)) return e;
    return new DheError('NETWORK', `download of ${this.desc.digest.slice(0, 19)} from ${this.registry} broke after ${this.received} bytes (${this.resumes} resumes)`, {
      hint: 'the connection keeps failing; try again later',
      cause: e,
    });
  }
}
