// SECURITY.md's promises that had no test of their own, each as an attack or a user-visible check through the CLI:
// verified manifests (§1), Basic never in the clear to another machine (§5), proxies from the environment (§5),
// no secret in --debug failure output (§6), and the documented retry figures (§3).
import { networkInterfaces } from 'node:os';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getHarness } from '../harness/index.js';
import { startFaultProxy, type FaultProxy } from '../harness/fault-proxy.js';
import { startMiniRegistry, type MiniRegistry } from '../harness/mini-registry.js';
import { freshHome, runCli, type CliResult } from '../helpers/cli.js';
import { startConnectProxy, type ConnectProxy } from '../helpers/docker.js';
import { writeDockerConfig } from '../helpers/docker-config.js';
import { buildImage, seedImage, sha256, uniqueRepo, type BuiltImage } from '../helpers/images.js';

const h = getHarness();
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

async function mini(opts: Parameters<typeof startMiniRegistry>[0] = {}): Promise<MiniRegistry> {
  const r = await startMiniRegistry(opts);
  closers.push(() => r.close());
  return r;
}

function serve(reg: MiniRegistry, repo: string, img: BuiltImage): void {
  for (const b of [img.config, ...img.layers]) reg.blobs.set(b.digest, b.bytes);
  reg.manifests.set(`${repo}:v1`, { bytes: img.manifest.bytes, mediaType: img.manifest.mediaType });
  reg.manifests.set(`${repo}:${img.manifest.digest}`, { bytes: img.manifest.bytes, mediaType: img.manifest.mediaType });
}

function errorLine(r: CliResult): string {
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('Error: '));
  expect(lines, r.stderr).toHaveLength(1);
  return lines[0]!;
}

async function expectNothingStored(env: Record<string, string>): Promise<void> {
  const images = await runCli(['images', '-q'], { env });
  expect(images.stdout.trim()).toBe('');
  const verify = await runCli(['store', 'verify'], { env });
  expect(verify.code).toBe(0);
}

/** A non-loopback IPv4 address of this machine (a real interface: no /etc/hosts, no network needed). */
function nonLoopbackIpv4(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal && !a.address.startsWith('169.254.')) return a.address;
  }
  throw new Error('this machine has no non-loopback IPv4 address: the plain-HTTP tests need one to listen on');
}

describe('§1 manifests are verified', () => {
  it('a manifest fetched by digest that does not hash to it is refused (exit 7), nothing stored, no blob fetched', async () => {
    const repo = 'team/app';
    const img = await buildImage({ layers: 1 });
    const other = await buildImage({ layers: 1 });
    const reg = await mini();
    serve(reg, repo, img);
    // asked for img's digest, the registry answers another (valid) manifest
    reg.manifests.set(`${repo}:${img.manifest.digest}`, { bytes: other.manifest.bytes, mediaType: other.manifest.mediaType });
    for (const b of [other.config, ...other.layers]) reg.blobs.set(b.digest, b.bytes);
    const home = freshHome();
    const r = await runCli(['pull', `${reg.host}/${repo}@${img.manifest.digest}`], { env: home.env });
    expect(r.code).toBe(7);
    expect(errorLine(r)).toMatch(/digest/i);
    expect(reg.requests.filter((q) => q.path.includes('/blobs/'))).toEqual([]);
    await expectNothingStored(home.env);
    const inspect = await runCli(['inspect', '--remote', `${reg.host}/${repo}@${img.manifest.digest}`], { env: home.env });
    expect(inspect.code).toBe(7);
    expect(inspect.stdout).toBe('');
  });

  it('a Docker-Content-Digest that disagrees with the manifest is refused (exit 7), nothing stored', async () => {
    const repo = 'team/app';
    const img = await buildImage({ layers: 1 });
    const reg = await mini();
    serve(reg, repo, img);
    const liar = sha256(Buffer.from('another manifest'));
    reg.manifests.set(`${repo}:v1`, { bytes: img.manifest.bytes, mediaType: img.manifest.mediaType, digestHeader: liar });
    const home = freshHome();
    const r = await runCli(['pull', `${reg.host}/${repo}:v1`], { env: home.env });
    expect(r.code).toBe(7);
    expect(errorLine(r)).toMatch(/Docker-Content-Digest|digest/);
    expect(r.stdout).not.toContain('Status: Downloaded');
    await expectNothingStored(home.env);
  });
});

describe('§5 Basic credentials never cross the network in the clear', () => {
  const user = { username: 'alice', password: `plain-pw-${Date.now().toString(36)}` };

  it('a registry on another machine that speaks only plain HTTP gets no password: exit 4 with the --insecure-registry hint', async () => {
    const ip = nonLoopbackIpv4();
    const reg = await mini({ listenHost: ip, basic: user });
    const home = freshHome();
    const r = await runCli(['login', reg.host, '-u', user.username, '--password-stdin'], { env: home.env, input: user.password, secrets: [user.password] });
    expect(r.code).toBe(4);
    expect(errorLine(r)).toContain(reg.host);
    expect(r.stderr).toContain(`--insecure-registry ${reg.host}`);
    expect(r.stdout).not.toContain('Login Succeeded');
    expect(reg.requests.filter((q) => q.authorization !== undefined)).toEqual([]);
  });

  it('marked --insecure-registry, the same registry gets Basic over plain HTTP and login succeeds', async () => {
    const ip = nonLoopbackIpv4();
    const reg = await mini({ listenHost: ip, basic: user });
    const home = freshHome();
    const r = await runCli(['--insecure-registry', reg.host, 'login', reg.host, '-u', user.username, '--password-stdin'], { env: home.env, input: user.password, secrets: [user.password] });
    expect(r.stdout).toContain('Login Succeeded');
    expect(r.code).toBe(0);
    expect(reg.requests.some((q) => q.authorization?.startsWith('Basic '))).toBe(true);
  });

  it('a loopback registry speaking plain HTTP gets Basic (this machine only)', async () => {
    const reg = await mini({ basic: user });
    const home = freshHome();
    const r = await runCli(['login', reg.host, '-u', user.username, '--password-stdin'], { env: home.env, input: user.password, secrets: [user.password] });
    expect(r.stdout).toContain('Login Succeeded');
    expect(r.code).toBe(0);
  });

  it('a token realm in plain HTTP on another machine gets no credentials: login exits 3, the realm receives nothing', async () => {
    const ip = nonLoopbackIpv4();
    const realm = await mini({ listenHost: ip });
    realm.route((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"realm-token","expires_in":300}');
    });
    const pki = join(h.workDir, 'pki');
    const reg = await mini({ tls: { key: readFileSync(join(pki, 'server.key')), cert: readFileSync(join(pki, 'server.crt')) } });
    reg.route((_req, res) => {
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': `Bearer realm="${realm.url}/token",service="x"` });
      res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
    });
    const home = freshHome();
    const r = await runCli(['login', reg.host, '-u', user.username, '--password-stdin'], {
      env: { ...home.env, DHE_CA_CERT: h.caCert },
      input: user.password,
      secrets: [user.password],
    });
    expect(r.code).toBe(3);
    expect(errorLine(r)).toMatch(/plain HTTP/);
    expect(realm.requests.filter((q) => q.authorization !== undefined)).toEqual([]);
  });
});

describe('§5 proxies from the environment (HTTPS_PROXY, HTTP_PROXY, NO_PROXY)', () => {
  let proxy: ConnectProxy;
  let repo: string;
  let img: BuiltImage;
  beforeAll(async () => {
    proxy = await startConnectProxy({ [h.basic.host]: h.basic.host, [h.plain.host]: h.plain.host });
    repo = uniqueRepo('proxy-env');
    img = await buildImage({ layers: 1, salt: repo });
    await seedImage({ url: h.plain.url }, repo, 'v1', img);
  });
  afterAll(async () => {
    await proxy.close();
  });

  it('HTTPS_PROXY: login to a TLS registry goes through the proxy (CONNECT), with the registry\'s TLS checked end to end', async () => {
    const before = proxy.connects.length;
    const home = freshHome();
    const r = await runCli(['login', h.basic.host, '-u', h.users.full.username, '--password-stdin'], {
      env: { ...home.env, DHE_CA_CERT: h.caCert, HTTPS_PROXY: proxy.url },
      input: h.users.full.password,
    });
    expect(r.stdout).toContain('Login Succeeded');
    expect(r.code).toBe(0);
    expect(proxy.connects.slice(before)).toContain(`CONNECT ${h.basic.host}`);
    // through the same proxy, the registry's certificate is still verified: without the CA, exit 4
    const untrusted = await runCli(['login', h.basic.host, '-u', h.users.full.username, '--password-stdin'], {
      env: { ...freshHome().env, HTTPS_PROXY: proxy.url },
      input: h.users.full.password,
    });
    expect(untrusted.code).toBe(4);
  });

  it('NO_PROXY naming the registry: direct, the proxy sees nothing', async () => {
    const before = proxy.connects.length;
    const home = freshHome();
    const r = await runCli(['login', h.basic.host, '-u', h.users.full.username, '--password-stdin'], {
      env: { ...home.env, DHE_CA_CERT: h.caCert, HTTPS_PROXY: proxy.url, NO_PROXY: 'example.com,127.0.0.1' },
      input: h.users.full.password,
    });
    expect(r.code).toBe(0);
    expect(proxy.connects.slice(before)).toEqual([]);
  });

  it('HTTP_PROXY: a pull from a plain-HTTP registry goes through it', async () => {
    const before = proxy.connects.length;
    const home = freshHome();
    const r = await runCli(['pull', `${h.plain.host}/${repo}:v1`], { env: { ...home.env, HTTP_PROXY: proxy.url } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(proxy.connects.slice(before)).toContain(`CONNECT ${h.plain.host}`);
  });

  it('an HTTPS_PROXY that is down: exit 6 naming the proxy, with a NO_PROXY hint', async () => {
    const home = freshHome();
    const r = await runCli(['pull', `${h.basic.host}/${repo}:v1`], { env: { ...home.env, DHE_CA_CERT: h.caCert, HTTPS_PROXY: 'http://127.0.0.1:9' } });
    expect(r.code).toBe(6);
    expect(errorLine(r)).toContain('proxy http://127.0.0.1:9');
    expect(r.stderr).toContain('NO_PROXY');
  });
});

describe('§6 no secret in --debug failure output', () => {
  const basicOf = (u: string, p: string) => Buffer.from(`${u}:${p}`).toString('base64');
  function expectNoSecret(r: CliResult, ...secrets: string[]): void {
    for (const s of secrets) {
      expect(r.stdout).not.toContain(s);
      expect(r.stderr).not.toContain(s);
    }
    // no token of any kind: JWTs, Bearer / Basic values
    expect(r.stderr).not.toMatch(/eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/);
    expect(r.stderr).not.toMatch(/(Bearer|Basic) (?!\[|\*|<|realm)[A-Za-z0-9+/=._-]{12,}/i);
  }

  it('a refused login (Basic) under --debug: the trace and the stack trace show no password and no Basic value', async () => {
    const wrong = `wrong-pw-${Date.now().toString(36)}`;
    const home = freshHome();
    const r = await runCli(['--debug', 'login', h.basic.host, '-u', h.users.full.username, '--password-stdin'], {
      env: { ...home.env, DHE_CA_CERT: h.caCert },
      input: wrong,
      secrets: [wrong, basicOf(h.users.full.username, wrong)],
    });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/HTTP GET/);
    expect(r.stderr).toMatch(/^\s+at /m); // --debug shows the stack trace
    expectNoSecret(r, wrong, basicOf(h.users.full.username, wrong), h.users.full.password);
  });

  it('a refused login at a token server under DHE_DEBUG=1: no password, no Basic value', async () => {
    const wrong = `wrong-tok-pw-${Date.now().toString(36)}`;
    const home = freshHome();
    const r = await runCli(['login', h.dhe.host, '-u', h.users.full.username, '--password-stdin'], {
      env: { ...home.env, DHE_CA_CERT: h.caCert, DHE_DEBUG: '1' },
      input: wrong,
      secrets: [wrong, basicOf(h.users.full.username, wrong)],
    });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/token request/);
    expect(r.stderr).toMatch(/^\s+at /m);
    expectNoSecret(r, wrong, basicOf(h.users.full.username, wrong));
  });

  it('a pull denied after a token was issued, under --debug: no token, password or Basic value anywhere', async () => {
    const home = freshHome();
    writeDockerConfig(home, { [h.dhe.host]: h.users.pullonly });
    const repo = uniqueRepo('debug-denied');
    const r = await runCli(['--debug', 'pull', `${h.dhe.host}/${repo}:v1`], { env: { ...home.env, DHE_CA_CERT: h.caCert } });
    expect([3, 5]).toContain(r.code);
    expect(r.stderr).toMatch(/token request/);
    expectNoSecret(r, h.users.pullonly.password, basicOf(h.users.pullonly.username, h.users.pullonly.password));
  });
});

describe('§3 the documented retry figures', () => {
  let fp: FaultProxy;
  let repo: string;
  beforeAll(async () => {
    fp = await startFaultProxy(h.plain.url);
    repo = uniqueRepo('figures');
    await seedImage({ url: h.plain.url }, repo, 'v1', await buildImage({ layers: 1, salt: repo }));
  });
  afterAll(async () => {
    await fp.close();
  });
  const manifestHits = (since: number) => fp.hits.slice(since).filter((x) => x.path.includes(`/v2/${repo}/manifests/`));

  it('a 503 without Retry-After gets 5 attempts in all, with growing (exponential) waits, then exit 6', async () => {
    fp.clear();
    const since = fp.hits.length;
    fp.add({ kind: 'status', status: 503, method: 'GET', path: `/v2/${repo}/manifests/`, times: Infinity });
    const t = Date.now();
    const r = await runCli(['pull', `${fp.host}/${repo}:v1`], { env: freshHome().env });
    fp.clear();
    expect(r.code).toBe(6);
    expect(errorLine(r)).toMatch(/503/);
    const hits = manifestHits(since);
    expect(hits).toHaveLength(5);
    const gaps = hits.slice(1).map((x, i) => x.time - hits[i]!.time);
    // 250 ms base, doubling, with jitter: the last wait is longer than the first
    expect(gaps[3]!).toBeGreaterThan(gaps[0]!);
    expect(Date.now() - t).toBeLessThan(20_000);
  });

  it('a Retry-After above 60 s is not waited: exit 6 at once, saying how long the registry asked', async () => {
    fp.clear();
    const since = fp.hits.length;
    fp.add({ kind: 'status', status: 429, headers: { 'retry-after': '61' }, method: 'GET', path: `/v2/${repo}/manifests/`, times: Infinity });
    const t = Date.now();
    const r = await runCli(['pull', `${fp.host}/${repo}:v1`], { env: freshHome().env });
    fp.clear();
    expect(r.code).toBe(6);
    expect(errorLine(r)).toMatch(/61 ?s/);
    expect(manifestHits(since)).toHaveLength(1);
    expect(Date.now() - t).toBeLessThan(5_000);
  });

  it('a Retry-After of 3 s is waited in full, then the pull completes', async () => {
    fp.clear();
    const since = fp.hits.length;
    fp.add({ kind: 'status', status: 503, headers: { 'retry-after': '3' }, method: 'GET', path: `/v2/${repo}/manifests/`, times: 1 });
    const r = await runCli(['pull', `${fp.host}/${repo}:v1`], { env: freshHome().env });
    fp.clear();
    expect(r.code).toBe(0);
    const hits = manifestHits(since);
    expect(hits.length).toBeGreaterThanOrEqual(2);
    expect(hits[1]!.time - hits[0]!.time).toBeGreaterThanOrEqual(2_950);
  });
});
