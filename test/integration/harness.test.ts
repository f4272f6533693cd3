// Proves each harness flavour is what it claims to be, from TypeScript with undici: each test fails if its
// flavour were misconfigured (wrong auth, wrong certificate, wrong proxy headers, no body limit…).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { Agent, request, type Dispatcher } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { startHarness, tokenServerDown as tokenServerDownRaw } from '../harness/harness.js';
import { getHarness, serverLog, tokenLog } from '../harness/index.js';

const h = getHarness();
const agents: Agent[] = [];
afterAll(async () => {
  await Promise.all(agents.map((a) => a.close()));
});

function agent(opts: { ca?: string; cert?: string; key?: string } = {}): Agent {
  const a = new Agent({
    connect: {
      ...(opts.ca ? { ca: readFileSync(opts.ca) } : {}),
      ...(opts.cert ? { cert: readFileSync(opts.cert) } : {}),
      ...(opts.key ? { key: readFileSync(opts.key) } : {}),
    },
  });
  agents.push(a);
  return a;
}

interface Res {
  status: number;
  headers: Record<string, string>;
  text: string;
}

async function call(
  dispatcher: Dispatcher,
  url: string,
  init: { method?: Dispatcher.HttpMethod; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<Res> {
  const res = await request(url, {
    dispatcher,
    method: init.method ?? 'GET',
    headers: init.headers ?? {},
    ...(init.body !== undefined ? { body: init.body } : {}),
  });
  const text = await res.body.text();
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(res.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : String(v ?? '');
  return { status: res.statusCode, headers, text };
}

/** The error code of a failed request (undici surfaces the TLS error itself, or in `cause`). */
async function errorCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    const e = err as { code?: string; cause?: { code?: string } };
    return e.cause?.code ?? e.code ?? String(err);
  }
  throw new Error('request unexpectedly succeeded');
}

function basic(user: { username: string; password: string }): string {
  return `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`;
}

function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const m = /^(\w+)\s+(.*)$/.exec(header);
  const params: Record<string, string> = {};
  for (const p of (m?.[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)) params[p[1] as string] = p[2] as string;
  return { scheme: m?.[1] ?? '', params };
}

async function getToken(
  dispatcher: Dispatcher,
  realm: string,
  service: string,
  scopes: string[],
  user?: { username: string; password: string },
): Promise<{ status: number; token: string; body: Record<string, unknown> }> {
  const u = new URL(realm);
  u.searchParams.set('service', service);
  for (const s of scopes) u.searchParams.append('scope', s);
  const res = await call(dispatcher, u.toString(), { headers: user ? { authorization: basic(user) } : {} });
  const body = JSON.parse(res.text) as Record<string, unknown>;
  return { status: res.status, token: String(body.token ?? ''), body };
}

function jwtClaims(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

describe('harness flavours', () => {
  it('plain: HTTP /v2/ answers 200 without auth', async () => {
    expect(h.plain.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await call(agent(), `${h.plain.url}/v2/`);
    expect(res.status).toBe(200);
    expect(res.headers['docker-distribution-api-version']).toBe('registry/2.0');
  });

  it('basic: HTTPS with the test CA, 401 with a Basic challenge, 200 with credentials', async () => {
    const a = agent({ ca: h.caCert });
    const anon = await call(a, `${h.basic.url}/v2/`);
    expect(anon.status).toBe(401);
    expect(parseChallenge(anon.headers['www-authenticate'] ?? '').scheme).toBe('Basic');

    const wrong = await call(a, `${h.basic.url}/v2/`, {
      headers: { authorization: basic({ username: 'full', password: 'nope' }) },
    });
    expect(wrong.status).toBe(401);
    for (const user of [h.users.full, h.users.pullonly]) {
      const ok = await call(a, `${h.basic.url}/v2/`, { headers: { authorization: basic(user) } });
      expect(ok.status).toBe(200);
    }
    // Not trusted without the test CA.
    expect(await errorCode(call(agent(), `${h.basic.url}/v2/`))).toMatch(/UNABLE_TO_VERIFY|SELF_SIGNED|ISSUER/);
  });

  it('token: 401 with the right Bearer challenge; a token from the realm pushes, pulls and deletes', async () => {
    const a = agent({ ca: h.caCert });
    const anon = await call(a, `${h.token.url}/v2/`);
    expect(anon.status).toBe(401);
    const ch = parseChallenge(anon.headers['www-authenticate'] ?? '');
    expect(ch.scheme).toBe('Bearer');
    expect(ch.params.realm).toBe(h.token.realm);
    expect(ch.params.service).toBe(h.token.service);

    const repo = `harness/token-${Date.now()}`;
    const scope = `repository:${repo}:pull,push,delete`;
    const before = (await tokenLog(h.token.tokenServerUrl)).length;

    // Bad credentials: 401 with the registry-style JSON error.
    const bad = await getToken(a, ch.params.realm ?? '', h.token.service, [scope], {
      username: 'full',
      password: 'wrong',
    });
    expect(bad.status).toBe(401);
    expect(bad.body).toEqual({ errors: [{ code: 'UNAUTHORIZED', message: 'incorrect username or password' }] });

    const t = await getToken(a, ch.params.realm ?? '', h.token.service, [scope], h.users.full);
    expect(t.status).toBe(200);
    expect(t.body.access_token).toBe(t.token);
    expect(typeof t.body.expires_in).toBe('number');
    expect(jwtClaims(t.token).aud).toBe(h.token.service);
    const auth = { authorization: `Bearer ${t.token}` };

    expect((await call(a, `${h.token.url}/v2/`, { headers: auth })).status).toBe(200);

    // Push a config blob monolithically and a manifest, pull it back with an Accept header, delete by digest.
    const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
    const cdigest = `sha256:${createHash('sha256').update(config).digest('hex')}`;
    const start = await call(a, `${h.token.url}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: auth });
    expect(start.status).toBe(202);
    const loc = new URL(start.headers.location ?? '', h.token.url);
    loc.searchParams.set('digest', cdigest);
    const put = await call(a, loc.toString(), {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'application/octet-stream' },
      body: config,
    });
    expect(put.status).toBe(201);
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: cdigest, size: config.length },
      layers: [],
    });
    const mdigest = `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
    const mput = await call(a, `${h.token.url}/v2/${repo}/manifests/v1`, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
      body: manifest,
    });
    expect(mput.status).toBe(201);
    expect(mput.headers['docker-content-digest']).toBe(mdigest);
    const mget = await call(a, `${h.token.url}/v2/${repo}/manifests/v1`, {
      headers: { ...auth, accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    expect(mget.status).toBe(200);
    expect(mget.text).toBe(manifest);
    const del = await call(a, `${h.token.url}/v2/${repo}/manifests/${mdigest}`, { method: 'DELETE', headers: auth });
    expect(del.status).toBe(202);

    // pullonly asking for push is granted pull only, and the registry refuses its push.
    const p = await getToken(a, h.token.realm, h.token.service, [`repository:${repo}:pull,push`], h.users.pullonly);
    expect(p.status).toBe(200);
    expect(jwtClaims(p.token).access).toEqual([{ type: 'repository', name: repo, actions: ['pull'] }]);
    const denied = await call(a, `${h.token.url}/v2/${repo}/blobs/uploads/`, {
      method: 'POST',
      headers: { authorization: `Bearer ${p.token}` },
    });
    expect(denied.status).toBe(401);

    // Anonymous: pull only under public/.
    const anonTok = await getToken(a, h.token.realm, h.token.service, [
      'repository:public/x:pull,push',
      'repository:private/x:pull',
    ]);
    expect(jwtClaims(anonTok.token).access).toEqual([
      { type: 'repository', name: 'public/x', actions: ['pull'] },
      { type: 'repository', name: 'private/x', actions: [] },
    ]);

    // POST password grant with access_type=offline gives a refresh token; the refresh grant works with it.
    const form = new URLSearchParams({
      grant_type: 'password',
      username: h.users.full.username,
      password: h.users.full.password,
      service: h.token.service,
      scope: `repository:${repo}:pull`,
      client_id: 'dhe-cli-test',
      access_type: 'offline',
    });
    const pw = await call(a, h.token.realm, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
    });
    expect(pw.status).toBe(200);
    const refresh = (JSON.parse(pw.text) as { refresh_token?: string }).refresh_token;
    expect(refresh).toBeTruthy();
    const rt = await call(a, h.token.realm, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: refresh ?? '',
        service: h.token.service,
        scope: `repository:${repo}:pull`,
        client_id: 'dhe-cli-test',
      }).toString(),
    });
    expect(rt.status).toBe(200);
    const rtok = (JSON.parse(rt.text) as { access_token: string }).access_token;
    const tags = await call(a, `${h.token.url}/v2/${repo}/tags/list`, { headers: { authorization: `Bearer ${rtok}` } });
    expect(tags.status).toBe(200);

    // The log records every request, never a secret.
    const log = await tokenLog(h.token.tokenServerUrl);
    // (other test files share this token server: keep the requests of this test, by their scopes)
    const mine = log.slice(before).filter((e) => e.scopesAsked.some((sc) => sc.includes(repo) || sc.includes('public/x:')));
    expect(mine.map((e) => e.grant)).toEqual(['basic', 'basic', 'basic', 'anonymous', 'password', 'refresh_token']);
    expect(mine[0]?.status).toBe(401);
    expect(mine[1]).toMatchObject({ user: 'full', scopesAsked: [scope], scopesGranted: [scope], status: 200 });
    const raw = JSON.stringify(log);
    expect(raw).not.toContain(h.users.full.password);
    expect(raw).not.toContain(h.users.pullonly.password);
    expect(raw).not.toContain(refresh);
  });

  it('token servers can be taken down and come back (a private harness, not the shared one)', async () => {
    // Other test files share the global servers, so outages are tested on servers of our own.
    const own = await startHarness({ flavours: ['token', 'dhe'] });
    try {
      const a = agent({ ca: own.caCert });
      await Promise.all([
        tokenServerDownRaw(own.token.tokenServerUrl, 700, own.caCert),
        tokenServerDownRaw(own.dhe.tokenServerUrl, 700),
      ]);
      expect(await errorCode(call(a, own.token.realm))).toBe('ECONNREFUSED');
      expect((await call(a, own.dhe.realm)).status).toBe(502); // nginx cannot reach it
      await new Promise((r) => setTimeout(r, 1_200));
      expect((await getToken(a, own.token.realm, own.token.service, [])).status).toBe(200);
      expect((await getToken(a, own.dhe.realm, own.dhe.service, [])).status).toBe(200);

      // In-process control too.
      await own.tokenServers.dhe?.pause();
      expect((await call(a, own.dhe.realm)).status).toBe(502);
      await own.tokenServers.dhe?.start();
      expect((await getToken(a, own.dhe.realm, own.dhe.service, [])).status).toBe(200);
    } finally {
      await own.stop();
    }
    expect(existsSync(own.workDir)).toBe(false);
  });

  it('untrusted: fails with the test CA, works with its own CA', async () => {
    const code = await errorCode(call(agent({ ca: h.caCert }), `${h.untrusted.url}/v2/`));
    expect(code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    const res = await call(agent({ ca: h.untrustedCaCert }), `${h.untrusted.url}/v2/`);
    expect(res.status).toBe(200);
  });

  it('mismatch: the certificate names another host', async () => {
    expect(h.mismatch.certNames).toEqual(['wrong.example.test']);
    const code = await errorCode(call(agent({ ca: h.caCert }), `${h.mismatch.url}/v2/`));
    expect(code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it('expired: the certificate has expired', async () => {
    expect(Date.parse(h.expired.notAfter)).toBeLessThan(Date.now());
    const code = await errorCode(call(agent({ ca: h.caCert }), `${h.expired.url}/v2/`));
    expect(code).toBe('CERT_HAS_EXPIRED');
  });

  it('mtls: refused without a client certificate, 200 with one', async () => {
    const code = await errorCode(call(agent({ ca: h.caCert }), `${h.mtls.url}/v2/`));
    expect(code).toMatch(/CERTIFICATE_REQUIRED|HANDSHAKE_FAILURE|ECONNRESET|UND_ERR_SOCKET/);
    const res = await call(agent({ ca: h.caCert, cert: h.clientCert, key: h.clientKey }), `${h.mtls.url}/v2/`);
    expect(res.status).toBe(200);
  });

  it('dhe: nginx front with the token realm on the same host, right Location headers, a body limit', async () => {
    const a = agent({ ca: h.caCert });
    const anon = await call(a, `${h.dhe.url}/v2/`);
    expect(anon.status).toBe(401);
    const ch = parseChallenge(anon.headers['www-authenticate'] ?? '');
    expect(ch.scheme).toBe('Bearer');
    expect(ch.params.realm).toBe(`${h.dhe.url}/auth/v2/token/`);
    expect(ch.params.service).toBe(h.dhe.host);
    expect(h.dhe.realm).toBe(ch.params.realm);

    const repo = `harness/dhe-${Date.now()}`;
    const before = (await tokenLog(h.dhe.tokenServerUrl)).length;
    const t = await getToken(a, ch.params.realm ?? '', ch.params.service ?? '', [`repository:${repo}:pull,push`], h.users.full);
    expect(t.status).toBe(200);
    const auth = { authorization: `Bearer ${t.token}` };
    expect((await call(a, `${h.dhe.url}/v2/`, { headers: auth })).status).toBe(200);

    // Location must point at the front (https, the front's host), not at the loopback upstream.
    const start = await call(a, `${h.dhe.url}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: auth });
    expect(start.status).toBe(202);
    expect(start.headers.location?.startsWith(`${h.dhe.url}/v2/${repo}/blobs/uploads/`)).toBe(true);

    // A body over client_max_body_size gets 413 from nginx.
    expect(h.dhe.bodyLimitBytes).toBe(4 * 1024 * 1024);
    const big = await call(a, start.headers.location ?? '', {
      method: 'PATCH',
      headers: { ...auth, 'content-type': 'application/octet-stream' },
      body: Buffer.alloc(5 * 1024 * 1024),
    });
    expect(big.status).toBe(413);
    expect(big.text).toMatch(/nginx|Request Entity Too Large/i);
    // Under the limit the same upload goes through.
    const small = await call(a, start.headers.location ?? '', {
      method: 'PATCH',
      headers: { ...auth, 'content-type': 'application/octet-stream' },
      body: Buffer.alloc(1024 * 1024),
    });
    expect(small.status).toBe(202);

    const log = (await tokenLog(h.dhe.tokenServerUrl)).slice(before).filter((e) => e.scopesAsked.some((sc) => sc.includes(repo)));
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ grant: 'basic', user: 'full', service: h.dhe.host, path: '/auth/v2/token/' });
    expect(serverLog(h.dhe)).toContain('/auth/v2/token/');
  });
});
