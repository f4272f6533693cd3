// The doctor library (runDoctor) as code calls it: through an HTTP proxy's CONNECT tunnel, NO_PROXY, the
// credential helper that fails; and the pieces it is built from (targets, JWT grants, exit codes).

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareAccess, decodeJwt, exitCodeOf, parseTarget, runDoctor, type DoctorOptions } from '../../src/diagnose/index.js';
import { getHarness } from '../harness/index.js';
import { tempDir } from '../helpers/cli.js';
import { writeDockerConfig } from '../helpers/docker-config.js';
import { useConnectProxy } from '../helpers/proxy.js';

const h = getHarness();

function options(over: Partial<DoctorOptions> = {}, creds?: { user: string; password: string; host: string }): DoctorOptions {
  const dir = tempDir('dhe-doctor-');
  const docker = join(dir, 'docker');
  mkdirSync(docker);
  if (creds) writeDockerConfig({ env: { DOCKER_CONFIG: docker } }, { [creds.host]: { username: creds.user, password: creds.password } });
  return {
    tls: { caCertFiles: [h.caCert], certsDirs: [join(dir, 'config', 'certs.d')], insecureRegistries: [] },
    proxy: {},
    configDir: join(dir, 'config'),
    dockerConfigDir: docker,
    env: { HOME: dir, PATH: process.env.PATH },
    keychain: null,
    ...over,
  };
}

describe('through a proxy', () => {
  const proxy = useConnectProxy();

  it('every probe goes through HTTPS_PROXY, and the proxy is named', async () => {
    const seen: string[] = [];
    const r = await runDoctor(h.basic.host, {
      ...options({ proxy: { httpsProxy: proxy.url } }, { user: h.users.full.username, password: h.users.full.password, host: h.basic.host }),
      onCheck: (c) => seen.push(c.id),
    });
    expect(r.checks.filter((c) => c.status === 'fail')).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(seen).toEqual(r.checks.map((c) => c.id));
    expect(r.checks.find((c) => c.id === 'proxy')!.finding).toContain(`HTTPS goes through ${proxy.url}`);
    expect(r.checks.find((c) => c.id === 'tcp')!.finding).toContain(`${proxy.url} → ${h.basic.host}`);
    expect(r.checks.find((c) => c.id === 'auth.login')!.status).toBe('pass');
    expect(proxy.tunnels.filter((t) => t === h.basic.host).length).toBeGreaterThanOrEqual(3); // tcp, TLS, /v2/
  });

  it('NO_PROXY matching the registry: direct, and said so', async () => {
    const before = proxy.tunnels.length;
    const r = await runDoctor(h.basic.host, options({ proxy: { httpsProxy: proxy.url, noProxy: 'localhost,127.0.0.1' } }));
    expect(r.checks.find((c) => c.id === 'proxy')!.finding).toBe('direct: NO_PROXY (localhost,127.0.0.1) matches 127.0.0.1');
    expect(proxy.tunnels.length).toBe(before);
  });

  it('a proxy that refuses connections: the TCP check fails with a NO_PROXY fix (exit 6)', async () => {
    const r = await runDoctor(h.basic.host, options({ proxy: { httpsProxy: 'http://127.0.0.1:1' } }));
    const tcp = r.checks.find((c) => c.id === 'tcp')!;
    expect(tcp.status).toBe('fail');
    expect(tcp.fix).toContain('NO_PROXY=127.0.0.1');
    expect(r.exitCode).toBe(6);
  });
});

describe('credentials', () => {
  it('a credential helper that cannot run is reported, named', async () => {
    const o = options();
    mkdirSync(o.configDir, { recursive: true });
    writeFileSync(join(o.configDir, 'config.json'), JSON.stringify({ credsStore: 'doctor-missing' }));
    const r = await runDoctor(h.basic.host, o);
    const c = r.checks.find((x) => x.id === 'auth.credentials')!;
    expect(c.status).toBe('fail');
    expect(c.finding).toContain('docker-credential-doctor-missing');
    expect(c.fix).toBeTruthy();
    expect(r.exitCode).toBe(3);
  });
});

describe('building blocks', () => {
  it('parseTarget: ports, schemes, Docker Hub, IPv6', () => {
    expect(parseTarget('reg.example.com')).toMatchObject({ hostport: 'reg.example.com', host: 'reg.example.com', port: 443, loopback: false });
    expect(parseTarget('https://reg.example.com:5000/v2/')).toMatchObject({ hostport: 'reg.example.com:5000', port: 5000 });
    expect(parseTarget('docker.io')).toMatchObject({ host: 'registry-1.docker.io', port: 443 });
    expect(parseTarget('[::1]:5000')).toMatchObject({ hostport: '[::1]:5000', host: '::1', port: 5000, loopback: true });
    expect(parseTarget('localhost:5000').loopback).toBe(true);
  });

  it('decodeJwt + compareAccess: what was granted against what was asked', () => {
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const jwt = `${b64({ alg: 'ES256' })}.${b64({ sub: 'bob', iat: 1, nbf: 0, exp: 2, access: [{ type: 'repository', name: 'team/app', actions: ['pull'] }] })}.sig`;
    const c = decodeJwt(jwt)!;
    expect(c).toMatchObject({ sub: 'bob', iat: 1, exp: 2 });
    const cmp = compareAccess(['repository:team/app:pull,push'], c.access!);
    expect(cmp.complete).toBe(false);
    expect(cmp.scopes[0]).toEqual({ resource: 'repository:team/app', asked: ['pull', 'push'], granted: ['pull'], missing: ['push'] });
    expect(compareAccess(['repository:x:pull,push'], [{ type: 'repository', name: 'x', actions: ['*'] }]).complete).toBe(true);
    expect(decodeJwt('opaque-token')).toBeUndefined();
    expect(decodeJwt('a.!!!.c')).toBeUndefined();
  });

  it('exitCodeOf: the first failure decides; warnings do not fail', () => {
    const base = { title: 't', finding: 'f' };
    expect(exitCodeOf([{ ...base, id: 'a', area: 'tls', status: 'warn' }])).toBe(0);
    expect(exitCodeOf([{ ...base, id: 'a', area: 'tls', status: 'fail' }, { ...base, id: 'b', area: 'auth', status: 'fail' }])).toBe(4);
    expect(exitCodeOf([{ ...base, id: 'a', area: 'auth', status: 'fail', code: 'SERVER_ERROR' }])).toBe(6);
    expect(exitCodeOf([{ ...base, id: 'a', area: 'access', status: 'fail' }])).toBe(3);
  });
});
