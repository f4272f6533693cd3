// One authenticated exchange with the registry: send() (Authorization only to the registry's own origin, one retry
// after a 401 with a fresh challenge), checkStatus() (the expected statuses, or the typed error for the answer, as
// go-containerregistry's transport.CheckError), and the scopes a repository's requests ask for.

import { DheError, type ErrorCode } from '../errors.js';
import type { Trace } from '../trace.js';
import type { Authenticator } from '../auth/authenticator.js';
import { parseWwwAuthenticate } from '../auth/challenge.js';
import type { Credential } from '../auth/types.js';
import type { HttpBody, HttpResponse, Transport } from '../transport/http.js';
import { foreignError } from '../transport/origin-guard.js';
import { parseRetryAfter } from '../transport/retry.js';
import { registryError, ERROR_BODY_LIMIT } from './errors.js';
import type { Endpoint } from './ping.js';

export interface SendRequest {
  method: string;
  /** Path below the base URL ("/v2/...") or an absolute URL (upload locations). */
  url: string;
  headers?: Record<string, string | undefined>;
  body?: HttpBody;
  scopes: string[];
  retry?: boolean;
  followRedirects?: boolean;
  signal?: AbortSignal;
  /** "manifest team/app:v1", "blob sha256:… in team/app": named in every error about this exchange. */
  what: string;
  repo?: string;
}

export type SentResponse = HttpResponse & {
  sentAuth: boolean;
  sentCredentials: boolean;
  scopes: string[];
  challengeError?: string;
  /** The answer came from another origin than the registry's (blob storage, an upload host): its host. */
  foreign?: string;
  what: string;
  repo?: string;
};

export function scopeOf(repo: string, actions: string): string {
  return `repository:${repo}:${actions}`;
}

function hasUserCredential(c: Credential | undefined): boolean {
  return !!(c && (c.username || c.identityToken || c.registryToken));
}

function replayable(body: HttpBody | undefined): boolean {
  return body === undefined || typeof body === 'string' || body instanceof Uint8Array;
}

/** The words a registry error ends with (": DENIED: …"), for a message that says the rest in its own words. */
export function registryWords(err: DheError): string {
  return err.message.includes(': ') ? err.message.slice(err.message.lastIndexOf(': ')) : '';
}

/** The same error with another code (the registry's answer means more in the caller's context). */
export function recoded(err: DheError, code: ErrorCode, message: string, hint: string): DheError {
  return new DheError(code, message, { hint, details: err.details });
}

export interface ExchangeOptions {
  registry: string;
  transport: Transport;
  auth: Authenticator;
  trace: Trace;
  endpoint: Endpoint;
  certsDirs: readonly string[];
}

export class Exchange {
  readonly registry: string;
  readonly transport: Transport;
  readonly auth: Authenticator;
  readonly trace: Trace;
  readonly endpoint: Endpoint;
  readonly certsDirs: readonly string[];
  /** Actions declared for a repository (intendPush): added to every scope asked for it. */
  private readonly declared = new Map<string, Set<string>>();

  constructor(o: ExchangeOptions) {
    this.registry = o.registry;
    this.transport = o.transport;
    this.auth = o.auth;
    this.trace = o.trace;
    this.endpoint = o.endpoint;
    this.certsDirs = o.certsDirs;
  }

  /** Every token asked for repo from now on covers pull+push (one token request for a push). */
  intendPush(repo: string): void {
    const s = this.declared.get(repo) ?? new Set<string>();
    s.add('pull');
    s.add('push');
    this.declared.set(repo, s);
  }

  scopes(repo: string, actions: string[]): string[] {
    const all = new Set([...actions, ...(this.declared.get(repo) ?? [])]);
    return [scopeOf(repo, [...all].sort().join(','))];
  }

  async send(req: SendRequest): Promise<SentResponse> {
    const base = await this.endpoint.ensureRegistry();
    const home = new URL(base).origin;
    const url = new URL(req.url, base);
    const about = { what: req.what, repo: req.repo };
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
      const from = new URL(res.url);
      if (from.origin !== home) {
        // Blob storage after a redirect, an upload Location elsewhere: its WWW-Authenticate is never looked at,
        // nothing is retried with credentials, and fail() names the host without its body.
        return Object.assign(res, about, { sentAuth: false, sentCredentials: false, scopes, foreign: from.host });
      }
      // An anonymous bearer token is Authorization without credentials: a refusal then means "log in".
      const sentCredentials = authz !== undefined && (/^basic /i.test(authz) || hasUserCredential(await this.auth.getCredential().catch(() => undefined)));
      const sent = { ...about, sentAuth: !!authz, sentCredentials };
      if (res.status !== 401) return Object.assign(res, sent, { scopes });
      const challenges = parseWwwAuthenticate(res.headers['www-authenticate']);
      if (attempt > 0 || !replayable(req.body)) {
        return Object.assign(res, sent, { scopes, challengeError: challenges.find((c) => c.scheme === 'bearer')?.params.error });
      }
      const d = await this.auth.onUnauthorized(challenges, scopes, authz);
      if (!d.retry) return Object.assign(res, sent, { scopes: d.scopes, challengeError: d.error });
      await res.dump();
      this.trace.log(`401 for ${req.what}: retrying with ${d.scopes.join(' ') || 'credentials'}`);
      scopes = d.scopes;
    }
  }

  /** The answer when its status is one of `ok`; otherwise the typed error for it (the body is read, bounded). */
  async checkStatus(res: SentResponse, ...ok: number[]): Promise<SentResponse> {
    if (ok.includes(res.status)) return res;
    return this.fail(res);
  }

  /** The body of an error answer as text (bounded; '' when it cannot be read). */
  errorText(res: HttpResponse): Promise<string> {
    return res.text(ERROR_BODY_LIMIT).catch(() => '');
  }

  private async fail(res: SentResponse): Promise<never> {
    if (res.foreign !== undefined) {
      await res.dump();
      throw foreignError(res.status, res.foreign, { registry: this.registry, what: res.what, retryAfterMs: parseRetryAfter(res.header('retry-after')) });
    }
    const text = await this.errorText(res);
    if (res.status === 401 && res.sentAuth && res.challengeError === 'invalid_token' && this.auth.scheme === 'bearer') throw await this.invalidToken(res.what);
    throw registryError(res.status, text, {
      registry: this.registry,
      what: res.what,
      repo: res.repo,
      sentAuth: res.sentAuth,
      sentCredentials: res.sentCredentials,
      certsDirs: this.certsDirs,
      challengeError: res.challengeError,
      scopes: res.scopes,
      retryAfterMs: parseRetryAfter(res.header('retry-after')),
    });
  }

  /** The token itself was refused (again, after a new one): the password was fine, the token server said so. */
  private async invalidToken(what: string): Promise<DheError> {
    const cred = await this.auth.getCredential().catch(() => undefined);
    const own = !!cred?.registryToken;
    return new DheError('UNAUTHORIZED', `${this.registry} refused ${own ? 'the stored registry token' : 'the tokens its token server issued'} for ${what} (invalid_token)`, {
      hint: own
        ? `the stored token has expired or was revoked: log in again (dhe-cli login ${this.registry})`
        : `the registry does not accept its own token server's tokens (${this.auth.realm ?? 'the realm'}): their clocks, signing certificate or issuer disagree, or the token was revoked; tell the registry's administrator`,
      details: { status: 401, registry: this.registry, challengeError: 'invalid_token', realm: this.auth.realm },
    });
  }
}
