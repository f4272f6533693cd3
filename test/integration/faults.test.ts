// Faults injected by our proxy (test/harness/fault-proxy.ts) in front of the real plain registry: the client
// resumes, waits, retries, restarts uploads, keeps Authorization on its origin, and refuses corrupted content.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RegistryClient, RegistryClientOptions } from '../../src/registry/index.js';
import { streamTrace } from '../../src/trace.js';
import { getHarness } from '../harness/index.js';
import { startFaultProxy, type FaultProxy } from '../harness/fault-proxy.js';
import { uniqueRepo } from '../helpers/images.js';
import { blob, caught, readAll, testClient } from '../helpers/registry.js';
import { waitFor } from '../helpers/wait.js';

const h = getHarness();
let proxy: FaultProxy;
const traceLines: string[] = [];

beforeAll(async () => {
  proxy = await startFaultProxy(h.plain.url);
});
afterAll(async () => {
  await proxy?.close();
});

/** The shared test client with the retries these faults need, tracing into `traceLines`. */
function client(registry: string, over: Partial<RegistryClientOptions> = {}): RegistryClient {
  return testClient(registry, { retry: { attempts: 4, baseDelayMs: 50, maxDelayMs: 200, maxRetryAfterMs: 5000 }, trace: streamTrace((s) => traceLines.push(s)), ...over });
}




/** A blob seeded directly into the registry (not through the proxy). */
async function seed(size: number) {
  const repo = uniqueRepo('fault');
  const b = blob(size);
  await client(h.plain.host).uploadBlob(repo, b, () => Readable.from([b.bytes]));
  return { repo, b };
}

const hitsFor = (digest: string) => proxy.hits.filter((x) => x.path.includes(digest));

describe('downloads', () => {
  it('a connection reset mid-blob resumes with Range from the bytes received, and the digest checks', async () => {
    const { repo, b } = await seed(3 * 1024 * 1024);
    proxy.add({ kind: 'reset-after', bytes: 1024 * 1024 + 7, method: 'GET', path: b.digest });
    const got = await readAll(await client(proxy.host).getBlob(repo, b));
    expect(got.equals(b.bytes)).toBe(true);
    const gets = hitsFor(b.digest).filter((x) => x.method === 'GET');
    expect(gets).toHaveLength(2);
    expect(gets[0]!.fault).toBe('reset-after');
    expect(gets[1]!.range).toMatch(/^bytes=[1-9]\d*-$/);
    expect(Number(/bytes=(\d+)-/.exec(gets[1]!.range!)![1])).toBeLessThanOrEqual(1024 * 1024 + 7);
  });

  it('a stalled body ends with a read timeout, and the resumed download completes', async () => {
    const { repo, b } = await seed(512 * 1024);
    proxy.add({ kind: 'stall', afterBytes: 100 * 1024, method: 'GET', path: b.digest });
    const c = client(proxy.host, { timeouts: { bodyIdleMs: 400 } });
    const t = Date.now();
    const got = await readAll(await c.getBlob(repo, b));
    expect(got.equals(b.bytes)).toBe(true);
    expect(Date.now() - t).toBeGreaterThanOrEqual(400);
    expect(hitsFor(b.digest).filter((x) => x.method === 'GET').at(-1)!.range).toMatch(/^bytes=\d+-$/);
  });

  it('a flipped byte gives DIGEST_MISMATCH (exit 7), never the bytes', async () => {
    const { repo, b } = await seed(200 * 1024);
    proxy.add({ kind: 'flip-byte', offset: 12345, method: 'GET', path: b.digest, times: Infinity });
    const e = await caught(readAll(await client(proxy.host).getBlob(repo, b)));
    expect(e.code).toBe('DIGEST_MISMATCH');
    expect(e.exitCode).toBe(7);
    expect(e.message).toContain(b.digest);
    proxy.clear();
  });

  it('503 with Retry-After is waited out, then succeeds', async () => {
    const { repo, b } = await seed(1000);
    proxy.add({ kind: 'status', status: 503, headers: { 'retry-after': '1' }, method: 'GET', path: b.digest });
    const t = Date.now();
    const got = await readAll(await client(proxy.host).getBlob(repo, b));
    expect(got.equals(b.bytes)).toBe(true);
    expect(Date.now() - t).toBeGreaterThanOrEqual(950);
    expect(hitsFor(b.digest).map((x) => x.status)).toEqual([503, 200]);
  });

  it('429 once is retried; 429 for good is RATE_LIMITED (exit 6) after a bounded number of attempts', async () => {
    const { repo, b } = await seed(1000);
    proxy.add({ kind: 'status', status: 429, headers: { 'retry-after': '0' }, method: 'HEAD', path: b.digest });
    expect(await client(proxy.host).headBlob(repo, b.digest)).toEqual({ size: 1000 });
    proxy.add({ kind: 'status', status: 429, method: 'GET', path: b.digest, times: Infinity });
    const e = await caught(client(proxy.host).getBlob(repo, b));
    expect(e.code).toBe('RATE_LIMITED');
    expect(e.exitCode).toBe(6);
    expect(hitsFor(b.digest).filter((x) => x.method === 'GET')).toHaveLength(4);
    proxy.clear();
  });

  it('a cross-origin redirect reaches the other server without Authorization', async () => {
    const authProxy = await startFaultProxy(h.plain.url, { basicAuth: { username: 'alice', password: 's3cret-pw' } });
    try {
      const { repo, b } = await seed(64 * 1024);
      authProxy.add({ kind: 'redirect', method: 'GET', path: b.digest });
      const c = client(authProxy.host, { credentials: async () => ({ username: 'alice', password: 's3cret-pw' }) });
      const got = await readAll(await c.getBlob(repo, b));
      expect(got.equals(b.bytes)).toBe(true);
      // the registry got Authorization; the storage origin did not
      expect(authProxy.hits.filter((x) => x.path.includes(b.digest)).every((x) => x.authorization)).toBe(true);
      expect(authProxy.storage.requests).toHaveLength(1);
      expect(authProxy.storage.requests[0]!.authorization).toBeUndefined();
      // and the signed query parameter never shows in the trace
      expect(traceLines.join('')).not.toContain('secret-signature');
      expect(traceLines.join('')).not.toContain(Buffer.from('alice:s3cret-pw').toString('base64'));
    } finally {
      await authProxy.close();
    }
  });
});

describe('uploads', () => {
  it('a reset mid-upload restarts that blob from its source and completes', async () => {
    const repo = uniqueRepo('fault');
    const b = blob(3 * 1024 * 1024);
    proxy.add({ kind: 'reset-request-after', bytes: 1024 * 1024, method: 'PATCH' });
    let sources = 0;
    const c = client(proxy.host);
    await c.uploadBlob(repo, b, () => {
      sources++;
      return Readable.from([b.bytes]);
    });
    expect(sources).toBe(2);
    expect(await client(h.plain.host).headBlob(repo, b.digest)).toEqual({ size: b.size });
    // the broken session was cancelled
    expect(proxy.hits.some((x) => x.method === 'DELETE' && x.path.includes(`/v2/${repo}/blobs/uploads/`))).toBe(true);
  });

  it('a body limit (413 over 2 MiB) still lets a 9 MiB blob through, in chunks with Content-Range', async () => {
    const limited = await startFaultProxy(h.plain.url);
    try {
      limited.add({ kind: 'body-limit', maxBytes: 2 * 1024 * 1024, times: Infinity });
      const repo = uniqueRepo('fault');
      const b = blob(9 * 1024 * 1024 + 3);
      const c = client(limited.host);
      await c.uploadBlob(repo, b, () => Readable.from([b.bytes]));
      expect(await client(h.plain.host).headBlob(repo, b.digest)).toEqual({ size: b.size });
      const patches = limited.hits.filter((x) => x.method === 'PATCH' && x.status === 202);
      expect(patches.length).toBeGreaterThanOrEqual(5);
      expect(patches.every((x) => /^\d+-\d+$/.test(x.contentRange ?? ''))).toBe(true);
      expect(limited.hits.some((x) => x.status === 413)).toBe(true);
      // remembered by the client (a CLI run has one per registry): the next big blob goes straight to chunks, no new 413
      const before = limited.hits.filter((x) => x.status === 413).length;
      const b2 = blob(5 * 1024 * 1024);
      await c.uploadBlob(repo, b2, () => Readable.from([b2.bytes]));
      expect(limited.hits.filter((x) => x.status === 413).length).toBe(before);
      // and only by that client: another one (another registry's settings, a library caller) learns for itself
      const b3 = blob(5 * 1024 * 1024);
      await client(limited.host).uploadBlob(repo, b3, () => Readable.from([b3.bytes]));
      expect(limited.hits.filter((x) => x.status === 413).length).toBeGreaterThan(before);
    } finally {
      await limited.close();
    }
  });

  it('a 500 on a manifest PUT (a replayable body) is retried', async () => {
    const repo = uniqueRepo('fault');
    const cfg = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
    const cd = `sha256:${createHash('sha256').update(cfg).digest('hex')}`;
    const c = client(proxy.host);
    await c.uploadBlob(repo, { digest: cd, size: cfg.length }, () => Readable.from([cfg]));
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: cd, size: cfg.length }, layers: [] }));
    proxy.add({ kind: 'status', status: 500, method: 'PUT', path: `/v2/${repo}/manifests/` });
    const { digest } = await c.putManifest(repo, 'v1', manifest, 'application/vnd.oci.image.manifest.v1+json');
    expect((await c.getManifest(repo, 'v1')).digest).toBe(digest);
    expect(proxy.hits.filter((x) => x.method === 'PUT' && x.path.includes(`/v2/${repo}/manifests/`)).map((x) => x.status)).toEqual([500, 201]);
  });
});

describe('limits and cancellation', () => {
  it('a Retry-After above the cap is not waited: RATE_LIMITED at once, saying how long', async () => {
    const { repo, b } = await seed(1000);
    proxy.add({ kind: 'status', status: 429, headers: { 'retry-after': '3600' }, method: 'GET', path: b.digest });
    const t = Date.now();
    const e = await caught(client(proxy.host).getBlob(repo, b));
    expect(e.code).toBe('RATE_LIMITED');
    expect(e.message).toContain('retry after 3600 s');
    // not waited, not retried: one request, and the answer long before an hour (a generous bound for a busy machine)
    expect(hitsFor(b.digest).map((x) => x.status)).toEqual([429]);
    expect(Date.now() - t).toBeLessThan(30_000);
  });

  it('an aborted upload is cancelled on the registry (DELETE on its upload URL) and ends INTERRUPTED', async () => {
    const repo = uniqueRepo('fault');
    const b = blob(3 * 1024 * 1024);
    proxy.add({ kind: 'stall', method: 'PATCH', path: `/v2/${repo}/blobs/uploads/` });
    const ac = new AbortController();
    // aborted once the upload is under way: its PATCH reached the registry (and stalls there)
    const abortWhenPatching = waitFor(() => hitsFor(`/v2/${repo}/blobs/uploads/`).some((x) => x.method === 'PATCH'), 'the PATCH of the upload').then(() => ac.abort());
    const e = await caught(client(proxy.host).uploadBlob(repo, b, () => Readable.from([b.bytes]), { signal: ac.signal }));
    await abortWhenPatching;
    expect(e.code).toBe('INTERRUPTED');
    expect(e.exitCode).toBe(130);
    const del = proxy.hits.filter((x) => x.method === 'DELETE' && x.path.includes(`/v2/${repo}/blobs/uploads/`));
    expect(del).toHaveLength(1);
    expect(del[0]!.status).toBe(204);
  });

  it('an aborted download ends the stream with INTERRUPTED', async () => {
    const { repo, b } = await seed(256 * 1024);
    proxy.add({ kind: 'stall', afterBytes: 64 * 1024, method: 'GET', path: b.digest });
    const ac = new AbortController();
    const stream = await client(proxy.host).getBlob(repo, b, { signal: ac.signal });
    // bytes flow, then the body stalls: abort after the first chunk was read
    const it = stream[Symbol.asyncIterator]();
    const first = await it.next();
    expect(first.done).toBe(false);
    expect((first.value as Buffer).length).toBeGreaterThan(0);
    expect(hitsFor(b.digest).map((x) => x.fault)).toEqual(['stall']);
    ac.abort();
    const e = await caught((async () => {
      for (;;) if ((await it.next()).done) return;
    })());
    expect(e.code).toBe('INTERRUPTED');
  });
});

describe('a registry that is gone', () => {
  it('fails with CONNECTION_REFUSED (exit 6) naming the host, within a bounded time', async () => {
    const gone = await startFaultProxy(h.plain.url);
    const host = gone.host;
    await gone.close();
    const t = Date.now();
    const e = await caught(client(host).getManifest('x/y', 'latest'));
    expect(e.code).toBe('CONNECTION_REFUSED');
    expect(e.exitCode).toBe(6);
    expect(e.message).toContain(host);
    expect(Date.now() - t).toBeLessThan(5000);
  });
});
