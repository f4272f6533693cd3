// copy: registry → registry through the real CLI, streaming (no local store), preserving digests.

import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startFaultProxy, type FaultProxy } from '../harness/fault-proxy.js';
import { getHarness } from '../harness/index.js';
import { freshHome, runCli } from '../helpers/cli.js';
import { loggedInHome } from '../helpers/docker-config.js';
import { buildImage, fetchManifest, seedImage, seedIndex, uniqueRepo, type Target } from '../helpers/images.js';
import { blobBytes, storedBlobs } from '../helpers/store.js';
import { basicTarget, bearerTarget } from '../helpers/token.js';

const h = getHarness();
const plain: Target = { url: h.plain.url };
const full = h.users.full;

const storeIsEmpty = (store: string) => storedBlobs(store).length === 0;

describe('copy', () => {
  it('plain → another repository of the same registry mounts every blob and keeps the digest; no local store is written', async () => {
    const home = freshHome();
    const srcRepo = uniqueRepo('copysrc');
    const dstRepo = uniqueRepo('copydst');
    const img = await buildImage({ layers: 2 });
    await seedImage(plain, srcRepo, 'v1', img);
    const r = await runCli(['copy', `${h.plain.host}/${srcRepo}:v1`, `${h.plain.host}/${dstRepo}:v2`], { env: home.env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`The push refers to repository [${h.plain.host}/${dstRepo}]`);
    for (const l of img.layers) expect(r.stdout).toContain(`${l.digest.slice(7, 19)}: Mounted from ${srcRepo}`);
    expect(r.stdout).toContain(`v2: digest: ${img.manifest.digest} size: ${img.manifest.size}`);
    expect(r.stdout.trim().split('\n').pop()).toBe(`${h.plain.host}/${dstRepo}@${img.manifest.digest}`);
    const served = await fetchManifest(plain, dstRepo, 'v2');
    expect(served.status).toBe(200);
    expect(served.bytes).toEqual(img.manifest.bytes);
    expect(storeIsEmpty(home.store)).toBe(true);

    // -q: only the result
    const q = await runCli(['-q', 'copy', `${h.plain.host}/${srcRepo}:v1`, `${h.plain.host}/${dstRepo}:v3`], { env: home.env });
    expect(q.code).toBe(0);
    expect(q.stdout).toBe(`${h.plain.host}/${dstRepo}@${img.manifest.digest}\n`);
  });

  it('plain → DHE (token auth behind nginx with a 4 MiB body limit) streams a ~10 MiB layer and keeps the digest', async () => {
    const home = loggedInHome({ [h.dhe.host]: full });
    const srcRepo = uniqueRepo('copysrc');
    const dstRepo = uniqueRepo('copydhe');
    const img = await buildImage({ layers: 2, layerSize: 10 * 1024 * 1024 });
    expect(img.layers[0]!.size).toBeGreaterThan(h.dhe.bodyLimitBytes * 2);
    await seedImage(plain, srcRepo, 'v1', img);
    const r = await runCli(['copy', `${h.plain.host}/${srcRepo}:v1`, `${h.dhe.host}/${dstRepo}:v1`], { env: home.env, timeoutMs: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    for (const l of img.layers) expect(r.stdout).toContain(`${l.digest.slice(7, 19)}: Pushed`);
    const t = await bearerTarget(h.dhe, dstRepo);
    const served = await fetchManifest(t, dstRepo, 'v1');
    expect(served.status).toBe(200);
    expect(served.digest).toBe(img.manifest.digest);
    expect(served.bytes).toEqual(img.manifest.bytes);
    expect(storeIsEmpty(home.store)).toBe(true);

    // and it pulls back from DHE by digest into a store, byte for byte
    const back = await runCli(['pull', `${h.dhe.host}/${dstRepo}@${img.manifest.digest}`], { env: home.env, timeoutMs: 120_000 });
    expect(back.code).toBe(0);
    for (const b of [img.config, ...img.layers]) {
      expect(blobBytes(home.store, b.digest).equals(b.bytes)).toBe(true);
    }
  });

  it('basic → token: both registries authenticated, digest kept', async () => {
    const home = loggedInHome({ [h.basic.host]: full, [h.token.host]: full });
    const repo = uniqueRepo('copybasic');
    const img = await buildImage({ format: 'docker', layers: 2 });
    await seedImage(basicTarget(h.basic), repo, 'v1', img);
    const r = await runCli(['copy', `${h.basic.host}/${repo}:v1`, `${h.token.host}/${repo}:v1`], { env: home.env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const t = await bearerTarget(h.token, repo);
    const served = await fetchManifest(t, repo, 'v1');
    expect(served.status).toBe(200);
    expect(served.digest).toBe(img.manifest.digest);
    expect(served.contentType).toBe('application/vnd.docker.distribution.manifest.v2+json');
  });

  it('--all-platforms copies a whole OCI index and a docker manifest list, keeping the index digest', async () => {
    for (const format of ['oci', 'docker'] as const) {
      const home = loggedInHome({ [h.token.host]: full });
      const srcRepo = uniqueRepo('copyidx');
      const dstRepo = uniqueRepo('copyidx');
      const amd = await buildImage({ format, layers: 1, platform: { os: 'linux', architecture: 'amd64' } });
      const arm = await buildImage({ format, layers: 1, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
      const index = await seedIndex(plain, srcRepo, 'multi', [amd, arm], format);
      const r = await runCli(['copy', '--all-platforms', `${h.plain.host}/${srcRepo}:multi`, `${h.token.host}/${dstRepo}:multi`], {
        env: home.env,
      });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).not.toContain('one platform');
      expect(r.stdout).toContain(`multi: digest: ${index.digest} size: ${index.size}`);
      const t = await bearerTarget(h.token, dstRepo);
      const served = await fetchManifest(t, dstRepo, 'multi');
      expect(served.status).toBe(200);
      expect(served.digest).toBe(index.digest);
      for (const child of [amd, arm]) {
        const m = await fetchManifest(t, dstRepo, child.manifest.digest);
        expect(m.status).toBe(200);
        expect(m.bytes).toEqual(child.manifest.bytes);
      }
      expect(storeIsEmpty(home.store)).toBe(true);
    }
  });

  it('without --all-platforms copies the one platform asked for, and says so', async () => {
    const home = freshHome();
    const srcRepo = uniqueRepo('copyidx');
    const dstRepo = uniqueRepo('copyone');
    const amd = await buildImage({ layers: 1, platform: { os: 'linux', architecture: 'amd64' } });
    const arm = await buildImage({ layers: 1, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
    await seedIndex(plain, srcRepo, 'multi', [amd, arm]);
    const r = await runCli(['--platform', 'linux/arm64', 'copy', `${h.plain.host}/${srcRepo}:multi`, `${h.plain.host}/${dstRepo}:arm`], {
      env: home.env,
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/one platform \(linux\/arm64\/v8\).*--all-platforms/);
    const served = await fetchManifest(plain, dstRepo, 'arm');
    expect(served.digest).toBe(arm.manifest.digest);
    expect((await fetchManifest(plain, dstRepo, amd.manifest.digest)).status).toBe(404);
  });

  it('a destination digest that is not the source digest is refused with exit 2 before anything is written', async () => {
    const home = freshHome();
    const srcRepo = uniqueRepo('copysrc');
    const dstRepo = uniqueRepo('copydst');
    await seedImage(plain, srcRepo, 'v1', await buildImage({ layers: 1 }));
    const wrong = `sha256:${'1'.repeat(64)}`;
    const r = await runCli(['copy', `${h.plain.host}/${srcRepo}:v1`, `${h.plain.host}/${dstRepo}@${wrong}`], { env: home.env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^Error: .*not the ${wrong}`, 'm'));
    expect(r.stdout).toBe('');
    expect((await fetchManifest(plain, dstRepo, wrong)).status).toBe(404);
  });

  describe('a source that serves a wrong byte', () => {
    let proxy: FaultProxy | undefined;
    afterAll(async () => {
      await proxy?.close();
    });

    it('ends in exit 7 naming the source, read once; the destination gets neither the blob nor the manifest', async () => {
      proxy = await startFaultProxy(h.plain.url);
      const home = freshHome();
      const srcRepo = uniqueRepo('copybad');
      const dstRepo = uniqueRepo('copydst');
      const img = await buildImage({ layers: 1, layerSize: 3 * 1024 * 1024 });
      await seedImage(plain, srcRepo, 'v1', img);
      const layer = img.layers[0]!;
      proxy.add({ kind: 'flip-byte', offset: 123_457, method: 'GET', path: layer.digest, times: Infinity });
      // the source is the proxy (another registry name than the destination: no mount, the bytes flow through us)
      const r = await runCli(['copy', `${proxy.host}/${srcRepo}:v1`, `${h.plain.host}/${dstRepo}:v1`], { env: home.env });
      expect(r.code).toBe(7);
      const lines = r.stderr.trim().split('\n');
      expect(lines[0]).toMatch(new RegExp(`^Error: blob ${layer.digest} read from ${proxy.host.replace(/[.]/g, '\\.')}/${srcRepo} does not match its digest \\(its content hashes to sha256:[0-9a-f]{64}\\)$`));
      expect(lines[1]).toMatch(/^Hint: the source registry, its storage or something between altered the content/);
      expect(lines).toHaveLength(2);
      // an integrity failure is not the network's: the layer was read once, not retried
      expect(proxy.hits.filter((x) => x.method === 'GET' && x.path.endsWith(layer.digest))).toHaveLength(1);
      expect((await fetch(`${h.plain.url}/v2/${dstRepo}/blobs/${layer.digest}`, { method: 'HEAD' })).status).toBe(404);
      expect((await fetchManifest(plain, dstRepo, 'v1')).status).toBe(404);
      expect(storeIsEmpty(home.store)).toBe(true);
    });
  });

  it('a missing source exits 5 and says what is missing', async () => {
    const home = freshHome();
    const repo = uniqueRepo('copymiss');
    await seedImage(plain, repo, 'v1', await buildImage({ layers: 1 }));
    const r = await runCli(['copy', `${h.plain.host}/${repo}:nope`, `${h.plain.host}/${uniqueRepo('copydst')}:v1`], { env: home.env });
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/^Error: .*nope.*not found|^Error: .*manifest unknown/m);
    expect(r.stderr).toMatch(/^Hint: /m);
    expect(r.stdout).toBe('');
  });

  it('a destination the user may only pull from exits 3, without leaking the password', async () => {
    const home = loggedInHome({ [h.token.host]: h.users.pullonly });
    const repo = uniqueRepo('copydeny');
    await seedImage(plain, repo, 'v1', await buildImage({ layers: 1 }));
    const r = await runCli(['copy', `${h.plain.host}/${repo}:v1`, `${h.token.host}/${repo}:v1`], { env: home.env });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^Error: .*(denied|insufficient scope)/im);
    expect(r.stderr).toMatch(/^Hint: /m);
    expect(r.stderr).not.toContain(h.users.pullonly.password);
    expect(storeIsEmpty(home.store)).toBe(true);
  });
});
