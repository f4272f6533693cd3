// A tiny registry started in-test, for promises that need a server to misbehave in one precise way: plain HTTP or
// HTTPS (a given key and certificate), on any local address (e.g. a non-loopback one of this machine), anonymous or
// Basic, serving the manifests and blobs a test puts in its maps. It logs every request (with whether it carried
// Authorization), counts blob GETs in flight (the most at once), and lets a test override any route.
//
//   const reg = await startMiniRegistry({ basic: { username, password }, listenHost: '192.0.2.2' });
//   reg.manifests.set('team/app:v1', { bytes, mediaType });  reg.blobs.set(digest, bytes);
//   reg.route((req, res) => { ...; return true });  reg.requests; reg.maxBlobsInFlight; await reg.close();
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

export interface MiniRequest {
  method: string;
  path: string;
  authorization?: string;
}

export type MiniRoute = (req: IncomingMessage, res: ServerResponse) => boolean | void;

export interface MiniRegistryOptions {
  /** PEM key and certificate: HTTPS; otherwise plain HTTP. */
  tls?: { key: string | Buffer; cert: string | Buffer };
  listenHost?: string;
  basic?: { username: string; password: string };
  /** Milliseconds every blob GET waits before it answers. */
  blobDelayMs?: number;
  /** Extra headers on every answer (e.g. a Date far from this machine's clock). */
  headers?: Record<string, string>;
}

export interface MiniRegistry {
  /** "ADDRESS:PORT" as a user writes it in a reference. */
  host: string;
  url: string;
  requests: MiniRequest[];
  manifests: Map<string, { bytes: Buffer; mediaType: string; digestHeader?: string }>;
  blobs: Map<string, Buffer>;
  readonly maxBlobsInFlight: number;
  route(r: MiniRoute): void;
  close(): Promise<void>;
}

export async function startMiniRegistry(opts: MiniRegistryOptions = {}): Promise<MiniRegistry> {
  const requests: MiniRequest[] = [];
  const manifests = new Map<string, { bytes: Buffer; mediaType: string; digestHeader?: string }>();
  const blobs = new Map<string, Buffer>();
  const routes: MiniRoute[] = [];
  const sockets = new Set<Socket>();
  let inFlight = 0;
  let maxInFlight = 0;
  const expected = opts.basic ? `Basic ${Buffer.from(`${opts.basic.username}:${opts.basic.password}`).toString('base64')}` : undefined;
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    requests.push({ method: req.method ?? 'GET', path: req.url ?? '/', authorization: req.headers.authorization });
    for (const [k, v] of Object.entries(opts.headers ?? {})) res.setHeader(k, v);
    res.setHeader('docker-distribution-api-version', 'registry/2.0');
    for (const r of routes) if (r(req, res) !== false) return;
    if (expected && req.headers.authorization !== expected) {
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Basic realm="mini"' });
      res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
      return;
    }
    const u = new URL(req.url ?? '/', 'http://x');
    if (u.pathname === '/v2/') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      return;
    }
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(u.pathname);
    if (m && (req.method === 'GET' || req.method === 'HEAD')) {
      const ref = decodeURIComponent(m[3]!);
      if (m[2] === 'manifests') {
        const doc = manifests.get(`${m[1]}:${ref}`);
        if (doc) {
          res.writeHead(200, {
            'content-type': doc.mediaType,
            'content-length': String(doc.bytes.length),
            ...(doc.digestHeader ? { 'docker-content-digest': doc.digestHeader } : {}),
          });
          res.end(req.method === 'GET' ? doc.bytes : undefined);
          return;
        }
      } else {
        const b = blobs.get(ref);
        if (b) {
          const answer = () => {
            res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(b.length), 'docker-content-digest': ref });
            res.end(req.method === 'GET' ? b : undefined);
          };
          if (req.method === 'GET') {
            inFlight++;
            maxInFlight = Math.max(maxInFlight, inFlight);
            res.once('close', () => inFlight--);
            setTimeout(answer, opts.blobDelayMs ?? 0);
          } else answer();
          return;
        }
      }
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"not found"}]}');
  };
  const server: Server = opts.tls ? createHttps({ key: opts.tls.key, cert: opts.tls.cert }, handler) : createHttp(handler);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const listenHost = opts.listenHost ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, listenHost, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = `${listenHost.includes(':') ? `[${listenHost}]` : listenHost}:${port}`;
  return {
    host,
    url: `${opts.tls ? 'https' : 'http'}://${host}`,
    requests,
    manifests,
    blobs,
    get maxBlobsInFlight() {
      return maxInFlight;
    },
    route: (r) => routes.push(r),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
