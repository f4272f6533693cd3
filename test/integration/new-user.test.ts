// What a new user hit in thirty minutes (issue 23), each as the user saw it: the fix is asserted on the output.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { getHarness } from '../harness/index.js';
import { freshHome, runCli } from '../helpers/cli.js';
import { writeDockerConfig } from '../helpers/docker-config.js';
import { requireTool, SKOPEO_PATHS } from '../helpers/tools.js';
import { buildImage as buildArchiveImage, storeImage as storeArchiveImage } from '../../fixtures/archives/helpers.js';
import { ImageStore } from '../../src/store/index.js';
import { startFaultProxy } from '../harness/fault-proxy.js';
import { buildImage, fetchManifest, seedImage, seedIndex, uniqueRepo } from '../helpers/images.js';

const h = getHarness();
const plain = { url: h.plain.url };
const sha256Text = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;

async function pulledImage(platform = { os: 'linux', architecture: 'amd64' }) {
  const repo = uniqueRepo('newuser');
  const img = await buildImage({ layers: 1, platform });
  await seedImage(plain, repo, 'v1', img);
  const home = freshHome();
  const ref = `${h.plain.host}/${repo}:v1`;
  expect((await runCli(['pull', ref], { env: home.env })).code).toBe(0);
  return { repo, img, home, ref };
}

describe('inspect by IMAGE ID', () => {
  it("reports the image's own name, not the ID read as a docker.io name", async () => {
    const { img, home, ref } = await pulledImage();
    const id = img.config.digest.slice(7, 19);
    const r = await runCli(['inspect', id], { env: home.env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { reference: string; names: string[]; digest: string };
    expect(doc.reference).toBe(ref);
    expect(doc.names).toEqual([ref]);
    expect(doc.digest).toBe(img.manifest.digest);
    expect(r.stdout).not.toContain(`docker.io/library/${id}`);
  });
});

describe('pull --platform that the image does not have', () => {
  it('of a single-platform image: pulls it with a WARNING naming both platforms', async () => {
    const repo = uniqueRepo('newuser');
    await seedImage(plain, repo, 'v1', await buildImage({ layers: 1, platform: { os: 'linux', architecture: 'amd64' } }));
    const home = freshHome();
    const ref = `${h.plain.host}/${repo}:v1`;
    const r = await runCli(['pull', '--platform', 'linux/arm64', ref], { env: home.env });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^WARNING: The requested image's platform \(linux\/amd64\) does not match the requested platform \(linux\/arm64(\/v8)?\)/m);
    const quiet = await runCli(['pull', '--platform', 'linux/amd64', ref], { env: home.env });
    expect(quiet.stderr).toBe('');
  });

  it('of a multi-platform index without it: no matching manifest, exit 5, nothing stored', async () => {
    const repo = uniqueRepo('newuser');
    const amd = await buildImage({ layers: 1, platform: { os: 'linux', architecture: 'amd64' } });
    await seedIndex(plain, repo, 'multi', [amd]);
    const home = freshHome();
    const r = await runCli(['pull', '--platform', 'linux/arm64', `${h.plain.host}/${repo}:multi`], { env: home.env });
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/^Error: no image for linux\/arm64(\/v8)? in the multi-platform index; available: linux\/amd64$/m);
    expect((await runCli(['images', '-q'], { env: home.env })).stdout).toBe('');
  });
});

describe('certs.d folders', () => {
  const loginArgs = (host: string) => ['login', host, '-u', h.users.full.username, '--password-stdin'];

  it('--certs-dir is searched first, then the usual folders: a CA in CONFIG/certs.d keeps working', async () => {
    const home = freshHome();
    mkdirSync(join(home.config, 'certs.d', h.basic.host), { recursive: true, mode: 0o700 });
    copyFileSync(h.caCert, join(home.config, 'certs.d', h.basic.host, 'ca.crt'));
    const extra = mkdtempSync(join(tmpdir(), 'dhe-certs-extra-'));
    const r = await runCli(['--certs-dir', extra, ...loginArgs(h.basic.host)], { env: home.env, input: h.users.full.password + '\n' });
    expect(r.stderr).not.toMatch(/^Error:/m);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Login Succeeded');
    const viaEnv = await runCli(loginArgs(h.basic.host), { env: { ...home.env, DHE_CERTS_DIR: extra }, input: h.users.full.password + '\n' });
    expect(viaEnv.code).toBe(0);
  });

  it('a certificate at the top of --certs-dir (not in a HOST:PORT folder) is pointed out, not ignored silently', async () => {
    const home = freshHome();
    const dir = mkdtempSync(join(tmpdir(), 'dhe-certs-loose-'));
    copyFileSync(h.caCert, join(dir, 'ca.crt'));
    const r = await runCli(['--certs-dir', dir, ...loginArgs(h.basic.host)], { env: home.env, input: h.users.full.password + '\n' });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(`WARNING: ${join(dir, 'ca.crt')} is not used: certs.d files go in a folder per registry, e.g. ${join(dir, 'HOST:PORT', 'ca.crt')}`);
  });

  it("doctor points out a client.crt where docker's client.cert is expected", async () => {
    const home = freshHome();
    const dir = join(home.config, 'certs.d', h.mtls.host);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    copyFileSync(h.caCert, join(dir, 'ca.crt'));
    copyFileSync(h.clientCert, join(dir, 'client.crt'));
    copyFileSync(h.clientKey, join(dir, 'client.key'));
    const r = await runCli(['doctor', h.mtls.host], { env: home.env, timeoutMs: 45_000 });
    expect(r.code).toBe(4);
    expect(r.stdout).toContain('there is a client.crt: rename it to client.cert');
  });

  it('a bad file in DHE_CA_CERT is reported as DHE_CA_CERT, one in --ca-cert as --ca-cert', async () => {
    const home = freshHome();
    const missing = join(tmpdir(), 'dhe-no-such-ca.pem');
    const env = await runCli(['images'], { env: { ...home.env, DHE_CA_CERT: missing } });
    expect(env.code).toBe(2);
    expect(env.stderr).toMatch(new RegExp(`^Error: DHE_CA_CERT ${missing.replace(/[.]/g, '\\.')}: no such file$`, 'm'));
    const flag = await runCli(['--ca-cert', missing, 'images'], { env: { ...home.env, DHE_CA_CERT: h.caCert } });
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/^Error: --ca-cert .*: no such file$/m);
  });
});

describe('push of layers stored uncompressed (load of a docker-save archive)', () => {
  it('pushes them gzip-compressed once, keeps the IMAGE ID, and a re-push sends no blob; --compression none sends them as stored', async () => {
    const repo = uniqueRepo('gzip');
    const name = `${h.plain.host}/${repo}:v1`;
    const img = await buildArchiveImage({ format: 'docker', gzip: false, layers: [{ 'etc/words.txt': 'all work and no play\n'.repeat(60_000) }, { 'bin/tool': 'x'.repeat(200_000) }] });
    const rawBytes = img.layers.reduce((n, l) => n + l.size, 0);
    expect(img.layers.every((l) => l.mediaType === 'application/vnd.docker.image.rootfs.diff.tar')).toBe(true);
    const src = freshHome();
    await storeArchiveImage(await ImageStore.open(src.store), img, name);
    const archive = join(mkdtempSync(join(tmpdir(), 'dhe-gzip-')), 'image.tar');
    expect((await runCli(['save', name, '-o', archive], { env: src.env })).code).toBe(0);

    const home = freshHome();
    expect((await runCli(['load', '-i', archive], { env: home.env })).code).toBe(0);
    const proxy = await startFaultProxy(h.plain.url);
    try {
      const target = `${proxy.host}/${repo}:v1`;
      expect((await runCli(['tag', name, target], { env: home.env })).code).toBe(0);
      const sent = () => proxy.hits.filter((x) => x.path.includes('/blobs/uploads/')).reduce((n, x) => n + x.bodyBytes, 0);

      const push = await runCli(['push', target], { env: home.env });
      expect(push.stderr).toBe('');
      expect(push.code).toBe(0);
      expect(push.stdout).toMatch(/^compressed 2 layers stored uncompressed with gzip: \d+\.\dMB → 0\.\dMB \(same IMAGE ID\)$/m);
      const served = JSON.parse((await fetchManifest(plain, repo, 'v1')).bytes.toString()) as { config: { digest: string }; layers: Array<{ mediaType: string; size: number }> };
      expect(served.layers.map((l) => l.mediaType)).toEqual(['application/vnd.docker.image.rootfs.diff.tar.gzip', 'application/vnd.docker.image.rootfs.diff.tar.gzip']);
      expect(served.config.digest).toBe(img.configDigest);
      const firstPush = sent();
      const gzBytes = served.layers.reduce((n, l) => n + l.size, 0);
      expect(firstPush).toBeLessThan(rawBytes / 4);
      expect(firstPush).toBeGreaterThanOrEqual(gzBytes);
      // the local image is the compressed one now: same IMAGE ID, and the next push sends nothing
      const images = await runCli(['images', '--format', 'json'], { env: home.env });
      expect(images.stdout).toContain(img.configDigest.slice(7, 19));
      const again = await runCli(['push', target], { env: home.env });
      expect(again.code).toBe(0);
      expect(again.stdout).not.toContain('compressed');
      expect(sent()).toBe(firstPush);

      const home2 = freshHome();
      expect((await runCli(['load', '-i', archive], { env: home2.env })).code).toBe(0);
      const asStored = `${proxy.host}/${repo}-raw:v1`;
      expect((await runCli(['tag', name, asStored], { env: home2.env })).code).toBe(0);
      const before = sent();
      const raw = await runCli(['push', '--compression', 'none', asStored], { env: home2.env });
      expect(raw.code).toBe(0);
      expect(sent() - before).toBeGreaterThanOrEqual(rawBytes);
      const rawServed = JSON.parse((await fetchManifest(plain, `${repo}-raw`, 'v1')).bytes.toString()) as { layers: Array<{ mediaType: string }> };
      expect(rawServed.layers[0]!.mediaType).toBe('application/vnd.docker.image.rootfs.diff.tar');
      console.log(`load → push of ${rawBytes} bytes of uncompressed layers: ${firstPush} bytes sent with gzip, ${sent() - before} with --compression none`);

      const bad = await runCli(['push', '--compression', 'zstd', target], { env: home.env });
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/^Error: --compression must be gzip or none, not "zstd" \(zstd needs Node\.js 22\.15 or later/m);
    } finally {
      await proxy.close();
    }
  });
});

describe('plain (CI) output during a long download', () => {
  it('a line when a layer starts, and a progress line at most every 10 s while it transfers', async () => {
    const repo = uniqueRepo('heartbeat');
    const img = await buildImage({ layers: 1, layerSize: 1_300_000 });
    await seedImage(plain, repo, 'v1', img);
    const proxy = await startFaultProxy(h.plain.url);
    try {
      // a slow link: about 12 s for the layer, data flowing all along
      proxy.add({ kind: 'throttle', bytesPerSecond: 110_000, method: 'GET', path: img.layers[0]!.digest.slice(7), times: Infinity });
      const home = freshHome();
      const id = img.layers[0]!.digest.slice(7, 19);
      const t0 = Date.now();
      const r = await runCli(['pull', `${proxy.host}/${repo}:v1`], { env: home.env, timeoutMs: 50_000 });
      const elapsed = Date.now() - t0;
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const lines = r.stdout.split('\n');
      const start = lines.indexOf(`${id}: Downloading 1.30MB`);
      const beats = lines.filter((l) => new RegExp(`^${id}: \\d[\\d.]*[kM]B/1\\.30MB$`).test(l));
      const done = lines.indexOf(`${id}: Pull complete`);
      expect(start).toBeGreaterThanOrEqual(0);
      expect(beats.length).toBeGreaterThanOrEqual(1);
      expect(beats.length).toBeLessThanOrEqual(Math.floor(elapsed / 10_000));
      expect(lines.indexOf(beats[0]!)).toBeGreaterThan(start);
      expect(done).toBeGreaterThan(lines.indexOf(beats[0]!));
      expect(proxy.hits.some((x) => x.fault === 'throttle')).toBe(true);
    } finally {
      await proxy.close();
    }
  });
});

describe('the suggested doctor command', () => {
  it('repeats the trust options of the failing command and its repository, and followed literally finds the real cause', async () => {
    const { home, ref, repo } = await pulledImage();
    writeDockerConfig(home, { [h.token.host]: h.users.pullonly });
    const target = `${h.token.host}/${repo}:v1`;
    expect((await runCli(['tag', ref, target], { env: home.env })).code).toBe(0);
    const push = await runCli(['--ca-cert', h.caCert, 'push', target], { env: home.env });
    expect(push.code).toBe(3);
    const suggested = /^Run '(dhe-cli [^']+)' for a full diagnosis\.$/m.exec(push.stderr)?.[1];
    expect(suggested).toBe(`dhe-cli --ca-cert ${h.caCert} doctor ${h.token.host} --repo ${repo}`);
    // followed as printed (split as a shell would: no quoting needed for these paths)
    const doctor = await runCli(suggested!.split(' ').slice(1), { env: home.env, timeoutMs: 45_000 });
    expect(doctor.code).toBe(3);
    expect(doctor.stdout).toContain(`repository:${repo}: asked pull,push, granted pull`);
    expect(doctor.stdout).not.toMatch(/✖ Trust/);
  });
});

describe('save --format oci after pull --platform of a multi-platform image', () => {
  it('writes that platform (the index would list a manifest the archive lacks); skopeo reads the archive', async () => {
    const repo = uniqueRepo('ocisave');
    const amd = await buildImage({ layers: 1, platform: { os: 'linux', architecture: 'amd64' } });
    const arm = await buildImage({ layers: 1, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
    await seedIndex(plain, repo, 'multi', [amd, arm]);
    const home = freshHome();
    const ref = `${h.plain.host}/${repo}:multi`;
    expect((await runCli(['pull', '--platform', 'linux/arm64', ref], { env: home.env })).code).toBe(0);
    const archive = join(mkdtempSync(join(tmpdir(), 'dhe-ocisave-')), 'img.tar');
    const save = await runCli(['save', '--format', 'oci', ref, '-o', archive], { env: home.env });
    expect(save.stderr).toBe('');
    expect(save.code).toBe(0);
    const skopeo = requireTool('skopeo', SKOPEO_PATHS);
    const out = execFileSync(skopeo, ['inspect', '--raw', `oci-archive:${archive}:${ref}`], { encoding: 'utf8' });
    expect(sha256Text(out)).toBe(arm.manifest.digest);
    const all = await runCli(['pull', '--all-platforms', ref], { env: home.env });
    expect(all.code).toBe(0);
    const whole = join(mkdtempSync(join(tmpdir(), 'dhe-ocisave-')), 'all.tar');
    expect((await runCli(['save', '--format', 'oci', ref, '-o', whole], { env: home.env })).code).toBe(0);
    const top = JSON.parse(execFileSync(skopeo, ['inspect', '--raw', `oci-archive:${whole}:${ref}`], { encoding: 'utf8' })) as { manifests: unknown[] };
    expect(top.manifests).toHaveLength(2);
  });
});

describe('pull NAME:TAG@DIGEST', () => {
  it('pins by the digest and ignores the tag, as docker does: one name, NAME@DIGEST; rmi of it leaves nothing', async () => {
    const repo = uniqueRepo('pin');
    const img = await buildImage({ layers: 1 });
    await seedImage(plain, repo, 'v1', img);
    const home = freshHome();
    const name = `${h.plain.host}/${repo}`;
    const r = await runCli(['pull', `${name}:v1@${img.manifest.digest}`], { env: home.env });
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n').pop()).toBe(`${name}@${img.manifest.digest}`);
    const rows = (await runCli(['images', '--digests'], { env: home.env })).stdout.trim().split('\n').slice(1);
    expect(rows).toHaveLength(1);
    const rmi = await runCli(['rmi', `${name}@${img.manifest.digest}`], { env: home.env });
    expect(rmi.code).toBe(0);
    expect((await runCli(['images', '-q'], { env: home.env })).stdout).toBe('');
  });
});

describe('auth failures at a token server name the registry to log in to, and the doctor line', () => {
  it('a wrong password at login, and a stored refresh token the token server rejects', async () => {
    const home = freshHome();
    const wrong = await runCli(['--ca-cert', h.caCert, 'login', h.dhe.host, '-u', h.users.full.username, '--password-stdin'], {
      env: home.env,
      input: 'not-the-password\n',
    });
    expect(wrong.code).toBe(3);
    expect(wrong.stderr).toMatch(new RegExp(`^Hint: check the user name and password \\(or access token\\) for ${h.dhe.host}`, 'm'));
    expect(wrong.stderr).toContain(`Run 'dhe-cli --ca-cert ${h.caCert} doctor ${h.dhe.host}' for a full diagnosis.`);

    const dockerDir = home.env.DOCKER_CONFIG!;
    mkdirSync(dockerDir, { recursive: true, mode: 0o700 });
    writeFileSync(join(dockerDir, 'config.json'), JSON.stringify({ auths: { [h.dhe.host]: { auth: Buffer.from('<token>:').toString('base64'), identitytoken: 'revoked-refresh-token' } } }));
    const pull = await runCli(['--ca-cert', h.caCert, 'pull', `${h.dhe.host}/${uniqueRepo('refresh')}:v1`], { env: home.env, secrets: ['revoked-refresh-token'] });
    expect(pull.code).toBe(3);
    expect(pull.stderr).toMatch(/^Error: the token server at .* rejected the stored refresh token/m);
    expect(pull.stderr).toMatch(new RegExp(`^Hint: log in again: dhe-cli login ${h.dhe.host}$`, 'm'));
    expect(pull.stderr).toMatch(new RegExp(`^Run 'dhe-cli --ca-cert \\S+ doctor ${h.dhe.host} --repo `, 'm'));
  });
});

describe('pull of a tag or repository that is not there', () => {
  it('names the tags the repository has, or says the repository itself does not exist (no hint that fails again)', async () => {
    const { home, repo } = await pulledImage();
    const wrongTag = await runCli(['pull', `${h.plain.host}/${repo}:v2`], { env: home.env });
    expect(wrongTag.code).toBe(5);
    expect(wrongTag.stderr).toMatch(new RegExp(`^Hint: check the tag or digest; ${h.plain.host}/${repo} has v1$`, 'm'));
    const noRepo = await runCli(['pull', `${h.plain.host}/${repo}-nope:v1`], { env: home.env });
    expect(noRepo.code).toBe(5);
    expect(noRepo.stderr).toMatch(new RegExp(`^Error: repository ${h.plain.host}/${repo}-nope not found`, 'm'));
    expect(noRepo.stderr).not.toContain('dhe-cli tags');
  });
});

describe('usage errors', () => {
  it("name the command's own help, and 'help nosuch' is a usage error like 'nosuch'", async () => {
    const opt = await runCli(['pull', '--bogus', 'x']);
    expect(opt.code).toBe(2);
    expect(opt.stderr).toBe("Error: unknown option '--bogus'\nHint: see 'dhe-cli pull --help' for usage\n");
    const sub = await runCli(['store', 'verify', '--nope']);
    expect(sub.stderr).toContain("Hint: see 'dhe-cli store verify --help' for usage");
    const topic = await runCli(['help', 'nosuch']);
    expect(topic.code).toBe(2);
    expect(topic.stdout).toBe('');
    expect(topic.stderr).toBe("Error: unknown command 'nosuch'\nHint: see 'dhe-cli --help' for usage\n");
    const typo = await runCli(['--debug', 'help', 'pul']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/^Hint: Did you mean pu(ll|sh)\?$/m);
    const ok = await runCli(['help', 'pull']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('Usage: dhe-cli pull');
  });
});
