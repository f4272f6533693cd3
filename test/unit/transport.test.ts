// Transport building blocks: Retry-After, backoff, NO_PROXY, host lists, realm checks, certs.d lookup, registry
// error mapping, token responses (not JSON, no token, huge).
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Transport } from '../../src/transport/http.js';
import { backoffDelay, DEFAULT_RETRY, parseRetryAfter } from '../../src/transport/retry.js';
import { bypassesProxy, proxyFor } from '../../src/transport/proxy.js';
import { isLoopbackHost, isMetadataHost, matchesHostList } from '../../src/transport/hosts.js';
import { certsDirsFor, loadHostTls } from '../../src/transport/tls.js';
import { mapNetworkError } from '../../src/transport/errors.js';
import { checkRealm, fetchToken, tokenFresh } from '../../src/auth/token.js';
import { parseErrorBody, registryError } from '../../src/registry/errors.js';
import { DheError } from '../../src/errors.js';
import { guardTarget } from '../../src/transport/origin-guard.js';
import { nextLink } from '../../src/registry/pager.js';
import { Authenticator } from '../../src/auth/authenticator.js';
import { parseWwwAuthenticate } from '../../src/auth/challenge.js';
import { silentTrace } from '../../src/trace.js';

describe('Retry-After and backoff', () => {
  it('seconds and HTTP dates', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
  it('exponential with jitter, capped', () => {
    const r = { ...DEFAULT_RETRY, baseDelayMs: 100, maxDelayMs: 1000 };
    expect(backoffDelay(1, r, () => 0)).toBe(50);
    expect(backoffDelay(1, r, () => 1)).toBe(100);
    expect(backoffDelay(3, r, () => 1)).toBe(400);
    expect(backoffDelay(10, r, () => 1)).toBe(1000);
    fc.assert(fc.property(fc.integer({ min: 1, max: 50 }), (a) => backoffDelay(a, r) <= 1000 && backoffDelay(a, r) >= 50));
  });
});

describe('proxies', () => {
  it('NO_PROXY as curl reads it', () => {
    expect(bypassesProxy('*', 'a.example.com', 443)).toBe(true);
    expect(bypassesProxy('example.com', 'a.example.com', 443)).toBe(true);
    expect(bypassesProxy('.example.com', 'example.com', 443)).toBe(true);
    expect(bypassesProxy('example.com', 'notexample.com', 443)).toBe(false);
    expect(bypassesProxy('reg.local:5000', 'reg.local', 5000)).toBe(true);
    expect(bypassesProxy('reg.local:5000', 'reg.local', 443)).toBe(false);
    expect(bypassesProxy('10.0.0.0/8, 127.0.0.1', '10.1.2.3', 443)).toBe(true);
    expect(bypassesProxy('10.0.0.0/8', '11.1.2.3', 443)).toBe(false);
    expect(bypassesProxy(undefined, 'x', 1)).toBe(false);
  });
  it('HTTPS_PROXY for https, HTTP_PROXY for http', () => {
    const s = { httpsProxy: 'http://p:3128', httpProxy: 'http://q:3128', noProxy: 'internal' };
    expect(proxyFor(s, new URL('https://reg.example.com/v2/'))).toBe('http://p:3128');
    expect(proxyFor(s, new URL('http://reg.example.com/v2/'))).toBe('http://q:3128');
    expect(proxyFor(s, new URL('https://internal/v2/'))).toBeUndefined();
  });
});

describe('hosts', () => {
  it('loopback, metadata, insecure lists', () => {
    for (const h of ['127.0.0.1', '127.5.5.5', 'localhost', '::1', '[::1]']) expect(isLoopbackHost(h)).toBe(true);
    for (const h of ['10.0.0.1', 'example.com', '128.0.0.1']) expect(isLoopbackHost(h)).toBe(false);
    for (const h of ['169.254.169.254', 'fd00:ec2::254', '[fd00:ec2::254]', 'fe80::1']) expect(isMetadataHost(h)).toBe(true);
    expect(isMetadataHost('10.0.0.1')).toBe(false);
    expect(matchesHostList(['reg:5000'], 'reg:5000')).toBe(true);
    expect(matchesHostList(['reg:5000'], 'reg:5001')).toBe(false);
    expect(matchesHostList(['reg'], 'reg:5001')).toBe(true);
    expect(matchesHostList(['other'], 'reg')).toBe(false);
  });
});

describe('where a server may send the client', () => {
  it('metadata addresses of every cloud, in every spelling a URL accepts', () => {
    for (const u of ['http://100.100.100.200/latest/meta-data', 'http://metadata.goog/', 'http://metadata.google.internal./x', 'http://0xa9fea9fe/',
      'http://2852039166/', 'http://0251.0376.0251.0376/', 'http://[::ffff:169.254.169.254]/', 'http://[fe80::1]/', 'http://[fd00:ec2::254]/', 'http://169.254.0.1/']) {
      expect(isMetadataHost(new URL(u).hostname), u).toBe(true);
    }
    for (const u of ['http://100.100.100.201/', 'http://metadata.example.com/', 'http://10.0.0.1/']) expect(isMetadataHost(new URL(u).hostname), u).toBe(false);
  });

  it('guardTarget: http(s) only; a metadata address only on the same origin', () => {
    const from = 'https://reg.example:5000/v2/x/blobs/sha256:a';
    expect(guardTarget(new URL('https://s3.example/b'), from, 'a redirect').host).toBe('s3.example');
    expect(() => guardTarget(new URL('http://169.254.169.254/'), from, 'a redirect')).toThrow(/refusing a redirect from reg\.example:5000 to the link-local\/metadata address 169\.254\.169\.254/);
    expect(() => guardTarget(new URL('file:///etc/passwd'), from, 'an upload Location')).toThrow(/refusing an upload Location from reg\.example:5000 to a file: URL/);
    expect(guardTarget(new URL('http://169.254.1.1/v2/'), 'http://169.254.1.1/v2/', 'a redirect').host).toBe('169.254.1.1');
  });

  it('nextLink finds rel="next" among several links and parameters', () => {
    expect(nextLink('</v2/_catalog?last=b&n=1>; rel="next"')).toBe('/v2/_catalog?last=b&n=1');
    expect(nextLink('<https://a/p1>; rel="prev", <https://a/p3>; type="x"; rel=next')).toBe('https://a/p3');
    expect(nextLink('<https://a/p1>; rel="prev"')).toBeUndefined();
    expect(nextLink(undefined)).toBeUndefined();
  });

  it('a realm, once learnt, never moves to another origin; after Basic, a realm must be on the registry host', () => {
    const transport = new Transport({ tls: { caCertFiles: [], certsDirs: [], insecureRegistries: [] }, proxy: {} });
    const a = new Authenticator({ registry: 'reg.example', home: 'reg.example', transport, trace: silentTrace, policy: {} });
    a.setChallenges(parseWwwAuthenticate('Bearer realm="https://auth.example/token",service="reg"'));
    a.setChallenges(parseWwwAuthenticate('Bearer realm="https://auth.example/other",service="reg2"')); // same origin: fine
    expect(a.realm).toBe('https://auth.example/other');
    expect(() => a.setChallenges(parseWwwAuthenticate('Bearer realm="https://attacker.example/steal"'))).toThrow(/moved its authentication from its token realm at https:\/\/auth\.example to a token realm at https:\/\/attacker\.example/);
    expect(() => a.setChallenges(parseWwwAuthenticate('Bearer realm="http://auth.example/token"'))).toThrow(DheError);
    expect(a.realm).toBe('https://auth.example/other');
    const b = new Authenticator({ registry: 'reg.example', home: 'reg.example', transport, trace: silentTrace, policy: {} });
    b.setChallenges(parseWwwAuthenticate('Basic realm="Registry"'));
    expect(() => b.setChallenges(parseWwwAuthenticate('Bearer realm="https://attacker.example/steal"'))).toThrow(/from Basic authentication/);
    expect(b.scheme).toBe('basic');
  });
});

describe('token realms', () => {
  const policy = { insecureHosts: ['insecure.example:5000'] };
  it('refuses non-http(s) and metadata realms', () => {
    expect(() => checkRealm('file:///etc/passwd', policy, false)).toThrow(/scheme file:/);
    expect(() => checkRealm('ftp://x/token', policy, false)).toThrow(DheError);
    expect(() => checkRealm('http://169.254.169.254/latest/meta-data', policy, false)).toThrow(/metadata/);
    expect(() => checkRealm('http://[fd00:ec2::254]/token', policy, false)).toThrow(/metadata/);
    expect(checkRealm('http://169.254.169.254/t', { allowMetadataRealm: true }, false).host).toBe('169.254.169.254');
    expect(() => checkRealm('not a url', policy, false)).toThrow(DheError);
  });
  it('credentials go to a plain-HTTP realm only on loopback or an insecure host', () => {
    expect(() => checkRealm('http://auth.example.com/token', policy, true)).toThrow(/plain HTTP/);
    expect(checkRealm('http://auth.example.com/token', policy, false).host).toBe('auth.example.com');
    expect(checkRealm('http://127.0.0.1:9/token', policy, true).host).toBe('127.0.0.1:9');
    expect(checkRealm('http://insecure.example:5000/token', policy, true).host).toBe('insecure.example:5000');
    expect(checkRealm('https://auth.example.com/token', policy, true).host).toBe('auth.example.com');
  });
  it('token freshness: reused until the last 20 % (at most 30 s) of its life', () => {
    const t = { token: 'x', issuedAt: 0, expiresAt: 60_000, scopes: [] };
    expect(tokenFresh(t, 47_000)).toBe(true);
    expect(tokenFresh(t, 49_000)).toBe(false);
    const long = { token: 'x', issuedAt: 0, expiresAt: 3_600_000, scopes: [] };
    expect(tokenFresh(long, 3_560_000)).toBe(true);
    expect(tokenFresh(long, 3_575_000)).toBe(false);
  });
});

describe('token responses from a hostile token server', () => {
  let server: Server;
  let base = '';
  const bodies: Record<string, () => [number, string]> = {
    '/notjson': () => [200, '<html>hello</html>'],
    '/notoken': () => [200, '{"expires_in":60}'],
    '/huge': () => [200, `{"token":"${'a'.repeat(2 * 1024 * 1024)}"}`],
    '/denied': () => [401, '{"details":"incorrect username or password"}'],
    '/ok': () => [200, '{"access_token":"abc","expires_in":120}'],
  };
  beforeAll(async () => {
    server = createServer((req, res) => {
      const f = bodies[new URL(req.url!, 'http://x').pathname];
      const [s, b] = f ? f() : [404, ''];
      res.writeHead(s, { 'content-type': 'application/json' }).end(b);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
  });
  const t = () => new Transport({ tls: { caCertFiles: [], certsDirs: [], insecureRegistries: [] }, proxy: {}, retry: { attempts: 1 } });
  const get = (path: string, cred?: { username: string; password: string }) =>
    fetchToken(t(), { realm: `${base}${path}`, service: 's', scopes: ['repository:a:pull'], credential: cred }, {});

  it('not JSON / no token → TOKEN_ERROR; huge → bounded PROTOCOL error; 401 with creds → BAD_CREDENTIALS', async () => {
    await expect(get('/notjson')).rejects.toMatchObject({ code: 'TOKEN_ERROR' });
    await expect(get('/notoken')).rejects.toMatchObject({ code: 'TOKEN_ERROR' });
    await expect(get('/huge')).rejects.toMatchObject({ code: 'PROTOCOL' });
    const e = await get('/denied', { username: 'bob', password: 'pw-secret' }).catch((x: DheError) => x);
    expect(e).toMatchObject({ code: 'BAD_CREDENTIALS', exitCode: 3 });
    expect((e as DheError).message).toContain('incorrect username or password');
    expect((e as DheError).message).not.toContain('pw-secret');
    await expect(get('/denied')).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  });
  it('reads access_token and expires_in', async () => {
    const r = await get('/ok');
    expect(r.token).toBe('abc');
    expect(r.expiresAt - r.issuedAt).toBe(120_000);
  });
});

describe('certs.d lookup', () => {
  it('DIR/HOST:PORT first, then DIR/HOST; *.crt are CAs, client.cert + client.key a client certificate', async () => {
    const a = mkdtempSync(join(tmpdir(), 'certsd-a-'));
    const b = mkdtempSync(join(tmpdir(), 'certsd-b-'));
    mkdirSync(join(a, 'reg.example:5000'));
    mkdirSync(join(a, 'reg.example'));
    mkdirSync(join(b, 'reg.example'));
    writeFileSync(join(a, 'reg.example:5000', 'ca.crt'), 'CA-PORT');
    writeFileSync(join(a, 'reg.example', 'ca.crt'), 'CA-HOST-A');
    writeFileSync(join(b, 'reg.example', 'other.crt'), 'CA-HOST-B');
    writeFileSync(join(b, 'reg.example', 'client.cert'), 'CERT');
    writeFileSync(join(b, 'reg.example', 'client.key'), 'KEY');
    const settings = { caCertFiles: [], certsDirs: [a, b], insecureRegistries: [] };
    expect(await certsDirsFor(settings, 'reg.example:5000')).toEqual([join(a, 'reg.example:5000'), join(b, 'reg.example')]);
    const t = await loadHostTls(settings, 'reg.example:5000');
    expect(t.ca).toContain('CA-PORT');
    expect(t.ca).toContain('CA-HOST-B');
    expect(t.ca).not.toContain('CA-HOST-A');
    expect(t.cert).toBe('CERT');
    expect(t.key).toBe('KEY');
    expect(t.insecure).toBe(false);
    expect((await loadHostTls({ ...settings, insecureRegistries: ['reg.example:5000'] }, 'reg.example:5000')).insecure).toBe(true);
  });
  it('a missing --ca-cert file is a usage error naming it', async () => {
    await expect(loadHostTls({ caCertFiles: ['/nope/ca.pem'], certsDirs: [], insecureRegistries: [] }, 'x')).rejects.toMatchObject({ code: 'USAGE', exitCode: 2 });
  });
});

describe('error mapping', () => {
  const ctx = { registry: 'reg:5000', what: 'manifest a:latest', repo: 'a' };
  const body = (code: string, message = 'm') => JSON.stringify({ errors: [{ code, message, detail: { x: 1 } }] });
  it('registry error codes → typed errors with hints', () => {
    const cases: [number, string, string, number][] = [
      [404, 'MANIFEST_UNKNOWN', 'MANIFEST_UNKNOWN', 5],
      [404, 'NAME_UNKNOWN', 'NAME_UNKNOWN', 5],
      [404, 'BLOB_UNKNOWN', 'BLOB_UNKNOWN', 5],
      [401, 'UNAUTHORIZED', 'UNAUTHORIZED', 3],
      [403, 'DENIED', 'DENIED', 3],
      [429, 'TOOMANYREQUESTS', 'RATE_LIMITED', 6],
      [400, 'DIGEST_INVALID', 'DIGEST_MISMATCH', 7],
      [405, 'UNSUPPORTED', 'UNSUPPORTED_BY_REGISTRY', 1],
      [503, 'UNAVAILABLE', 'SERVER_ERROR', 6],
    ];
    for (const [status, code, want, exit] of cases) {
      const e = registryError(status, body(code, `said ${code}`), ctx);
      expect(e.code, code).toBe(want);
      expect(e.exitCode).toBe(exit);
      expect(e.message).toContain(`said ${code}`);
      expect(e.hint).toBeTruthy();
    }
    expect(registryError(401, '', { ...ctx, sentAuth: true, challengeError: 'insufficient_scope', scopes: ['repository:a:pull,push'] })).toMatchObject({ code: 'INSUFFICIENT_SCOPE' });
    expect(registryError(401, '', { ...ctx, sentAuth: true }).message).toContain('refused the credentials');
    expect(registryError(404, '<html>nope</html>', ctx).code).toBe('NOT_FOUND');
    expect(registryError(400, '<html>No required SSL certificate was sent</html>', ctx).code).toBe('TLS_CLIENT_CERT_REQUIRED');
    expect(registryError(429, '', { ...ctx, retryAfterMs: 30_000 }).message).toContain('retry after 30 s');
  });
  it('error bodies of any shape never throw (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), fc.integer({ min: 400, max: 599 }), (s, st) => {
        expect(registryError(st, s, ctx)).toBeInstanceOf(DheError);
        expect(parseErrorBody(s).length).toBeLessThanOrEqual(20);
      }),
      { numRuns: 500 },
    );
  });
  it('network errors name the host', () => {
    const err = (code: string) => Object.assign(new Error(code), { code });
    expect(mapNetworkError(err('ECONNREFUSED'), { host: 'reg:5000' })).toMatchObject({ code: 'CONNECTION_REFUSED', exitCode: 6 });
    expect(mapNetworkError(err('ENOTFOUND'), { host: 'nope.example:5000' }).message).toContain('nope.example');
    expect(mapNetworkError(err('UND_ERR_CONNECT_TIMEOUT'), { host: 'reg' })).toMatchObject({ code: 'TIMEOUT' });
    expect(mapNetworkError(err('UND_ERR_BODY_TIMEOUT'), { host: 'reg' })).toMatchObject({ code: 'TIMEOUT' });
    expect(mapNetworkError(err('ECONNREFUSED'), { host: 'reg', proxy: 'http://u:pw@proxy:3128' }).message).not.toContain('pw');
    expect(mapNetworkError(err('ECONNREFUSED'), { host: 'reg', proxy: 'http://proxy:3128' })).toMatchObject({ code: 'PROXY' });
  });
});

describe('undici by module path (src/transport/undici-core.ts)', () => {
  it('the Agent and request() loaded by path are the ones the undici entry exports (an update that moves them fails here)', async () => {
    const entry = await import('undici');
    const agent = (await import('undici/lib/dispatcher/agent.js')).default;
    const apiRequest = (await import('undici/lib/api/api-request.js')).default;
    expect(agent).toBe(entry.Agent);
    expect(entry.Dispatcher.prototype.request).toBe(apiRequest);
  });
});
