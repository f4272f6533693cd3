// Faults through the real CLI: our fault proxy (test/harness/fault-proxy.ts) sits in front of the real plain
// registry and breaks connections, answers 5xx/429, stalls, truncates and corrupts. The CLI resumes, waits, retries
// with progress, and never stores what it could not verify. Each test prints a `[figures]` line (retries seen,
// seconds taken) for the closing note.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../src/registry/index.js';
import { getHarness } from '../harness/index.js';
import { startFaultProxy, type FaultProxy, type Hit } from '../harness/fault-proxy.js';
import { freshHome, runCli } from '../helpers/cli.js';
import { buildImage, fetchManifest, seedImage, uniqueRepo, type BuiltImage } from '../helpers/images.js';
import { partialSizes, storedBlobs, tmpFiles, tmpSizes } from '../helpers/store.js';
import { waitFor } from '../helpers/wait.js';

const h = getHarness();
const plain = { url: h.plain.url };
let proxy: FaultProxy;

beforeAll(async () => {
  proxy = await startFaultProxy(h.plain.url);
});
afterAll(async () => {
  await proxy?.close();
});


const seconds = (t: number) => ((Date.now() - t) / 1000).toFixed(2);
const hitsFor = (what: string, method = 'GET'): Hit[] => proxy.hits.filter((x) => x.method === method && x.path.includes(what));
function figures(name: string, f: Record<string, unknown>): void {
  console.log(`[figures] ${name}: ${Object.entries(f).map(([k, v]) => `${k}=${v}`).join(' ')}`);
}

async function seeded(spec: Parameters<typeof buildImage>[0] = {}): Promise<{ repo: string; img: BuiltImage; ref: string }> {
  const repo = uniqueRepo('rel');
  const img = await buildImage(spec);
  await seedImage(plain, repo, 'v1', img);
  return { repo, img, ref: `${proxy.host}/${repo}:v1` };
}

async function expectStoreOk(env: Record<string, string>): Promise<void> {
  const v = await runCli(['store', 'verify'], { env });
  expect(v.stderr).toBe('');
  expect(v.code).toBe(0);
  expect(v.stdout).toContain('Store OK');
}

describe('pull through faults', () => {
  it('a connection reset mid-blob resumes with Range, completes and verifies', async () => {
    const { img, ref } = await seeded({ layers: 1, layerSize: 3 * 1024 * 1024 });
    const layer = img.layers[0]!;
    proxy.add({ kind: 'reset-after', bytes: 1024 * 1024 + 7, method: 'GET', path: layer.digest });
    const home = freshHome();
    const t = Date.now();
    const r = await runCli(['pull', ref], { env: home.env });
    const took = seconds(t);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Status: Downloaded newer image for ${ref}`);
    const gets = hitsFor(layer.digest);
    expect(gets).toHaveLength(2);
    expect(gets[0]!.fault).toBe('reset-after');
    expect(gets[0]!.range).toBeUndefined();
    // the second request asks only for what is missing
    const from = Number(/^bytes=(\d+)-$/.exec(gets[1]!.range ?? '')?.[1]);
    expect(from).toBeGreaterThan(0);
    expect(from).toBeLessThanOrEqual(1024 * 1024 + 7);
    expect(storedBlobs(home.store)).toEqual(expect.arrayContaining([layer.digest, img.config.digest, img.manifest.digest]));
    await expectStoreOk(home.env);
    figures('reset mid-blob (pull)', { requests: gets.length, resumedFromByte: from, seconds: took });
  });

  it('500, 502, 503 and 504 are retried; 429 with Retry-After is waited out; the pull completes', async () => {
    const { repo, img, ref } = await seeded({ layers: 3 });
    const [l0, l1, l2] = img.layers as [BuiltImage['layers'][0], BuiltImage['layers'][0], BuiltImage['layers'][0]];
    proxy.add({ kind: 'status', status: 500, method: 'GET', path: `/v2/${repo}/manifests/v1` });
    proxy.add({ kind: 'status', status: 502, method: 'GET', path: img.config.digest });
    proxy.add({ kind: 'status', status: 503, method: 'GET', path: l0.digest });
    proxy.add({ kind: 'status', status: 504, method: 'GET', path: l1.digest });
    proxy.add({ kind: 'status', status: 429, headers: { 'retry-after': '2' }, method: 'GET', path: l2.digest });
    const home = freshHome();
    const t = Date.now();
    const r = await runCli(['pull', ref], { env: home.env });
    const took = (Date.now() - t) / 1000;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(hitsFor(`/v2/${repo}/manifests/v1`).map((x) => x.status)).toEqual([500, 200]);
    expect(hitsFor(img.config.digest).map((x) => x.status)).toEqual([502, 200]);
    expect(hitsFor(l0.digest).map((x) => x.status)).toEqual([503, 200]);
    expect(hitsFor(l1.digest).map((x) => x.status)).toEqual([504, 200]);
    const rl = hitsFor(l2.digest);
    expect(rl.map((x) => x.status)).toEqual([429, 200]);
    // Retry-After: 2 was honoured, not cut short by the backoff
    expect(rl[1]!.time - rl[0]!.time).toBeGreaterThanOrEqual(1950);
    await expectStoreOk(home.env);
    figures('5xx + 429 Retry-After 2 (pull)', { retries: 5, waitedForRetryAfterMs: rl[1]!.time - rl[0]!.time, seconds: took.toFixed(2) });
  });

  it('a 503 that never ends fails with exit 6 after a bounded number of attempts, each Retry-After waited', async () => {
    const repo = uniqueRepo('rel');
    proxy.add({ kind: 'status', status: 503, headers: { 'retry-after': '1' }, method: 'GET', path: `/v2/${repo}/manifests/`, times: Infinity });
    const home = freshHome();
    const t = Date.now();
    const r = await runCli(['pull', `${proxy.host}/${repo}:v1`], { env: home.env });
    const took = (Date.now() - t) / 1000;
    proxy.clear();
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/^Error: .*503/m);
    expect(r.stderr).toContain(proxy.host);
    const hits = hitsFor(`/v2/${repo}/manifests/`);
    const n = hits.length;
    expect(n).toBeGreaterThanOrEqual(3);
    expect(n).toBeLessThanOrEqual(6);
    // every wait was the 1 s the registry asked for (the backoff alone would start at 125-250 ms)
    for (let i = 1; i < n; i++) expect(hits[i]!.time - hits[i - 1]!.time).toBeGreaterThanOrEqual(950);
    expect(storedBlobs(home.store)).toEqual([]);
    figures('503 for good (pull)', { attempts: n, seconds: took.toFixed(2), exit: r.code });
  });

  it('a connection that sends nothing ends with a read timeout (DHE_READ_TIMEOUT) and the retry succeeds', async () => {
    const { img, ref } = await seeded({ layers: 1, layerSize: 256 * 1024 });
    const layer = img.layers[0]!;
    // no status line, no headers, nothing, for as long as the client waits
    proxy.add({ kind: 'stall', method: 'GET', path: layer.digest });
    const home = freshHome();
    const t = Date.now();
    const r = await runCli(['pull', ref], { env: { ...home.env, DHE_READ_TIMEOUT: '1' }, timeoutMs: 20_000 });
    const took = (Date.now() - t) / 1000;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const gets = hitsFor(layer.digest);
    expect(gets.map((x) => x.fault ?? x.status)).toEqual(['stall', 200]);
    expect(gets[1]!.time - gets[0]!.time).toBeGreaterThanOrEqual(950);
    await expectStoreOk(home.env);
    figures('stall before headers (pull, DHE_READ_TIMEOUT=1)', { requests: gets.length, seconds: took.toFixed(2) });
  });

  it('a body that stops mid-way ends with a read timeout and resumes with Range', async () => {
    const { img, ref } = await seeded({ layers: 1, layerSize: 512 * 1024 });
    const layer = img.layers[0]!;
    proxy.add({ kind: 'stall', afterBytes: 100 * 1024, method: 'GET', path: layer.digest });
    const home = freshHome();
    const t = Date.now();
    const r = await runCli(['pull', ref], { env: { ...home.env, DHE_READ_TIMEOUT: '1' }, timeoutMs: 20_000 });
    const took = (Date.now() - t) / 1000;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const gets = hitsFor(layer.digest);
    expect(gets).toHaveLength(2);
    expect(gets[0]!.fault).toBe('stall');
    expect(gets[1]!.range).toMatch(/^bytes=[1-9]\d*-$/);
    await expectStoreOk(home.env);
    figures('stall mid-body (pull, DHE_READ_TIMEOUT=1)', { requests: gets.length, resumedAt: gets[1]!.range, seconds: took.toFixed(2) });
  });

  it('a truncated body (a clean end, a shorter Content-Length) is resumed for the missing bytes', async () => {
    const { img, ref } = await seeded({ layers: 1, layerSize: 600 * 1024 });
    const layer = img.layers[0]!;
    proxy.add({ kind: 'truncate', bytes: 200 * 1024, method: 'GET', path: layer.digest });
    const home = freshHome();
    const r = await runCli(['pull', ref], { env: home.env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const gets = hitsFor(layer.digest);
    expect(gets.map((x) => x.range)).toEqual([undefined, `bytes=${200 * 1024}-`]);
    expect(storedBlobs(home.store)).toContain(layer.digest);
    await expectStoreOk(home.env);
  });

  it('a body truncated every time fails (exit 6) after bounded resumes, storing nothing', async () => {
    const { img, ref } = await seeded({ layers: 1, layerSize: 300 * 1024 });
    const layer = img.layers[0]!;
    proxy.add({ kind: 'truncate', bytes: 0, method: 'GET', path: layer.digest, times: Infinity });
    const home = freshHome();
    const t = Date.now();
    const r = await runCli(['pull', ref], { env: home.env });
    const took = (Date.now() - t) / 1000;
    proxy.clear();
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/^Error: .*broke after 0 bytes/m);
    const n = hitsFor(layer.digest).length;
    expect(n).toBeGreaterThanOrEqual(2);
    expect(n).toBeLessThanOrEqual(10);
    expect(storedBlobs(home.store)).not.toContain(layer.digest);
    expect(tmpFiles(home.store)).toEqual([]);
    const images = await runCli(['images', '-q'], { env: home.env });
    expect(images.stdout).toBe('');
    figures('truncated for good (pull)', { requests: n, seconds: took.toFixed(2), exit: r.code });
  });

  it('a flipped byte is an integrity error (exit 7) and nothing is stored: no new blob, no name', async () => {
    const { img, ref } = await seeded({ layers: 1, layerSize: 200 * 1024 });
    const layer = img.layers[0]!;
    proxy.add({ kind: 'flip-byte', offset: 4321, method: 'GET', path: layer.digest, times: Infinity });
    const home = freshHome();
    const r = await runCli(['pull', ref], { env: home.env });
    proxy.clear();
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/^Error: .*(digest|sha256)/m);
    expect(r.stderr).toContain(layer.digest);
    expect(tmpFiles(home.store)).toEqual([]);
    expect(storedBlobs(home.store)).toEqual([]);
    const images = await runCli(['images', '-q'], { env: home.env });
    expect(images.code).toBe(0);
    expect(images.stdout).toBe('');
  });

  it('a registry that goes away for good mid-pull: exit 6 within a bounded time, naming the host', async () => {
    const gone = await startFaultProxy(h.plain.url);
    const repo = uniqueRepo('rel');
    const img = await buildImage({ layers: 1, layerSize: 6 * 1024 * 1024 });
    await seedImage(plain, repo, 'v1', img);
    const layer = img.layers[0]!;
    // 5 MiB, then nothing: past the store's first 4 MiB write, so the bytes that came are seen on disk
    gone.add({ kind: 'stall', afterBytes: 5 * 1024 * 1024, method: 'GET', path: layer.digest });
    const home = freshHome();
    const t = Date.now();
    const run = runCli(['pull', `${gone.host}/${repo}:v1`], { env: home.env });
    // when the layer download is under way (its bytes reach a temporary file, then the stall holds the rest),
    // the registry disappears (connections cut, port closed)
    await waitFor(() => gone.hits.some((x) => x.path.includes(layer.digest) && x.fault === 'stall'), 'the layer GET with the stall rule');
    // on disk: kept under partial/ for the next run (tmp/ with DHE_NO_RESUME)
    const partial = await waitFor(() => [...tmpSizes(home.store), ...partialSizes(home.store)].find((n) => n > 0), 'downloaded bytes of the layer in a temporary file');
    expect(partial).toBeLessThanOrEqual(5 * 1024 * 1024);
    const cutAt = Date.now();
    await gone.close();
    const r = await run;
    const took = (Date.now() - t) / 1000;
    const afterCut = (Date.now() - cutAt) / 1000;
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(new RegExp(`^Error: .*${gone.host.replace(/\./g, '\\.')}`, 'm'));
    expect(r.stderr).toMatch(/^Hint: /m);
    expect(afterCut).toBeLessThan(15);
    expect(storedBlobs(home.store)).not.toContain(layer.digest);
    expect(tmpFiles(home.store)).toEqual([]);
    figures('registry gone mid-pull', { secondsAfterCut: afterCut.toFixed(2), seconds: took.toFixed(2), exit: r.code, message: JSON.stringify(r.stderr.split('\n')[0]) });
  });

  it('a registry that is not there at all: exit 6 within a bounded time, naming the host', async () => {
    const gone = await startFaultProxy(h.plain.url);
    const host = gone.host;
    await gone.close();
    const home = freshHome();
    const t = Date.now();
    const r = await runCli(['pull', `${host}/${uniqueRepo('rel')}:v1`], { env: home.env });
    const took = (Date.now() - t) / 1000;
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(new RegExp(`^Error: .*${host.replace(/\./g, '\\.')}`, 'm'));
    expect(took).toBeLessThan(15);
    figures('registry never there', { seconds: took.toFixed(2), message: JSON.stringify(r.stderr.split('\n')[0]) });
  });
});

describe('push through faults', () => {
  it('a connection reset mid-upload restarts that blob and the push completes', async () => {
    const src = await seeded({ layers: 1, layerSize: 3 * 1024 * 1024 });
    const home = freshHome();
    const direct = `${h.plain.host}/${src.repo}:v1`;
    expect((await runCli(['pull', direct], { env: home.env })).code).toBe(0);
    const repo = uniqueRepo('relpush');
    const target = `${proxy.host}/${repo}:v1`;
    expect((await runCli(['tag', direct, target], { env: home.env })).code).toBe(0);
    const layer = src.img.layers[0]!;
    proxy.add({ kind: 'reset-request-after', bytes: 1024 * 1024, method: 'PATCH', path: `/v2/${repo}/blobs/uploads/` });
    const t = Date.now();
    const r = await runCli(['push', target], { env: home.env });
    const took = seconds(t);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${layer.digest.slice(7, 19)}: Pushed`);
    expect(r.stdout).toContain(`v1: digest: ${src.img.manifest.digest}`);
    // the registry has the image, byte for byte
    const m = await fetchManifest(plain, repo, 'v1');
    expect(m.status).toBe(200);
    expect(m.digest).toBe(src.img.manifest.digest);
    const uploads = proxy.hits.filter((x) => x.path.includes(`/v2/${repo}/blobs/uploads/`));
    const patches = uploads.filter((x) => x.method === 'PATCH');
    expect(patches[0]!.fault).toBe('reset-request-after');
    // the broken session was cancelled, then a new one started and finished
    expect(uploads.some((x) => x.method === 'DELETE')).toBe(true);
    expect(uploads.filter((x) => x.method === 'PUT' && x.status === 201).length).toBeGreaterThanOrEqual(1);
    figures('reset mid-upload (push)', { uploadSessions: uploads.filter((x) => x.method === 'POST').length, patches: patches.length, seconds: took });
  });

  it('503 on the manifest PUT and 429 on a blob HEAD are retried and the push completes', async () => {
    const src = await seeded({ layers: 1 });
    const home = freshHome();
    const direct = `${h.plain.host}/${src.repo}:v1`;
    expect((await runCli(['pull', direct], { env: home.env })).code).toBe(0);
    const repo = uniqueRepo('relpush');
    const target = `${proxy.host}/${repo}:v1`;
    expect((await runCli(['tag', direct, target], { env: home.env })).code).toBe(0);
    proxy.add({ kind: 'status', status: 503, method: 'PUT', path: `/v2/${repo}/manifests/v1` });
    proxy.add({ kind: 'status', status: 429, headers: { 'retry-after': '1' }, method: 'HEAD', path: src.img.layers[0]!.digest });
    const r = await runCli(['push', target], { env: home.env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(proxy.hits.filter((x) => x.method === 'PUT' && x.path.includes(`/v2/${repo}/manifests/v1`)).map((x) => x.status)).toEqual([503, 201]);
    expect((await fetchManifest(plain, repo, 'v1')).digest).toBe(src.img.manifest.digest);
  });
});

describe('the blob stream under the CLI', () => {
  it('a download that fails before anyone reads it keeps its error for the reader, and never crashes the process', async () => {
    const { repo, img } = await seeded({ layers: 1, layerSize: 100 * 1024 });
    const layer = img.layers[0]!;
    proxy.add({ kind: 'truncate', bytes: 1000, method: 'GET', path: layer.digest });
    const c = new RegistryClient({ registry: proxy.host, tls: { caCertFiles: [], certsDirs: [], insecureRegistries: [] }, proxy: {} });
    try {
      const stream = await c.getBlob(repo, layer, { maxResumes: 0 });
      // nobody listens while the download breaks (as with a reader that opens a file first)
      await waitFor(() => stream.errored, 'the unread download to break');
      expect(stream.errored).toMatchObject({ code: 'NETWORK' });
      expect(hitsFor(layer.digest).map((x) => x.fault)).toEqual(['truncate']);
      const read = (async () => {
        for await (const _ of stream) void _;
      })();
      await expect(read).rejects.toMatchObject({ code: 'NETWORK', exitCode: 6 });
    } finally {
      await c.close();
    }
  });
});
