// The everyday job, through the real CLI against the real registry: pull, tag, push, images, rmi, prune, inspect.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { getHarness } from '../harness/index.js';
import { startFaultProxy } from '../harness/fault-proxy.js';
import { BIN, cliEnv, freshHome, runCli } from '../helpers/cli.js';
import { buildImage, fetchManifest, seedImage, seedIndex, uniqueRepo } from '../helpers/images.js';
import { partialSizes, storedBlobs } from '../helpers/store.js';
import { waitFor } from '../helpers/wait.js';

const h = getHarness();
const plain = { url: h.plain.url };

describe('pull', () => {
  it('pulls an image, then a re-pull downloads nothing and says it is up to date', async () => {
    const repo = uniqueRepo('core');
    const img = await buildImage({ layers: 3 });
    await seedImage(plain, repo, 'v1', img);
    const home = freshHome();
    const ref = `${h.plain.host}/${repo}:v1`;

    const first = await runCli(['pull', ref], { env: home.env });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`v1: Pulling from ${repo}`);
    for (const l of img.layers) expect(first.stdout).toContain(`${l.digest.slice(7, 19)}: Pull complete`);
    expect(first.stdout).toContain(`Digest: ${img.manifest.digest}`);
    expect(first.stdout).toContain(`Status: Downloaded newer image for ${ref}`);
    expect(first.stdout.trim().split('\n').pop()).toBe(ref);

    const second = await runCli(['pull', ref], { env: home.env });
    expect(second.code).toBe(0);
    expect(second.stdout).not.toContain('Pull complete');
    for (const l of img.layers) expect(second.stdout).toContain(`${l.digest.slice(7, 19)}: Already exists`);
    expect(second.stdout).toContain(`Status: Image is up to date for ${ref}`);

    // every blob in the store hashes to its name, and the layers are there byte for byte
    const files = storedBlobs(home.store);
    for (const b of [img.config, ...img.layers, img.manifest]) expect(files).toContain(b.digest);

    const images = await runCli(['images'], { env: home.env });
    expect(images.code).toBe(0);
    const lines = images.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
    const row = lines.find((l) => l.startsWith(`${h.plain.host}/${repo} `));
    expect(row).toBeDefined();
    expect(row).toContain(' v1 ');
    expect(row).toContain(img.config.digest.slice(7, 19));
    expect(row).toMatch(/(Less than a second|1 second|\d+ seconds|About a minute) ago/);
  });

  it('-q prints only the reference', async () => {
    const repo = uniqueRepo('core');
    await seedImage(plain, repo, 'latest', await buildImage({ layers: 1 }));
    const home = freshHome();
    const r = await runCli(['-q', 'pull', `${h.plain.host}/${repo}`], { env: home.env });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${h.plain.host}/${repo}:latest\n`);
  });

  it('says what is missing, with exit 5, for an unknown tag', async () => {
    const repo = uniqueRepo('core');
    await seedImage(plain, repo, 'v1', await buildImage({ layers: 1 }));
    const home = freshHome();
    const r = await runCli(['pull', `${h.plain.host}/${repo}:nope`], { env: home.env });
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/^Error: .*(manifest unknown|not found)/im);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('rejects a bad reference with exit 2 and names the problem', async () => {
    const home = freshHome();
    const r = await runCli(['pull', 'Foo/Bar:latest'], { env: home.env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^Error: .*must be lowercase/m);
  });

  it('pulls each platform of an OCI index and of a docker manifest list', async () => {
    for (const format of ['oci', 'docker'] as const) {
      const repo = uniqueRepo('multi');
      const amd = await buildImage({ format, platform: { os: 'linux', architecture: 'amd64' } });
      const arm = await buildImage({ format, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
      const index = await seedIndex(plain, repo, 'multi', [amd, arm], format);
      const home = freshHome();
      const ref = `${h.plain.host}/${repo}:multi`;
      const a = await runCli(['pull', '--platform', 'linux/amd64', ref], { env: home.env });
      expect(a.code).toBe(0);
      expect(a.stdout).toContain(`Digest: ${index.digest}`);
      const ia = JSON.parse((await runCli(['inspect', '--platform', 'linux/amd64', ref], { env: home.env })).stdout);
      expect(ia.digest).toBe(index.digest);
      expect(ia.config.architecture).toBe('amd64');

      const b = await runCli(['pull', '--platform', 'linux/arm64', ref], { env: home.env });
      expect(b.code).toBe(0);
      const ib = JSON.parse((await runCli(['inspect', '--platform', 'linux/arm64', ref], { env: home.env })).stdout);
      expect(ib.config.architecture).toBe('arm64');
      expect(ib.platformDigest).toBe(arm.manifest.digest);
      const names = storedBlobs(home.store);
      for (const blob of [amd.config, arm.config, ...amd.layers, ...arm.layers]) expect(names).toContain(blob.digest);

      const none = await runCli(['pull', '--platform', 'windows/amd64', ref], { env: home.env });
      expect(none.code).toBe(5);
      expect(none.stderr).toContain('linux/arm64');
    }
  });

  it('pulls by digest', async () => {
    const repo = uniqueRepo('core');
    const img = await buildImage({ layers: 1 });
    await seedImage(plain, repo, 'v1', img);
    const home = freshHome();
    const ref = `${h.plain.host}/${repo}@${img.manifest.digest}`;
    const r = await runCli(['pull', ref], { env: home.env });
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n').pop()).toBe(ref);
    const bad = await runCli(['pull', `${h.plain.host}/${repo}@sha256:${'0'.repeat(64)}`], { env: home.env });
    expect(bad.code).toBe(5);
  });
});

describe('tag, push, rmi, prune', () => {
  it('tags, pushes, says "Layer already exists" the second time and "Mounted from" into another repository', async () => {
    const srcRepo = uniqueRepo('src');
    const img = await buildImage({ layers: 2 });
    await seedImage(plain, srcRepo, 'v1', img);
    const home = freshHome();
    expect((await runCli(['pull', `${h.plain.host}/${srcRepo}:v1`], { env: home.env })).code).toBe(0);

    const dstRepo = uniqueRepo('dst');
    const target = `${h.plain.host}/${dstRepo}:v2`;
    const t = await runCli(['tag', `${h.plain.host}/${srcRepo}:v1`, target], { env: home.env });
    expect(t.code).toBe(0);

    const push = await runCli(['push', target], { env: home.env });
    expect(push.stderr).toBe('');
    expect(push.code).toBe(0);
    expect(push.stdout).toContain(`The push refers to repository [${h.plain.host}/${dstRepo}]`);
    for (const l of img.layers) expect(push.stdout).toContain(`${l.digest.slice(7, 19)}: Mounted from ${srcRepo}`);
    expect(push.stdout).toContain(`v2: digest: ${img.manifest.digest} size: ${img.manifest.size}`);

    const again = await runCli(['push', target], { env: home.env });
    expect(again.code).toBe(0);
    for (const l of img.layers) expect(again.stdout).toContain(`${l.digest.slice(7, 19)}: Layer already exists`);

    // the registry serves exactly the bytes we had
    const served = await fetchManifest(plain, dstRepo, 'v2');
    expect(served.status).toBe(200);
    expect(served.digest).toBe(img.manifest.digest);
  });

  it('pushes an image new to the registry ("Pushed"), and it pulls back by digest with identical bytes', async () => {
    const home = freshHome();
    const srcRepo = uniqueRepo('src');
    const img = await buildImage({ layers: 2, layerSize: 300_000 });
    await seedImage(plain, srcRepo, 'v1', img);
    expect((await runCli(['pull', `${h.plain.host}/${srcRepo}:v1`], { env: home.env })).code).toBe(0);
    // a second registry (token auth behind the DHE-style front) has none of these blobs
    const dockerDir = home.env.DOCKER_CONFIG as string;
    mkdirSync(dockerDir, { recursive: true });
    const auth = Buffer.from(`${h.users.full.username}:${h.users.full.password}`).toString('base64');
    writeFileSync(join(dockerDir, 'config.json'), JSON.stringify({ auths: { [h.dhe.host]: { auth } } }));
    const env = { ...home.env, DHE_CA_CERT: h.caCert };
    const target = `${h.dhe.host}/${uniqueRepo('pushed')}:v1`;
    expect((await runCli(['tag', `${h.plain.host}/${srcRepo}:v1`, target], { env })).code).toBe(0);
    const push = await runCli(['push', target], { env });
    expect(push.stderr).toBe('');
    expect(push.code).toBe(0);
    for (const l of img.layers) expect(push.stdout).toContain(`${l.digest.slice(7, 19)}: Pushed`);

    const other = freshHome();
    const env2 = { ...other.env, DOCKER_CONFIG: dockerDir, DHE_CA_CERT: h.caCert };
    const byDigest = `${target.replace(/:v1$/, '')}@${img.manifest.digest}`;
    const back = await runCli(['pull', byDigest], { env: env2 });
    expect(back.stderr).toBe('');
    expect(back.code).toBe(0);
    for (const b of [img.config, ...img.layers]) {
      expect(readFileSync(join(other.store, 'blobs', 'sha256', b.digest.slice(7)))).toEqual(b.bytes);
    }
  });

  it('a pull-only user gets exit 3 on push, over token auth', async () => {
    const home = freshHome();
    const repo = uniqueRepo('tok');
    const img = await buildImage({ layers: 1 });
    await seedImage(plain, repo, 'v1', img);
    expect((await runCli(['pull', `${h.plain.host}/${repo}:v1`], { env: home.env })).code).toBe(0);
    mkdirSync(home.env.DOCKER_CONFIG as string, { recursive: true });
    const auth = Buffer.from(`${h.users.pullonly.username}:${h.users.pullonly.password}`).toString('base64');
    writeFileSync(join(home.env.DOCKER_CONFIG as string, 'config.json'), JSON.stringify({ auths: { [h.token.host]: { auth } } }));
    const env = { ...home.env, DHE_CA_CERT: h.caCert };
    const target = `${h.token.host}/${repo}:v1`;
    expect((await runCli(['tag', `${h.plain.host}/${repo}:v1`, target], { env })).code).toBe(0);
    const push = await runCli(['push', target], { env });
    expect(push.code).toBe(3);
    expect(push.stderr).toMatch(/^Error: .*(denied|insufficient|unauthorized|not allowed)/im);
    expect(push.stderr).not.toContain(h.users.pullonly.password);
  });

  it('push of an image that is not local says so with exit 5', async () => {
    const home = freshHome();
    const r = await runCli(['push', `${h.plain.host}/nothing/here:v1`], { env: home.env });
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/^Error: no such image in the local store/m);
    expect(r.stderr).toMatch(/^Hint: .*dhe-cli pull/m);
  });

  it('rmi removes one name only; prune frees what no name needs', async () => {
    const repo = uniqueRepo('rmi');
    const img = await buildImage({ layers: 2 });
    await seedImage(plain, repo, 'v1', img);
    const home = freshHome();
    const ref = `${h.plain.host}/${repo}:v1`;
    expect((await runCli(['pull', ref], { env: home.env })).code).toBe(0);
    expect((await runCli(['tag', ref, 'localhost:5999/other:x'], { env: home.env })).code).toBe(0);
    const r1 = await runCli(['rmi', ref], { env: home.env });
    expect(r1.code).toBe(0);
    expect(r1.stdout).toContain(`Untagged: ${ref}`);
    const p1 = await runCli(['prune'], { env: home.env });
    expect(p1.stdout).toContain('Deleted 0 blobs');
    const list = await runCli(['images', '-q'], { env: home.env });
    expect(list.stdout.trim()).toBe(img.config.digest.slice(7, 19));
    expect((await runCli(['rmi', 'localhost:5999/other:x'], { env: home.env })).code).toBe(0);
    const p2 = await runCli(['prune'], { env: home.env });
    expect(p2.code).toBe(0);
    expect(p2.stdout).toMatch(/Deleted [1-9]\d* blobs/);
    expect(storedBlobs(home.store)).toEqual([]);
    const missing = await runCli(['rmi', ref], { env: home.env });
    expect(missing.code).toBe(5);
  });
});

describe('a store shared by processes', () => {
  it('two pulls of the same image at once both succeed and leave a consistent store', async () => {
    const repo = uniqueRepo('conc');
    const img = await buildImage({ layers: 4, layerSize: 200_000 });
    await seedImage(plain, repo, 'v1', img);
    const home = freshHome();
    const ref = `${h.plain.host}/${repo}:v1`;
    const [a, b] = await Promise.all([runCli(['pull', ref], { env: home.env }), runCli(['pull', ref], { env: home.env })]);
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    expect(() => storedBlobs(home.store), 'a blob does not hash to its name').not.toThrow();
    const v = await runCli(['store', 'verify'], { env: home.env });
    expect(v.code).toBe(0);
  });

  it('a pull killed part-way leaves only whole, verified blobs; the next pull completes', async () => {
    const repo = uniqueRepo('kill');
    const img = await buildImage({ layers: 2, layerSize: 6 * 1024 * 1024 });
    await seedImage(plain, repo, 'v1', img);
    // both layers come at 4 MB/s through the fault proxy (the store writes in 4 MiB pieces): the pull is surely mid-layer when it is killed
    const proxy = await startFaultProxy(h.plain.url);
    try {
      for (const l of img.layers) proxy.add({ kind: 'throttle', bytesPerSecond: 4_000_000, method: 'GET', path: l.digest });
      const home = freshHome();
      const ref = `${proxy.host}/${repo}:v1`;
      const child = spawn(process.execPath, [BIN, 'pull', ref], { env: cliEnv({ env: home.env }), stdio: 'ignore' });
      const exited = new Promise<[number | null, NodeJS.Signals | null]>((r) => child.on('close', (code, signal) => r([code, signal])));
      // kill it once a layer download is under way: a temporary file in the store holding some of its bytes
      const tmpDir = join(home.store, 'tmp');
      const partial = await waitFor(
        () => {
          try {
            // a layer's bytes (over 1 MiB: the config's brief temp file is a few hundred bytes), while its GET is throttled
            if (!proxy.hits.some((x) => x.fault === 'throttle')) return undefined;
            // in tmp/, or kept under partial/ for the next run (where a layer download goes unless DHE_NO_RESUME)
            return [...readdirSync(tmpDir).map((n) => statSync(join(tmpDir, n)).size), ...partialSizes(home.store)].find((size) => size > 1024 * 1024);
          } catch {
            return undefined; // not yet created
          }
        },
        'a temporary file with over 1 MiB of a layer in the store',
        30_000,
      );
      expect(proxy.hits.filter((x) => x.fault === 'throttle').length, 'a layer download was under way').toBeGreaterThanOrEqual(1);
      child.kill('SIGKILL');
      // it was still running (killed, not finished)
      expect(await exited).toEqual([null, 'SIGKILL']);
      expect(partial).toBeLessThan(6 * 1024 * 1024);
      const names = storedBlobs(home.store);
      expect(names).not.toContain(img.manifest.digest);
      expect(img.layers.every((l) => names.includes(l.digest)), 'not every layer was stored').toBe(false);
      proxy.clear();
      const again = await runCli(['pull', ref], { env: home.env });
      expect(again.code).toBe(0);
      expect(again.stdout).toContain('Status: Downloaded newer image');
      expect(() => storedBlobs(home.store), 'a blob does not hash to its name').not.toThrow();
    } finally {
      await proxy.close();
    }
  });
});
