// Every option and environment variable the README lists, as a user sees it work (options covered elsewhere are
// cited in SECURITY.md / the README: --certs-dir in new-user.test.ts, DHE_READ_TIMEOUT in reliability.test.ts,
// proxies and DHE_DEBUG in promises.test.ts).
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pack } from 'tar-stream';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ImageStore, RegistryClient, parseReference, pullImage } from 'dhe-cli';
import { getHarness } from '../harness/index.js';
import { startMiniRegistry } from '../harness/mini-registry.js';
import { freshHome, runCli, type CliResult } from '../helpers/cli.js';
import { buildImage, seedImage, seedIndex, uniqueRepo, type BuiltImage } from '../helpers/images.js';

const h = getHarness();
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});
const basicAuth = `Basic ${Buffer.from(`${h.users.full.username}:${h.users.full.password}`).toString('base64')}`;

function ok(r: CliResult): CliResult {
  expect(r.stderr, r.stderr).not.toMatch(/^Error/m);
  expect(r.code).toBe(0);
  return r;
}

describe('images REPO[:TAG] --digests --no-trunc, inspect --remote', () => {
  let a: string;
  let b: string;
  let imgA: BuiltImage;
  let imgB: BuiltImage;
  beforeAll(async () => {
    a = uniqueRepo('opt-a');
    b = uniqueRepo('opt-b');
    imgA = await buildImage({ layers: 1, salt: a });
    imgB = await buildImage({ layers: 1, salt: b });
    await seedImage({ url: h.plain.url }, a, 'v1', imgA);
    await seedImage({ url: h.plain.url }, a, 'v2', imgB);
    await seedImage({ url: h.plain.url }, b, 'v1', imgB);
  });

  it('images REPO lists that repository only; REPO:TAG that tag; --digests adds the digest, --no-trunc the full IMAGE ID', async () => {
    const home = freshHome();
    for (const ref of [`${a}:v1`, `${a}:v2`, `${b}:v1`]) ok(await runCli(['pull', `${h.plain.host}/${ref}`], { env: home.env }));
    const repoOnly = ok(await runCli(['images', `${h.plain.host}/${a}`], { env: home.env })).stdout.trim().split('\n');
    expect(repoOnly[0]).toMatch(/^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
    expect(repoOnly.slice(1).map((l) => l.split(/\s+/).slice(0, 2).join(':')).sort()).toEqual([`${h.plain.host}/${a}:v1`, `${h.plain.host}/${a}:v2`]);
    const one = ok(await runCli(['images', `${h.plain.host}/${a}:v1`, '--digests', '--no-trunc'], { env: home.env })).stdout.trim().split('\n');
    expect(one[0]).toMatch(/^REPOSITORY\s+TAG\s+DIGEST\s+IMAGE ID\s+CREATED\s+SIZE$/);
    expect(one).toHaveLength(2);
    const cols = one[1]!.split(/\s{2,}/);
    expect(cols.slice(0, 4)).toEqual([`${h.plain.host}/${a}`, 'v1', imgA.manifest.digest, imgA.config.digest]);
    // without --no-trunc: the 12-digit IMAGE ID and no digest column
    const short = ok(await runCli(['images', `${h.plain.host}/${a}:v1`], { env: home.env })).stdout.trim().split('\n');
    expect(short[1]!.split(/\s{2,}/)[2]).toBe(imgA.config.digest.slice('sha256:'.length, 'sha256:'.length + 12));
  });

  it('inspect --remote shows the registry\'s manifest, digest and config without storing anything', async () => {
    const home = freshHome();
    const r = ok(await runCli(['inspect', '--remote', `${h.plain.host}/${a}:v1`], { env: home.env }));
    const doc = JSON.parse(r.stdout) as { digest: string; manifest: { layers: Array<{ digest: string }> }; config: { rootfs: { diff_ids: string[] } } };
    expect(doc.digest).toBe(imgA.manifest.digest);
    expect(doc.manifest.layers.map((l) => l.digest)).toEqual(imgA.layers.map((l) => l.digest));
    expect(doc.config.rootfs.diff_ids).toEqual(imgA.diffIds);
    expect(ok(await runCli(['images', '-q'], { env: home.env })).stdout).toBe('');
    // without --remote the same name is looked up locally: not there
    const local = await runCli(['inspect', `${h.plain.host}/${a}:v1`], { env: home.env });
    expect(local.code).toBe(5);
  });
});

describe('store verify --repair', () => {
  it('finds a corrupted blob and the name it breaks (exit 7); --repair drops both; the store is clean again', async () => {
    const repo = uniqueRepo('opt-repair');
    const img = await buildImage({ layers: 2, salt: repo });
    await seedImage({ url: h.plain.url }, repo, 'v1', img);
    const home = freshHome();
    ok(await runCli(['pull', `${h.plain.host}/${repo}:v1`], { env: home.env }));
    const layer = img.layers[1]!;
    const file = join(home.store, 'blobs', 'sha256', layer.digest.slice('sha256:'.length));
    const bytes = readFileSync(file);
    bytes[10] = bytes[10]! ^ 0xff;
    writeFileSync(file, bytes);
    const verify = await runCli(['store', 'verify'], { env: home.env });
    expect(verify.code).toBe(7);
    expect(verify.stdout + verify.stderr).toContain(layer.digest);
    expect(verify.stdout + verify.stderr).toContain(`${h.plain.host}/${repo}:v1`);
    const repair = await runCli(['store', 'verify', '--repair'], { env: home.env });
    expect(repair.code).toBe(0);
    ok(await runCli(['store', 'verify'], { env: home.env }));
    expect(ok(await runCli(['images', '-q'], { env: home.env })).stdout).toBe('');
    expect(readdirSync(join(home.store, 'blobs', 'sha256'))).not.toContain(layer.digest.slice('sha256:'.length));
    // and the image pulls whole again
    ok(await runCli(['pull', `${h.plain.host}/${repo}:v1`], { env: home.env }));
  });
});

/** An OCI layout archive whose index names no image (no org.opencontainers.image.ref.name annotation). */
async function namelessOciArchive(img: BuiltImage): Promise<string> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const done = new Promise<void>((resolve) => p.on('end', () => resolve()));
  const entry = (name: string, body: Buffer) => p.entry({ name, mode: 0o644, mtime: new Date(0) }, body);
  entry('oci-layout', Buffer.from('{"imageLayoutVersion":"1.0.0"}'));
  const index = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ mediaType: img.manifest.mediaType, digest: img.manifest.digest, size: img.manifest.size }] };
  entry('index.json', Buffer.from(JSON.stringify(index)));
  for (const b of [img.manifest, img.config, ...img.layers]) entry(`blobs/sha256/${b.digest.slice('sha256:'.length)}`, b.bytes);
  p.finalize();
  await done;
  const file = join(mkdtempSync(join(tmpdir(), 'dhe-nameless-')), 'image.tar');
  writeFileSync(file, Buffer.concat(chunks));
  return file;
}

describe('load --name', () => {
  it('an archive that names no image is refused without a name (exit 2), loaded under --name REF, which then lists and pushes', async () => {
    const img = await buildImage({ layers: 1 });
    const file = await namelessOciArchive(img);
    const home = freshHome();
    // without a name: refused (exit 2) with a hint, nothing loaded
    const plain = await runCli(['load', '-i', file], { env: home.env });
    expect(plain.code).toBe(2);
    expect(plain.stderr).toMatch(/^Error: the archive names none of its 1 image\(s\)/m);
    expect(plain.stderr).toMatch(/^Hint: give the image a name/m);
    expect(ok(await runCli(['images', '-q'], { env: home.env })).stdout).toBe('');
    const repo = uniqueRepo('opt-load');
    const named = ok(await runCli(['load', '-i', file, '--name', `${h.plain.host}/${repo}:v1`], { env: home.env }));
    expect(named.stdout.trim()).toBe(`Loaded image: ${h.plain.host}/${repo}:v1`);
    const images = ok(await runCli(['images', `${h.plain.host}/${repo}`, '--no-trunc'], { env: home.env })).stdout;
    expect(images).toContain(img.config.digest);
    ok(await runCli(['push', `${h.plain.host}/${repo}:v1`], { env: home.env }));
  });
});

describe('TLS options: --cert/--key, --insecure-registry, DHE_INSECURE_REGISTRIES, comma-separated DHE_CA_CERT', () => {
  it('--cert/--key: a registry that requires a client certificate answers with it, refuses without (exit 4)', async () => {
    const home = freshHome();
    const without = await runCli(['--ca-cert', h.caCert, 'catalog', h.mtls.host], { env: home.env });
    expect(without.code).toBe(4);
    expect(without.stderr).toMatch(/client certificate/i);
    ok(await runCli(['--ca-cert', h.caCert, '--cert', h.clientCert, '--key', h.clientKey, 'catalog', h.mtls.host], { env: home.env }));
  });

  it('--insecure-registry HOST:PORT skips verification for that registry only; DHE_INSECURE_REGISTRIES is comma-separated', async () => {
    const home = freshHome();
    expect((await runCli(['catalog', h.untrusted.host], { env: home.env })).code).toBe(4);
    ok(await runCli(['--insecure-registry', h.untrusted.host, 'catalog', h.untrusted.host], { env: home.env }));
    // only that one: the host-name mismatch of another registry is still refused
    expect((await runCli(['--insecure-registry', h.untrusted.host, 'catalog', h.mismatch.host], { env: home.env })).code).toBe(4);
    const env = { ...home.env, DHE_INSECURE_REGISTRIES: `${h.mismatch.host},${h.untrusted.host}` };
    ok(await runCli(['catalog', h.untrusted.host], { env }));
    ok(await runCli(['catalog', h.mismatch.host], { env }));
  });

  it('DHE_CA_CERT=A,B trusts both CAs; either alone trusts only its own registry', async () => {
    const home = freshHome();
    const both = { ...home.env, DHE_CA_CERT: `${h.untrustedCaCert},${h.caCert}` };
    ok(await runCli(['catalog', h.untrusted.host], { env: both }));
    ok(await runCli(['login', h.basic.host, '-u', h.users.full.username, '--password-stdin'], { env: both, input: h.users.full.password }));
    expect((await runCli(['catalog', h.untrusted.host], { env: { ...home.env, DHE_CA_CERT: h.caCert } })).code).toBe(4);
    const basicOnly = await runCli(['login', h.basic.host, '-u', h.users.full.username, '--password-stdin'], { env: { ...freshHome().env, DHE_CA_CERT: h.untrustedCaCert }, input: h.users.full.password });
    expect(basicOnly.code).toBe(4);
  });
});

describe('--concurrency / DHE_CONCURRENCY: blob downloads in flight at once', () => {
  async function slowRegistry() {
    const reg = await startMiniRegistry({ blobDelayMs: 400 });
    closers.push(() => reg.close());
    const img = await buildImage({ layers: 8, layerSize: 512 });
    for (const b of [img.config, ...img.layers]) reg.blobs.set(b.digest, b.bytes);
    reg.manifests.set('team/wide:v1', { bytes: img.manifest.bytes, mediaType: img.manifest.mediaType });
    return reg;
  }
  for (const [label, args, env, n] of [
    ['the default', [], {}, 4],
    ['--concurrency 2', ['--concurrency', '2'], {}, 2],
    ['DHE_CONCURRENCY=1', [], { DHE_CONCURRENCY: '1' }, 1],
    ['--concurrency 6', ['--concurrency', '6'], {}, 6],
  ] as const) {
    it(`${label}: at most ${n} blob GETs at once, and that many are reached`, async () => {
      const reg = await slowRegistry();
      const home = freshHome();
      ok(await runCli([...args, 'pull', `${reg.host}/team/wide:v1`], { env: { ...home.env, ...env } }));
      expect(reg.maxBlobsInFlight).toBe(n);
    });
  }
});

describe('DHE_PLATFORM', () => {
  it('picks that platform from a multi-platform image, for pull and inspect --remote', async () => {
    const repo = uniqueRepo('opt-platform');
    const amd = await buildImage({ layers: 1, salt: `${repo}-amd64`, platform: { os: 'linux', architecture: 'amd64' } });
    const arm = await buildImage({ layers: 1, salt: `${repo}-arm64`, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
    await seedIndex({ url: h.plain.url }, repo, 'v1', [amd, arm]);
    const home = freshHome();
    const env = { ...home.env, DHE_PLATFORM: 'linux/arm64/v8' };
    ok(await runCli(['pull', `${h.plain.host}/${repo}:v1`], { env }));
    const images = ok(await runCli(['images', '--no-trunc'], { env })).stdout;
    expect(images).toContain(arm.config.digest);
    expect(images).not.toContain(amd.config.digest);
    const remote = JSON.parse(ok(await runCli(['inspect', '--remote', `${h.plain.host}/${repo}:v1`], { env })).stdout) as { platformDigest: string };
    expect(remote.platformDigest).toBe(arm.manifest.digest);
    // --platform on the command line wins over the environment
    const cli = JSON.parse(ok(await runCli(['inspect', '--remote', '--platform', 'linux/amd64', `${h.plain.host}/${repo}:v1`], { env })).stdout) as { platformDigest: string };
    expect(cli.platformDigest).toBe(amd.manifest.digest);
  });
});

describe("docker's default config: ~/.docker/config.json when DOCKER_CONFIG is unset", () => {
  it('credentials `docker login` left in HOME/.docker/config.json are used; without them the registry says 401 (exit 3)', async () => {
    const home = freshHome();
    const env: Record<string, string | undefined> = { ...home.env, DOCKER_CONFIG: undefined, DHE_CA_CERT: h.caCert };
    expect((await runCli(['catalog', h.basic.host], { env })).code).toBe(3);
    mkdirSync(join(home.env.HOME!, '.docker'), { recursive: true, mode: 0o700 });
    writeFileSync(join(home.env.HOME!, '.docker', 'config.json'), JSON.stringify({ auths: { [h.basic.host]: { auth: basicAuth.slice('Basic '.length) } } }), { mode: 0o600 });
    ok(await runCli(['catalog', h.basic.host], { env }));
  });
});

describe("the README's library example", () => {
  it("imports from 'dhe-cli' and pulls an image into a store, as written", async () => {
    const repo = uniqueRepo('opt-lib');
    const img = await buildImage({ layers: 1, salt: repo });
    await seedImage({ url: h.basic.url, ca: readFileSync(h.caCert, 'utf8'), headers: { authorization: basicAuth } }, repo, '1.0', img);
    const dir = mkdtempSync(join(tmpdir(), 'dhe-lib-'));
    process.env.DHE_PASSWORD = h.users.full.password;
    const events: unknown[] = [];
    // --- the README's code, with the harness's registry, CA and user ---
    const ref = parseReference(`${h.basic.host}/${repo}:1.0`);
    const store = await ImageStore.open(join(dir, 'images'));
    const client = new RegistryClient({
      registry: ref.registry,
      tls: { caCertFiles: [h.caCert], certsDirs: [], insecureRegistries: [] },
      proxy: {},
      credentials: async () => ({ username: h.users.full.username, password: process.env.DHE_PASSWORD }),
    });
    const result = await pullImage(ref, { store, client, onEvent: (e) => events.push(e) });
    await client.close();
    // ---
    delete process.env.DHE_PASSWORD;
    expect(result.digest).toBe(img.manifest.digest);
    expect(events.length).toBeGreaterThan(0);
    const blob = readFileSync(join(dir, 'images', 'blobs', 'sha256', img.layers[0]!.digest.slice('sha256:'.length)));
    expect(`sha256:${createHash('sha256').update(blob).digest('hex')}`).toBe(img.layers[0]!.digest);
  });
});
