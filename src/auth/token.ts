// Bearer tokens (docker token auth spec + OAuth2 forms): GET realm?service=&scope= with Basic credentials or
// anonymously, POST grant_type=refresh_token / password; `token` or `access_token`; size-capped bodies.

import type { Transport } from '../transport/http.js';
import { readLimited } from '../transport/limited.js';
import { isLoopbackHost, isMetadataHost, matchesHostList } from '../transport/hosts.js';
import { DheError } from '../errors.js';
import { isUnreachable } from '../transport/errors.js';
import type { Credential } from './types.js';

export const TOKEN_BODY_LIMIT = 256 * 1024;
const DEFAULT_TOKEN_LIFETIME_S = 60;
const MAX_TOKEN_LIFETIME_S = 366 * 24 * 3600;
const CLIENT_ID = 'dhe-cli';

export interface TokenResult {
  token: string;
  /** ms since epoch. */
  issuedAt: number;
  expiresAt: number;
  refreshToken?: string;
  scopes: string[];
  /** "realm|service" the token is valid for (set by the Authenticator's cache). */
  audience?: string;
}

export interface RealmPolicy {
  /** Allow a realm on a link-local / metadata address (never by default). */
  allowMetadataRealm?: boolean;
  /** HOST[:PORT] entries marked insecure: plain-HTTP realms there may get credentials. */
  insecureHosts?: readonly string[];
}

export interface TokenRequest {
  realm: string;
  service?: string;
  scopes: string[];
  credential?: Credential;
  /** Ask for a refresh token (login). */
  offlineToken?: boolean;
  /** Use the OAuth2 password grant instead of GET with Basic. */
  passwordGrant?: boolean;
  /** The registry the token is for, as the user names it: named in hints (`dhe-cli login HOST`) and the doctor line. */
  registry?: string;
  signal?: AbortSignal;
}

/** `dhe-cli login HOST` (plain `dhe-cli login` means docker.io, so the host is named unless it is docker.io). */
function loginCommand(registry: string | undefined): string {
  return registry && registry !== 'docker.io' ? `dhe-cli login ${registry}` : 'dhe-cli login';
}

/** Validates a realm URL before anything is sent to it. `withSecrets`: credentials would be sent. */
export function checkRealm(realm: string, policy: RealmPolicy, withSecrets: boolean): URL {
  let u: URL;
  try {
    u = new URL(realm);
  } catch {
    throw new DheError('TOKEN_ERROR', `the registry named an invalid token realm "${realm.slice(0, 200)}"`, {
      hint: 'the registry\'s auth configuration is broken; tell its administrator',
    });
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') {
    throw new DheError('TOKEN_ERROR', `refusing token realm with scheme ${u.protocol} (${u.host})`, {
      hint: 'a token realm must be an http(s) URL; the registry\'s auth configuration is wrong or hostile',
    });
  }
  if (isMetadataHost(u.hostname) && !policy.allowMetadataRealm) {
    throw new DheError('TOKEN_ERROR', `refusing token realm on a link-local/metadata address (${u.host})`, {
      hint: 'a registry pointed its token realm at a cloud metadata address; this is refused to protect credentials',
    });
  }
  if (withSecrets && u.protocol === 'http:' && !isLoopbackHost(u.hostname) && !matchesHostList(policy.insecureHosts ?? [], u.host)) {
    throw new DheError('INSECURE_AUTH', `refusing to send credentials to token realm ${u.origin} over plain HTTP`, {
      hint: `use an https realm, or if this is intended mark the host with --insecure-registry ${u.host}`,
    });
  }
  return u;
}

function words(body: string): string {
  const t = body.trim();
  if (!t) return '';
  try {
    const j = JSON.parse(t) as Record<string, unknown>;
    if (Array.isArray(j.errors)) {
      return (j.errors as { code?: string; message?: string }[])
        .map((e) => [e.code, e.message].filter(Boolean).join(': '))
        .filter(Boolean)
        .join('; ')
        .slice(0, 300);
    }
    const m = j.details ?? j.error_description ?? j.message ?? j.error;
    if (typeof m === 'string') return m.slice(0, 300);
  } catch {
    /* text */
  }
  return t.replace(/\s+/g, ' ').slice(0, 200);
}

function basic(cred: Credential): string {
  return `Basic ${Buffer.from(`${cred.username ?? ''}:${cred.password ?? ''}`).toString('base64')}`;
}

/**
 * Runs a request to the token realm. A network failure (after the transport's retries with backoff) says that it is
 * the token server that cannot be reached, naming the realm's host, and keeps its code (exit 6): the registry
 * itself may be fine, and the credentials were never checked.
 */
async function reachRealm<T>(realm: URL, send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (e) {
    if (!isUnreachable(e)) throw e;
    const where = `${realm.origin}${realm.pathname}`;
    throw new DheError(e.code, `the token server at ${realm.host} is not reachable: ${e.message}`, {
      hint: `the registry sends clients to ${where} for tokens; that service is down or blocked (a firewall or proxy setting for ${realm.host}); try again later or tell the registry's administrator`,
      cause: e,
      details: { ...e.details, realm: realm.origin },
      exitCode: e.exitCode,
    });
  }
}

/** Asks the token server for a token covering `scopes`. */
export async function fetchToken(transport: Transport, req: TokenRequest, policy: RealmPolicy): Promise<TokenResult> {
  const cred = req.credential;
  const hasPassword = !!(cred?.username && cred.password !== undefined && cred.password !== '');
  const refresh = cred?.identityToken;
  const withSecrets = hasPassword || !!refresh;
  const realm = checkRealm(req.realm, policy, withSecrets);
  const issuedAt = Date.now();

  const usePost = !!refresh || (req.passwordGrant && hasPassword);
  let res;
  if (usePost) {
    const body = tokenForm(req, refresh).toString();
    res = await reachRealm(realm, () => transport.request({
      method: 'POST',
      url: realm,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
      retry: true,
      followRedirects: false,
      signal: req.signal,
    }));
    if ((res.status === 404 || res.status === 405) && hasPassword) {
      // The token server has no OAuth2 endpoint: the plain GET flow.
      await res.dump();
      return fetchToken(transport, { ...req, passwordGrant: false, credential: { username: cred!.username, password: cred!.password } }, policy);
    }
  } else {
    const url = tokenUrl(realm, req);
    res = await reachRealm(realm, () => transport.request({ method: 'GET', url, headers: hasPassword ? { authorization: basic(cred!) } : {}, signal: req.signal }));
  }

  const raw = (await readLimited(res.body, TOKEN_BODY_LIMIT, `token response from ${realm.host}`)).toString('utf8');
  if (res.status === 401 || res.status === 403 || (res.status === 400 && usePost)) throw refusal(res.status, raw, realm, req, withSecrets);
  if (res.status < 200 || res.status >= 300) {
    const said = words(raw);
    throw new DheError(res.status >= 500 ? 'SERVER_ERROR' : 'TOKEN_ERROR', `the token server at ${realm.host} answered ${res.status}${said ? `: ${said}` : ''}`, {
      hint: res.status >= 500 ? 'the token server is failing; try again later' : 'the registry\'s auth service is misconfigured',
      details: { status: res.status, realm: realm.origin },
    });
  }
  return tokenResult(raw, realm, req.scopes, issuedAt);
}

/** The OAuth2 form: grant_type=refresh_token with the stored refresh token, else grant_type=password. */
function tokenForm(req: TokenRequest, refresh: string | undefined): URLSearchParams {
  const form = new URLSearchParams();
  if (refresh) {
    form.set('grant_type', 'refresh_token');
    form.set('refresh_token', refresh);
  } else {
    form.set('grant_type', 'password');
    form.set('username', req.credential!.username!);
    form.set('password', req.credential!.password!);
  }
  if (req.service) form.set('service', req.service);
  if (req.scopes.length) form.set('scope', req.scopes.join(' '));
  form.set('client_id', CLIENT_ID);
  if (req.offlineToken || !refresh) form.set('access_type', 'offline');
  return form;
}

/** The docker token GET: realm?service=&scope=…(&offline_token=true&client_id=). */
function tokenUrl(realm: URL, req: TokenRequest): URL {
  const u = new URL(realm);
  if (req.service) u.searchParams.set('service', req.service);
  for (const s of req.scopes) u.searchParams.append('scope', s);
  if (req.offlineToken) {
    u.searchParams.set('offline_token', 'true');
    u.searchParams.set('client_id', CLIENT_ID);
  }
  return u;
}

/** A 401 / 403 (or a 400 to a POST): the credentials or refresh token were rejected, or anonymous access was. */
function refusal(status: number, raw: string, realm: URL, req: TokenRequest, withSecrets: boolean): DheError {
  const said = words(raw);
  const details = { status, realm: realm.origin, ...(req.registry ? { registry: req.registry } : {}) };
  if (withSecrets) {
    const refresh = req.credential?.identityToken;
    const who = refresh ? 'the stored refresh token' : `the credentials for ${req.credential?.username}`;
    return new DheError('BAD_CREDENTIALS', `the token server at ${realm.host} rejected ${who}${said ? `: ${said}` : ''}`, {
      hint: refresh ? `log in again: ${loginCommand(req.registry)}` : `check the user name and password: ${loginCommand(req.registry)}`,
      details,
    });
  }
  return new DheError('UNAUTHORIZED', `the token server at ${realm.host} refused anonymous access${said ? `: ${said}` : ''}`, {
    hint: `log in first: ${loginCommand(req.registry)}`,
    details,
  });
}

/** The token of a 2xx body (`token` or `access_token`), its lifetime bounded, and a refresh token if any. */
function tokenResult(raw: string, realm: URL, scopes: string[], issuedAt: number): TokenResult {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(raw) as Record<string, unknown>;
    if (!j || typeof j !== 'object' || Array.isArray(j)) throw new Error('not an object');
  } catch {
    throw new DheError('TOKEN_ERROR', `the token server at ${realm.host} sent a response that is not JSON`, {
      hint: 'check that the realm URL points at a token service',
    });
  }
  const token = typeof j.token === 'string' && j.token ? j.token : typeof j.access_token === 'string' ? j.access_token : '';
  if (!token) {
    throw new DheError('TOKEN_ERROR', `the token server at ${realm.host} sent no token`, { hint: 'the registry\'s auth service is misconfigured' });
  }
  // A lifetime we can count with: at least 1 s (5e-324 would make every token stale at once), at most a year.
  const life =
    typeof j.expires_in === 'number' && Number.isFinite(j.expires_in) && j.expires_in > 0
      ? Math.min(Math.max(j.expires_in, 1), MAX_TOKEN_LIFETIME_S)
      : DEFAULT_TOKEN_LIFETIME_S;
  const refreshToken = typeof j.refresh_token === 'string' && j.refresh_token ? j.refresh_token : undefined;
  return { token, issuedAt, expiresAt: issuedAt + life * 1000, refreshToken, scopes };
}

/** True while a token is usable: not within the last 20 % (at most 30 s) of its lifetime. */
export function tokenFresh(t: TokenResult, now = Date.now()): boolean {
  const life = t.expiresAt - t.issuedAt;
  const margin = Math.min(30_000, life * 0.2);
  return now < t.expiresAt - margin;
}
