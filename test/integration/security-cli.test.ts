// Secrets through the real CLI. Every runCli in every test file already fails when a harness password or an issued
// token shows on stdout/stderr (test/helpers/cli.ts); here: that guard itself, --debug runs of login/push/pull on a
// token registry, and a pull whose blobs are redirected to another origin (a storage server) that must not get the
// registry's Authorization.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getHarness, tokenLog } from '../harness/index.js';
import { startFaultProxy, type FaultProxy } from '../harness/fault-proxy.js';
import { freshHome, runCli } from '../helpers/cli.js';
import { buildImage, seedImage, uniqueRepo } from '../helpers/images.js';

const h = getHarness();
const plain = { url: h.plain.url };

describe('the secret guard of runCli', () => {
  it('fails a run whose output shows a harness password', async () => {
    const home = freshHome();
    // the CLI echoes a bad reference back: here, the password
    await expect(runCli(['tag', h.users.full.password, 'x'], { env: home.env })).rejects.toThrow(/secret leak: the full user's password appeared on stderr/);
  });

  it('fails a run whose output shows a secret the test names', async () => {
    const home = freshHome();
    await expect(runCli(['tag', 'only-a-test-secret-value', 'x'], { env: home.env, secrets: ['only-a-test-secret-value'] })).rejects.toThrow(/secret leak/);
  });
});

describe('--debug on a token registry', () => {
  it('login, push and pull trace the HTTP exchange and print no password, Basic value or token', async () => {
    const home = freshHome();
    const env = { ...home.env, DHE_CA_CERT: h.caCert };
    const since = (await tokenLog(h.token.tokenServerUrl)).at(-1)?.seq ?? 0;
    const login = await runCli(['--debug', 'login', h.token.host, '-u', h.users.full.username, '--password-stdin'], { env, input: `${h.users.full.password}\n` });
    expect(login.code).toBe(0);
    expect(login.stdout).toContain('Login Succeeded');

    const src = uniqueRepo('sec');
    const img = await buildImage({ layers: 1, salt: src });
    await seedImage(plain, src, 'v1', img);
    expect((await runCli(['pull', `${h.plain.host}/${src}:v1`], { env })).code).toBe(0);
    const targetRepo = uniqueRepo('sec');
    const target = `${h.token.host}/${targetRepo}:v1`;
    expect((await runCli(['tag', `${h.plain.host}/${src}:v1`, target], { env })).code).toBe(0);
    const push = await runCli(['--debug', 'push', target], { env });
    expect(push.code).toBe(0);
    const pull = await runCli(['--debug', 'pull', target], { env: { ...env, DHE_STORE: `${home.store}-2` } });
    expect(pull.code).toBe(0);

    // the trace is there (so the guard had something to look at), redacted
    for (const r of [login, push, pull]) {
      expect(r.stderr).toMatch(/^DEBUG .*token request/m);
      expect(r.stderr).toMatch(/^DEBUG HTTP (GET|PUT|HEAD|POST)/m);
      expect(r.stderr).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/);
    }
    // tokens were issued to these runs (the push and the pull of this test's repository; other files use the same
    // token server at the same time, so count only requests for it), and runCli found none of them in the output
    const mine = (await tokenLog(h.token.tokenServerUrl, since)).filter((e) => e.status === 200 && e.scopesAsked.some((s) => s.includes(targetRepo)));
    expect(mine.filter((e) => e.scopesGranted.some((s) => s.includes(targetRepo) && s.includes('push'))).length).toBeGreaterThanOrEqual(1);
    expect(mine.length).toBeGreaterThanOrEqual(2);
  });
});

describe('Authorization on a redirect to another origin, through the CLI', () => {
  let proxy: FaultProxy;
  beforeAll(async () => {
    // a token-auth registry (the dhe upstream; realm: the nginx front over TLS) behind our proxy, which passes
    // Authorization on and redirects blob GETs to its storage server, another origin
    proxy = await startFaultProxy(h.dhe.upstream.url, { forwardAuthorization: true });
  });
  afterAll(async () => {
    await proxy?.close();
  });

  it('a --debug pull sends the token to the registry only: the storage server gets no Authorization, the trace no token', async () => {
    const home = freshHome();
    const env = { ...home.env, DHE_CA_CERT: h.caCert };
    const login = await runCli(['login', proxy.host, '-u', h.users.full.username, '--password-stdin'], { env, input: h.users.full.password });
    expect(login.stderr).not.toMatch(/^Error/m);
    expect(login.code).toBe(0);

    // push an image through the proxy (no faults yet), then pull it back with every blob GET redirected
    const repo = uniqueRepo('xorigin');
    const img = await buildImage({ layers: 2, salt: repo });
    const seedRepo = uniqueRepo('xseed');
    await seedImage(plain, seedRepo, 'v1', img);
    expect((await runCli(['pull', `${h.plain.host}/${seedRepo}:v1`], { env })).code).toBe(0);
    const ref = `${proxy.host}/${repo}:v1`;
    expect((await runCli(['tag', `${h.plain.host}/${seedRepo}:v1`, ref], { env })).code).toBe(0);
    const push = await runCli(['push', ref], { env });
    expect(push.stderr).toBe('');
    expect(push.code).toBe(0);

    proxy.add({ kind: 'redirect', method: 'GET', path: /\/blobs\/sha256:/, times: Infinity });
    const pull = await runCli(['--debug', 'pull', ref], { env: { ...env, DHE_STORE: `${home.store}-2` } });
    proxy.clear();
    expect(pull.code).toBe(0);
    expect(pull.stdout).toContain(`Digest: ${img.manifest.digest}`);

    // the registry got the token with every blob request; the storage origin got no Authorization at all
    const blobGets = proxy.hits.filter((x) => x.method === 'GET' && /\/blobs\/sha256:/.test(x.path) && x.fault === 'redirect');
    expect(blobGets.length).toBe(3);
    expect(blobGets.every((x) => x.authorization)).toBe(true);
    expect(proxy.storage.requests.length).toBe(3);
    expect(proxy.storage.requests.map((r) => r.authorization)).toEqual([undefined, undefined, undefined]);
    // the trace says so, and shows neither the token nor the storage URL's signature
    expect(pull.stderr).toMatch(/^DEBUG redirect to .*another origin: Authorization not sent/m);
    expect(pull.stderr).not.toContain('secret-signature');
    expect(pull.stderr).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/);
  });
});

describe('responses read into memory are size-capped, through the CLI', () => {
  let proxy: FaultProxy;
  beforeAll(async () => {
    proxy = await startFaultProxy(h.plain.url);
  });
  afterAll(async () => {
    await proxy?.close();
  });
  const big = (n: number) => `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","pad":"${'x'.repeat(n)}"}`;

  for (const chunked of [false, true]) {
    it(`a manifest above 4 MiB (${chunked ? 'chunked, no length' : 'Content-Length'}) is refused: exit 7, nothing stored`, async () => {
      const repo = uniqueRepo('cap');
      proxy.add({
        kind: 'status',
        status: 200,
        method: 'GET',
        path: `/v2/${repo}/manifests/`,
        headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json', ...(chunked ? { 'transfer-encoding': 'chunked' } : {}) },
        body: big(6 * 1024 * 1024),
      });
      const home = freshHome();
      const r = await runCli(['pull', `${proxy.host}/${repo}:v1`], { env: home.env });
      expect(r.code).toBe(7);
      expect(r.stderr).toMatch(/^Error: manifest .* (is \d+ bytes, above|is larger than) .*4194304/m);
      expect((await runCli(['images', '-q'], { env: home.env })).stdout).toBe('');
    });
  }

  it('an error body of 16 MiB is not read whole: the 404 is reported (exit 5) from what fits', async () => {
    const repo = uniqueRepo('cap');
    proxy.add({
      kind: 'status',
      status: 404,
      method: 'GET',
      path: `/v2/${repo}/manifests/`,
      body: `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":"${'y'.repeat(16 * 1024 * 1024)}"}]}`,
    });
    const home = freshHome();
    const t = Date.now();
    const r = await runCli(['pull', `${proxy.host}/${repo}:v1`], { env: home.env });
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/^Error: /m);
    expect(r.stderr.length).toBeLessThan(2000);
    expect(Date.now() - t).toBeLessThan(10_000);
  });
});
