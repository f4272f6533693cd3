// RegistryClient: the Docker Registry HTTP API v2 / OCI distribution API for one registry.
// Layers: RegistryClient (paths, scopes, errors) → Authenticator (basic / bearer) → Transport (TLS, proxy, retry).

import { createHash } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ProxySettings, TlsSettings } from '../config.js';
import { DheError, isDheError } from '../errors.js';
import { silentTrace, type Trace } from '../trace.js';
import { Authenticator } from '../auth/authenticator.js';
import { parseWwwAuthenticate, unionScopes, type Challenge } from '../auth/challenge.js';
import type { Credential, CredentialProvider } from '../auth/types.js';
import { Transport, parseRetryAfter, readLimited, type HttpBody, type HttpResponse, type RetryOptions, type TimeoutOptions } from '../transport/http.js';
import { isRetryableNetworkError, looksLikePlainHttp } from '../transport/errors.js';
import { isLoopbackHost, matchesHostList, splitHostPort } from '../transport/hosts.js';
import { MANIFEST_MEDIA_TYPES, normalizeContentType } from '../oci/mediatypes.js';
import { splitDigest, type DigestAlgorithm } from '../oci/digest.js';
import { foreignError, resolveTarget } from '../transport/origin-guard.js';
import { registryError, ERROR_BODY_LIMIT } from './errors.js';
import { checkBlobDigest, checkManifestRef, listedTagCheck, registryDigest } from './checks.js';
import { collectListing, type ListingLimits } from './pager.js';
import { BodyTooLarge, counting, localBlobError, pow2Floor, verifying, waitDrain } from './streams.js';

export interface RegistryClientOptions {
  /** "127.0.0.1:5000", "dhe.example.com", "docker.io". */
  registry: string;
  tls: TlsSettings;
  proxy: ProxySettings;
  credentials?: CredentialProvider;
  trace?: Trace;
  userAgent?: string;
  retry?: RetryOptions;
  timeouts?: TimeoutOptions;
  /** Allow a token realm on a link-local / metadata address (off by default). */
  allowedMetadataRealm?: boolean;
  /** Largest manifest accepted (default 4 MiB). */
  maxManifestBytes?: number;
  /** Blobs up to this size go up in one PUT (default 1 MiB). */
  monolithicMaxBytes?: number;
  /** Chunk size when the registry asks for chunks (default 8 MiB). */
  chunkBytes?: number;
  /** Bounds of paginated listings (tags, catalog): see pager.ts. */
  listingLimits?: Partial<ListingLimits>;
}

export interface PingResult {
  status: number;
  apiVersion?: string;
  challenges: Challenge[];
  scheme: 'https' | 'http';
}

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
}

export interface UploadBlobOptions {
  /** Called with the total bytes sent so far (starts again from 0 when the upload restarts). */
  onProgress?: (n: number) => void;
  signal?: AbortSignal;
}

export const DEFAULT_MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const MIN_CHUNK = 1024 * 1024;
const MAX_FIRST_CHUNK = 16 * 1024 * 1024;
const UPLOAD_ATTEMPTS = 3;
/** How long cancelling an upload session (DELETE) may take. */
const CANCEL_TIMEOUT_MS = 5_000;

/** Chunk sizes learnt from 413 answers, per registry, for the rest of the process. */
const learntChunkSizes = new Map<string, number>();

/** Registry error codes that, for our own upload, mean the bytes we sent do not match the digest or size we named. */
const UPLOAD_INTEGRITY_CODES = ['DIGEST_INVALID', 'BLOB_UPLOAD_INVALID', 'SIZE_INVALID'];

function hasUserCredential(c: Credential | undefined): boolean {
  return !!(c && (c.username || c.identityToken || c.registryToken));
}

function registryHost(registry: string): string {
  const r = registry.toLowerCase();
  if (r === 'docker.io' || r === 'index.docker.io' || r === 'registry.hub.docker.com') return 'registry-1.docker.io';
  return registry;
}

function scopeOf(repo: string, actions: string): string {
  return `repository:${repo}:${actions}`;
}

interface SendRequest {
  method: string;
  /** Path below the base URL ("/v2/...") or an absolute URL (upload locations). */
  url: string;
  headers?: Record<string, string | undefined>;
  body?: HttpBody;
  scopes: string[];
  retry?: boolean;
  followRedirects?: boolean;
  signal?: AbortSignal;
  what: string;
  repo?: string;
}

type SentResponse = HttpResponse & {
  sentAuth: boolean;
  sentCredentials: boolean;
  scopes: string[];
  challengeError?: string;
  /** The answer came from another origin than the registry's (blob storage, an upload host): its host. */
  foreign?: string;
};

export class RegistryClient {
  readonly registry: string;
  readonly transport: Transport;
  readonly auth: Authenticator;
  private readonly trace: Trace;
  private readonly host: string;
  private readonly insecure: boolean;
  private readonly certsDirs: readonly string[];
  private readonly maxManifest: number;
  private readonly monolithicMax: number;
  private readonly chunkBytes: number;
  private readonly listingLimits: Partial<ListingLimits> | undefined;
  private base: Promise<{ base: string; ping: PingResult }> | undefined;
  /** Actions declared for a repository (intendPush): added to every scope asked for it. */
  private readonly declared = new Map<string, Set<string>>();

  constructor(opts: RegistryClientOptions) {
    this.registry = opts.registry;
    this.host = registryHost(opts.registry);
    this.trace = opts.trace ?? silentTrace;
    this.transport = new Transport({
      tls: opts.tls,
      proxy: opts.proxy,
      trace: this.trace,
      userAgent: opts.userAgent ?? 'dhe-cli',
      retry: opts.retry,
      timeouts: opts.timeouts,
    });
    this.certsDirs = opts.tls.certsDirs;
    this.insecure = matchesHostList(opts.tls.insecureRegistries, this.host) || matchesHostList(opts.tls.insecureRegistries, opts.registry);
    if (this.insecure) this.transport.markInsecure(this.host);
    this.auth = new Authenticator({
      registry: opts.registry,
      transport: this.transport,
      credentials: opts.credentials,
      trace: this.trace,
      home: this.host,
      policy: {
        allowMetadataRealm: opts.allowedMetadataRealm,
        insecureHosts: this.insecure ? [...opts.tls.insecureRegistries, this.host] : opts.tls.insecureRegistries,
      },
    });
    this.maxManifest = opts.maxManifestBytes ?? DEFAULT_MAX_MANIFEST_BYTES;
    this.monolithicMax = opts.monolithicMaxBytes ?? 1024 * 1024;
    this.chunkBytes = opts.chunkBytes ?? 8 * 1024 * 1024;
    this.listingLimits = opts.listingLimits;
  }

  /** Declares that this run will push to repo: every token asked for it then covers pull+push (one token request). */
  intendPush(repo: string): void {
    const s = this.declared.get(repo) ?? new Set<string>();
    s.add('pull');
    s.add('push');
    this.declared.set(repo, s);
  }

  private scopes(repo: string, actions: string[]): string[] {
    const extra = this.declared.get(repo);
    const all = new Set([...actions, ...(extra ?? [])]);
    return [scopeOf(repo, [...all].sort().join(','))];
  }

  // ---------------------------------------------------------------- base URL and ping

  /** https://host or http://host (plain HTTP only for a loopback registry without TLS, or an insecure one). */
  async baseUrl(): Promise<string> {
    return (await this.discover()).base;
  }

  private discover(): Promise<{ base: string; ping: PingResult }> {
    if (!this.base) {
      this.base = this.discoverOnce();
      this.base.catch(() => {
        this.base = undefined;
      });
    }
    return this.base;
  }

  private async pingAt(scheme: 'https' | 'http'): Promise<PingResult> {
    const res = await this.transport.request({ method: 'GET', url: `${scheme}://${this.host}/v2/`, followRedirects: true });
    const final = new URL(res.url);
    if (final.origin !== `${scheme}://${this.host}` && res.status !== 200) {
      // A redirected ping answered elsewhere: that host's challenge never becomes this registry's realm.
      await res.dump();
      throw foreignError(res.status, final.host, { registry: this.registry, what: 'the API check (GET /v2/)' });
    }
    const text = await res.text(ERROR_BODY_LIMIT).catch(() => '');
    const challenges = parseWwwAuthenticate(res.headers['www-authenticate']);
    const ping: PingResult = { status: res.status, apiVersion: res.header('docker-distribution-api-version'), challenges, scheme };
    (ping as PingResult & { body?: string }).body = text;
    return ping;
  }

  private async discoverOnce(): Promise<{ base: string; ping: PingResult }> {
    const hostname = splitHostPort(this.host).host;
    let ping: PingResult;
    try {
      ping = await this.pingAt('https');
    } catch (e) {
      const plainAllowed = this.insecure || (isLoopbackHost(hostname) && isDheError(e) && (looksLikePlainHttp(e) || e.code === 'NETWORK'));
      if (!plainAllowed || (isDheError(e) && (e.code === 'CONNECTION_REFUSED' || e.code === 'DNS' || e.code === 'INTERRUPTED'))) throw e;
      this.trace.log(`${this.host} does not speak TLS${this.insecure ? ' (insecure registry)' : ' (loopback)'}: trying plain HTTP`);
      try {
        ping = await this.pingAt('http');
      } catch (plainErr) {
        // The plain-HTTP try may take another route than the HTTPS one (HTTP_PROXY, not HTTPS_PROXY): when that
        // route is what failed, it is the error to report; otherwise the first try's says more.
        throw isDheError(plainErr) && plainErr.code === 'PROXY' ? plainErr : e;
      }
      const body = (ping as PingResult & { body?: string }).body ?? '';
      if (ping.status === 400 && /HTTP request to an HTTPS server/i.test(body)) throw e;
    }
    if (ping.status === 401) this.auth.setChallenges(ping.challenges);
    return { base: `${ping.scheme}://${this.host}`, ping };
  }

  /** GET /v2/: the status, API version and auth challenges (no credentials sent). */
  async ping(): Promise<PingResult> {
    const { ping } = await this.discover();
    return ping;
  }

  /** Throws when the ping shows this is not a usable registry (404, 400 for a client certificate, 5xx). */
  private async ensureRegistry(): Promise<string> {
    const { base, ping } = await this.discover();
    if (ping.status === 200 || ping.status === 401) return base;
    const body = (ping as PingResult & { body?: string }).body ?? '';
    if (ping.status === 404) {
      throw new DheError('PROTOCOL', `${this.registry} is not a registry: GET /v2/ answered 404`, {
        hint: 'check the host and port: it must serve the Docker Registry HTTP API v2',
      });
    }
    throw registryError(ping.status, body, { registry: this.registry, what: 'the API check (GET /v2/)', certsDirs: this.certsDirs });
  }

  // ---------------------------------------------------------------- one authenticated exchange

  private async send(req: SendRequest): Promise<SentResponse> {
    const base = await this.ensureRegistry();
    const home = new URL(base).origin;
    const url = new URL(req.url, base);
    let scopes = req.scopes;
    // Authorization only to the registry's own origin (an upload Location may point elsewhere).
    const ownOrigin = home === url.origin;
    for (let attempt = 0; ; attempt++) {
      const authz = ownOrigin ? await this.auth.header(scopes, url, req.signal) : undefined;
      const res = await this.transport.request({
        method: req.method,
        url,
        headers: { ...req.headers, authorization: authz },
        body: req.body,
        retry: req.retry,
        followRedirects: req.followRedirects,
        signal: req.signal,
      });
      // An anonymous bearer token is Authorization without credentials: a refusal then means "log in".
      const sentCredentials = authz !== undefined && (/^basic /i.test(authz) || hasUserCredential(await this.auth.getCredential().catch(() => undefined)));
      const replayable = req.body === undefined || typeof req.body === 'string' || req.body instanceof Uint8Array;
      const from = new URL(res.url);
      if (from.origin !== home) {
        // Blob storage after a redirect, an upload Location elsewhere: its WWW-Authenticate is never looked at,
        // nothing is retried with credentials, and fail() names the host without its body.
        return Object.assign(res, { sentAuth: false, sentCredentials: false, scopes, foreign: from.host });
      }
      if (res.status === 401) {
        const challenges = parseWwwAuthenticate(res.headers['www-authenticate']);
        if (attempt === 0 && replayable) {
          const d = await this.auth.onUnauthorized(challenges, scopes, authz);
          if (d.retry) {
            await res.dump();
            this.trace.log(`401 for ${req.what}: retrying with ${d.scopes.join(' ') || 'credentials'}`);
            scopes = d.scopes;
            continue;
          }
          return Object.assign(res, { sentAuth: !!authz, sentCredentials, scopes: d.scopes, challengeError: d.error });
        }
        const bearer = challenges.find((c) => c.scheme === 'bearer');
        return Object.assign(res, { sentAuth: !!authz, sentCredentials, scopes, challengeError: bearer?.params.error });
      }
      return Object.assign(res, { sentAuth: !!authz, sentCredentials, scopes });
    }
  }

  private async fail(res: SentResponse, req: { what: string; repo?: string }): Promise<never> {
    if (res.foreign !== undefined) {
      await res.dump();
      throw foreignError(res.status, res.foreign, { registry: this.registry, what: req.what, retryAfterMs: parseRetryAfter(res.header('retry-after')) });
    }
    const text = await res.text(ERROR_BODY_LIMIT).catch(() => '');
    if (res.status === 401 && res.sentAuth && res.challengeError === 'invalid_token' && this.auth.scheme === 'bearer') {
      // The token itself was refused (again, after a new one): the password was fine, the token server said so.
      const cred = await this.auth.getCredential().catch(() => undefined);
      const own = !!cred?.registryToken;
      throw new DheError('UNAUTHORIZED', `${this.registry} refused ${own ? 'the stored registry token' : 'the tokens its token server issued'} for ${req.what} (invalid_token)`, {
        hint: own
          ? `the stored token has expired or was revoked: log in again (dhe-cli login ${this.registry})`
          : `the registry does not accept its own token server's tokens (${this.auth.realm ?? 'the realm'}): their clocks, signing certificate or issuer disagree, or the token was revoked; tell the registry's administrator`,
        details: { status: 401, registry: this.registry, challengeError: 'invalid_token', realm: this.auth.realm },
      });
    }
    throw registryError(res.status, text, {
      registry: this.registry,
      what: req.what,
      repo: req.repo,
      sentAuth: res.sentAuth,
      sentCredentials: res.sentCredentials,
      certsDirs: this.certsDirs,
      challengeError: res.challengeError,
      scopes: res.scopes,
      retryAfterMs: parseRetryAfter(res.header('retry-after')),
    });
  }

  // ---------------------------------------------------------------- login

  /**
   * Checks credentials for `login`: Basic → an authenticated GET /v2/; Bearer → a token request with them
   * (offlineToken: ask for a refresh token, returned as identityToken). Wrong credentials → BAD_CREDENTIALS.
   */
  async checkLogin(cred: Credential, opts: { offlineToken?: boolean } = {}): Promise<{ identityToken?: string }> {
    await this.ensureRegistry();
    const { ping } = await this.discover();
    this.auth.useCredential(cred);
    if (ping.status === 200) {
      this.trace.log(`${this.registry} needs no authentication (GET /v2/ answered 200)`);
      return {};
    }
    if (this.auth.scheme === 'bearer' && !cred.registryToken) {
      try {
        const t = await this.auth.token([], undefined, { offlineToken: opts.offlineToken });
        return t.refreshToken ? { identityToken: t.refreshToken } : {};
      } catch (e) {
        if (isDheError(e) && e.code === 'UNAUTHORIZED' && cred.username) {
          throw new DheError('BAD_CREDENTIALS', e.message, { hint: e.hint, cause: e, details: e.details });
        }
        throw e;
      }
    }
    const res = await this.send({ method: 'GET', url: '/v2/', scopes: [], what: 'login' });
    if (res.status === 200) {
      await res.dump();
      return {};
    }
    const text = await res.text(ERROR_BODY_LIMIT).catch(() => '');
    if (res.status === 401) {
      const err = registryError(401, text, { registry: this.registry, what: 'login', sentAuth: res.sentAuth, sentCredentials: res.sentCredentials });
      throw new DheError('BAD_CREDENTIALS', res.sentAuth ? `${this.registry} rejected the credentials${err.message.includes(': ') ? err.message.slice(err.message.lastIndexOf(': ')) : ''}` : err.message, {
        hint: `check the user name and password`,
        details: err.details,
      });
    }
    throw registryError(res.status, text, { registry: this.registry, what: 'login', sentAuth: res.sentAuth, sentCredentials: res.sentCredentials, certsDirs: this.certsDirs });
  }

  // ---------------------------------------------------------------- manifests

  async getManifest(repo: string, ref: string, opts: { accept?: string[]; signal?: AbortSignal } = {}): Promise<{ bytes: Buffer; mediaType: string; digest: string }> {
    const what = `manifest ${repo}${ref.includes(':') ? '@' : ':'}${ref}`;
    const res = await this.send({
      method: 'GET',
      url: `/v2/${repo}/manifests/${checkManifestRef(ref)}`,
      headers: { accept: (opts.accept ?? MANIFEST_MEDIA_TYPES).join(', ') },
      scopes: this.scopes(repo, ['pull']),
      what,
      repo,
      signal: opts.signal,
    });
    if (res.status !== 200) return this.fail(res, { what, repo });
    const declared = Number(res.header('content-length'));
    if (Number.isFinite(declared) && declared > this.maxManifest) {
      res.body.destroy();
      throw new DheError('MALFORMED_MANIFEST', `${what} is ${declared} bytes, above the ${this.maxManifest}-byte limit`, {
        hint: 'a manifest this large is not an image manifest; check the reference',
      });
    }
    let bytes: Buffer;
    try {
      bytes = await readLimited(res.body, this.maxManifest, what);
    } catch (e) {
      if (isDheError(e) && e.code === 'PROTOCOL') {
        throw new DheError('MALFORMED_MANIFEST', `${what} is larger than ${this.maxManifest} bytes`, { hint: 'a manifest this large is not an image manifest; check the reference' });
      }
      throw e;
    }
    const isDigestRef = ref.includes(':');
    const algorithm: DigestAlgorithm = isDigestRef ? splitDigest(ref, 'INVALID_REFERENCE').algorithm : 'sha256';
    const digest = `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
    if (isDigestRef && digest !== ref) {
      throw new DheError('DIGEST_MISMATCH', `${this.registry} sent a manifest for ${repo}@${ref} whose digest is ${digest}`, {
        hint: 'the registry or something between (a proxy, a cache) altered the content; do not use it',
      });
    }
    const header = res.header('docker-content-digest');
    if (header && header.startsWith(`${algorithm}:`) && header !== digest) {
      throw new DheError('DIGEST_MISMATCH', `${what}: Docker-Content-Digest says ${header} but the content's digest is ${digest}`, {
        hint: 'the registry or something between (a proxy, a cache) altered the content; do not use it',
      });
    }
    let mediaType = normalizeContentType(res.header('content-type'));
    if (!mediaType || mediaType === 'application/json' || mediaType === 'text/plain' || mediaType === 'application/octet-stream') {
      try {
        const mt = (JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }).mediaType;
        if (typeof mt === 'string') mediaType = mt;
      } catch {
        /* validated by the caller */
      }
    }
    return { bytes, mediaType: mediaType ?? 'application/octet-stream', digest };
  }

  async headManifest(repo: string, ref: string, opts: { accept?: string[]; signal?: AbortSignal } = {}): Promise<{ digest: string; mediaType: string; size: number } | null> {
    const what = `manifest ${repo}${ref.includes(':') ? '@' : ':'}${ref}`;
    const res = await this.send({
      method: 'HEAD',
      url: `/v2/${repo}/manifests/${checkManifestRef(ref)}`,
      headers: { accept: (opts.accept ?? MANIFEST_MEDIA_TYPES).join(', ') },
      scopes: this.scopes(repo, ['pull']),
      what,
      repo,
      signal: opts.signal,
    });
    await res.dump();
    if (res.status === 404) return null;
    if (res.status !== 200) return this.fail(res, { what, repo });
    const header = res.header('docker-content-digest');
    const digest = header === undefined ? undefined : registryDigest(header, this.registry, what);
    const size = Number(res.header('content-length'));
    const mediaType = normalizeContentType(res.header('content-type'));
    if (!digest || !Number.isFinite(size) || !mediaType) {
      // Not every registry sends these on HEAD: fall back to a GET.
      const m = await this.getManifest(repo, ref, opts);
      return { digest: m.digest, mediaType: m.mediaType, size: m.bytes.length };
    }
    return { digest, mediaType, size };
  }

  async putManifest(repo: string, ref: string, bytes: Uint8Array, mediaType: string, opts: { signal?: AbortSignal } = {}): Promise<{ digest: string }> {
    const what = `manifest ${repo}${ref.includes(':') ? '@' : ':'}${ref}`;
    const computed = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const res = await this.send({
      method: 'PUT',
      url: `/v2/${repo}/manifests/${checkManifestRef(ref)}`,
      headers: { 'content-type': mediaType },
      body: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      scopes: this.scopes(repo, ['pull', 'push']),
      what,
      repo,
      signal: opts.signal,
    });
    if (res.status !== 201 && res.status !== 200 && res.status !== 202) return this.fail(res, { what, repo });
    await res.dump();
    const sent = res.header('docker-content-digest');
    const header = sent === undefined ? undefined : registryDigest(sent, this.registry, what);
    if (header && header.startsWith('sha256:') && header !== computed) {
      throw new DheError('DIGEST_MISMATCH', `${this.registry} stored ${what} as ${header}, not ${computed}`, {
        hint: 'the registry rewrote the manifest (a schema conversion?); check its configuration',
      });
    }
    return { digest: header ?? computed };
  }

  async deleteManifest(repo: string, digest: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const what = `deleting ${repo}@${digest}`;
    const res = await this.send({
      method: 'DELETE',
      url: `/v2/${repo}/manifests/${checkBlobDigest(digest)}`,
      scopes: this.scopes(repo, ['delete', 'pull']),
      what,
      repo,
      signal: opts.signal,
    });
    if (res.status === 202 || res.status === 200 || res.status === 204) {
      await res.dump();
      return;
    }
    if (res.status === 405) {
      const text = await res.text(ERROR_BODY_LIMIT).catch(() => '');
      const err = registryError(405, text, { registry: this.registry, what: 'deleting manifests', repo });
      throw new DheError('UNSUPPORTED_BY_REGISTRY', `${this.registry} does not allow deleting manifests${err.message.includes(': ') ? err.message.slice(err.message.lastIndexOf(': ')) : ''}`, {
        hint: 'the registry has deletes disabled (distribution: REGISTRY_STORAGE_DELETE_ENABLED=true); ask its administrator',
        details: err.details,
      });
    }
    return this.fail(res, { what, repo });
  }

  // ---------------------------------------------------------------- blobs: read

  async headBlob(repo: string, digest: string, opts: { signal?: AbortSignal } = {}): Promise<{ size: number } | null> {
    const what = `blob ${digest} in ${repo}`;
    const res = await this.send({ method: 'HEAD', url: `/v2/${repo}/blobs/${checkBlobDigest(digest)}`, scopes: this.scopes(repo, ['pull']), what, repo, signal: opts.signal });
    await res.dump();
    if (res.status === 404) return null;
    if (res.status !== 200) return this.fail(res, { what, repo });
    const size = Number(res.header('content-length'));
    return { size: Number.isFinite(size) ? size : -1 };
  }

  private async openBlob(repo: string, digest: string, offset: number, signal?: AbortSignal): Promise<SentResponse> {
    const what = `blob ${digest} in ${repo}`;
    const res = await this.send({
      method: 'GET',
      url: `/v2/${repo}/blobs/${checkBlobDigest(digest)}`,
      headers: offset > 0 ? { range: `bytes=${offset}-` } : {},
      scopes: this.scopes(repo, ['pull']),
      what,
      repo,
      signal,
    });
    if (res.status === 200 || (res.status === 206 && offset > 0)) return res;
    return this.fail(res, { what, repo });
  }

  /**
   * Streams a blob. Follows redirects (Authorization only to the registry's origin); a break mid-stream resumes
   * with Range from the bytes already received; with verify (default) the stream ends with an error
   * DIGEST_MISMATCH / SIZE_MISMATCH instead of 'end' when the content is wrong.
   */
  async getBlob(repo: string, desc: BlobDescriptor, opts: GetBlobOptions = {}): Promise<Readable> {
    const verify = opts.verify ?? true;
    const { algorithm } = splitDigest(desc.digest, 'INVALID_REFERENCE');
    const maxResumes = opts.maxResumes ?? 5;
    const first = await this.openBlob(repo, desc.digest, 0, opts.signal);
    const out = new PassThrough({ highWaterMark: 256 * 1024 });
    // The consumer may not listen yet (a generator attaches when first read), or may stop listening between our
    // destroy(e) and the 'error' event a tick later (a reader that returned early on Ctrl-C): an 'error' event
    // without a listener would crash the process. The error stays on the stream (`errored`), where finished(),
    // pipeline() and async iteration report it.
    out.on('error', () => undefined);
    const hash = createHash(algorithm);
    let received = 0;

    let current: SentResponse = first;
    // A consumer that stops reading (destroys the stream) releases the connection at once.
    out.on('close', () => {
      if (!current.body.readableEnded) current.body.destroy();
    });
    const run = async () => {
      let res: SentResponse = first;
      let skip = 0;
      let resumes = 0;
      for (;;) {
        try {
          for await (const c of res.body) {
            let chunk = c as Buffer;
            if (skip > 0) {
              if (chunk.length <= skip) {
                skip -= chunk.length;
                continue;
              }
              chunk = chunk.subarray(skip);
              skip = 0;
            }
            if (out.destroyed) {
              res.body.destroy();
              return;
            }
            hash.update(chunk);
            received += chunk.length;
            if (desc.size !== undefined && received > desc.size && verify) {
              res.body.destroy();
              throw new DheError('SIZE_MISMATCH', `blob ${desc.digest} from ${this.registry} is larger than its ${desc.size} bytes`, {
                hint: 'the registry sent more than the manifest says; do not use this content',
              });
            }
            opts.onProgress?.(received);
            if (!out.write(chunk)) await waitDrain(out);
          }
          if (desc.size !== undefined && received < desc.size) {
            throw Object.assign(new Error(`body ended after ${received} of ${desc.size} bytes`), { code: 'UND_ERR_SOCKET' });
          }
          break;
        } catch (e) {
          if (out.destroyed) return;
          if (isDheError(e) && e.code !== 'NETWORK' && e.code !== 'TIMEOUT') throw e;
          const retryable = isRetryableNetworkError(e) || (isDheError(e) && (e.code === 'NETWORK' || e.code === 'TIMEOUT'));
          if (!retryable || resumes >= maxResumes || opts.signal?.aborted) {
            if (opts.signal?.aborted) throw new DheError('INTERRUPTED', 'download cancelled', { cause: e });
            if (isDheError(e)) throw e;
            throw new DheError('NETWORK', `download of ${desc.digest.slice(0, 19)} from ${this.registry} broke after ${received} bytes (${resumes} resumes)`, {
              hint: 'the connection keeps failing; try again later',
              cause: e,
            });
          }
          resumes++;
          this.trace.log(`blob ${desc.digest.slice(0, 19)} broke after ${received} bytes (${(e as Error).message}); resuming with Range (${resumes}/${maxResumes})`);
          await sleep(Math.min(2000, 100 * 2 ** resumes), undefined, { signal: opts.signal }).catch(() => undefined);
          if (opts.signal?.aborted) throw new DheError('INTERRUPTED', 'download cancelled', { cause: e });
          res = await this.openBlob(repo, desc.digest, received, opts.signal);
          current = res;
          if (out.destroyed) {
            res.body.destroy();
            return;
          }
          if (res.status === 200) {
            skip = received; // Range ignored: discard what we already have
          } else {
            const cr = res.header('content-range') ?? '';
            const m = /bytes (\d+)-/.exec(cr);
            if (m && Number(m[1]) !== received) {
              res.body.destroy();
              throw new DheError('PROTOCOL', `${this.registry} answered a Range request for byte ${received} with ${cr}`, { hint: 'try again' });
            }
          }
        }
      }
      if (verify) {
        const got = `${algorithm}:${hash.digest('hex')}`;
        if (desc.size !== undefined && received !== desc.size) {
          throw new DheError('SIZE_MISMATCH', `blob ${desc.digest} from ${this.registry} has ${received} bytes, expected ${desc.size}`, {
            hint: 'the content is incomplete or altered; nothing was stored',
          });
        }
        if (got !== desc.digest) {
          throw new DheError('DIGEST_MISMATCH', `blob from ${this.registry} does not match its digest: expected ${desc.digest}, got ${got}`, {
            hint: 'the registry, its storage or something between altered the content; nothing was stored',
          });
        }
      }
      out.end();
    };
    run().catch((e: unknown) => {
      out.destroy(isDheError(e) ? e : new DheError('NETWORK', `download of ${desc.digest} failed: ${(e as Error).message}`, { cause: e }));
    });
    return out;
  }

  // ---------------------------------------------------------------- blobs: write

  /** Cross-repository mount: true when mounted (201); false when the registry started an upload instead (cancelled). */
  async mountBlob(repo: string, digest: string, fromRepo: string, opts: { signal?: AbortSignal } = {}): Promise<boolean> {
    const what = `mounting ${digest} from ${fromRepo} into ${repo}`;
    const q = new URLSearchParams({ mount: checkBlobDigest(digest), from: fromRepo });
    const res = await this.send({
      method: 'POST',
      url: `/v2/${repo}/blobs/uploads/?${q}`,
      scopes: unionScopes(this.scopes(repo, ['pull', 'push']), [scopeOf(fromRepo, 'pull')]),
      retry: true,
      what,
      repo,
      signal: opts.signal,
    });
    if (res.status === 201) {
      await res.dump();
      return true;
    }
    if (res.status === 202) {
      await res.dump();
      const loc = res.header('location');
      if (loc) await this.cancelUpload(this.uploadLocation(loc, res.url), repo);
      return false;
    }
    // A source repository we may not read is not an error for the caller: it uploads instead.
    if (res.status === 401 || res.status === 403 || res.status === 404) {
      const text = await res.text(ERROR_BODY_LIMIT).catch(() => '');
      this.trace.log(`mount of ${digest} from ${fromRepo} refused (${res.status}): ${text.slice(0, 200)}`);
      return false;
    }
    return this.fail(res, { what, repo });
  }

  private async cancelUpload(location: string, repo?: string): Promise<void> {
    try {
      const scopes = repo ? this.scopes(repo, ['pull', 'push']) : [];
      // Bounded: after Ctrl-C a registry that does not answer must not hold the process for the read timeout.
      const res = await this.send({ method: 'DELETE', url: location, scopes, what: 'cancelling an upload', retry: false, signal: AbortSignal.timeout(CANCEL_TIMEOUT_MS) });
      await res.dump();
    } catch (e) {
      this.trace.log(`cancelling upload failed: ${(e as Error).message}`);
    }
  }

  private async startUpload(repo: string, signal?: AbortSignal): Promise<{ location: string; chunkMin?: number }> {
    const what = `starting an upload to ${repo}`;
    const res = await this.send({
      method: 'POST',
      url: `/v2/${repo}/blobs/uploads/`,
      scopes: this.scopes(repo, ['pull', 'push']),
      retry: true,
      what,
      repo,
      signal,
    });
    if (res.status !== 202) return this.fail(res, { what, repo });
    await res.dump();
    const loc = res.header('location');
    if (!loc) throw new DheError('PROTOCOL', `${this.registry} started an upload without a Location`, { hint: 'the registry is not speaking the distribution API correctly' });
    const min = Number(res.header('oci-chunk-min-length'));
    return { location: this.uploadLocation(loc, res.url), chunkMin: Number.isFinite(min) && min > 0 ? min : undefined };
  }

  /**
   * An upload Location, resolved against the answer that sent it and guarded: http(s) only, never a link-local /
   * metadata address on another origin. One on another origin gets no Authorization (send()).
   */
  private uploadLocation(value: string, answerUrl: string): string {
    return resolveTarget(value, answerUrl, 'an upload Location').href;
  }

  private withDigest(location: string, digest: string): string {
    const u = new URL(location);
    u.searchParams.set('digest', digest);
    return u.href;
  }

  /**
   * Uploads a blob: POST → PUT ?digest= (small blobs, one request) or POST → streamed PATCH → PUT; chunked PATCHes
   * with Content-Range when the registry asks for a minimum chunk size or after a 413 (the chunk size that passes
   * is remembered for the registry). A retryable failure starts that blob's upload again from source(); on abort
   * or failure the upload session is cancelled (DELETE).
   */
  async uploadBlob(repo: string, desc: { digest: string; size: number }, source: () => Readable, opts: UploadBlobOptions = {}): Promise<void> {
    splitDigest(desc.digest, 'INVALID_REFERENCE');
    let attempt = 0;
    let tooLarge = 0;
    let reuse: string | undefined;
    let chunkMin: number | undefined;
    let local: DheError | undefined; // the source did not match desc: set by verifying()
    for (;;) {
      attempt++;
      let location: string | undefined;
      let src: Readable | undefined;
      try {
        if (reuse) {
          location = reuse;
          reuse = undefined;
        } else {
          const start = await this.startUpload(repo, opts.signal);
          location = start.location;
          chunkMin = start.chunkMin;
        }
        local = undefined;
        src = verifying(source(), desc, (e) => (local ??= e));
        const learnt = learntChunkSizes.get(this.host);
        const chunk = learnt ?? (chunkMin ? Math.max(chunkMin, this.chunkBytes) : undefined);
        if (chunk && desc.size > chunk) await this.uploadChunked(repo, location, desc, src, chunk, opts);
        else if (desc.size <= this.monolithicMax || (chunk && desc.size <= chunk)) await this.uploadMonolithic(repo, location, desc, src, opts);
        else await this.uploadStreamed(repo, location, desc, src, opts);
        return;
      } catch (e) {
        src?.destroy();
        if (e instanceof BodyTooLarge && e.atStart && location && !opts.signal?.aborted) reuse = location;
        else if (location) await this.cancelUpload(location, repo);
        if (opts.signal?.aborted) throw isDheError(e) && e.code === 'INTERRUPTED' ? e : new DheError('INTERRUPTED', `upload of ${desc.digest.slice(0, 19)} cancelled`, { cause: e });
        // The local bytes are wrong (found while sending, or the registry says so): sending them again cannot help.
        if (local) throw local;
        const registryCodes = isDheError(e) && Array.isArray(e.details?.errors) ? (e.details.errors as Array<{ code?: unknown }>).map((x) => x.code) : [];
        const integrity = registryCodes.find((c): c is string => typeof c === 'string' && UPLOAD_INTEGRITY_CODES.includes(c));
        if (integrity) {
          throw localBlobError(integrity === 'DIGEST_INVALID' ? 'DIGEST_MISMATCH' : 'SIZE_MISMATCH', desc.digest, `${this.registry} answered ${integrity}`, e);
        }
        if (isDheError(e) && (e.code === 'DIGEST_MISMATCH' || e.code === 'SIZE_MISMATCH')) throw e;
        if (e instanceof BodyTooLarge) {
          tooLarge++;
          const cur = learntChunkSizes.get(this.host);
          const next = cur ? cur / 2 : Math.max(MIN_CHUNK, pow2Floor(Math.min(e.sent / 2, MAX_FIRST_CHUNK)));
          if ((cur !== undefined && cur <= MIN_CHUNK) || tooLarge > 6) {
            throw new DheError('PROTOCOL', `${this.registry} refuses request bodies even in ${Math.round((cur ?? MIN_CHUNK) / 1024)} KiB chunks (413 Request Entity Too Large)`, {
              hint: 'a proxy in front of the registry limits body sizes (nginx client_max_body_size); ask its administrator to raise it',
            });
          }
          learntChunkSizes.set(this.host, next);
          this.trace.log(`413 for a ${e.sent}-byte body: uploading to ${this.registry} in ${next}-byte chunks from now on`);
          attempt--; // not a failure of the network
          continue;
        }
        const retryable = isDheError(e)
          ? ['NETWORK', 'TIMEOUT', 'SERVER_ERROR', 'RATE_LIMITED'].includes(e.code) || (e.code === 'PROTOCOL' && /answered (416|408)/.test(e.message))
          : isRetryableNetworkError(e);
        if (!retryable || attempt >= UPLOAD_ATTEMPTS) throw e;
        const delay = Math.round(500 * 2 ** (attempt - 1) * (0.5 + Math.random() / 2));
        this.trace.log(`upload of ${desc.digest.slice(0, 19)} failed (${(e as Error).message}); starting it again in ${delay} ms (${attempt}/${UPLOAD_ATTEMPTS - 1})`);
        await sleep(delay, undefined, { signal: opts.signal }).catch(() => undefined);
      }
    }
  }

  private async finishUpload(repo: string, res: SentResponse, desc: { digest: string }, what: string): Promise<void> {
    if (res.status === 413) {
      await res.dump();
      throw new BodyTooLarge(0);
    }
    if (res.status !== 201 && res.status !== 204 && res.status !== 200) return this.fail(res, { what, repo });
    await res.dump();
    const header = res.header('docker-content-digest');
    if (header && header !== desc.digest) {
      throw localBlobError('DIGEST_MISMATCH', desc.digest, `${this.registry} stored it as ${header}`);
    }
  }

  /** Sends the whole blob as one request body (PUT ?digest= or PATCH); a 413 means the body limit was hit. */
  private async sendWholeBody(method: 'PUT' | 'PATCH', url: string, repo: string, desc: { digest: string; size: number }, src: Readable, opts: UploadBlobOptions) {
    const res = await this.send({
      method,
      url,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(desc.size) },
      body: counting(src, opts.onProgress),
      scopes: this.scopes(repo, ['pull', 'push']),
      retry: false,
      what: `blob ${desc.digest} upload to ${repo}`,
      repo,
      signal: opts.signal,
    });
    if (res.status === 413) {
      await res.dump();
      throw new BodyTooLarge(desc.size);
    }
    return res;
  }

  private async uploadMonolithic(repo: string, location: string, desc: { digest: string; size: number }, src: Readable, opts: UploadBlobOptions): Promise<void> {
    const res = await this.sendWholeBody('PUT', this.withDigest(location, desc.digest), repo, desc, src, opts);
    await this.finishUpload(repo, res, desc, `blob ${desc.digest} upload to ${repo}`);
  }

  private async uploadStreamed(repo: string, location: string, desc: { digest: string; size: number }, src: Readable, opts: UploadBlobOptions): Promise<void> {
    const what = `blob ${desc.digest} upload to ${repo}`;
    const res = await this.sendWholeBody('PATCH', location, repo, desc, src, opts);
    if (res.status !== 202 && res.status !== 204) return this.fail(res, { what, repo });
    await res.dump();
    const next = this.uploadLocation(res.header('location') ?? location, res.url);
    await this.closeUpload(repo, next, desc, what, opts);
  }

  /** The final `PUT ?digest=` with an empty body that turns an upload session into the blob. */
  private async closeUpload(repo: string, location: string, desc: { digest: string; size: number }, what: string, opts: UploadBlobOptions): Promise<void> {
    const put = await this.send({
      method: 'PUT',
      url: this.withDigest(location, desc.digest),
      headers: { 'content-length': '0' },
      scopes: this.scopes(repo, ['pull', 'push']),
      retry: false,
      what,
      repo,
      signal: opts.signal,
    });
    await this.finishUpload(repo, put, desc, what);
  }

  private async uploadChunked(repo: string, location: string, desc: { digest: string; size: number }, src: Readable, chunkSize: number, opts: UploadBlobOptions): Promise<void> {
    const what = `blob ${desc.digest} upload to ${repo}`;
    let loc = location;
    let offset = 0;
    const sendChunk = async (buf: Buffer): Promise<void> => {
      const res = await this.send({
        method: 'PATCH',
        url: loc,
        headers: {
          'content-type': 'application/octet-stream',
          'content-range': `${offset}-${offset + buf.length - 1}`,
        },
        body: buf,
        scopes: this.scopes(repo, ['pull', 'push']),
        retry: false,
        what,
        repo,
        signal: opts.signal,
      });
      if (res.status === 413) {
        await res.dump();
        throw new BodyTooLarge(buf.length, offset === 0);
      }
      if (res.status !== 202 && res.status !== 204) return this.fail(res, { what, repo });
      await res.dump();
      loc = this.uploadLocation(res.header('location') ?? loc, res.url);
      offset += buf.length;
      opts.onProgress?.(offset);
    };
    let pending: Buffer[] = [];
    let pendingLen = 0;
    for await (const c of src) {
      const b = c as Buffer;
      pending.push(b);
      pendingLen += b.length;
      while (pendingLen >= chunkSize) {
        const all = Buffer.concat(pending);
        await sendChunk(all.subarray(0, chunkSize));
        const rest = all.subarray(chunkSize);
        pending = rest.length ? [rest] : [];
        pendingLen = rest.length;
      }
    }
    if (pendingLen > 0) await sendChunk(Buffer.concat(pending));
    if (offset !== desc.size) {
      throw localBlobError('SIZE_MISMATCH', desc.digest, `${offset} bytes, expected ${desc.size}`);
    }
    await this.closeUpload(repo, loc, desc, what, opts);
  }

  // ---------------------------------------------------------------- listings

  private async paginate(path: string, field: 'tags' | 'repositories', scopes: string[], what: string, repo?: string): Promise<string[]> {
    const base = await this.ensureRegistry();
    return collectListing({
      registry: this.registry,
      base,
      first: path,
      field,
      what,
      limits: this.listingLimits,
      check: field === 'tags' ? listedTagCheck(this.registry, what) : undefined,
      fetch: async (url) => {
        const res = await this.send({ method: 'GET', url, scopes, what, repo });
        if (res.status !== 200) return this.fail(res, { what, repo });
        return res;
      },
    });
  }

  /** All tags, following Link pagination (pageSize: how many per request, default 1000). */
  async listTags(repo: string, opts: { pageSize?: number } = {}): Promise<string[]> {
    return this.paginate(`/v2/${repo}/tags/list?n=${opts.pageSize ?? 1000}`, 'tags', this.scopes(repo, ['pull']), `tags of ${repo}`, repo);
  }

  /** All repositories, following Link pagination. */
  async catalog(opts: { pageSize?: number } = {}): Promise<string[]> {
    return this.paginate(`/v2/_catalog?n=${opts.pageSize ?? 1000}`, 'repositories', ['registry:catalog:*'], 'the catalog');
  }

  async close(): Promise<void> {
    await this.transport.close();
  }
}

export function createRegistryClient(opts: RegistryClientOptions): RegistryClient {
  return new RegistryClient(opts);
}
