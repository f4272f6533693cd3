// Writing blobs: cross-repository mounts and the upload state machine. POST → PUT ?digest= (small blobs, one
// request), POST → streamed PATCH → PUT, or chunked PATCHes with Content-Range when the registry asks for a minimum
// chunk size or after a 413 (the chunk size that passes is learnt for the rest of this client's life). A retryable
// failure starts that blob's upload again from source(); on abort or failure the upload session is cancelled (DELETE).

import { Readable } from 'node:stream';
import { DheError, isDheError } from '../errors.js';
import { splitDigest } from '../oci/digest.js';
import { resolveTarget } from '../transport/origin-guard.js';
import { backoffDelay, isRetryable, pause } from '../transport/retry.js';
import { unionScopes } from '../auth/challenge.js';
import { checkBlobDigest } from './checks.js';
import { scopeOf, type Exchange, type SentResponse } from './exchange.js';
import { BodyTooLarge, counting, pow2Floor, sentBlobError, verifying } from './streams.js';
import { ChunkReader } from './chunk-reader.js';

export interface UploadBlobOptions {
  /** Called with the total bytes sent so far (starts again from 0 when the upload restarts). */
  onProgress?: (n: number) => void;
  signal?: AbortSignal;
  /**
   * The blob's upload session kept across runs (src/store/uploads.ts): a recorded session the registry still knows
   * is continued from the offset it confirms; a chunked upload records its session after every confirmed chunk and
   * keeps it (no DELETE) when interrupted or when the network keeps failing, for the next run.
   */
  session?: UploadSessionRecord;
  /** Called when a kept session is continued, with the offset the registry confirmed. */
  onResume?: (offset: number) => void;
  /** Where the bytes are read (a copy's source: "registry/repository"), named when they are wrong; none: the store. */
  from?: string;
}

/** Where an upload session is kept between runs (structurally the store's UploadSession). */
export interface UploadSessionRecord {
  claim(): Promise<string | undefined>;
  record(location: string, offset: number): Promise<void>;
  forget(): Promise<void>;
}

export interface BlobWriterOptions {
  /** Blobs up to this size go up in one PUT (default 1 MiB). */
  monolithicMaxBytes?: number;
  /** Chunk size when the registry asks for chunks (default 8 MiB). */
  chunkBytes?: number;
}

type Desc = { digest: string; size: number };

/** One upload session: its current Location and the bytes the registry has confirmed (chunked uploads move it). */
interface Session {
  location: string;
  offset: number;
  chunkMin?: number;
  /** Kept for the next run when interrupted (a chunked upload with a record). */
  kept?: boolean;
}

/** A request of an upload session that carries (part of) the blob. */
interface SessionRequest {
  method: 'PUT' | 'PATCH';
  url: string;
  headers: Record<string, string>;
  body?: Readable | Buffer;
  /** Bytes in the body, and whether it is the session's first: for the BodyTooLarge of a 413. */
  sent: number;
  atStart?: boolean;
}

const MIN_CHUNK = 1024 * 1024;
const MAX_FIRST_CHUNK = 16 * 1024 * 1024;
/** Resumable chunks: a round trip each (bench/ push-200m: 8 MiB chunks 0.79-0.92 s, 16 MiB 0.75-0.77 s). */
const MIN_RESUME_CHUNK = 16 * 1024 * 1024;
const MAX_RESUME_CHUNK = 64 * 1024 * 1024;
/**
 * Blobs above this size upload in recorded chunks, resumable by the next run; smaller ones go in one request (an
 * interrupted one is sent again whole: at most this much). Chunks cost a round trip each and, with several layers
 * uploading at once, memory (bench/ push-200m: 0.87 s / 93 MiB chunked, 0.83 s / 77 MiB in one request each).
 */
const RESUMABLE_MIN = 64 * 1024 * 1024;
/** 413s one upload may meet (each halves the chunk size) before the body limit is reported. */
const MAX_TOO_LARGE = 6;
const UPLOAD_ATTEMPTS = 3;
/** How long cancelling an upload session (DELETE) may take. */
const CANCEL_TIMEOUT_MS = 5_000;
/** Registry error codes that, for our own upload, mean the bytes we sent do not match the digest or size we named. */
const UPLOAD_INTEGRITY_CODES = ['DIGEST_INVALID', 'BLOB_UPLOAD_INVALID', 'SIZE_INVALID'];

function withDigest(location: string, digest: string): string {
  const u = new URL(location);
  u.searchParams.set('digest', digest);
  return u.href;
}

/**
 * An upload Location, resolved against the answer that sent it and guarded: http(s) only, never a link-local /
 * metadata address on another origin. One on another origin gets no Authorization (Exchange.send).
 */
function uploadLocation(value: string, answerUrl: string): string {
  return resolveTarget(value, answerUrl, 'an upload Location').href;
}

/** The registry's error codes in a DheError from registryError (details.errors). */
function registryCodes(e: unknown): unknown[] {
  return isDheError(e) && Array.isArray(e.details?.errors) ? (e.details.errors as Array<{ code?: unknown }>).map((x) => x.code) : [];
}

export class BlobWriter {
  private readonly monolithicMax: number;
  private readonly chunkBytes: number;
  /** The chunk size learnt from 413 answers (halved at each), for this client's registry. */
  private learntChunk: number | undefined;

  constructor(
    private readonly x: Exchange,
    o: BlobWriterOptions = {},
  ) {
    this.monolithicMax = o.monolithicMaxBytes ?? 1024 * 1024;
    this.chunkBytes = o.chunkBytes ?? 8 * 1024 * 1024;
  }

  private pushScopes(repo: string): string[] {
    return this.x.scopes(repo, ['pull', 'push']);
  }

  /** Cross-repository mount: true when mounted (201); false when the registry started an upload instead (cancelled). */
  async mount(repo: string, digest: string, fromRepo: string, opts: { signal?: AbortSignal } = {}): Promise<boolean> {
    const q = new URLSearchParams({ mount: checkBlobDigest(digest), from: fromRepo });
    const res = await this.x.send({
      method: 'POST',
      url: `/v2/${repo}/blobs/uploads/?${q}`,
      scopes: unionScopes(this.pushScopes(repo), [scopeOf(fromRepo, 'pull')]),
      retry: true,
      what: `mounting ${digest} from ${fromRepo} into ${repo}`,
      repo,
      signal: opts.signal,
    });
    // A source repository we may not read is not an error for the caller: it uploads instead.
    if (res.status === 401 || res.status === 403 || res.status === 404) {
      const text = await this.x.errorText(res);
      this.x.trace.log(`mount of ${digest} from ${fromRepo} refused (${res.status}): ${text.slice(0, 200)}`);
      return false;
    }
    await this.x.checkStatus(res, 201, 202);
    await res.dump();
    if (res.status === 201) return true;
    const loc = res.header('location');
    if (loc) await this.cancel(uploadLocation(loc, res.url), repo);
    return false;
  }

  private async cancel(location: string, repo: string): Promise<void> {
    try {
      // Bounded: after Ctrl-C a registry that does not answer must not hold the process for the read timeout.
      const res = await this.x.send({ method: 'DELETE', url: location, scopes: this.pushScopes(repo), what: 'cancelling an upload', retry: false, signal: AbortSignal.timeout(CANCEL_TIMEOUT_MS) });
      await res.dump();
    } catch (e) {
      this.x.trace.log(`cancelling upload failed: ${(e as Error).message}`);
    }
  }

  private async start(repo: string, signal?: AbortSignal): Promise<{ location: string; chunkMin?: number }> {
    const res = await this.x.send({ method: 'POST', url: `/v2/${repo}/blobs/uploads/`, scopes: this.pushScopes(repo), retry: true, what: `starting an upload to ${repo}`, repo, signal });
    await this.x.checkStatus(res, 202);
    await res.dump();
    const loc = res.header('location');
    if (!loc) throw new DheError('PROTOCOL', `${this.x.registry} started an upload without a Location`, { hint: 'the registry is not speaking the distribution API correctly' });
    const min = Number(res.header('oci-chunk-min-length'));
    return { location: uploadLocation(loc, res.url), chunkMin: Number.isFinite(min) && min > 0 ? min : undefined };
  }

  async upload(repo: string, desc: Desc, source: () => Readable, opts: UploadBlobOptions = {}): Promise<void> {
    splitDigest(desc.digest, 'INVALID_REFERENCE');
    let attempt = 0;
    let tooLarge = 0;
    let reuse: Session | undefined = await this.resumable(repo, desc, opts);
    let local: DheError | undefined; // the source did not match desc: set by verifying()
    for (;;) {
      attempt++;
      let s: Session | undefined;
      let src: Readable | undefined;
      try {
        s = reuse ?? { ...(await this.start(repo, opts.signal)), offset: 0 };
        reuse = undefined;
        local = undefined;
        src = verifying(source(), desc, (e) => (local ??= e), opts.from);
        await this.send(repo, s, desc, src, opts);
        await opts.session?.forget();
        return;
      } catch (e) {
        src?.destroy();
        if (e instanceof BodyTooLarge && e.atStart && s && !opts.signal?.aborted) reuse = s;
        else if (s) await this.endSession(repo, s, e, attempt, opts);
        this.throwIfFinal(e, desc, local, opts);
        if (e instanceof BodyTooLarge) {
          this.learn(e, ++tooLarge);
          attempt--; // not a failure of the network
          continue;
        }
        if (!isRetryable(e, 'operation') || attempt >= UPLOAD_ATTEMPTS) throw e;
        const delay = backoffDelay(attempt, this.x.transport.retry);
        this.x.trace.log(`upload of ${desc.digest.slice(0, 19)} failed (${(e as Error).message}); starting it again in ${delay} ms (${attempt}/${UPLOAD_ATTEMPTS - 1})`);
        await pause(delay, opts.signal);
      }
    }
  }

  /** A failed session: kept for the next run when recorded and interrupted or out of retries; otherwise cancelled. */
  private async endSession(repo: string, s: Session, e: unknown, attempt: number, opts: UploadBlobOptions): Promise<void> {
    const lastTry = opts.signal?.aborted === true || (isRetryable(e, 'operation') && attempt >= UPLOAD_ATTEMPTS);
    if (s.kept && lastTry) {
      this.x.trace.log(`upload session kept for the next run at ${s.offset} bytes`);
      return;
    }
    await this.cancel(s.location, repo);
    await opts.session?.forget();
  }

  /**
   * A kept session the registry still knows, at the offset it confirms (GET on the upload URL: 204 + Range 0-N);
   * none (no record, or the registry answers 404/400 or no usable Range) means a fresh upload.
   */
  private async resumable(repo: string, desc: Desc, opts: UploadBlobOptions): Promise<Session | undefined> {
    const location = await opts.session?.claim();
    if (!location) return undefined;
    const offset = await this.progress(repo, location, opts.signal);
    if (offset === undefined || offset <= 0 || offset >= desc.size) {
      this.x.trace.log(`upload session of ${desc.digest.slice(0, 19)} not resumable (${offset === undefined ? 'the registry no longer knows it' : `${offset} bytes confirmed`}): uploading afresh`);
      if (offset !== undefined) await this.cancel(location, repo);
      await opts.session?.forget();
      return undefined;
    }
    opts.onResume?.(offset);
    return { location, offset, kept: true };
  }

  /** Where an upload session stands: the bytes the registry holds, or undefined when it does not know the session. */
  private async progress(repo: string, location: string, signal?: AbortSignal): Promise<number | undefined> {
    let res: SentResponse;
    try {
      res = await this.x.send({ method: 'GET', url: location, scopes: this.pushScopes(repo), retry: true, what: 'the progress of an upload', repo, signal });
    } catch (e) {
      if (signal?.aborted) throw e;
      this.x.trace.log(`asking for an upload's progress failed: ${(e as Error).message}`);
      return undefined;
    }
    const text = res.status === 204 || res.status === 200 ? '' : await this.x.errorText(res);
    await res.dump();
    if (text) {
      this.x.trace.log(`the registry answered ${res.status} for a kept upload session: ${text.slice(0, 200)}`);
      return undefined;
    }
    const m = /^(?:bytes=)?0-(\d+)$/.exec(res.header('range') ?? '');
    if (!m) return undefined;
    const end = Number(m[1]);
    return end > 0 ? end + 1 : 0; // "0-0" is also what an empty session says
  }

  /** One try of an upload session: chunked, one PUT, or one streamed PATCH, by size and what was learnt. */
  private async send(repo: string, s: Session, desc: Desc, src: Readable, opts: UploadBlobOptions): Promise<void> {
    const asked = this.learntChunk ?? (s.chunkMin ? Math.max(s.chunkMin, this.chunkBytes) : undefined);
    // a session kept across runs is chunked, so that what the registry confirmed is known after every chunk
    const chunk = asked ?? (opts.session && desc.size > RESUMABLE_MIN ? this.resumeChunk(desc.size) : undefined);
    if (s.offset > 0 || (chunk && desc.size > chunk)) await this.uploadChunked(repo, s, desc, src, chunk ?? this.chunkBytes, opts);
    else if (desc.size <= this.monolithicMax || (chunk && desc.size <= chunk)) await this.uploadMonolithic(repo, s.location, desc, src, opts);
    else await this.uploadStreamed(repo, s.location, desc, src, opts);
  }

  /**
   * The chunk size of a resumable upload: a sixteenth of the blob (an interruption loses at most that much), at least
   * MIN_RESUME_CHUNK, at most MAX_RESUME_CHUNK (fewer requests; chunks stream, so their size costs no memory).
   */
  private resumeChunk(size: number): number {
    return Math.max(MIN_RESUME_CHUNK, Math.min(MAX_RESUME_CHUNK, pow2Floor(size / 16)));
  }

  /** Throws what sending the blob again cannot help with: a cancel, local bytes that are wrong, an integrity refusal. */
  private throwIfFinal(e: unknown, desc: Desc, local: DheError | undefined, opts: UploadBlobOptions): void {
    const { signal } = opts;
    if (signal?.aborted) throw isDheError(e) && e.code === 'INTERRUPTED' ? e : new DheError('INTERRUPTED', `upload of ${desc.digest.slice(0, 19)} cancelled`, { cause: e });
    // The local bytes are wrong (found while sending, or the registry says so): sending them again cannot help.
    if (local) throw local;
    const integrity = registryCodes(e).find((c): c is string => typeof c === 'string' && UPLOAD_INTEGRITY_CODES.includes(c));
    if (integrity) throw sentBlobError(integrity === 'DIGEST_INVALID' ? 'DIGEST_MISMATCH' : 'SIZE_MISMATCH', desc.digest, `${this.x.registry} answered ${integrity}`, { from: opts.from, cause: e });
    if (isDheError(e) && (e.code === 'DIGEST_MISMATCH' || e.code === 'SIZE_MISMATCH')) throw e;
  }

  /** A 413: halves the chunk size (the first from the size of the body refused), or reports the body limit. */
  private learn(e: BodyTooLarge, tooLarge: number): void {
    const cur = this.learntChunk;
    const next = cur ? cur / 2 : Math.max(MIN_CHUNK, pow2Floor(Math.min(e.sent / 2, MAX_FIRST_CHUNK)));
    if ((cur !== undefined && cur <= MIN_CHUNK) || tooLarge > MAX_TOO_LARGE) {
      throw new DheError('PROTOCOL', `${this.x.registry} refuses request bodies even in ${Math.round((cur ?? MIN_CHUNK) / 1024)} KiB chunks (413 Request Entity Too Large)`, {
        hint: 'a proxy in front of the registry limits body sizes (nginx client_max_body_size); ask its administrator to raise it',
      });
    }
    this.learntChunk = next;
    this.x.trace.log(`413 for a ${e.sent}-byte body: uploading to ${this.x.registry} in ${next}-byte chunks from now on`);
  }

  /** A PUT or PATCH of the session; a 413 means the body limit was hit (BodyTooLarge: `sent` bytes refused). */
  private async sendBody(repo: string, desc: Desc, req: SessionRequest, opts: UploadBlobOptions): Promise<SentResponse> {
    const { sent, atStart, ...http } = req;
    const res = await this.x.send({ ...http, scopes: this.pushScopes(repo), retry: false, what: `blob ${desc.digest} upload to ${repo}`, repo, signal: opts.signal });
    if (res.status === 413) {
      await res.dump();
      throw new BodyTooLarge(sent, atStart);
    }
    return res;
  }

  /** The answer that completes the blob: 201 (or 200/204), with the registry's digest, if it names one, ours. */
  private async finish(res: SentResponse, desc: Desc, opts: UploadBlobOptions): Promise<void> {
    await this.x.checkStatus(res, 201, 204, 200);
    await res.dump();
    const header = res.header('docker-content-digest');
    if (header && header !== desc.digest) throw sentBlobError('DIGEST_MISMATCH', desc.digest, `${this.x.registry} stored it as ${header}`, { from: opts.from });
  }

  /** The whole blob as one request body (PUT ?digest= or PATCH). */
  private wholeBody(method: 'PUT' | 'PATCH', url: string, desc: Desc, src: Readable, opts: UploadBlobOptions): SessionRequest {
    const headers = { 'content-type': 'application/octet-stream', 'content-length': String(desc.size) };
    return { method, url, headers, body: counting(src, opts.onProgress), sent: desc.size };
  }

  private async uploadMonolithic(repo: string, location: string, desc: Desc, src: Readable, opts: UploadBlobOptions): Promise<void> {
    const res = await this.sendBody(repo, desc, this.wholeBody('PUT', withDigest(location, desc.digest), desc, src, opts), opts);
    await this.finish(res, desc, opts);
  }

  private async uploadStreamed(repo: string, location: string, desc: Desc, src: Readable, opts: UploadBlobOptions): Promise<void> {
    const res = await this.x.checkStatus(await this.sendBody(repo, desc, this.wholeBody('PATCH', location, desc, src, opts), opts), 202, 204);
    await res.dump();
    await this.close(repo, uploadLocation(res.header('location') ?? location, res.url), desc, opts);
  }

  /** The final `PUT ?digest=` with an empty body that turns an upload session into the blob. */
  private async close(repo: string, location: string, desc: Desc, opts: UploadBlobOptions): Promise<void> {
    const put = await this.sendBody(repo, desc, { method: 'PUT', url: withDigest(location, desc.digest), headers: { 'content-length': '0' }, sent: 0 }, opts);
    await this.finish(put, desc, opts);
  }

  /**
   * PATCHes of `chunkSize` from s.offset, each streamed from the source (the bytes before s.offset are read and
   * hashed but not sent: the registry has them), each recorded in opts.session once the registry confirmed it, then
   * the closing PUT.
   */
  private async uploadChunked(repo: string, s: Session, desc: Desc, src: Readable, chunkSize: number, opts: UploadBlobOptions): Promise<void> {
    const reader = new ChunkReader(src, s.offset);
    while (s.offset < desc.size) {
      const n = Math.min(chunkSize, desc.size - s.offset);
      const headers = { 'content-type': 'application/octet-stream', 'content-length': String(n), 'content-range': `${s.offset}-${s.offset + n - 1}` };
      // each chunk streams from the source (none is held in memory); a 413 leaves the session where it was
      // (atStart: it is continued in smaller chunks, from the source opened again)
      const body = Readable.from(reader.take(n), { objectMode: false });
      const res = await this.x.checkStatus(await this.sendBody(repo, desc, { method: 'PATCH', url: s.location, headers, body, sent: n, atStart: true }, opts), 202, 204);
      await res.dump();
      s.location = uploadLocation(res.header('location') ?? s.location, res.url);
      s.offset += n;
      if (opts.session) {
        await opts.session.record(s.location, s.offset);
        s.kept = true;
      }
      opts.onProgress?.(s.offset);
    }
    if ((await reader.rest()) > 0) throw sentBlobError('SIZE_MISMATCH', desc.digest, `more than ${desc.size} bytes`, { from: opts.from });
    await this.close(repo, s.location, desc, opts);
  }
}
