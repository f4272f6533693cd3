// A pull interrupted at about half of a 64 MiB layer (Ctrl-C or kill -9 while the registry's answer stalls) keeps
// the bytes under the store's partial/ and the next pull asks only for the rest: the fault proxy in front of the
// real registry records the second run's Range request and the registry's 206, so the bytes received are
// size − start (≤ 60 % of the layer), not our own count. A kept prefix that is wrong, a registry that ignores the
// Range or answers another range than asked: the blob is downloaded afresh; DHE_NO_RESUME=1 keeps nothing; prune
// (after 24 h) and store verify --repair remove kept bytes.
import { closeSync, openSync, utimesSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getHarness } from '../harness/index.js';
import { startFaultProxy, type FaultProxy } from '../harness/fault-proxy.js';
import { freshHome, runCli, startCli } from '../helpers/cli.js';
import { buildImage, seedImage, uniqueRepo, type BuiltImage } from '../helpers/images.js';
import { blobBytes, partialFiles, partialSizes, storedBlobs, tmpFiles } from '../helpers/store.js';
import { waitFor } from '../helpers/wait.js';

const h = getHarness();
const MiB = 1024 * 1024;
const HALF = 32 * MiB;
let proxy: FaultProxy;
let img: BuiltImage;
let repo: string;

beforeAll(async () => {
  proxy = await startFaultProxy(h.plain.url);
  repo = uniqueRepo('resumepull');
  img = await buildImage({ layers: 1, layerSize: 64 * MiB });
  await seedImage({ url: h.plain.url }, repo, 'v1', img);
}, 120_000);
afterAll(async () => {
  await proxy?.close();
});

const layer = () => img.layers[0]!;
const partialDir = (store: string) => join(store, 'partial');
const partials = partialFiles;
const keptBytes = (store: string) => partialSizes(store).reduce((n, x) => n + x, 0);

/** A pull stopped by `signal` while the layer's download stalls after HALF bytes; its home. */
async function interruptedPull(signal: NodeJS.Signals, extraEnv: NodeJS.ProcessEnv = {}) {
  const home = freshHome();
  const env = { ...home.env, ...extraEnv };
  const ref = `${proxy.host}/${repo}:v1`;
  proxy.add({ kind: 'stall', afterBytes: HALF, method: 'GET', path: layer().digest });
  const run = startCli(['pull', ref], { env, timeoutMs: 120_000 });
  // the first half is on disk (the store writes in 4 MiB batches)
  if (extraEnv.DHE_NO_RESUME) await waitFor(() => tmpFiles(home.store).length > 0, 'the download under way', 60_000);
  else await waitFor(() => keptBytes(home.store) >= HALF - 4 * MiB, 'half the layer kept under partial/', 60_000);
  run.child.kill(signal);
  await run.result;
  proxy.clear();
  return { env, store: home.store, ref };
}

function layerGets(from: number) {
  return proxy.hits.slice(from).filter((x) => x.method === 'GET' && x.path.includes(layer().digest));
}

describe('pull resumes across runs', () => {
  it.each(['SIGINT', 'SIGKILL'] as const)('after %s at half of a 64 MiB layer the next pull receives at most 60 percent of it', async (signal) => {
    const { env, store, ref } = await interruptedPull(signal);
    expect(storedBlobs(store)).not.toContain(layer().digest);
    expect((await runCli(['images', '-q'], { env })).stdout).toBe('');
    const kept = keptBytes(store);
    expect(kept).toBeGreaterThan(0);
    const from = proxy.hits.length;
    const r = await runCli(['pull', ref], { env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^${layer().digest.slice(7, 19)}: Resuming download at `, 'm'));
    const gets = layerGets(from);
    expect(gets).toHaveLength(1);
    expect(gets[0]!.status).toBe(206);
    const start = Number(/^bytes=(\d+)-$/.exec(gets[0]!.range ?? '')?.[1]);
    expect(start).toBe(kept);
    expect(layer().size - start).toBeLessThanOrEqual(0.6 * layer().size);
    expect(blobBytes(store, layer().digest).equals(layer().bytes)).toBe(true);
    const v = await runCli(['store', 'verify'], { env });
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(partials(store)).toEqual([]);
    console.log(`[figures] pull resumed after ${signal}: second run received ${layer().size - start} of ${layer().size} bytes`);
  }, 180_000);

  it('a kept prefix that is wrong is thrown away and the layer downloaded afresh (exit 0)', async () => {
    const { env, store, ref } = await interruptedPull('SIGKILL');
    const file = join(partialDir(store), partials(store)[0]!);
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.from('not the layer'), 0, 13, 1000);
    closeSync(fd);
    const from = proxy.hits.length;
    const r = await runCli(['pull', ref], { env });
    expect(r.code, r.stderr).toBe(0);
    const gets = layerGets(from);
    expect(gets.map((g) => g.range ?? 'whole')).toEqual([expect.stringMatching(/^bytes=\d+-$/), 'whole']);
    expect(blobBytes(store, layer().digest).equals(layer().bytes)).toBe(true);
    expect(partials(store)).toEqual([]);
  }, 180_000);

  it('a registry that ignores the Range (200, the whole blob) gets a fresh download that verifies', async () => {
    const { env, store, ref } = await interruptedPull('SIGKILL');
    expect(keptBytes(store)).toBeGreaterThan(0);
    proxy.add({ kind: 'ignore-range', method: 'GET', path: layer().digest });
    const from = proxy.hits.length;
    const r = await runCli(['pull', ref], { env });
    proxy.clear();
    expect(r.code, r.stderr).toBe(0);
    const gets = layerGets(from);
    expect(gets.map((g) => g.status)).toEqual([200]);
    expect(blobBytes(store, layer().digest).equals(layer().bytes)).toBe(true);
    expect(partials(store)).toEqual([]);
    expect((await runCli(['store', 'verify'], { env })).code).toBe(0);
  }, 180_000);

  it('a registry that answers another range than asked (206 from an earlier byte) gets a fresh download that verifies', async () => {
    const { env, store, ref } = await interruptedPull('SIGKILL');
    const kept = keptBytes(store);
    proxy.add({ kind: 'shift-range', bytes: 1000, method: 'GET', path: layer().digest });
    const from = proxy.hits.length;
    const r = await runCli(['pull', ref], { env });
    proxy.clear();
    expect(r.code, r.stderr).toBe(0);
    // the 206 started 1000 bytes before the kept prefix's end: not used; the whole blob came again
    const gets = layerGets(from);
    expect(gets.map((g) => [g.range ?? 'whole', g.status])).toEqual([[`bytes=${kept}-`, 206], ['whole', 200]]);
    expect(blobBytes(store, layer().digest).equals(layer().bytes)).toBe(true);
    expect(partials(store)).toEqual([]);
  }, 180_000);

  it('prune removes kept bytes older than 24 h and store verify --repair removes them all', async () => {
    const { env, store } = await interruptedPull('SIGKILL');
    expect(partials(store)).toHaveLength(1);
    expect((await runCli(['prune'], { env })).code).toBe(0);
    expect(partials(store)).toHaveLength(1); // not old yet
    const file = join(partialDir(store), partials(store)[0]!);
    const old = new Date(Date.now() - 25 * 3600_000);
    utimesSync(file, old, old);
    expect((await runCli(['prune'], { env })).code).toBe(0);
    expect(partials(store)).toEqual([]);

    const again = await interruptedPull('SIGKILL');
    expect(partials(again.store)).toHaveLength(1);
    expect((await runCli(['store', 'verify', '--repair'], { env: again.env })).code).toBe(0);
    expect(partials(again.store)).toEqual([]);
  }, 180_000);

  it('DHE_NO_RESUME=1: an interrupted pull keeps nothing', async () => {
    const { store } = await interruptedPull('SIGINT', { DHE_NO_RESUME: '1' });
    expect(partials(store)).toEqual([]);
    expect(tmpFiles(store)).toEqual([]);
  }, 180_000);
});
