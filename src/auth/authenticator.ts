// Per-registry authentication state: the challenge (from the ping or a 401), the credential, and a token cache
// keyed by (realm, service, scopes). Concurrent requests for the same scope set share one token request.

import { DheError } from '../errors.js';
import type { Trace } from '../trace.js';
import type { Transport } from '../transport/http.js';
import { isLoopbackHost, matchesHostList } from '../transport/hosts.js';
import { parseUrl } from '../transport/origin-guard.js';
import { findChallenge, scopesCover, unionScopes, type Challenge } from './challenge.js';
import { fetchToken, tokenFresh, type RealmPolicy, type TokenResult } from './token.js';
import type { Credential, CredentialProvider } from './types.js';

function realmOrigin(realm: string | undefined): string | undefined {
  const u = realm ? parseUrl(realm) : undefined;
  return u && (u.protocol === 'https:' || u.protocol === 'http:') ? u.origin : undefined;
}

export interface AuthenticatorOptions {
  /** The registry's key for credential lookup ("127.0.0.1:5000", "docker.io"). */
  registry: string;
  transport: Transport;
  credentials?: CredentialProvider;
  trace: Trace;
  policy: RealmPolicy;
  /** host[:port] the registry's API is served from: a bearer realm first seen after a Basic challenge must be there. */
  home?: string;
}

export interface UnauthorizedDecision {
  retry: boolean;
  scopes: string[];
  /** The challenge's `error` (insufficient_scope, invalid_token) if any. */
  error?: string;
}

export class Authenticator {
  private challenge: Challenge | undefined;
  /** Origin of the first bearer realm learned (the ping's): the only token realm this client ever uses. */
  private pinnedRealm: string | undefined;
  private credential: Promise<Credential | undefined> | undefined;
  private readonly tokens: TokenResult[] = [];
  private readonly inflight = new Map<string, Promise<TokenResult>>();
  /** Count of token server requests (for tests and --debug). */
  tokenRequests = 0;

  constructor(private readonly o: AuthenticatorOptions) {}

  /**
   * Takes the challenges of a response from the registry's own origin (the caller checks that: a 401 from another
   * origin never comes here). Bearer wins over Basic when both are offered. The first bearer realm's origin is
   * pinned for the life of this client: a later challenge naming a realm on another origin is refused (TOKEN_ERROR),
   * and nothing is sent to it.
   */
  setChallenges(challenges: Challenge[]): void {
    const c = findChallenge(challenges, 'bearer') ?? findChallenge(challenges, 'basic');
    if (!c) return;
    if (c.scheme === 'bearer') this.pin(c.params.realm);
    const cur = this.challenge;
    if (!cur || cur.scheme !== c.scheme || cur.params.realm !== c.params.realm || cur.params.service !== c.params.service) {
      this.challenge = c;
    }
  }

  private pin(realm: string | undefined): void {
    if (!realm) return; // no realm: token() refuses it before anything is sent
    // A realm that is no http(s) URL is pinned as it is (checkRealm refuses it when used).
    const origin = realmOrigin(realm) ?? realm;
    if (this.pinnedRealm === undefined) {
      // A realm first named after a Basic challenge (or none at all) must be on the registry's own host.
      const after = this.challenge?.scheme;
      if (after === 'basic' && this.o.home && parseUrl(origin)?.host !== this.o.home.toLowerCase()) this.refuseMove('Basic authentication', origin);
      this.pinnedRealm = origin;
      return;
    }
    if (origin !== this.pinnedRealm) this.refuseMove(`its token realm at ${this.pinnedRealm}`, origin);
  }

  private refuseMove(from: string, to: string): never {
    throw new DheError('TOKEN_ERROR', `${this.o.registry} moved its authentication from ${from} to a token realm at ${to}; refused, nothing was sent there`, {
      hint: `a registry keeps one token server; one that names another mid-session is misconfigured or hostile; run the command again, and tell the registry's administrator if it persists`,
      details: { registry: this.o.registry, pinnedRealm: this.pinnedRealm, realm: to },
    });
  }

  get scheme(): string | undefined {
    return this.challenge?.scheme;
  }

  get realm(): string | undefined {
    return this.challenge?.params.realm;
  }

  get service(): string | undefined {
    return this.challenge?.params.service;
  }

  /** Uses this credential instead of asking the provider (login checks). */
  useCredential(cred: Credential | undefined): void {
    this.credential = Promise.resolve(cred);
    this.tokens.length = 0;
  }

  getCredential(): Promise<Credential | undefined> {
    if (!this.credential) {
      this.credential = this.o.credentials ? this.o.credentials(this.o.registry).catch((e) => {
        this.credential = undefined;
        throw e;
      }) : Promise.resolve(undefined);
    }
    return this.credential;
  }

  /** The Authorization header for a request to `target` needing `scopes` (undefined: anonymous). */
  async header(scopes: string[], target: URL, signal?: AbortSignal): Promise<string | undefined> {
    const ch = this.challenge;
    if (!ch) return undefined;
    const cred = await this.getCredential();
    if (ch.scheme === 'basic') {
      if (!cred?.username || cred.password === undefined) return undefined;
      this.checkPlainHttp(target);
      return `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}`;
    }
    if (ch.scheme === 'bearer') {
      if (cred?.registryToken) {
        this.checkPlainHttp(target);
        return `Bearer ${cred.registryToken}`;
      }
      const t = await this.token(scopes, signal);
      return `Bearer ${t.token}`;
    }
    return undefined;
  }

  private checkPlainHttp(target: URL): void {
    if (target.protocol === 'http:' && !isLoopbackHost(target.hostname) && !matchesHostList(this.o.policy.insecureHosts ?? [], target.host)) {
      throw new DheError('INSECURE_AUTH', `refusing to send credentials to ${target.host} over plain HTTP`, {
        hint: `use https, or if this is intended mark the registry with --insecure-registry ${target.host}`,
      });
    }
  }

  /** A token covering `scopes`, from the cache when one is fresh. */
  async token(scopes: string[], signal?: AbortSignal, opts: { offlineToken?: boolean; passwordGrant?: boolean } = {}): Promise<TokenResult> {
    const ch = this.challenge;
    if (!ch || ch.scheme !== 'bearer' || !ch.params.realm) {
      throw new DheError('TOKEN_ERROR', `${this.o.registry} asked for a bearer token without naming a realm`, {
        hint: 'the registry\'s auth configuration is broken; tell its administrator',
      });
    }
    const realm = ch.params.realm;
    const service = ch.params.service;
    const wanted = unionScopes(scopes);
    if (!opts.offlineToken) {
      const now = Date.now();
      for (let i = this.tokens.length - 1; i >= 0; i--) {
        const t = this.tokens[i]!;
        if (!tokenFresh(t, now)) {
          this.tokens.splice(i, 1);
          continue;
        }
        if (t.audience === `${realm}|${service ?? ''}` && scopesCover(t.scopes, wanted)) return t;
      }
    }
    const key = `${realm}|${service ?? ''}|${wanted.join(' ')}|${opts.offlineToken ? 'offline' : ''}`;
    let p = this.inflight.get(key);
    if (!p) {
      p = (async () => {
        const cred = await this.getCredential();
        this.tokenRequests++;
        this.o.trace.log(`token request to ${realm} for ${wanted.join(' ') || '(no scope)'} as ${cred?.username ? cred.username : cred?.identityToken ? '(refresh token)' : 'anonymous'}`);
        const t = await fetchToken(
          this.o.transport,
          { realm, service, scopes: wanted, credential: cred, offlineToken: opts.offlineToken, passwordGrant: opts.passwordGrant, registry: this.o.registry, signal },
          this.o.policy,
        );
        const stored: TokenResult = { ...t, audience: `${realm}|${service ?? ''}` };
        if (!opts.offlineToken) this.tokens.push(stored);
        return stored;
      })();
      this.inflight.set(key, p);
      p.then(
        () => this.inflight.delete(key),
        () => this.inflight.delete(key),
      );
    }
    return p;
  }

  /**
   * Decides what to do with a 401. `sent` is the Authorization header that was sent (undefined: anonymous).
   * Retry when we were anonymous and have a way to authenticate, or when the challenge asks for more scopes than
   * the token had, or when the token was rejected as invalid (dropped from the cache).
   */
  async onUnauthorized(challenges: Challenge[], scopes: string[], sent: string | undefined): Promise<UnauthorizedDecision> {
    const bearer = findChallenge(challenges, 'bearer');
    const basicCh = findChallenge(challenges, 'basic');
    const ch = bearer ?? basicCh;
    if (!ch) return { retry: false, scopes };
    const prevScheme = this.challenge?.scheme;
    this.setChallenges(challenges);
    const error = ch.params.error;
    if (ch.scheme === 'basic') {
      const cred = await this.getCredential();
      const canSend = !!cred?.username && cred.password !== undefined;
      return { retry: !sent && canSend, scopes, error };
    }
    const chScopes = (ch.params.scope ?? '').split(' ').filter(Boolean);
    const wanted = unionScopes(scopes, chScopes);
    if (!sent || prevScheme !== 'bearer') return { retry: true, scopes: wanted, error };
    const token = sent.replace(/^Bearer\s+/i, '');
    const idx = this.tokens.findIndex((t) => t.token === token);
    const used = idx >= 0 ? this.tokens[idx] : undefined;
    if (used && !scopesCover(used.scopes, wanted)) return { retry: true, scopes: wanted, error };
    if (error === 'invalid_token' && idx >= 0) {
      this.tokens.splice(idx, 1);
      return { retry: true, scopes: wanted, error };
    }
    return { retry: false, scopes: wanted, error };
  }
}
