// Where credentials may go: proxies (HTTPS_PROXY / NO_PROXY), refused token realms (metadata, non-http), Basic
// never over plain HTTP to a remote host, and no secret in --debug traces.
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Authenticator } from '../../src/auth/authenticator.js';
import { parseWwwAuthenticate } from '../../src/auth/challenge.js';
import type { RegistryClientOptions } from '../../src/registry/index.js';
import { Transport } from '../../src/transport/http.js';
import { streamTrace } from '../../src/trace.js';
import { getHarness } from '../harness/index.js';
import { startFaultProxy, type FaultProxy } from '../harness/fault-proxy.js';
import { buildImage, uniqueRepo } from '../helpers/images.js';
import { useConnectProxy } from '../helpers/proxy.js';
import { caught, testClient } from '../helpers/registry.js';

const h = getHarness();
/** Quick retries: these tests expect failures. */
const client = (registry: string, over: Partial<RegistryClientOptions> = {}) => testClient(registry, { retry: { attempts: 2, baseDelayMs: 20, maxDelayMs: 50 }, ...over });

describe('HTTPS_PROXY / NO_PROXY', () => {
  const proxy = useConnectProxy();

  it('goes through the proxy (CONNECT), with the registry\'s TLS settings end to end', async () => {
    const c = client(h.basic.host, { proxy: { httpsProxy: proxy.url }, credentials: async () => h.users.full });
    expect(await c.headManifest(uniqueRepo('proxy'), 'latest')).toBeNull();
    expect(proxy.tunnels).toContain(h.basic.host);
  });

  it('NO_PROXY bypasses it', async () => {
    const before = proxy.tunnels.length;
    const c = client(h.basic.host, { proxy: { httpsProxy: proxy.url, noProxy: '127.0.0.1' }, credentials: async () => h.users.full });
    expect((await c.ping()).status).toBe(401);
    expect(proxy.tunnels.length).toBe(before);
  });

  it('a proxy that is down is a PROXY error naming it', async () => {
    const e = await caught(client(h.basic.host, { proxy: { httpsProxy: 'http://127.0.0.1:9' } }).ping());
    expect(e.code).toBe('PROXY');
    expect(e.message).toContain('127.0.0.1:9');
  });
});

describe('token realms a registry may not send us to', () => {
  let fp: FaultProxy;
  beforeAll(async () => {
    fp = await startFaultProxy(h.plain.url);
  });
  afterAll(async () => {
    await fp.close();
  });
  for (const realm of ['http://169.254.169.254/latest/meta-data/iam/security-credentials/', 'http://[fd00:ec2::254]/token', 'file:///etc/passwd']) {
    it(`refuses ${realm}`, async () => {
      fp.clear();
      fp.add({ kind: 'status', status: 401, times: Infinity, headers: { 'www-authenticate': `Bearer realm="${realm}",service="x"` } });
      const e = await caught(client(fp.host, { credentials: async () => ({ username: 'u', password: 'p' }) }).getManifest('a/b', 'latest'));
      expect(e.code).toBe('TOKEN_ERROR');
      expect(e.exitCode).toBe(3);
      expect(e.message).toMatch(/refusing token realm/);
    });
  }
  it('refuses to send credentials to a plain-HTTP realm on a remote host', async () => {
    fp.clear();
    fp.add({ kind: 'status', status: 401, times: Infinity, headers: { 'www-authenticate': 'Bearer realm="http://auth.example.invalid/token",service="x"' } });
    const e = await caught(client(fp.host, { credentials: async () => ({ username: 'u', password: 'p' }) }).getManifest('a/b', 'latest'));
    expect(e.code).toBe('INSECURE_AUTH');
  });
});

describe('Basic credentials and plain HTTP', () => {
  it('never sent over plain HTTP to a non-loopback host unless it is marked insecure', async () => {
    const transport = new Transport({ tls: { caCertFiles: [], certsDirs: [], insecureRegistries: [] }, proxy: {} });
    const mk = (insecureHosts: string[]) => {
      const a = new Authenticator({ registry: 'reg.example:5000', transport, trace: streamTrace(() => {}), credentials: async () => ({ username: 'u', password: 'p' }), policy: { insecureHosts } });
      a.setChallenges(parseWwwAuthenticate('Basic realm="r"'));
      return a;
    };
    await expect(mk([]).header([], new URL('http://reg.example:5000/v2/'))).rejects.toMatchObject({ code: 'INSECURE_AUTH' });
    expect(await mk([]).header([], new URL('https://reg.example:5000/v2/'))).toMatch(/^Basic /);
    expect(await mk([]).header([], new URL('http://127.0.0.1:5000/v2/'))).toMatch(/^Basic /);
    expect(await mk(['reg.example:5000']).header([], new URL('http://reg.example:5000/v2/'))).toMatch(/^Basic /);
    await transport.close();
  });
});

describe('secrets in --debug traces', () => {
  it('a token-auth push and pull traces no password, Basic value, token or refresh token', async () => {
    const lines: string[] = [];
    const trace = streamTrace((s) => lines.push(s));
    const login = client(h.token.host, { trace });
    const { identityToken } = await login.checkLogin(h.users.full, { offlineToken: true });
    const c = client(h.token.host, { trace, credentials: async () => h.users.full });
    const repo = uniqueRepo('secret');
    c.intendPush(repo);
    const img = await buildImage({ salt: repo });
    for (const b of [...img.layers, img.config]) await c.uploadBlob(repo, b, () => Readable.from([b.bytes]));
    await c.putManifest(repo, 'v1', img.manifest.bytes, img.manifest.mediaType);
    const viaRefresh = client(h.token.host, { trace, credentials: async () => ({ identityToken }) });
    await viaRefresh.getManifest(repo, 'v1');
    const text = lines.join('');
    expect(text).toContain('token request');
    expect(text).toContain('HTTP PUT');
    expect(text).not.toContain(h.users.full.password);
    expect(text).not.toContain(Buffer.from(`${h.users.full.username}:${h.users.full.password}`).toString('base64'));
    expect(text).not.toContain(identityToken!);
    expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{8,}\./);
  });
});
