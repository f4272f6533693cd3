// Remote listing and deletion through the real CLI: tags, catalog (with pagination), delete (and a registry
// that has deletes disabled: a private distribution 2.8.2 started here with its default, delete off).

import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getHarness } from '../harness/index.js';
import { freshHome, runCli } from '../helpers/cli.js';
import { loggedInHome } from '../helpers/docker-config.js';
import { buildImage, fetchManifest, seedImage, uniqueRepo, type Target } from '../helpers/images.js';
import { bearerTarget } from '../helpers/token.js';

const h = getHarness();
const plain: Target = { url: h.plain.url };

describe('tags', () => {
  it('lists the tags of a repository, as lines and as JSON; a missing repository exits 5', async () => {
    const repo = uniqueRepo('tags');
    const img = await buildImage({ layers: 1 });
    for (const t of ['v1', 'v2', 'latest']) await seedImage(plain, repo, t, img);
    const home = freshHome();
    const r = await runCli(['tags', `${h.plain.host}/${repo}`], { env: home.env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n').sort()).toEqual(['latest', 'v1', 'v2']);

    const j = await runCli(['tags', '--format', 'json', `${h.plain.host}/${repo}`], { env: home.env });
    expect(j.code).toBe(0);
    const doc = JSON.parse(j.stdout) as { name: string; tags: string[] };
    expect(doc.name).toBe(`${h.plain.host}/${repo}`);
    expect([...doc.tags].sort()).toEqual(['latest', 'v1', 'v2']);

    const missing = await runCli(['tags', `${h.plain.host}/${uniqueRepo('none')}`], { env: home.env });
    expect(missing.code).toBe(5);
    expect(missing.stderr).toMatch(/^Error: repository .* not found/m);
    expect(missing.stdout).toBe('');
  });

  it('over token auth: a user who may pull lists them; anonymous is told to log in (exit 3)', async () => {
    const repo = uniqueRepo('tags');
    await seedImage(await bearerTarget(h.token, repo, 'pull,push'), repo, 'v1', await buildImage({ layers: 1 }));
    const home = loggedInHome({ [h.token.host]: h.users.pullonly });
    const r = await runCli(['tags', `${h.token.host}/${repo}`], { env: home.env });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('v1\n');
    const anon = await runCli(['tags', `${h.token.host}/${repo}`], { env: { ...freshHome().env, DHE_CA_CERT: h.caCert } });
    expect(anon.code).toBe(3);
    expect(anon.stderr).toMatch(/^Hint: .*login/m);
  });
});

describe('catalog', () => {
  it('lists repositories of a registry (plain lines and JSON), and on a token registry with the catalog scope', async () => {
    const repo = uniqueRepo('cat');
    await seedImage(plain, repo, 'v1', await buildImage({ layers: 1 }));
    const home = freshHome();
    const r = await runCli(['catalog', h.plain.host], { env: home.env });
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')).toContain(repo);
    const j = await runCli(['catalog', '--format', 'json', `http://${h.plain.host}/`], { env: home.env });
    expect(j.code).toBe(0);
    const doc = JSON.parse(j.stdout) as { registry: string; repositories: string[] };
    expect(doc.registry).toBe(h.plain.host);
    expect(doc.repositories).toContain(repo);

    const trepo = uniqueRepo('cat');
    await seedImage(await bearerTarget(h.token, trepo, 'pull,push'), trepo, 'v1', await buildImage({ layers: 1 }));
    const t = await runCli(['catalog', h.token.host], { env: loggedInHome({ [h.token.host]: h.users.full }).env });
    expect(t.stderr).toBe('');
    expect(t.code).toBe(0);
    expect(t.stdout.split('\n')).toContain(trepo);

    // a user without registry:catalog:* is told what permission it takes
    const denied = await runCli(['catalog', h.token.host], { env: loggedInHome({ [h.token.host]: h.users.pullonly }).env });
    expect(denied.code).toBe(3);
    expect(denied.stderr).toMatch(/^Hint: .*registry:catalog:\*.*dhe-cli tags/m);
  });
});

describe('delete', () => {
  it('resolves a tag to its digest, deletes it and says so; the tag then pulls with exit 5', async () => {
    const repo = uniqueRepo('del');
    const img = await buildImage({ layers: 1 });
    const t = await bearerTarget(h.token, repo, 'pull,push');
    await seedImage(t, repo, 'old', img);
    await seedImage(t, repo, 'keep', await buildImage({ layers: 1 }));
    const home = loggedInHome({ [h.token.host]: h.users.full });
    const ref = `${h.token.host}/${repo}:old`;
    const r = await runCli(['delete', ref], { env: home.env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`Deleted: ${h.token.host}/${repo}@${img.manifest.digest}\n`);
    expect((await fetchManifest(t, repo, img.manifest.digest)).status).toBe(404);

    const pull = await runCli(['pull', ref], { env: home.env });
    expect(pull.code).toBe(5);
    const tags = await runCli(['tags', `${h.token.host}/${repo}`], { env: home.env });
    expect(tags.stdout).toBe('keep\n');

    // by digest, and again: now it is gone → exit 5
    const again = await runCli(['delete', `${h.token.host}/${repo}@${img.manifest.digest}`], { env: home.env });
    expect(again.code).toBe(5);
    const missingTag = await runCli(['delete', ref], { env: home.env });
    expect(missingTag.code).toBe(5);
    expect(missingTag.stderr).toMatch(/^Error: .*old/m);
    expect(missingTag.stderr).toMatch(/^Hint: .*dhe-cli tags/m);
  });

  it('a user without the delete permission gets exit 3 and the manifest stays', async () => {
    const repo = uniqueRepo('del');
    const img = await buildImage({ layers: 1 });
    const t = await bearerTarget(h.token, repo, 'pull,push');
    await seedImage(t, repo, 'v1', img);
    const home = loggedInHome({ [h.token.host]: h.users.pullonly });
    const r = await runCli(['delete', `${h.token.host}/${repo}:v1`], { env: home.env });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^Error: .*(denied|insufficient scope)/im);
    expect(r.stderr).not.toContain(h.users.pullonly.password);
    expect((await fetchManifest(t, repo, 'v1')).digest).toBe(img.manifest.digest);
  });
});

// ---------------------------------------------------------------- a private registry: deletes off, many repositories

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe('a registry with deletes disabled and more repositories than one catalog page', () => {
  let dir = '';
  let child: ChildProcess | undefined;
  let host = '';
  let storage = '';

  beforeAll(async () => {
    // tmpfs when there is one: the catalog test makes a thousand folders, slow to remove on a busy disk
    dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'dhe-remote-reg-'));
    storage = join(dir, 'storage');
    const port = await freePort();
    host = `127.0.0.1:${port}`;
    // distribution's defaults: storage.delete.enabled is false
    const config = {
      version: '0.1',
      log: { level: 'warn', formatter: 'text', accesslog: { disabled: true } },
      storage: { filesystem: { rootdirectory: storage }, maintenance: { uploadpurging: { enabled: false } } },
      http: { addr: host },
      health: { storagedriver: { enabled: false } },
    };
    writeFileSync(join(dir, 'config.yml'), JSON.stringify(config));
    const log = openSync(join(dir, 'registry.log'), 'a');
    child = spawn('/usr/bin/docker-registry', ['serve', join(dir, 'config.yml')], {
      stdio: ['ignore', log, log],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir },
    });
    closeSync(log);
    for (let i = 0; ; i++) {
      try {
        const res = await request(`http://${host}/v2/`);
        await res.body.dump();
        if (res.statusCode === 200) break;
      } catch {
        // not up yet
      }
      if (i > 100) throw new Error(`private registry did not start: ${readFileSync(join(dir, 'registry.log'), 'utf8')}`);
      await sleep(100);
    }
  });

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('delete says the registry does not allow it (exit 1, with a hint) and the image stays', async () => {
    const img = await buildImage({ layers: 1 });
    await seedImage({ url: `http://${host}` }, 'team/app', 'v1', img);
    const r = await runCli(['delete', `${host}/team/app:v1`], { env: freshHome().env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^Error: .*does not allow deleting manifests/m);
    expect(r.stderr).toMatch(/^Hint: .*REGISTRY_STORAGE_DELETE_ENABLED/m);
    expect(r.stderr.trim().split('\n')).toHaveLength(2);
    expect((await fetchManifest({ url: `http://${host}` }, 'team/app', 'v1')).digest).toBe(img.manifest.digest);
  });

  it('catalog follows the Link header across pages and lists every repository once', async () => {
    await seedImage({ url: `http://${host}` }, 'page/r0000', 'v1', await buildImage({ layers: 1 }));
    // Repositories are folders in distribution's storage: copying one makes another, a cheap way to get more
    // repositories than its largest catalog page (1000)
    const repos = join(storage, 'docker', 'registry', 'v2', 'repositories', 'page');
    const names = ['page/r0000'];
    for (let i = 1; i <= 1010; i++) {
      const n = `r${String(i).padStart(4, '0')}`;
      cpSync(join(repos, 'r0000'), join(repos, n), { recursive: true });
      names.push(`page/${n}`);
    }
    const first = await request(`http://${host}/v2/_catalog?n=1000`);
    expect(first.headers.link).toBeDefined(); // the registry does paginate
    await first.body.dump();

    const home = freshHome();
    const r = await runCli(['catalog', '--format', 'json', host], { env: home.env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { repositories: string[] };
    expect(doc.repositories.filter((x) => x.startsWith('page/'))).toEqual(names);
    expect(new Set(doc.repositories).size).toBe(doc.repositories.length);
  });
});
