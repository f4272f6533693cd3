// Hostile servers for attack tests, started in-test on 127.0.0.1 (random ports, so each is its own origin) with the
// harness's TLS certificate (test CA: run the CLI with DHE_CA_CERT=h.caCert):
// - a registry speaking just enough of the distribution API (ping, its own token endpoint, manifests, blobs, upload
//   sessions), whose behaviour a test overrides per route with `registry.route(...)`;
// - a storage host (where the registry redirects blob GETs or points upload Locations): by default it answers 401
//   with a bearer challenge naming the attacker's realm, and a body with a marker that must never be echoed;
// - an attacker's "token realm", which answers any request with a token.
// Every server logs every request it receives, with all its headers (`requests`), before answering.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';

export interface SeenRequest {
  method: string;
  /** Path and query. */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  bodyBytes: number;
}

/** Answers one request; return false to fall through to the default behaviour. */
export type Route = (req: IncomingMessage, res: ServerResponse, body: Buffer) => boolean | void | Promise<boolean | void>;

export interface HostileServer {
  name: string;
  /** "https://127.0.0.1:PORT" */
  url: string;
  /** "127.0.0.1:PORT" */
  host: string;
  requests: SeenRequest[];
  /** Requests that carried an Authorization header. */
  withAuthorization(): SeenRequest[];
  close(): Promise<void>;
}

/** A body every hostile answer from another origin carries: a message that shows it echoed a foreign body. */
export const FOREIGN_BODY_MARKER = 'HOSTILE-STORAGE-BODY-3f9a';

const BODY_CAP = 32 * 1024 * 1024;

/** One logging HTTPS server on 127.0.0.1 with the harness's server certificate (pki in `workDir`). */
export async function startLoggingServer(name: string, workDir: string, handler: Route): Promise<HostileServer> {
  const pki = join(workDir, 'pki');
  const requests: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer({ cert: readFileSync(join(pki, 'server.crt')), key: readFileSync(join(pki, 'server.key')) }, (req, res) => {
    const chunks: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n <= BODY_CAP) chunks.push(c);
    });
    req.on('end', () => {
      requests.push({ method: req.method ?? 'GET', path: req.url ?? '/', headers: { ...req.headers }, bodyBytes: n });
      Promise.resolve(handler(req, res, Buffer.concat(chunks)))
        .then((handled) => {
          if (handled === false && !res.headersSent) notFound(res);
        })
        .catch(() => {
          if (!res.headersSent) res.writeHead(500).end();
        });
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    name,
    url: `https://${host}`,
    host,
    requests,
    withAuthorization: () => requests.filter((r) => r.headers.authorization !== undefined),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

function notFound(res: ServerResponse): void {
  res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'NOT_FOUND', message: 'not here' }] }));
}

export interface HostileDocument {
  bytes: Buffer;
  mediaType: string;
}

export interface HostileRegistry {
  registry: HostileServer;
  storage: HostileServer;
  attacker: HostileServer;
  /** The user and password the registry's token endpoint accepts, and the one token it issues. */
  user: { username: string; password: string };
  token: string;
  /** Everything secret here, for runCli's guard (`secrets: hostile.secrets`). */
  secrets: string[];
  /** Manifests by "repo:ref" (tag or digest) and blobs by digest, served as a registry would. */
  manifests: Map<string, HostileDocument>;
  blobs: Map<string, Buffer>;
  /** Overrides a route of the registry (tried first, in order; return false to fall through). */
  route(r: Route): void;
  /** Overrides the storage host's answer (default: 401 with a bearer challenge naming the attacker's realm). */
  storageRoute(r: Route): void;
  close(): Promise<void>;
}

/**
 * A registry with token auth on its own origin (realm REGISTRY/token), a storage host and an attacker's realm.
 * Blob GETs are redirected (307) to the storage host by default, as registries on S3 or a CDN do.
 */
export async function startHostileRegistry(workDir: string): Promise<HostileRegistry> {
  const user = { username: 'victim', password: `pw-${randomBytes(12).toString('hex')}` };
  const token = `tok-${randomBytes(16).toString('hex')}`;
  const basic = `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`;
  const manifests = new Map<string, HostileDocument>();
  const blobs = new Map<string, Buffer>();
  const routes: Route[] = [];
  let storageRoutes: Route[] = [];

  const attacker = await startLoggingServer('attacker', workDir, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: 'attacker-token', expires_in: 300 }));
  });
  const storage = await startLoggingServer('storage', workDir, async (req, res, body) => {
    for (const r of storageRoutes) if ((await r(req, res, body)) !== false) return;
    res
      .writeHead(401, {
        'content-type': 'application/json',
        'www-authenticate': `Bearer realm="${attacker.url}/steal",service="storage",error="invalid_token"`,
      })
      .end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: FOREIGN_BODY_MARKER }] }));
  });

  let registryUrl = '';
  const challenge = () => `Bearer realm="${registryUrl}/token",service="hostile"`;
  const registry = await startLoggingServer('registry', workDir, async (req, res, body) => {
    const u = new URL(req.url ?? '/', registryUrl);
    if (u.pathname === '/token') {
      if (req.headers.authorization !== undefined && req.headers.authorization !== basic) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, expires_in: 300 }));
      return;
    }
    for (const r of routes) if ((await r(req, res, body)) !== false) return;
    if (req.headers.authorization !== `Bearer ${token}`) {
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': challenge() }).end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
      return;
    }
    if (u.pathname === '/v2/') {
      res.writeHead(200, { 'content-type': 'application/json', 'docker-distribution-api-version': 'registry/2.0' }).end('{}');
      return;
    }
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(u.pathname);
    if (m && m[2] === 'manifests' && (req.method === 'GET' || req.method === 'HEAD')) {
      const doc = manifests.get(`${m[1]}:${decodeURIComponent(m[3]!)}`);
      if (!doc) return notFound(res);
      res.writeHead(200, { 'content-type': doc.mediaType, 'content-length': String(doc.bytes.length) });
      res.end(req.method === 'GET' ? doc.bytes : undefined);
      return;
    }
    if (m && m[2] === 'blobs' && (req.method === 'GET' || req.method === 'HEAD')) {
      const digest = decodeURIComponent(m[3]!);
      if (!blobs.has(digest)) return notFound(res);
      res.writeHead(307, { location: `${storage.url}/blobs/${digest}?X-Amz-Signature=${randomBytes(8).toString('hex')}` }).end();
      return;
    }
    if (/^\/v2\/.+\/blobs\/uploads\/$/.test(u.pathname) && req.method === 'POST') {
      res.writeHead(202, { location: `${storage.url}/upload/${randomBytes(8).toString('hex')}`, 'content-length': '0' }).end();
      return;
    }
    void body;
    notFound(res);
  });
  registryUrl = registry.url;

  return {
    registry,
    storage,
    attacker,
    user,
    token,
    secrets: [user.password, basic.slice('Basic '.length), token],
    manifests,
    blobs,
    route: (r) => routes.push(r),
    storageRoute: (r) => {
      storageRoutes = [r, ...storageRoutes];
    },
    close: async () => {
      await Promise.all([registry.close(), storage.close(), attacker.close()]);
    },
  };
}
