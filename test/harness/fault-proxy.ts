// A small fault-injecting HTTP proxy of ours, started in-process by tests, in front of a plain-HTTP registry.
// Each rule matches requests (method, path) and fires a number of times: reset the connection after N bytes of
// the response body (or of the request body), answer a status (503 + Retry-After, 429, 500...), stall, flip a
// byte, redirect blob GETs to a second server of another origin (which records whether Authorization reached it),
// or refuse request bodies over N bytes with 413, or truncate a body cleanly (a shorter Content-Length). It can also
// demand Basic credentials itself, so that tests can see where Authorization goes, or pass the client's
// Authorization on to a registry that wants it (token auth). Every request is recorded in `hits`.
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';

export type FaultKind =
  | { kind: 'reset-after'; bytes: number }
  | { kind: 'reset-request-after'; bytes: number }
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: string }
  | { kind: 'stall'; ms?: number; afterBytes?: number }
  /** Sends the response body at about this many bytes per second (a slow link: data keeps flowing). */
  | { kind: 'throttle'; bytesPerSecond: number }
  | { kind: 'flip-byte'; offset: number }
  | { kind: 'redirect' }
  /** Answers the upstream's status with only the first `bytes` bytes of its body, and a Content-Length saying so. */
  | { kind: 'truncate'; bytes: number }
  | { kind: 'body-limit'; maxBytes: number }
  /** Forwards the request without its Range header: the upstream answers 200 with the whole body. */
  | { kind: 'ignore-range' }
  /** Forwards a `Range: bytes=N-` as `bytes=(N-bytes)-`: a 206 for another range than the one asked for. */
  | { kind: 'shift-range'; bytes: number };

export type FaultRule = FaultKind & {
  method?: string;
  /** Substring or RegExp matched against the request path (with query). */
  path?: string | RegExp;
  /** How many times it fires (default 1; Infinity = always). */
  times?: number;
  /** Only requests whose Content-Range (an upload chunk) starts at this byte or later. */
  contentRangeFrom?: number;
};

export interface Hit {
  method: string;
  path: string;
  range?: string;
  contentRange?: string;
  authorization: boolean;
  /** Bytes of the request body the proxy received from the client (what a push really sent). */
  bodyBytes: number;
  status?: number;
  fault?: string;
  time: number;
}

export interface StorageServer {
  url: string;
  /** Requests the storage server got: did they carry an Authorization header? */
  requests: { path: string; authorization?: string }[];
}

export interface FaultProxy {
  /** "127.0.0.1:PORT": what a client uses as the registry. */
  host: string;
  url: string;
  hits: Hit[];
  storage: StorageServer;
  add(rule: FaultRule): void;
  clear(): void;
  /** Breaks every response stalled mid-body now (as its `ms` would), so a test ends a stall when it is ready. */
  breakStalls(): void;
  close(): Promise<void>;
}

export interface FaultProxyOptions {
  /** Answer 401 `Basic realm="fault-proxy"` unless these credentials are sent (never forwarded upstream). */
  basicAuth?: { username: string; password: string };
  /**
   * Pass the client's Authorization header on to the upstream (for a token-auth upstream). The storage server of
   * a redirect then fetches with the Authorization the registry got, as a presigned URL would allow it to.
   */
  forwardAuthorization?: boolean;
}

/** The Range header as a rule wants it forwarded: dropped (ignore-range), moved back (shift-range), or as sent. */
function rewriteRange<T extends Record<string, unknown>>(headers: T, fire: FaultKind | undefined): T {
  const { range, ...rest } = headers as Record<string, unknown>;
  if (fire?.kind === 'ignore-range') return rest as T;
  const start = /^bytes=(\d+)-$/.exec(String(range ?? ''))?.[1];
  if (fire?.kind === 'shift-range' && start !== undefined) return { ...rest, range: `bytes=${Math.max(0, Number(start) - fire.bytes)}-` } as unknown as T;
  return headers;
}

function matches(rule: FaultRule, req: IncomingMessage): boolean {
  if (rule.method && rule.method.toUpperCase() !== req.method) return false;
  if (rule.contentRangeFrom !== undefined && !(Number(/^(?:bytes[ =])?(\d+)-/.exec(req.headers['content-range'] ?? '')?.[1] ?? -1) >= rule.contentRangeFrom)) return false;
  const path = req.url ?? '/';
  if (rule.path === undefined) return true;
  return typeof rule.path === 'string' ? path.includes(rule.path) : rule.path.test(path);
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function forwardHeaders(req: IncomingMessage, withAuthorization = false): Record<string, string | string[]> {
  const h: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined || (k === 'authorization' && !withAuthorization) || k === 'connection' || k === 'proxy-connection') continue;
    h[k] = v;
  }
  return h;
}

export async function startFaultProxy(upstreamUrl: string, opts: FaultProxyOptions = {}): Promise<FaultProxy> {
  const upstream = new URL(upstreamUrl);
  const rules: (FaultRule & { left: number })[] = [];
  const hits: Hit[] = [];
  const sockets = new Set<Socket>();
  const storageRequests: StorageServer['requests'] = [];
  const timers = new Set<NodeJS.Timeout>();
  /** Responses stalled mid-body, with their timers: broken by their `ms`, or all at once by breakStalls(). */
  const stalled = new Map<ServerResponse, NodeJS.Timeout | undefined>();
  /** Redirect signatures → the Authorization the registry got with the redirected request (upstream use only). */
  const tickets = new Map<string, string | undefined>();

  // The second origin: serves blobs it fetches from the upstream registry (anonymously).
  const storageServer = createServer((req, res) => {
    storageRequests.push({ path: req.url ?? '/', authorization: req.headers.authorization });
    const m = /^\/blobs\/([^?]+)\/(sha256:[0-9a-f]{64})/.exec(req.url ?? '');
    if (!m) {
      res.writeHead(404).end();
      return;
    }
    const ticket = new URL(req.url ?? '/', 'http://x').searchParams.get('X-Amz-Signature') ?? '';
    const upAuth = opts.forwardAuthorization ? tickets.get(ticket) : undefined;
    const up = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: `/v2/${decodeURIComponent(m[1]!)}/blobs/${m[2]}`,
        headers: { ...(req.headers.range ? { range: req.headers.range } : {}), ...(upAuth ? { authorization: upAuth } : {}) },
      },
      (ur) => {
        res.writeHead(ur.statusCode ?? 502, { 'content-type': 'application/octet-stream', ...(ur.headers['content-length'] ? { 'content-length': ur.headers['content-length'] } : {}), ...(ur.headers['content-range'] ? { 'content-range': ur.headers['content-range'] } : {}) });
        ur.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    up.end();
  });
  storageServer.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const storagePort = await listen(storageServer);
  const storageUrl = `http://127.0.0.1:${storagePort}`;

  const expectedAuth = opts.basicAuth ? `Basic ${Buffer.from(`${opts.basicAuth.username}:${opts.basicAuth.password}`).toString('base64')}` : undefined;

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const hit: Hit = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      range: req.headers.range,
      contentRange: req.headers['content-range'],
      authorization: !!req.headers.authorization,
      bodyBytes: 0,
      time: Date.now(),
    };
    hits.push(hit);
    if (expectedAuth && req.headers.authorization !== expectedAuth) {
      hit.status = 401;
      req.resume();
      res.writeHead(401, { 'www-authenticate': 'Basic realm="fault-proxy"', 'content-type': 'application/json', 'docker-distribution-api-version': 'registry/2.0' });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
      return;
    }
    // body-limit rules are checked on every request with a body and never used up by others
    const limit = rules.find((r) => r.kind === 'body-limit' && r.left > 0 && matches(r, req)) as (FaultRule & { kind: 'body-limit'; left: number }) | undefined;
    if (limit) {
      const declared = Number(req.headers['content-length'] ?? 'NaN');
      if (Number.isFinite(declared) && declared > limit.maxBytes) {
        limit.left--;
        hit.status = 413;
        hit.fault = 'body-limit';
        // as nginx does (lingering close): the body is read and dropped, so the client gets the 413 rather than a
        // connection closed under a body it is still writing (a reset, which other rules test)
        req.on('data', (c: Buffer) => (hit.bodyBytes += c.length));
        req.on('end', () => {
          res.writeHead(413, { 'content-type': 'text/html', connection: 'close' });
          res.end('<html><body><h1>413 Request Entity Too Large</h1></body></html>');
        });
        req.resume();
        return;
      }
    }
    const fire = rules.find((r) => r.kind !== 'body-limit' && r.left > 0 && matches(r, req));
    if (fire) {
      fire.left--;
      hit.fault = fire.kind;
    }
    if (fire?.kind === 'status') {
      hit.status = fire.status;
      req.resume();
      res.writeHead(fire.status, { 'content-type': 'application/json', ...fire.headers });
      res.end(fire.body ?? JSON.stringify({ errors: [{ code: fire.status === 429 ? 'TOOMANYREQUESTS' : 'UNAVAILABLE', message: `injected ${fire.status}` }] }));
      return;
    }
    if (fire?.kind === 'redirect') {
      const m = /^\/v2\/(.+)\/blobs\/(sha256:[0-9a-f]{64})/.exec(req.url ?? '');
      if (m) {
        hit.status = 307;
        req.resume();
        const ticket = `secret-signature-${randomUUID()}`;
        tickets.set(ticket, req.headers.authorization);
        res.writeHead(307, { location: `${storageUrl}/blobs/${encodeURIComponent(m[1]!)}/${m[2]}?X-Amz-Signature=${ticket}` });
        res.end();
        return;
      }
    }
    if (fire?.kind === 'stall' && fire.afterBytes === undefined) {
      // nothing at all until ms passes (or forever), then forward normally
      if (fire.ms === undefined) return;
      const t = setTimeout(() => {
        timers.delete(t);
        forward(req, res, hit, undefined);
      }, fire.ms);
      timers.add(t);
      return;
    }
    forward(req, res, hit, fire);
  });

  function forward(req: IncomingMessage, res: ServerResponse, hit: Hit, fire: FaultRule | undefined): void {
    let truncated = false;
    const up = httpRequest(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: rewriteRange(forwardHeaders(req, opts.forwardAuthorization), fire) },
      (ur) => {
        hit.status = ur.statusCode;
        if (fire?.kind === 'truncate') {
          const headers = { ...ur.headers, 'content-length': String(fire.bytes) };
          delete headers['transfer-encoding'];
          res.writeHead(ur.statusCode ?? 502, headers);
        } else {
          res.writeHead(ur.statusCode ?? 502, ur.headers);
        }
        let sent = 0;
        ur.on('data', (chunk: Buffer) => {
          let c = chunk;
          if (fire?.kind === 'truncate') {
            const part = c.subarray(0, Math.max(0, fire.bytes - sent));
            sent += part.length;
            if (part.length) res.write(part);
            if (sent >= fire.bytes && !truncated) {
              truncated = true;
              res.end();
              ur.destroy();
            }
            return;
          }
          if (fire?.kind === 'flip-byte' && fire.offset >= sent && fire.offset < sent + c.length) {
            c = Buffer.from(c);
            c[fire.offset - sent] = c[fire.offset - sent]! ^ 0xff;
          }
          if (fire?.kind === 'reset-after' && sent + c.length >= fire.bytes) {
            const part = c.subarray(0, fire.bytes - sent);
            sent += part.length;
            res.write(part, () => res.socket?.destroy());
            ur.destroy();
            return;
          }
          if (fire?.kind === 'stall' && fire.afterBytes !== undefined && sent + c.length >= fire.afterBytes) {
            res.write(c.subarray(0, fire.afterBytes - sent));
            sent = fire.afterBytes;
            ur.pause();
            ur.removeAllListeners('data');
            let t: NodeJS.Timeout | undefined;
            if (fire.ms !== undefined) {
              t = setTimeout(() => {
                timers.delete(t!);
                stalled.delete(res);
                res.socket?.destroy();
              }, fire.ms);
              timers.add(t);
            }
            stalled.set(res, t);
            return;
          }
          sent += c.length;
          res.write(c);
          if (fire?.kind === 'throttle') {
            ur.pause();
            const t = setTimeout(() => {
              timers.delete(t);
              ur.resume();
            }, (c.length / fire.bytesPerSecond) * 1000);
            timers.add(t);
          }
        });
        ur.on('end', () => res.end());
        ur.on('error', () => {
          if (!truncated) res.destroy();
        });
      },
    );
    up.on('error', () => {
      if (!truncated) res.destroy();
    });
    if (fire?.kind === 'reset-request-after') {
      let got = 0;
      req.on('data', (c: Buffer) => {
        got += c.length;
        hit.bodyBytes += c.length;
        if (got >= fire.bytes) {
          up.destroy();
          req.socket.destroy();
          return;
        }
        up.write(c);
      });
      req.on('end', () => up.end());
    } else {
      // counted as piped: a 'data' listener added earlier would start the flow before the pipe exists
      req.on('data', (c: Buffer) => (hit.bodyBytes += c.length));
      req.pipe(up);
    }
  }

  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const port = await listen(server);

  return {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    hits,
    storage: { url: storageUrl, requests: storageRequests },
    add(rule) {
      rules.push({ ...rule, left: rule.times ?? 1 });
    },
    clear() {
      rules.length = 0;
    },
    breakStalls() {
      for (const [res, t] of stalled) {
        if (t) {
          clearTimeout(t);
          timers.delete(t);
        }
        res.socket?.destroy();
      }
      stalled.clear();
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      await Promise.all([new Promise((r) => server.close(r)), new Promise((r) => storageServer.close(r))]);
    },
  };
}
