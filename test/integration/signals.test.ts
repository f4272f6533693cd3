// SIGTERM through the real CLI, as a CI runner or `timeout` sends it: every command ends within a second, exit 143,
// with an `Error:` line and no temporary files left — mid-load (an archive on standard input that stops half-way through a layer),
// mid-pull (a layer download stalled by the fault proxy) and while login waits for a password on standard input.
import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTar, sha256 } from '../../fixtures/archives/helpers.js';
import { getHarness } from '../harness/index.js';
import { startFaultProxy, type FaultProxy } from '../harness/fault-proxy.js';
import { freshHome, runCli, startCli } from '../helpers/cli.js';
import { buildImage, seedImage, uniqueRepo } from '../helpers/images.js';
import { leases, partialFiles, storedBlobs, tmpFiles } from '../helpers/store.js';
import { waitFor } from '../helpers/wait.js';

/** waitFor with this file's argument order (what first). */
const untilCond = (what: string, cond: () => boolean, ms = 15_000) => waitFor(cond, what, ms, 10);

const h = getHarness();
let proxy: FaultProxy;
beforeAll(async () => {
  proxy = await startFaultProxy(h.plain.url);
});
afterAll(async () => {
  await proxy?.close();
});



/** Sends SIGTERM and measures until the process has exited (its 'close'). */
async function term(run: ReturnType<typeof startCli>) {
  const t = Date.now();
  run.child.kill('SIGTERM');
  await run.exited;
  const took = Date.now() - t;
  return { ...(await run.result), took };
}

describe('SIGTERM', () => {
  it('mid-load (a slow archive, its layer half-stored): exit 143 within 1 s, Error line, no temporary files, nothing kept', async () => {
    // an OCI archive whose 8 MiB layer comes first; the test writes it through a FIFO and stops half-way
    const layer = randomBytes(8 << 20);
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256('{}'), size: 2 }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.length }] }));
    const tar = await makeTar({
      [`blobs/sha256/${sha256(layer).slice(7)}`]: layer,
      [`blobs/sha256/${sha256('{}').slice(7)}`]: '{}',
      [`blobs/sha256/${sha256(manifest).slice(7)}`]: manifest,
      'index.json': JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(manifest), size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': 'slow/app:v1' } }] }),
    });
    const home = freshHome();
    // the archive comes on standard input, as in `docker save … | dhe-cli load`, and stops coming half-way
    const run = startCli(['load'], { env: home.env, keepStdin: true, timeoutMs: 30_000 });
    const child = run.child;
    child.stdin!.write(tar.subarray(0, 6 << 20)); // 6 of the layer's 8 MiB: the store writes in 512 KiB steps
    try {
      // precondition: the load is really mid-way, bytes of the layer are in a temporary file of the store
      await untilCond('a partly written layer in the store', () =>
        tmpFiles(home.store).some((f) => f.endsWith('.partial') && statSync(join(home.store, 'tmp', f), { throwIfNoEntry: false })?.size! > 1 << 20),
      );
      const t = Date.now();
      child.kill('SIGTERM');
      await run.exited;
      const took = Date.now() - t;
      const { code, stderr } = await run.result;
      expect(code, stderr).toBe(143);
      expect(stderr).toMatch(/^Error: interrupted/m);
      expect(took).toBeLessThan(1_000);
      expect(tmpFiles(home.store)).toEqual([]);
      expect(leases(home.store)).toEqual([]);
      expect(storedBlobs(home.store)).toEqual([]);
      expect((await runCli(['images', '-q'], { env: home.env })).stdout).toBe('');
      console.log(`[figures] SIGTERM mid-load: exit ${code} ${took} ms after the signal`);
    } finally {
      child.kill('SIGKILL');
      child.stdin!.destroy();
    }
  });

  it('mid-pull (a layer download stalled): exit 143 within 1 s, Error line, no temporary files, store verify passes', async () => {
    const repo = uniqueRepo('term');
    const img = await buildImage({ layers: 2, layerSize: 512 * 1024 });
    await seedImage({ url: h.plain.url }, repo, 'v1', img);
    const layer = img.layers[1]!;
    proxy.add({ kind: 'stall', afterBytes: 64 * 1024, method: 'GET', path: layer.digest });
    const home = freshHome();
    const run = startCli(['pull', `${proxy.host}/${repo}:v1`], { env: home.env, timeoutMs: 30_000 });
    await untilCond('the stalled layer download', () => proxy.hits.some((x) => x.method === 'GET' && x.path.includes(layer.digest)));
    // on disk: kept under partial/ for the next run (tmp/ with DHE_NO_RESUME)
    await untilCond('a temporary file in the store', () => tmpFiles(home.store).length + partialFiles(home.store).length > 0, 5_000);
    const r = await term(run);
    expect(r.code, r.stderr).toBe(143);
    expect(r.stderr).toMatch(/^Error: .*interrupted/m);
    expect(r.took).toBeLessThan(1_000);
    expect(tmpFiles(home.store)).toEqual([]);
    expect(leases(home.store)).toEqual([]);
    const v = await runCli(['store', 'verify'], { env: home.env });
    expect(v.code).toBe(0);
    expect((await runCli(['images', '-q'], { env: home.env })).stdout).toBe('');
    proxy.clear();
    console.log(`[figures] SIGTERM mid-pull: exit ${r.code} ${r.took} ms after the signal`);
  });

  it('mid-push to a registry that answers neither the upload nor its cancel: exit 143 within 1 s all the same', async () => {
    // SIGINT waits up to ~5 s for the cancel (interrupt.test.ts); SIGTERM's deadline cuts it short, and the lease
    // file the push holds is removed on the way out
    const src = uniqueRepo('term');
    const img = await buildImage({ layers: 1, layerSize: 3 * 1024 * 1024 });
    await seedImage({ url: h.plain.url }, src, 'v1', img);
    const home = freshHome();
    const direct = `${h.plain.host}/${src}:v1`;
    expect((await runCli(['pull', direct], { env: home.env })).code).toBe(0);
    const repo = uniqueRepo('termpush');
    const target = `${proxy.host}/${repo}:v1`;
    expect((await runCli(['tag', direct, target], { env: home.env })).code).toBe(0);
    proxy.add({ kind: 'stall', method: 'PATCH', path: `/v2/${repo}/blobs/uploads/` });
    proxy.add({ kind: 'stall', method: 'DELETE', path: `/v2/${repo}/blobs/uploads/` });
    const run = startCli(['push', target], { env: home.env, timeoutMs: 30_000 });
    await untilCond('the stalled upload', () => proxy.hits.some((x) => x.method === 'PATCH' && x.path.includes(`/v2/${repo}/blobs/uploads/`)));
    const r = await term(run);
    expect(r.code, r.stderr).toBe(143);
    expect(r.stderr).toMatch(/^Error: .*(interrupted|cancelled)/m);
    expect(r.took).toBeLessThan(1_000);
    expect(tmpFiles(home.store)).toEqual([]);
    expect(leases(home.store)).toEqual([]);
    expect((await runCli(['store', 'verify'], { env: home.env })).code).toBe(0);
    proxy.clear();
    console.log(`[figures] SIGTERM mid-push, cancel unanswered: exit ${r.code} ${r.took} ms after the signal`);
  });

  it('while login waits for the password on standard input: exit 143 within 1 s, nothing stored', async () => {
    const home = freshHome();
    mkdirSync(home.config, { mode: 0o755 });
    chmodSync(home.config, 0o755);
    // stdin stays open and silent: the password never comes
    const run = startCli(['login', h.plain.host, '-u', 'someone', '--password-stdin'], { env: home.env, keepStdin: true, timeoutMs: 30_000 });
    // precondition: login is running, right before it reads standard input — it warns about the shared config
    // folder the test made (mode 0755) just before
    await untilCond('login to start', () => run.output().stderr.includes('WARNING: '));
    const t = Date.now();
    run.child.kill('SIGTERM');
    await run.exited;
    const took = Date.now() - t;
    run.child.stdin!.end();
    const { code, stderr } = await run.result;
    expect(code, stderr).toBe(143);
    expect(stderr).toMatch(/^Error: interrupted/m);
    expect(took).toBeLessThan(1_000);
    expect(existsSync(join(home.config, 'config.json'))).toBe(false);
    console.log(`[figures] SIGTERM during login --password-stdin: exit ${code} ${took} ms after the signal`);
  });
});
