// A real docker daemon (Debian's docker.io 20.10, client /usr/bin/docker) as the independent producer and consumer
// of what dhe-cli pushes, saves and loads: docker pushes → dhe-cli pulls the same image; dhe-cli customises and
// pushes → docker pulls and runs it; archives both ways; docker's stored credentials used by dhe-cli; the DHE-shaped
// front with its body limit; a multi-platform index; and a TLS registry docker really verifies.
//
// What the TLS cases prove: dockerd treats every 127.0.0.0/8 registry (and `localhost`, which resolves there) as
// insecure — it skips certificate verification and ignores certs.d for them (see test/harness/dockerd.ts). So the
// basic-auth and DHE-front cases prove HTTPS + auth interop (docker speaks TLS to them, unverified), while dhe-cli
// verifies against the harness CA. The last case reaches the `mismatch` registry (certificate for
// wrong.example.test, signed by the harness CA) by that name through a CONNECT proxy: there dockerd verifies the
// certificate against the CA this file writes to /etc/docker/certs.d/wrong.example.test:PORT/ca.crt, and a name
// without a CA there fails with x509 — both sides verify TLS for real.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDockerd, type Dockerd } from '../harness/dockerd.js';
import { getHarness } from '../harness/index.js';
import { freshHome, runCli, type CliResult } from '../helpers/cli.js';
import { busyboxImage, busyboxRootfsTar, importArgs } from '../helpers/docker.js';
import { startConnectProxy, type ConnectProxy } from '../helpers/proxy.js';
import { tarEntries } from '../helpers/tar.js';
import { buildImage, seedIndex, uniqueRepo } from '../helpers/images.js';

const h = getHarness();
const tmp = mkdtempSync(join(tmpdir(), 'dhe-docker-daemon-'));
const mismatchPort = h.mismatch.host.split(':')[1]!;
/** The mismatch registry under the name its certificate is for (reached through the CONNECT proxy). */
const ALIAS = `wrong.example.test:${mismatchPort}`;
/** The same registry under a port number whose certs.d folder has no CA (negative control). */
const ALIAS_NO_CA = `wrong.example.test:${Number(mismatchPort) === 65535 ? 1 : Number(mismatchPort) + 1}`;

let d: Dockerd;
let proxy: ConnectProxy;
/** A busybox image docker imported and pushed to the plain registry: the base dhe-cli customises. */
let BASE: string;
const hostArch = process.arch === 'arm64' ? 'arm64' : 'amd64';
const otherArch = hostArch === 'amd64' ? 'arm64' : 'amd64';

const sleepSeconds = (s: number) => new Promise((r) => setTimeout(r, s * 1000));
const sha256hex = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** dhe-cli as a user runs it; a non-zero exit fails the test with what it printed. */
async function cli(args: string[], env: Record<string, string>, input?: string): Promise<CliResult> {
  const r = await runCli(args, { env, input, timeoutMs: 90_000 });
  if (r.code !== 0) throw new Error(`dhe-cli ${args.join(' ')} exited ${r.code}:\n${r.stdout}${r.stderr}`);
  return r;
}

/** What `dhe-cli images REF` shows in the IMAGE ID column, and the full config digest (`-q --no-trunc`). */
async function dheImageId(ref: string, env: Record<string, string>): Promise<{ shown: string; full: string }> {
  const table = (await cli(['images', ref], env)).stdout.trim().split('\n');
  expect(table).toHaveLength(2);
  const cols = table[0]!.indexOf('IMAGE ID');
  const shown = table[1]!.slice(cols).split(/\s+/)[0]!;
  const full = (await cli(['images', ref, '-q', '--no-trunc'], env)).stdout.trim();
  return { shown, full };
}

async function dockerInspect(ref: string): Promise<{
  Id: string;
  RepoDigests: string[];
  Architecture: string;
  Os: string;
  Config: { Env: string[] | null; Cmd: string[] | null; Labels: Record<string, string> | null };
  RootFS: { Layers: string[] };
}> {
  return JSON.parse(await d.dockerOk(['image', 'inspect', ref]))[0];
}

const dockerRun = (image: string, script: string) => d.dockerOk(['run', '--network', 'none', '--rm', image, 'sh', '-c', script]);

/** A fresh dhe-cli home that trusts the harness CA (dhe-cli always verifies TLS). */
function home(): { env: Record<string, string>; dockerConfig: string } {
  const hm = freshHome();
  return { env: { ...hm.env, DHE_CA_CERT: h.caCert }, dockerConfig: hm.env.DOCKER_CONFIG! };
}

/** Why the daemon is not there: every test fails with this one line (never skipped). */
let notReady: Error | undefined;

/** A test that needs the daemon: fails with the start-up error when there is none. */
function dit(name: string, fn: () => Promise<void>): void {
  it(name, async () => {
    if (notReady) throw notReady;
    await fn();
  });
}

beforeAll(async () => {
  try {
    await setUp();
  } catch (e) {
    notReady = e instanceof Error ? e : new Error(String(e));
    console.error(notReady.message);
  }
}, 120_000);

async function setUp(): Promise<void> {
  const t0 = Date.now();
  proxy = await startConnectProxy({ [ALIAS]: `127.0.0.1:${mismatchPort}`, [ALIAS_NO_CA]: `127.0.0.1:${mismatchPort}` });
  d = await startDockerd({
    insecureRegistries: [h.plain.host],
    registryCAs: [{ host: ALIAS, caCert: h.caCert }],
    env: { HTTPS_PROXY: proxy.url },
  });
  console.log(`dockerd ${d.pid}: /_ping answered ${d.startupMs} ms after spawn (client ${d.dockerBin})`);
  const rootfs = join(tmp, 'busybox.tar');
  writeFileSync(rootfs, await busyboxRootfsTar());
  BASE = `${h.plain.host}/${uniqueRepo('docker')}:base`;
  await d.dockerOk(importArgs(rootfs, BASE));
  await d.dockerOk(['push', BASE]);
  console.log(`dockerd ready and ${BASE} imported and pushed in ${Date.now() - t0} ms`);
}

afterAll(async () => {
  await d?.stop();
  await proxy?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('docker daemon interop', () => {
  dit('docker push → dhe-cli pull: the same IMAGE ID, manifest digest and config docker reports', async () => {
    const hm = home();
    const ref = `${h.plain.host}/${uniqueRepo('docker')}:pushed`;
    await d.dockerOk(['tag', BASE, ref]);
    const pushed = await d.dockerOk(['push', ref]);
    const pushedDigest = /digest: (sha256:[0-9a-f]{64})/.exec(pushed)?.[1];
    expect(pushedDigest, pushed).toBeDefined();
    const di = await dockerInspect(ref);

    const pull = await cli(['pull', ref], hm.env);
    expect(pull.stdout).toContain(`Digest: ${pushedDigest}`);
    expect(di.RepoDigests).toContain(`${ref.replace(/:pushed$/, '')}@${pushedDigest}`);
    const id = await dheImageId(ref, hm.env);
    expect(di.Id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(id.full).toBe(di.Id); // docker's Id is the config digest
    expect(id.shown).toBe(di.Id.slice(7, 19));

    const ours = JSON.parse((await cli(['inspect', ref], hm.env)).stdout);
    expect(ours.digest).toBe(pushedDigest);
    expect(ours.manifest.config.digest).toBe(di.Id);
    expect(ours.config.architecture).toBe(di.Architecture);
    expect(ours.config.os).toBe(di.Os);
    expect(ours.config.config.Cmd).toEqual(di.Config.Cmd);
    expect(ours.config.config.Env).toEqual(di.Config.Env);
    expect(ours.config.rootfs.diff_ids).toEqual(di.RootFS.Layers);
  });

  dit('dhe-cli pull → mutate --env/--label → append --layer → push; docker pulls and runs it (the DHE guide workflow)', async () => {
    const hm = home();
    const repo = `${h.plain.host}/${uniqueRepo('custom')}`;
    const content = `appended by dhe-cli ${randomBytes(6).toString('hex')}\n`;
    const layer = join(tmp, `layer-${Date.now()}.tar`);
    writeFileSync(
      layer,
      await tarEntries([
        { type: 'dir', name: 'appended' },
        { type: 'file', name: 'appended/file', content },
      ]),
    );
    await cli(['pull', BASE], hm.env);
    await cli(['mutate', BASE, '-t', `${repo}:mutated`, '--env', 'GREETING=hello from dhe-cli', '--label', 'org.example.team=platform'], hm.env);
    await cli(['append', `${repo}:mutated`, '--layer', layer, '-t', `${repo}:final`], hm.env);
    const push = await cli(['push', `${repo}:final`], hm.env);
    expect(push.stdout).toMatch(/final: digest: sha256:[0-9a-f]{64} size: \d+/);
    const ourId = await dheImageId(`${repo}:final`, hm.env);

    const pulled = await d.dockerOk(['pull', `${repo}:final`]);
    expect(pulled).toContain(`Status: Downloaded newer image for ${repo}:final`);
    expect(await dockerRun(`${repo}:final`, 'echo "$GREETING"; cat /appended/file')).toBe(`hello from dhe-cli\n${content}`);
    const di = await dockerInspect(`${repo}:final`);
    expect(di.Config.Labels).toEqual({ 'org.example.team': 'platform' });
    expect(di.Id).toBe(ourId.full);
    expect(di.RootFS.Layers).toHaveLength(2);
  });

  dit('images --format and --filter print what docker images prints for the same images and templates', async () => {
    const hm = home();
    const repo = `${h.plain.host}/${uniqueRepo('format')}`;
    await d.dockerOk(['tag', BASE, `${repo}:a`]);
    await d.dockerOk(['push', `${repo}:a`]);
    await cli(['pull', `${repo}:a`], hm.env);
    // b: a label, the same creation time as a; c: a layer, created later (append sets the time)
    await cli(['mutate', `${repo}:a`, '-t', `${repo}:b`, '--label', 'tier=web'], hm.env);
    const layer = join(tmp, `format-layer-${Date.now()}.tar`);
    writeFileSync(layer, await tarEntries([{ type: 'file', name: 'f', content: 'x' }]));
    await sleepSeconds(1.1);
    await cli(['append', `${repo}:b`, '--layer', layer, '-t', `${repo}:c`], hm.env);
    for (const t of ['b', 'c']) {
      await cli(['push', `${repo}:${t}`], hm.env);
      await d.dockerOk(['pull', `${repo}:${t}`]);
    }
    // Sizes differ by design (docker: unpacked; dhe-cli: compressed, what the registry holds); CreatedSince ticks.
    const templates = [
      '{{.Repository}}:{{.Tag}}',
      'table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}\\t{{.Digest}}',
      '{{.ID}} {{.CreatedAt}}',
      '{{json .Tag}} {{if eq .Tag "b"}}label{{else}}-{{end}} {{upper .Tag}}{{println}}',
      'table {{.Tag}}',
      '{{.Digest}}',
    ];
    const lines = (text: string) => text.split('\n').sort();
    for (const t of templates) {
      const theirs = await d.dockerOk(['images', '--format', t, repo]);
      const ours = await cli(['images', '--format', t, repo], hm.env);
      expect(lines(ours.stdout), t).toEqual(lines(theirs));
    }
    const filters = [
      [`reference=*/${repo.slice(h.plain.host.length + 1)}:*`],
      [`reference=${repo}:[ab]`],
      [`reference=${repo}:*`, 'label=tier=web'],
      [`reference=${repo}:*`, 'label=tier'],
      [`reference=${repo}:*`, `since=${repo}:a`],
      [`reference=${repo}:*`, `before=${repo}:c`],
      [`reference=${repo}:*`, 'dangling=false'],
    ];
    for (const f of filters) {
      const args = f.flatMap((x) => ['--filter', x]);
      const theirs = await d.dockerOk(['images', ...args, '--format', '{{.Repository}}:{{.Tag}}']);
      const ours = await cli(['images', ...args, '--format', '{{.Repository}}:{{.Tag}}'], hm.env);
      expect(lines(ours.stdout), f.join(' ')).toEqual(lines(theirs));
      expect(ours.stdout, f.join(' ')).not.toBe('');
    }
    const unknown = await runCli(['images', '--format', '{{.Created}}', repo], { env: hm.env });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^Error: template: unknown field \.Created; valid fields: \.Repository \.Tag \.ID \.Digest \.CreatedSince \.CreatedAt \.Size$/m);
  });

  dit('dhe-cli save → docker load → docker run', async () => {
    const hm = home();
    const name = `local/${uniqueRepo('saved').replace('/', '-')}:1`;
    await cli(['pull', BASE], hm.env);
    await cli(['mutate', BASE, '-t', name, '--env', 'SAVED_BY=dhe-cli'], hm.env);
    const archive = join(tmp, `dhe-save-${Date.now()}.tar`);
    await cli(['save', name, '-o', archive], hm.env);
    const ourId = await dheImageId(name, hm.env);

    const loaded = await d.dockerOk(['load', '-i', archive]);
    expect(loaded).toContain(`Loaded image: ${name}`);
    expect((await dockerInspect(name)).Id).toBe(ourId.full);
    expect(await dockerRun(name, 'echo "$SAVED_BY"; ls /bin/busybox')).toBe('dhe-cli\n/bin/busybox\n');
  });

  dit('docker save → dhe-cli load → dhe-cli push → docker pull: the same IMAGE ID', async () => {
    const hm = home();
    const marker = `made by docker import ${randomBytes(6).toString('hex')}\n`;
    const rootfs = join(tmp, `rootfs-${Date.now()}.tar`);
    writeFileSync(rootfs, await busyboxRootfsTar([{ type: 'file', name: 'marker.txt', content: marker }]));
    const name = `local/${uniqueRepo('dsave').replace('/', '-')}:1`;
    await d.dockerOk(importArgs(rootfs, name));
    const original = await dockerInspect(name);
    const archive = join(tmp, `docker-save-${Date.now()}.tar`);
    await d.dockerOk(['save', '-o', archive, name]);

    const load = await cli(['load', '-i', archive], hm.env);
    expect(load.stdout).toContain(`Loaded image: ${name}`);
    expect((await dheImageId(name, hm.env)).full).toBe(original.Id);
    const target = `${h.plain.host}/${uniqueRepo('dsave')}:pushed`;
    await cli(['tag', name, target], hm.env);
    await cli(['push', target], hm.env);

    // docker forgets the image entirely, so the pull must fetch every blob from what dhe-cli pushed
    await d.dockerOk(['image', 'rm', '-f', original.Id]);
    expect((await d.docker(['image', 'inspect', original.Id])).code).not.toBe(0);
    const pulled = await d.dockerOk(['pull', target]);
    expect(pulled).toContain('Pull complete');
    const di = await dockerInspect(target);
    expect(di.Id).toBe(original.Id);
    expect(di.RootFS.Layers).toEqual(original.RootFS.Layers);
    expect(await dockerRun(target, 'cat /marker.txt')).toBe(marker);
  });

  dit('docker login (Basic-auth TLS registry) → dhe-cli pull and push with no dhe-cli login, from DOCKER_CONFIG', async () => {
    const hm = home();
    const dockerConfig = hm.dockerConfig; // DOCKER_CONFIG: the same folder for docker and dhe-cli
    const { username, password } = h.users.full;
    const login = await d.dockerOk(['login', h.basic.host, '-u', username, '--password-stdin'], { input: `${password}\n`, dockerConfig });
    expect(login).toContain('Login Succeeded');
    const src = `${h.basic.host}/${uniqueRepo('basic')}:by-docker`;
    await d.dockerOk(['tag', BASE, src]);
    await d.dockerOk(['push', src], { dockerConfig });

    // without docker's config dhe-cli has no credentials: the registry refuses (exit 3)
    const denied = await runCli(['pull', src], { env: { ...hm.env, DOCKER_CONFIG: join(tmp, 'no-docker-config') } });
    expect(denied.code, denied.stderr).toBe(3);

    await cli(['pull', src], hm.env);
    expect((await dheImageId(src, hm.env)).full).toBe((await dockerInspect(src)).Id);
    const dst = `${h.basic.host}/${uniqueRepo('basic')}:by-dhe`;
    await cli(['mutate', src, '-t', dst, '--env', 'PUSHED_WITH=docker-credentials'], hm.env);
    await cli(['push', dst], hm.env);
    await d.dockerOk(['pull', dst], { dockerConfig });
    expect(await dockerRun(dst, 'echo "$PUSHED_WITH"')).toBe('docker-credentials\n');
  });

  dit('DHE front (nginx body limit, token auth): dhe-cli pushes a layer larger than the limit; docker login, pull and run', async () => {
    const hm = home();
    const { username, password } = h.users.full;
    const big = randomBytes(h.dhe.bodyLimitBytes + 1024 * 1024); // incompressible: the layer stays above the limit
    const layer = join(tmp, `big-${Date.now()}.tar`);
    writeFileSync(layer, await tarEntries([{ type: 'dir', name: 'big' }, { type: 'file', name: 'big/blob.bin', content: big }]));
    const ref = `${h.dhe.host}/${uniqueRepo('dhe')}:big`;
    await cli(['pull', BASE], hm.env);
    await cli(['append', BASE, '--layer', layer, '-t', ref], hm.env);
    const ours = JSON.parse((await cli(['inspect', ref], hm.env)).stdout);
    const sizes: number[] = ours.manifest.layers.map((l: { size: number }) => l.size);
    expect(Math.max(...sizes)).toBeGreaterThan(h.dhe.bodyLimitBytes);
    await cli(['login', h.dhe.host, '-u', username, '--password-stdin'], hm.env, `${password}\n`);
    const push = await cli(['push', ref], hm.env);
    expect(push.stdout).toMatch(/big: digest: sha256:[0-9a-f]{64}/);
    // nginx refused the big layer in one request (413), and dhe-cli got it through in chunks
    const repoPath = `/v2/${ref.slice(h.dhe.host.length + 1, -':big'.length)}/blobs/uploads/`;
    const ours413 = readFileSync(h.dhe.logFile, 'utf8').split('\n').filter((l) => l.includes(repoPath) && /" 413 /.test(l));
    expect(ours413.length).toBeGreaterThan(0);

    const dockerConfig = join(tmp, `docker-dhe-${Date.now()}`);
    expect(await d.dockerOk(['login', h.dhe.host, '-u', username, '--password-stdin'], { input: `${password}\n`, dockerConfig })).toContain(
      'Login Succeeded',
    );
    await d.dockerOk(['pull', ref], { dockerConfig });
    expect((await dockerInspect(ref)).Id).toBe(ours.manifest.config.digest);
    expect(await dockerRun(ref, 'sha256sum /big/blob.bin')).toBe(`${sha256hex(big)}  /big/blob.bin\n`);
  });

  dit('a multi-platform index pushed by dhe-cli: docker pull --platform gets each platform’s image', async () => {
    const hm = home();
    const runnable = await busyboxImage({ platform: { os: 'linux', architecture: hostArch }, format: 'oci' });
    const foreign = await buildImage({ platform: { os: 'linux', architecture: otherArch }, format: 'oci' });
    const srcRepo = uniqueRepo('multi-src');
    await seedIndex({ url: h.plain.url }, srcRepo, 'v1', [runnable, foreign]);
    const src = `${h.plain.host}/${srcRepo}:v1`;
    const dst = `${h.plain.host}/${uniqueRepo('multi')}:v1`;
    await cli(['pull', src, '--all-platforms'], hm.env);
    await cli(['tag', src, dst], hm.env);
    const push = await cli(['push', dst], hm.env);
    const indexDigest = /v1: digest: (sha256:[0-9a-f]{64})/.exec(push.stdout)?.[1];
    expect(indexDigest, push.stdout).toBeDefined();

    await d.dockerOk(['pull', '--platform', `linux/${otherArch}`, dst]);
    const f = await dockerInspect(dst);
    expect(f.Architecture).toBe(otherArch);
    expect(f.Id).toBe(foreign.config.digest);
    expect(f.RootFS.Layers).toEqual(foreign.diffIds);
    expect(f.RepoDigests).toContain(`${dst.replace(/:v1$/, '')}@${indexDigest}`);

    await d.dockerOk(['pull', '--platform', `linux/${hostArch}`, dst]);
    const r = await dockerInspect(dst);
    expect(r.Architecture).toBe(hostArch);
    expect(r.Id).toBe(runnable.config.digest);
    expect(await dockerRun(dst, 'ls /salt.txt')).toBe('/salt.txt\n');
  });

  dit('a TLS registry docker really verifies (certs.d CA, a non-loopback name through a proxy): dhe-cli pushes, docker pulls and runs', async () => {
    const hm = home();
    const env = { ...hm.env, HTTPS_PROXY: proxy.url };
    const ref = `${ALIAS}/${uniqueRepo('verified')}:v1`;
    await cli(['pull', BASE], hm.env);
    await cli(['mutate', BASE, '-t', ref, '--env', 'VERIFIED=yes'], env);
    await cli(['push', ref], env);
    const ourId = await dheImageId(ref, env);

    // the same registry and image under a name with no CA in certs.d: docker refuses the certificate
    const noCa = await d.docker(['pull', ref.replace(ALIAS, ALIAS_NO_CA)]);
    expect(noCa.code).not.toBe(0);
    expect(noCa.stderr).toMatch(/x509: certificate signed by unknown authority/);

    await d.dockerOk(['pull', ref]);
    expect((await dockerInspect(ref)).Id).toBe(ourId.full);
    expect(await dockerRun(ref, 'echo "$VERIFIED"')).toBe('yes\n');
    expect(proxy.connects).toContain(`CONNECT ${ALIAS}`);
    expect(proxy.connects).toContain(`CONNECT ${ALIAS_NO_CA}`);
  });
});
