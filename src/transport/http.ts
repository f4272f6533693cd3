// The HTTP layer: one undici dispatcher per host (CAs, client cert, insecure, proxy), retries (retry.ts: the one
// backoff policy, Retry-After), redirects that keep Authorization on its origin, timeouts, --debug trace lines.

import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import type { ProxySettings, TlsSettings } from '../config.js';
import { DheError } from '../errors.js';
import { redactUrl, silentTrace, type Trace } from '../trace.js';
import { userAgent } from '../version.js';
import { allCodes, explainTlsError, mapNetworkError, probeClientCertRefusal } from './errors.js';
import { readLimited } from './limited.js';
import { guardTarget } from './origin-guard.js';
import { proxyFor } from './proxy.js';
import { backoffDelay, DEFAULT_RETRY, isRetryable, parseRetryAfter, RETRY_STATUSES, type RetryOptions } from './retry.js';
import { loadHostTls, type HostTls } from './tls.js';
import { newAgent, newProxyAgent, request } from './undici-core.js';

export interface TimeoutOptions {
  connectMs?: number;
  headersMs?: number;
  bodyIdleMs?: number;
}

export interface TransportOptions {
  tls: TlsSettings;
  proxy: ProxySettings;
  trace?: Trace;
  userAgent?: string;
  retry?: RetryOptions;
  timeouts?: TimeoutOptions;
}

export type HttpBody = string | Buffer | Uint8Array | Readable;

export interface HttpRequest {
  method: string;
  url: string | URL;
  headers?: Record<string, string | undefined>;
  body?: HttpBody;
  /** Override: may this request be sent again after a failure? Default: idempotent method and replayable body. */
  retry?: boolean;
  /** Follow 3xx for GET/HEAD (default true for them). Authorization is dropped when the origin changes. */
  followRedirects?: boolean;
  signal?: AbortSignal;
  /** Per-request read timeout override. */
  bodyIdleMs?: number;
  /** Insecure plain-HTTP / no-verify decisions are made by the caller; this only labels trace lines. */
  label?: string;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The final URL (after redirects). */
  url: string;
  body: Readable;
  header(name: string): string | undefined;
  /** Reads the body as text up to `limit` bytes (then fails with PROTOCOL). */
  text(limit?: number): Promise<string>;
  /** Discards the body (keeps the connection reusable). */
  dump(): Promise<void>;
  /** How many retries it took. */
  retries: number;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const DEFAULT_TEXT_LIMIT = 1024 * 1024;
const DEFAULT_TIMEOUTS: Required<TimeoutOptions> = { connectMs: 15_000, headersMs: 120_000, bodyIdleMs: 60_000 };

function headerOf(h: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = h[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

function isReplayable(body: HttpBody | undefined): boolean {
  return body === undefined || typeof body === 'string' || body instanceof Uint8Array;
}

function bodyLength(body: HttpBody | undefined): number | undefined {
  if (body === undefined) return 0;
  if (typeof body === 'string') return Buffer.byteLength(body);
  if (body instanceof Uint8Array) return body.byteLength;
  return undefined;
}

export class Transport {
  readonly trace: Trace;
  readonly retry: Required<RetryOptions>;
  readonly timeouts: Required<TimeoutOptions>;
  private readonly tlsSettings: TlsSettings;
  private readonly proxySettings: ProxySettings;
  private readonly userAgent: string;
  private readonly tlsCache = new Map<string, Promise<HostTls>>();
  private readonly dispatchers = new Map<string, Promise<{ d: Dispatcher; proxy?: string }>>();
  /** Hosts for which verification is off regardless of --insecure-registry (set by the registry client). */
  private readonly extraInsecure = new Set<string>();
  /** Per https host: did a closed-without-a-word connection mean "client certificate required"? */
  private readonly clientCertProbes = new Map<string, Promise<string | undefined>>();

  constructor(opts: TransportOptions) {
    this.tlsSettings = opts.tls;
    this.proxySettings = opts.proxy;
    this.trace = opts.trace ?? silentTrace;
    this.userAgent = opts.userAgent ?? userAgent();
    this.retry = { ...DEFAULT_RETRY, ...stripUndefined(opts.retry ?? {}) };
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...stripUndefined(opts.timeouts ?? {}) };
  }

  /** TLS material for host[:port] (cached). */
  hostTls(hostport: string): Promise<HostTls> {
    let p = this.tlsCache.get(hostport);
    if (!p) {
      p = loadHostTls(this.tlsSettings, hostport).then((t) => (this.extraInsecure.has(hostport) ? { ...t, insecure: true } : t));
      p.catch(() => this.tlsCache.delete(hostport));
      this.tlsCache.set(hostport, p);
    }
    return p;
  }

  /** Treat hostport like an --insecure-registry entry (e.g. a token realm on an insecure registry's host). */
  markInsecure(hostport: string): void {
    this.extraInsecure.add(hostport);
    this.tlsCache.delete(hostport);
    for (const k of [...this.dispatchers.keys()]) if (k.includes(`//${hostport}|`)) this.dispatchers.delete(k);
  }

  private dispatcherFor(u: URL): Promise<{ d: Dispatcher; proxy?: string }> {
    const proxy = proxyFor(this.proxySettings, u);
    const key = `${u.protocol}//${u.host}|${proxy ?? ''}`;
    let p = this.dispatchers.get(key);
    if (!p) {
      p = (async () => {
        const tls = u.protocol === 'https:' ? await this.hostTls(u.host) : undefined;
        const connect = {
          timeout: this.timeouts.connectMs,
          ...(tls
            ? {
                ...(tls.ca ? { ca: tls.ca } : {}),
                ...(tls.cert ? { cert: tls.cert, key: tls.key } : {}),
                rejectUnauthorized: !tls.insecure,
              }
            : {}),
        };
        if (proxy) {
          this.trace.log(`proxy ${redactUrl(proxy)} for ${u.host}`);
          return {
            d: await newProxyAgent({ uri: proxy, requestTls: connect, proxyTls: { timeout: this.timeouts.connectMs }, keepAliveTimeout: 30_000 }),
            proxy,
          };
        }
        return { d: newAgent({ connect, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000, connections: 32 }) };
      })();
      p.catch(() => this.dispatchers.delete(key));
      this.dispatchers.set(key, p);
    }
    return p;
  }

  /** One HTTP exchange with retries and redirects. Network failures become DheErrors; HTTP statuses do not. */
  async request(req: HttpRequest): Promise<HttpResponse> {
    const method = req.method.toUpperCase();
    const canRetry = req.retry ?? (IDEMPOTENT.has(method) && isReplayable(req.body));
    const follow = req.followRedirects ?? (method === 'GET' || method === 'HEAD');
    const r = this.retry;
    let url = new URL(req.url);
    const origin = url.origin;
    // Once a redirect has left the first origin, Authorization and cookies stay off, even if a later hop comes back.
    let left = false;
    let redirects = 0;
    let attempt = 1;
    for (;;) {
      left ||= url.origin !== origin;
      const headers = this.headersFor(req, method, left);
      const len = bodyLength(req.body);
      const started = Date.now();
      const via: { proxy?: string } = {};
      let res: Dispatcher.ResponseData;
      try {
        res = await this.dispatch(url, method, headers, req, via);
      } catch (err) {
        const failed = await this.failure(err, url, method, Date.now() - started, canRetry && attempt < r.attempts, req.signal, via.proxy);
        if (failed) throw failed;
        const delay = backoffDelay(attempt, r);
        this.trace.log(`retry ${attempt}/${r.attempts - 1} of ${method} ${redactUrl(url.href)} in ${delay} ms after ${describe(err)}`);
        await this.wait(delay, req.signal);
        attempt++;
        continue;
      }
      const h = res.headers as Record<string, string | string[] | undefined>;
      this.trace.log(
        `HTTP ${method} ${redactUrl(url.href)} → ${res.statusCode} (${Date.now() - started} ms${h['content-length'] !== undefined ? `, ${h['content-length']} B` : ''}${len ? `, sent ${len} B` : ''})`,
      );
      if (follow && REDIRECTS.has(res.statusCode) && headerOf(h, 'location')) {
        url = await this.redirect(res, url, origin, ++redirects);
        continue;
      }
      const retry = canRetry && attempt < r.attempts ? this.statusRetry(res) : undefined;
      if (retry) {
        const delay = retry.retryAfter ?? backoffDelay(attempt, r);
        await res.body.dump().catch(() => undefined);
        this.trace.log(`retry ${attempt}/${r.attempts - 1} of ${method} ${redactUrl(url.href)} in ${delay} ms after ${res.statusCode}${retry.retryAfter !== undefined ? ' (Retry-After)' : ''}`);
        await this.wait(delay, req.signal);
        attempt++;
        continue;
      }
      return response(res, url.href, attempt - 1);
    }
  }

  /** The request's headers with our User-Agent, without Authorization and cookies once a redirect left the origin. */
  private headersFor(req: HttpRequest, method: string, left: boolean): Record<string, string> {
    const headers: Record<string, string> = { 'user-agent': this.userAgent };
    for (const [k, v] of Object.entries(req.headers ?? {})) if (v !== undefined) headers[k.toLowerCase()] = v;
    if (left) {
      delete headers.authorization;
      delete headers.cookie;
    }
    const len = bodyLength(req.body);
    if (len !== undefined && method !== 'GET' && method !== 'HEAD' && headers['content-length'] === undefined) headers['content-length'] = String(len);
    return headers;
  }

  private async dispatch(url: URL, method: string, headers: Record<string, string>, req: HttpRequest, via: { proxy?: string }): Promise<Dispatcher.ResponseData> {
    const disp = await this.dispatcherFor(url);
    via.proxy = disp.proxy;
    return request(disp.d, url, {
      method: method as Dispatcher.HttpMethod,
      headers,
      body: req.body as Dispatcher.DispatchOptions['body'],
      signal: req.signal,
      headersTimeout: this.timeouts.headersMs,
      bodyTimeout: req.bodyIdleMs ?? this.timeouts.bodyIdleMs,
    });
  }

  /**
   * A request that got no answer: undefined when it is to be tried again (`mayRetry` and a retryable failure),
   * else the typed error (cancelled, a client certificate refused, a TLS failure explained, a network failure).
   */
  private async failure(err: unknown, url: URL, method: string, ms: number, mayRetry: boolean, signal: AbortSignal | undefined, proxy: string | undefined): Promise<DheError | undefined> {
    if (signal?.aborted) return new DheError('INTERRUPTED', `request to ${url.host} was cancelled`, { cause: err });
    const https = url.protocol === 'https:';
    if (https && allCodes(err).some((c) => c === 'UND_ERR_SOCKET' || c === 'ECONNRESET')) {
      const refused = await this.clientCertRefusal(url.host);
      if (refused) {
        const tls = await this.hostTls(url.host).catch(() => undefined);
        const e = Object.assign(new Error(`the server closed the connection with TLS alert ${refused}`), { code: refused, cause: err });
        this.trace.log(`HTTP ${method} ${redactUrl(url.href)}: ${url.host} refused the TLS client certificate (${refused})`);
        return (await explainTlsError(e, url.host, { tls, probe: false }))!;
      }
    }
    const retryable = mayRetry && isRetryable(err);
    this.trace.log(`HTTP ${method} ${redactUrl(url.href)} failed after ${ms} ms: ${describe(err)}${retryable ? '' : ' (not retried)'}`);
    if (retryable) return undefined;
    if (err instanceof DheError) return err;
    const tls = https ? await this.hostTls(url.host).catch(() => undefined) : undefined;
    const explained = https ? await explainTlsError(err, url.host, { tls }) : undefined;
    return explained ?? mapNetworkError(err, { host: url.host, proxy, timeouts: this.timeouts });
  }

  /** The next hop of a redirect: a URL, http(s), never a link-local / metadata address on another origin. */
  private async redirect(res: Dispatcher.ResponseData, url: URL, origin: string, redirects: number): Promise<URL> {
    await res.body.dump().catch(() => undefined);
    if (redirects > 10) throw new DheError('PROTOCOL', `too many redirects from ${url.host}`, { hint: 'the registry or its storage is misconfigured' });
    let next: URL;
    try {
      next = new URL(headerOf(res.headers as Record<string, string | string[] | undefined>, 'location')!, url);
    } catch {
      throw new DheError('PROTOCOL', `${url.host} sent a redirect that is not a URL`, { hint: 'the registry or its storage is misconfigured' });
    }
    // every hop is checked
    guardTarget(next, url, 'a redirect');
    this.trace.log(`redirect to ${redactUrl(next.href)}${next.origin !== origin ? ' (another origin: Authorization not sent)' : ''}`);
    return next;
  }

  /** A status worth another try, with the server's Retry-After when it names one within the cap; else undefined. */
  private statusRetry(res: Dispatcher.ResponseData): { retryAfter?: number } | undefined {
    if (!RETRY_STATUSES.has(res.statusCode)) return undefined;
    const ra = parseRetryAfter(headerOf(res.headers as Record<string, string | string[] | undefined>, 'retry-after'));
    if (ra === undefined || ra <= this.retry.maxRetryAfterMs) return { retryAfter: ra };
    this.trace.log(`not retrying: Retry-After ${Math.round(ra / 1000)} s is above the ${Math.round(this.retry.maxRetryAfterMs / 1000)} s cap`);
    return undefined;
  }

  private clientCertRefusal(hostport: string): Promise<string | undefined> {
    let p = this.clientCertProbes.get(hostport);
    if (!p) {
      p = this.hostTls(hostport)
        .then((tls) => probeClientCertRefusal(hostport, tls, this.timeouts.connectMs))
        .catch(() => undefined);
      this.clientCertProbes.set(hostport, p);
    }
    return p;
  }

  private async wait(ms: number, signal?: AbortSignal): Promise<void> {
    try {
      await sleep(ms, undefined, { signal });
    } catch (e) {
      throw new DheError('INTERRUPTED', 'cancelled', { cause: e });
    }
  }

  async close(): Promise<void> {
    const all = [...this.dispatchers.values()];
    this.dispatchers.clear();
    await Promise.all(all.map(async (p) => (await p.catch(() => undefined))?.d.close().catch(() => undefined)));
  }
}

/** The HttpResponse of an undici answer. */
function response(res: Dispatcher.ResponseData, url: string, retries: number): HttpResponse {
  const h = res.headers as Record<string, string | string[] | undefined>;
  const body = res.body as unknown as Readable;
  return {
    status: res.statusCode,
    headers: h,
    url,
    body,
    retries,
    header: (name) => headerOf(h, name),
    text: async (limit = DEFAULT_TEXT_LIMIT) => (await readLimited(body, limit)).toString('utf8'),
    dump: async () => {
      await res.body.dump().catch(() => undefined);
    },
  };
}

function describe(err: unknown): string {
  const code = (err as { code?: string }).code;
  const cause = (err as { cause?: { code?: string } }).cause?.code;
  const msg = err instanceof Error ? err.message : String(err);
  return [code, cause && cause !== code ? cause : undefined, msg].filter(Boolean).join(' ');
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
