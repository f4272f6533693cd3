// A docker token-auth server (https://distribution.github.io/distribution/spec/auth/token/) for tests.
// GET with Basic or anonymous, POST OAuth2 `password` and `refresh_token` grants, offline refresh tokens,
// and access rules: `full` may do anything, `pullonly` may pull, anonymous may pull under `public/`.
// It grants the intersection of what was asked and what is allowed (never 401 for asking too much).
// Request log at GET /_log (no secrets); POST /_control/down?ms=N stops listening for N ms (then comes back).
// Test-only: GET /_issued?since=N lists the access and refresh tokens it issued (so tests can check that no output
// ever shows one); it is served on the loopback URL only, never through nginx (which proxies /auth/v2/token only).
import { createSign, randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { TokenLogEntry, UserCredentials } from './types.js';

export interface TokenServerOptions {
  /** Must equal the registry's `auth.token.issuer`. */
  issuer: string;
  /** Default `aud` when the client sends no `service` parameter. */
  service: string;
  /** PEM paths of the EC P-256 signing key and its certificate (which the registry has in `rootcertbundle`). */
  signingKey: string;
  signingCert: string;
  users: { full: UserCredentials; pullonly: UserCredentials };
  /** Serve HTTPS with this cert/key; plain HTTP when absent. */
  tls?: { cert: string; key: string };
  /** Port to listen on (127.0.0.1); 0 or absent = any free port. */
  port?: number;
  /** Token lifetime; default 300 s. */
  expiresIn?: number;
}

/** Behaviour a test may change at run time (`server.configure({...})`) on a private harness. */
export interface TokenServerBehaviour {
  /** Token lifetime in seconds: `expires_in` and the JWT's `exp` (default: the `expiresIn` option, 300). */
  expiresIn?: number;
  /**
   * How long the registry accepts the token, whatever `expires_in` says (0 = default: `expires_in` plus
   * distribution's 60 s leeway). The JWT's `exp` is then now + acceptFor - 60 (whole seconds, so the registry
   * refuses it with 401 `error="invalid_token"` between acceptFor - 1 and acceptFor seconds after it was issued).
   * `{ expiresIn: 2, acceptFor: 3 }`: a token really dead soon after its lifetime; `{ expiresIn: 300, acceptFor: 2 }`:
   * a token the client believes fresh that the registry refuses (revoked, clock skew).
   */
  acceptFor?: number;
  /** The next N tokens are signed for another issuer: the registry refuses them with 401 `error="invalid_token"`. */
  invalidTokens?: number;
}

export interface TokenServer {
  url: string;
  port: number;
  /** The in-process request log (same as GET /_log). */
  log(): TokenLogEntry[];
  /** Every access and refresh token issued so far, oldest first (same as GET /_issued). */
  issued(): string[];
  /** Changes lifetimes / makes the next tokens invalid (see TokenServerBehaviour); returns the current settings. */
  configure(b: TokenServerBehaviour): Required<TokenServerBehaviour>;
  /** Stop listening (connections are closed); `start()` listens again on the same port. */
  pause(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

type Role = 'full' | 'pullonly' | 'anonymous';

interface Scope {
  type: string;
  name: string;
  actions: string[];
}

const MAX_BODY = 64 * 1024;

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/** Parses `scope` values: each may hold several space-separated scopes `type[(class)]:name:actions`. */
export function parseScopes(values: string[]): Scope[] {
  const scopes: Scope[] = [];
  for (const value of values) {
    for (const item of value.split(' ')) {
      if (!item) continue;
      const first = item.indexOf(':');
      const last = item.lastIndexOf(':');
      if (first <= 0 || last === first) continue;
      const type = item.slice(0, first).replace(/\(.*\)$/, '');
      const name = item.slice(first + 1, last);
      const actions = item.slice(last + 1).split(',').filter(Boolean);
      scopes.push({ type, name, actions });
    }
  }
  return scopes;
}

function formatScope(s: Scope): string {
  return `${s.type}:${s.name}:${s.actions.join(',')}`;
}

function allowedActions(role: Role, scope: Scope): Set<string> {
  if (role === 'full') {
    if (scope.type === 'repository') return new Set(['pull', 'push', 'delete', '*']);
    if (scope.type === 'registry' && scope.name === 'catalog') return new Set(['*']);
    return new Set();
  }
  if (scope.type !== 'repository') return new Set();
  if (role === 'pullonly') return new Set(['pull']);
  return scope.name.startsWith('public/') ? new Set(['pull']) : new Set();
}

function grant(role: Role, asked: Scope[]): Scope[] {
  return asked.map((s) => {
    const allowed = allowedActions(role, s);
    return { ...s, actions: s.actions.filter((a) => allowed.has(a)) };
  });
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startTokenServer(opts: TokenServerOptions): Promise<TokenServer> {
  const signingKey = readFileSync(opts.signingKey, 'utf8');
  const certDer = new X509Certificate(readFileSync(opts.signingCert)).raw.toString('base64');
  const behaviour: Required<TokenServerBehaviour> = { expiresIn: opts.expiresIn ?? 300, acceptFor: 0, invalidTokens: 0 };
  const refreshTokens = new Map<string, Role>();
  const entries: TokenLogEntry[] = [];
  /** Secrets handed out (access tokens, refresh tokens), for tests that grep output for them. */
  const issued: string[] = [];
  let seq = 0;

  function sign(user: string | null, aud: string, access: Scope[]): string {
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'ES256', x5c: [certDer] };
    let iss = opts.issuer;
    if (behaviour.invalidTokens > 0) {
      behaviour.invalidTokens--;
      iss = `${opts.issuer}-not-trusted`;
    }
    const claims = {
      iss,
      sub: user ?? '',
      aud, // a string: distribution 2.8.2 rejects an array
      exp: behaviour.acceptFor > 0 ? now + behaviour.acceptFor - 60 : now + behaviour.expiresIn,
      nbf: now - 10,
      iat: now,
      jti: randomUUID(),
      access: access.map((s) => ({ type: s.type, name: s.name, actions: s.actions })),
    };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    // JOSE ES256 wants raw R||S, not DER.
    const signature = createSign('sha256').update(input).sign({ key: signingKey, dsaEncoding: 'ieee-p1363' });
    return `${input}.${b64url(signature)}`;
  }

  function checkPassword(username: string, password: string): Role | null {
    for (const role of ['full', 'pullonly'] as const) {
      const u = opts.users[role];
      if (u.username === username && u.password === password) return role;
    }
    return null;
  }

  function json(res: http.ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      'cache-control': 'no-store',
      ...extra,
    });
    res.end(text);
  }

  async function handleToken(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const entry: TokenLogEntry = {
      seq: ++seq,
      time: new Date().toISOString(),
      method: req.method ?? '',
      path: url.pathname,
      grant: 'anonymous',
      user: null,
      service: null,
      scopesAsked: [],
      scopesGranted: [],
      status: 0,
      offline: false,
    };
    const finish = (status: number, body: unknown, extra?: Record<string, string>): void => {
      entry.status = status;
      entries.push(entry);
      json(res, status, body, extra);
    };
    const unauthorized = (message: string): void =>
      finish(401, { errors: [{ code: 'UNAUTHORIZED', message }] }, {
        'www-authenticate': 'Basic realm="dhe-cli test token server"',
      });

    let params: URLSearchParams;
    let role: Role = 'anonymous';
    let user: string | null = null;
    let refreshToken: string | undefined;

    // The scopes asked are logged even when the request is refused, so a test can tell its own requests apart.
    const noteScopes = (p: URLSearchParams) => {
      try {
        entry.scopesAsked = parseScopes(p.getAll('scope')).map(formatScope);
      } catch {
        // a malformed scope is answered below
      }
    };
    if (req.method === 'GET') {
      params = url.searchParams;
      noteScopes(params);
      entry.offline = params.get('offline_token') === 'true';
      const auth = req.headers.authorization;
      if (auth) {
        const m = /^Basic\s+(\S+)$/i.exec(auth);
        if (!m?.[1]) {
          entry.grant = 'invalid';
          return unauthorized('unsupported authorization scheme');
        }
        const decoded = Buffer.from(m[1], 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        const username = colon < 0 ? decoded : decoded.slice(0, colon);
        const password = colon < 0 ? '' : decoded.slice(colon + 1);
        entry.grant = 'basic';
        entry.user = username;
        const r = checkPassword(username, password);
        if (!r) return unauthorized('incorrect username or password');
        role = r;
        user = username;
      }
    } else if (req.method === 'POST') {
      let body: string;
      try {
        body = await readBody(req);
      } catch {
        return finish(413, { error: 'invalid_request', error_description: 'body too large' });
      }
      params = new URLSearchParams(body);
      noteScopes(params);
      entry.offline = params.get('access_type') === 'offline';
      const grantType = params.get('grant_type');
      if (grantType === 'password') {
        const username = params.get('username') ?? '';
        entry.grant = 'password';
        entry.user = username;
        const r = checkPassword(username, params.get('password') ?? '');
        if (!r) return unauthorized('incorrect username or password');
        role = r;
        user = username;
      } else if (grantType === 'refresh_token') {
        entry.grant = 'refresh_token';
        const token = params.get('refresh_token') ?? '';
        const r = refreshTokens.get(token);
        if (!r) return unauthorized('invalid refresh token');
        role = r;
        user = r === 'anonymous' ? null : opts.users[r].username;
        entry.user = user;
        refreshToken = token;
      } else {
        entry.grant = 'invalid';
        return finish(400, { error: 'unsupported_grant_type', error_description: `grant_type ${grantType ?? '(none)'}` });
      }
    } else {
      entry.grant = 'invalid';
      return finish(405, { errors: [{ code: 'UNSUPPORTED', message: 'method not allowed' }] }, { allow: 'GET, POST' });
    }

    const service = params.get('service');
    entry.service = service;
    const asked = parseScopes(params.getAll('scope'));
    const granted = grant(role, asked);
    entry.scopesAsked = asked.map(formatScope);
    entry.scopesGranted = granted.filter((s) => s.actions.length > 0).map(formatScope);

    const token = sign(user, service ?? opts.service, granted);
    issued.push(token);
    if (entry.offline && user !== null && refreshToken === undefined) {
      refreshToken = randomBytes(24).toString('base64url');
      refreshTokens.set(refreshToken, role);
      issued.push(refreshToken);
    }
    const body: Record<string, unknown> = {
      token,
      access_token: token,
      expires_in: behaviour.expiresIn,
      issued_at: new Date().toISOString(),
    };
    if (refreshToken !== undefined && (entry.offline || entry.grant === 'refresh_token')) {
      body.refresh_token = refreshToken;
    }
    if (req.method === 'POST') body.scope = entry.scopesGranted.join(' ');
    finish(200, body);
  }

  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://token.invalid');
    const path = url.pathname.replace(/\/+$/, '');
    if (path === '/token' || path === '/auth/v2/token') {
      handleToken(req, res, url).catch((err: unknown) => {
        if (!res.headersSent) json(res, 500, { error: String(err) });
        else res.destroy();
      });
      return;
    }
    if (path === '/_log' && req.method === 'GET') {
      const since = Number(url.searchParams.get('since') ?? '0');
      return json(res, 200, entries.filter((e) => e.seq > since));
    }
    if (path === '/_issued' && req.method === 'GET') {
      const since = Math.max(0, Number(url.searchParams.get('since') ?? '0') || 0);
      return json(res, 200, { next: issued.length, tokens: issued.slice(since) });
    }
    if (path === '/_control/down' && req.method === 'POST') {
      const ms = Math.min(Number(url.searchParams.get('ms') ?? '5000'), 120_000);
      json(res, 200, { down: ms }, { connection: 'close' });
      res.on('finish', () => {
        void pause().then(() => {
          setTimeout(() => void start().catch(() => undefined), ms).unref();
        });
      });
      return;
    }
    json(res, 404, { errors: [{ code: 'NOT_FOUND', message: `no route ${url.pathname}` }] });
  };

  const server: http.Server = opts.tls
    ? https.createServer({ cert: readFileSync(opts.tls.cert), key: readFileSync(opts.tls.key) }, handler)
    : http.createServer(handler);
  server.keepAliveTimeout = 5_000;
  const sockets = new Set<Socket>();
  server.on(opts.tls ? 'secureConnection' : 'connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  // Count plain TCP sockets too for HTTPS, so pause() closes half-open handshakes.
  if (opts.tls) {
    server.on('connection', (s: Socket) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
  }

  let port = opts.port ?? 0;
  let listening = false;

  function start(): Promise<void> {
    if (listening) return Promise.resolve();
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        port = (server.address() as AddressInfo).port;
        listening = true;
        resolve();
      });
    });
  }

  function pause(): Promise<void> {
    if (!listening) return Promise.resolve();
    listening = false;
    return new Promise((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
  }

  await start();
  const scheme = opts.tls ? 'https' : 'http';
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    port,
    log: () => entries.slice(),
    issued: () => issued.slice(),
    configure: (b) => {
      for (const k of ['expiresIn', 'acceptFor', 'invalidTokens'] as const) {
        const v = b[k];
        if (v !== undefined) behaviour[k] = v;
      }
      return { ...behaviour };
    },
    pause,
    start,
    stop: pause,
  };
}
