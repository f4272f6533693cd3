// A tiny hostile registry, started in-test on 127.0.0.1 (plain HTTP: loopback), whose every word is an attack on
// the terminal of whoever runs dhe-cli against it: tags, error messages, annotations and labels carry ESC sequences
// (window title, clear screen), carriage returns that forge a "Login Succeeded" line, C1 controls, DEL and bidi
// overrides. It also redirects manifest and blob GETs of `signed/*` to a storage server on another origin with a
// signed query, as CDNs do (Docker Hub's `verify=`, S3's X-Amz-Signature, GCS's x-goog-signature, Azure's sig).
//
//   const reg = await startHostileRegistry();            // anonymous: tags, manifests, blobs, 404s
//   const locked = await startHostileRegistry({ auth: 'basic' });   // every credential refused, hostile words
//   const tok = await startHostileRegistry({ auth: 'bearer' });     // its token server refuses, hostile words
//   reg.host, reg.storageHost, reg.image (digests), reg.requests; await reg.close();
//   GET /v2/kind/<attack, lower case>/tags/list lists "v1" and one attack (title, clear, forgedLine, c1, del, bidi, sgr);
//   /v2/missing/*: 404s with the hostile message; /v2/signed/*: redirects with a signed query.

import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';

// self-contained (the harness builds on its own, tsconfig.harness.json): no imports from test/helpers
const MT = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
};
const sha256 = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function tarOf(files: Record<string, string>): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const done = new Promise<void>((resolve, reject) => {
    p.on('end', () => resolve());
    p.on('error', reject);
  });
  for (const [name, content] of Object.entries(files)) p.entry({ name, mtime: new Date(0), mode: 0o644 }, Buffer.from(content));
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** The attacks, one per kind. Everything the registry says is made of these. */
export const ATTACK = {
  title: '\x1b]0;pwned\x07',
  clear: '\x1b[2J',
  forgedLine: 'v1\rLogin Succeeded',
  c1: 'c1\u009b31mred\u0085next',
  del: 'del\u007fx',
  bidi: 'bidi\u202eevil\u2066x\u2069',
  /** A colour of the server's own: exactly what our paint writes, so it must not pass either. */
  sgr: '\x1b[31mred\x1b[0m',
} as const;

/** Tags as served, in this order. */
export const HOSTILE_TAGS = [
  `${ATTACK.title}title`,
  `clear${ATTACK.clear}`,
  ATTACK.forgedLine,
  ATTACK.c1,
  ATTACK.del,
  ATTACK.bidi,
  ATTACK.sgr,
];

/** The message of every registry error this server sends. */
export const HOSTILE_MESSAGE = `${ATTACK.title}denied${ATTACK.clear}\r\nLogin Succeeded\r${ATTACK.c1} ${ATTACK.del} ${ATTACK.bidi} ${ATTACK.sgr}`;

/** The signed query of every redirect to the storage origin; none of these values may ever be shown. */
export const SIGNED_SECRETS = {
  verify: '1700000000-abcdef0123456789',
  amz: 'a1b2c3d4e5f60718293a4b5c6d7e8f90aabbccddeeff00112233445566778899',
  amzCredential: 'AKIAHOSTILEEXAMPLE77/20240101/us-east-1/s3/aws4_request',
  goog: 'goog0123456789abcdefsignaturevalue',
  sig: 'azureSigValue0123456789abcdef',
  expires: '1700009999',
  keyPairId: 'APKAHOSTILEKEYPAIRID',
  /** A parameter whose name says nothing: only the origin rule hides it. */
  opaque: 'unlistedOpaqueValue42',
};

export function signedQuery(): string {
  const s = SIGNED_SECRETS;
  return (
    `verify=${s.verify}&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${encodeURIComponent(s.amzCredential)}` +
    `&X-Amz-Signature=${s.amz}&x-goog-signature=${s.goog}&sig=${s.sig}&Expires=${s.expires}&Key-Pair-Id=${s.keyPairId}&t=${s.opaque}`
  );
}

export interface HostileImage {
  manifest: { digest: string; bytes: Buffer; mediaType: string };
  config: { digest: string; bytes: Buffer };
  layer: { digest: string; bytes: Buffer };
}

export interface HostileRegistry {
  url: string;
  host: string;
  /** The storage server the `signed/*` redirects go to (another origin: another port). */
  storageUrl: string;
  storageHost: string;
  image: HostileImage;
  /** Requests seen: registry and storage, with the query. */
  requests: { server: 'registry' | 'storage'; method: string; url: string; authorization: boolean }[];
  close(): Promise<void>;
}

export interface HostileOptions {
  /** none: anonymous access; basic: /v2/ wants Basic and refuses every credential; bearer: its token server refuses. */
  auth?: 'none' | 'basic' | 'bearer';
}

async function hostileImage(): Promise<HostileImage> {
  const tar = await tarOf({ 'hello.txt': `hello ${ATTACK.title}\n` });
  const gz = gzipSync(tar);
  const layer = { digest: sha256(gz), bytes: gz };
  const config = Buffer.from(
    JSON.stringify({
      created: '2024-01-01T00:00:00Z',
      architecture: 'amd64',
      os: 'linux',
      author: HOSTILE_MESSAGE,
      config: { Env: [`X=${ATTACK.title}`], Labels: { title: ATTACK.title, forged: ATTACK.forgedLine, c1: ATTACK.c1, del: ATTACK.del, bidi: ATTACK.bidi }, Cmd: ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: [sha256(tar)] },
      history: [{ created: '2024-01-01T00:00:00Z', created_by: `${ATTACK.clear}${ATTACK.forgedLine}` }],
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: { mediaType: MT.ociConfig, digest: sha256(config), size: config.length },
      layers: [{ mediaType: MT.ociLayer, digest: layer.digest, size: gz.length }],
      annotations: { 'org.opencontainers.image.title': ATTACK.title, description: HOSTILE_MESSAGE },
    }),
  );
  return { manifest: { digest: sha256(manifest), bytes: manifest, mediaType: MT.ociManifest }, config: { digest: sha256(config), bytes: config }, layer };
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function errorBody(code: string): string {
  return JSON.stringify({ errors: [{ code, message: HOSTILE_MESSAGE, detail: HOSTILE_MESSAGE }] });
}

export async function startHostileRegistry(opts: HostileOptions = {}): Promise<HostileRegistry> {
  const auth = opts.auth ?? 'none';
  const image = await hostileImage();
  const requests: HostileRegistry['requests'] = [];
  const blobs = new Map<string, Buffer>([
    [image.config.digest, image.config.bytes],
    [image.layer.digest, image.layer.bytes],
  ]);

  const send = (res: ServerResponse, status: number, body: string | Buffer, headers: Record<string, string> = {}) => {
    const b = typeof body === 'string' ? Buffer.from(body) : body;
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(b.length), 'docker-distribution-api-version': 'registry/2.0', ...headers });
    res.end(b);
  };

  const storage = createServer((req: IncomingMessage, res: ServerResponse) => {
    requests.push({ server: 'storage', method: req.method ?? '', url: req.url ?? '', authorization: !!req.headers.authorization });
    const u = new URL(req.url ?? '/', 'http://storage');
    const digest = u.pathname.split('/').pop() ?? '';
    if (digest === image.manifest.digest) return send(res, 200, image.manifest.bytes, { 'content-type': image.manifest.mediaType });
    const blob = blobs.get(digest);
    if (blob) return send(res, 200, blob, { 'content-type': 'application/octet-stream' });
    send(res, 404, errorBody('BLOB_UNKNOWN'));
  });
  const storagePort = await listen(storage);
  const storageUrl = `http://127.0.0.1:${storagePort}`;

  let port = 0;
  const registry = createServer((req: IncomingMessage, res: ServerResponse) => {
    requests.push({ server: 'registry', method: req.method ?? '', url: req.url ?? '', authorization: !!req.headers.authorization });
    const u = new URL(req.url ?? '/', 'http://registry');
    const path = u.pathname;
    if (path === '/token') return send(res, 401, JSON.stringify({ details: HOSTILE_MESSAGE, errors: [{ code: 'UNAUTHORIZED', message: HOSTILE_MESSAGE }] }));
    if (auth === 'basic' && (path === '/v2/' || req.headers.authorization)) {
      return send(res, 401, errorBody('UNAUTHORIZED'), { 'www-authenticate': 'Basic realm="hostile"' });
    }
    if (auth === 'bearer' && (path === '/v2/' || req.headers.authorization)) {
      return send(res, 401, errorBody('UNAUTHORIZED'), { 'www-authenticate': `Bearer realm="http://127.0.0.1:${port}/token",service="hostile"` });
    }
    if (path === '/v2/') return send(res, 200, '{}');
    let m = /^\/v2\/(.+)\/tags\/list$/.exec(path);
    if (m) {
      // kind/<attack>: one hostile tag after a good one; any other repository: all of them
      const asked = /^kind\/(\w+)$/.exec(m[1]!)?.[1];
      const kind = (Object.keys(ATTACK) as (keyof typeof ATTACK)[]).find((k) => k.toLowerCase() === asked);
      const tags = kind ? ['v1', ATTACK[kind]] : HOSTILE_TAGS;
      return send(res, 200, JSON.stringify({ name: m[1], tags }));
    }
    m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(path);
    if (!m) return send(res, 404, errorBody('NOT_FOUND'));
    const [, repo, kind, ref] = m as unknown as [string, string, string, string];
    if (repo.startsWith('missing/')) return send(res, 404, errorBody(kind === 'manifests' ? 'MANIFEST_UNKNOWN' : 'BLOB_UNKNOWN'));
    const signed = repo.startsWith('signed/');
    if (kind === 'manifests') {
      if (ref !== 'latest' && ref !== image.manifest.digest) return send(res, 404, errorBody('MANIFEST_UNKNOWN'));
      const headers = { 'content-type': image.manifest.mediaType, 'docker-content-digest': image.manifest.digest };
      if (req.method === 'HEAD') {
        res.writeHead(200, { ...headers, 'content-length': String(image.manifest.bytes.length) });
        return res.end();
      }
      if (signed) {
        res.writeHead(307, { location: `${storageUrl}/cdn/manifests/${image.manifest.digest}?${signedQuery()}`, 'content-length': '0' });
        return res.end();
      }
      return send(res, 200, image.manifest.bytes, headers);
    }
    const blob = blobs.get(ref);
    if (!blob) return send(res, 404, errorBody('BLOB_UNKNOWN'));
    if (signed) {
      res.writeHead(307, { location: `${storageUrl}/registry-v2/docker/registry/v2/blobs/sha256/${ref.slice(7, 9)}/${ref}?${signedQuery()}`, 'content-length': '0' });
      return res.end();
    }
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'content-length': String(blob.length), 'docker-content-digest': ref });
      return res.end();
    }
    send(res, 200, blob, { 'content-type': 'application/octet-stream', 'docker-content-digest': ref });
  });
  port = await listen(registry);

  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    storageUrl,
    storageHost: `127.0.0.1:${storagePort}`,
    image,
    requests,
    close: async () => {
      registry.closeAllConnections();
      storage.closeAllConnections();
      await Promise.all([new Promise<void>((r) => registry.close(() => r())), new Promise<void>((r) => storage.close(() => r()))]);
    },
  };
}
