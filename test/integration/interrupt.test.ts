// Ctrl-C through the real CLI: SIGINT during a pull or a push exits 130, removes its temporary files, cancels the
// upload it started (DELETE on the upload URL, seen by the fault proxy in front of the real registry), and leaves
// the store consistent (`store verify`) so that the next run completes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getHarness } from '../harness/index.js';
import { startFaultProxy, type FaultProxy } from '../harness/fault-proxy.js';
import { freshHome, runCli, startCli } from '../helpers/cli.js';
import { partialFiles, storedBlobs, tmpFiles } from '../helpers/store.js';
import { buildImage, fetchManifest, seedImage, uniqueRepo } from '../helpers/images.js';

const h = getHarness();
const plain = { url: h.plain.url };
let proxy: FaultProxy;

beforeAll(async () => {
  proxy = await startFaultProxy(h.plain.url);
});
afterAll(async () => {
  await proxy?.close();
});



async function until(what: string, cond: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('SIGINT', () => {
  it('during a pull: exit 130, no temporary files, store verify passes, and the next pull completes', async () => {
    const repo = uniqueRepo('intr');
    const img = await buildImage({ layers: 2, layerSize: 512 * 1024 });
    await seedImage(plain, repo, 'v1', img);
    const layer = img.layers[1]!;
    // the second layer stops after 64 KiB and hangs there: the pull is mid-blob when the user presses Ctrl-C
    proxy.add({ kind: 'stall', afterBytes: 64 * 1024, method: 'GET', path: layer.digest });
    const home = freshHome();
    const ref = `${proxy.host}/${repo}:v1`;
    const run = startCli(['pull', ref], { env: home.env, timeoutMs: 30_000 });
    await until('the stalled layer download', () => proxy.hits.some((x) => x.method === 'GET' && x.path.includes(layer.digest)));
    // its partial bytes are on disk by now (kept under partial/ for the next run, or in tmp/ with DHE_NO_RESUME)
    await until('a temporary file in the store', () => tmpFiles(home.store).length + partialFiles(home.store).length > 0, 5_000);
    const t = Date.now();
    run.child.kill('SIGINT');
    const r = await run.result;
    const took = Date.now() - t;
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/^Error: .*interrupted/im);
    expect(tmpFiles(home.store)).toEqual([]);
    expect(storedBlobs(home.store)).not.toContain(layer.digest);
    const v = await runCli(['store', 'verify'], { env: home.env });
    expect(v.code).toBe(0);
    expect(v.stdout).toContain('Store OK');
    expect((await runCli(['images', '-q'], { env: home.env })).stdout).toBe('');

    proxy.clear();
    const again = await runCli(['pull', ref], { env: home.env });
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    expect(storedBlobs(home.store)).toEqual(expect.arrayContaining([layer.digest, img.layers[0]!.digest, img.config.digest, img.manifest.digest]));
    console.log(`[figures] SIGINT during pull: exit ${r.code} ${took} ms after the signal`);
  });

  it('during a push: exit 130 and the upload it started is cancelled (DELETE on the upload URL)', async () => {
    const src = uniqueRepo('intr');
    const img = await buildImage({ layers: 1, layerSize: 3 * 1024 * 1024 });
    await seedImage(plain, src, 'v1', img);
    const home = freshHome();
    const direct = `${h.plain.host}/${src}:v1`;
    expect((await runCli(['pull', direct], { env: home.env })).code).toBe(0);
    const repo = uniqueRepo('intrpush');
    const target = `${proxy.host}/${repo}:v1`;
    expect((await runCli(['tag', direct, target], { env: home.env })).code).toBe(0);
    // the registry never answers the layer's upload: the push hangs mid-blob
    proxy.add({ kind: 'stall', method: 'PATCH', path: `/v2/${repo}/blobs/uploads/` });
    const run = startCli(['push', target], { env: home.env, timeoutMs: 30_000 });
    await until('the stalled upload', () => proxy.hits.some((x) => x.method === 'PATCH' && x.path.includes(`/v2/${repo}/blobs/uploads/`)));
    const patch = proxy.hits.find((x) => x.method === 'PATCH' && x.path.includes(`/v2/${repo}/blobs/uploads/`))!;
    // the CLI says it is pushing that layer (the upload is its own, under way)
    await until('the layer push under way', () => /^[0-9a-f]{12}: Pushing /m.test(run.output().stdout));
    const t = Date.now();
    run.child.kill('SIGINT');
    const r = await run.result;
    const took = Date.now() - t;
    expect(r.code, r.stderr).toBe(130);
    // the Error line the user sees says so (not "cancelled" anywhere in the output)
    expect(r.stderr.split('\n')[0]).toMatch(/^Error: .*(interrupted|cancelled)/i);
    const uploadPath = patch.path.split('?')[0]!;
    const del = proxy.hits.filter((x) => x.method === 'DELETE' && x.path.split('?')[0] === uploadPath);
    expect(del).toHaveLength(1);
    expect(del[0]!.status).toBe(204);
    // nothing was named on the registry, and the local image is untouched
    expect((await fetchManifest(plain, repo, 'v1')).status).toBe(404);
    expect(tmpFiles(home.store)).toEqual([]);
    expect((await runCli(['store', 'verify'], { env: home.env })).code).toBe(0);
    console.log(`[figures] SIGINT during push: exit ${r.code} ${took} ms after the signal, DELETE ${uploadPath} → ${del[0]!.status}`);
  });

  async function stalledPush(stallDelete: boolean) {
    const src = uniqueRepo('intr');
    const img = await buildImage({ layers: 1, layerSize: 3 * 1024 * 1024 });
    await seedImage(plain, src, 'v1', img);
    const home = freshHome();
    const direct = `${h.plain.host}/${src}:v1`;
    expect((await runCli(['pull', direct], { env: home.env })).code).toBe(0);
    const repo = uniqueRepo('intrpush');
    const target = `${proxy.host}/${repo}:v1`;
    expect((await runCli(['tag', direct, target], { env: home.env })).code).toBe(0);
    proxy.add({ kind: 'stall', method: 'PATCH', path: `/v2/${repo}/blobs/uploads/` });
    if (stallDelete) proxy.add({ kind: 'stall', method: 'DELETE', path: `/v2/${repo}/blobs/uploads/` });
    const run = startCli(['push', target], { env: home.env, timeoutMs: 60_000 });
    await until('the stalled upload', () => proxy.hits.some((x) => x.method === 'PATCH' && x.path.includes(`/v2/${repo}/blobs/uploads/`)));
    await until('the layer push under way', () => /^[0-9a-f]{12}: Pushing /m.test(run.output().stdout));
    return { run, repo };
  }

  it('during a push to a registry that does not answer the cancel either: exit 130 within a bounded time', async () => {
    const { run, repo } = await stalledPush(true);
    const t = Date.now();
    run.child.kill('SIGINT');
    const r = await run.result;
    const took = Date.now() - t;
    expect(r.code, r.stderr).toBe(130);
    // the DELETE was tried, and given up after its own short timeout (not the 120 s read timeout)
    expect(proxy.hits.some((x) => x.method === 'DELETE' && x.path.includes(`/v2/${repo}/blobs/uploads/`))).toBe(true);
    expect(took).toBeLessThan(10_000);
    console.log(`[figures] SIGINT during push, cancel unanswered: exit ${r.code} ${took} ms after the signal`);
  });

  it('a second SIGINT exits 130 at once, even while the cancel hangs', async () => {
    const { run, repo } = await stalledPush(true);
    run.child.kill('SIGINT');
    // the first Ctrl-C started the cancel, which now hangs at the proxy
    await until('the cancel (DELETE) to hang', () => proxy.hits.some((x) => x.method === 'DELETE' && x.path.includes(`/v2/${repo}/blobs/uploads/`)));
    expect(run.child.exitCode).toBeNull();
    const t = Date.now();
    run.child.kill('SIGINT');
    const r = await run.result;
    expect(r.code, r.stderr).toBe(130);
    expect(Date.now() - t).toBeLessThan(1_500);
  });
});
