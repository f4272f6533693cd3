// The registry client against the real distribution 2.8.2 flavours of the harness: anonymous (plain HTTP on
// loopback), Basic, token auth (full, pull-only, anonymous public/), refresh tokens, scope upgrades, token reuse.
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { RegistryClient } from '../../src/registry/index.js';
import { getHarness, tokenLog } from '../harness/index.js';
import { buildImage, uniqueRepo } from '../helpers/images.js';
import { blob, caught, readAll, testClient } from '../helpers/registry.js';

const h = getHarness();



/** Pushes a small image with our client; returns the manifest digest and the image. */
async function pushImage(c: RegistryClient, repo: string, tag: string) {
  const img = await buildImage({ salt: `${repo}:${tag}:${Math.random()}` });
  for (const b of [...img.layers, img.config]) {
    await c.uploadBlob(repo, { digest: b.digest, size: b.size }, () => Readable.from([b.bytes]));
  }
  const put = await c.putManifest(repo, tag, img.manifest.bytes, img.manifest.mediaType);
  expect(put.digest).toBe(img.manifest.digest);
  return img;
}

describe('plain flavour (anonymous, HTTP on loopback)', () => {
  it('pings over plain HTTP after https fails, and reads the API version', async () => {
    const c = testClient(h.plain.host);
    const p = await c.ping();
    expect(p.scheme).toBe('http');
    expect(p.status).toBe(200);
    expect(p.apiVersion).toBe('registry/2.0');
    expect(await c.baseUrl()).toBe(`http://${h.plain.host}`);
  });

  it('uploads (monolithic and streamed), reads back, lists, mounts and deletes', async () => {
    const c = testClient(h.plain.host);
    const repo = uniqueRepo('plain');
    const img = await pushImage(c, repo, 'v1');
    // a 3 MiB blob goes up as a streamed PATCH
    const big = blob(3 * 1024 * 1024 + 17);
    let sent = 0;
    await c.uploadBlob(repo, big, () => Readable.from([big.bytes.subarray(0, 1000), big.bytes.subarray(1000)]), { onProgress: (n) => (sent = n) });
    expect(sent).toBe(big.size);
    expect(await c.headBlob(repo, big.digest)).toEqual({ size: big.size });
    let seen = 0;
    const back = await readAll(await c.getBlob(repo, big, { onProgress: (n) => (seen = n) }));
    expect(back.equals(big.bytes)).toBe(true);
    expect(seen).toBe(big.size);

    const m = await c.getManifest(repo, 'v1');
    expect(m.digest).toBe(img.manifest.digest);
    expect(m.mediaType).toBe(img.manifest.mediaType);
    expect(m.bytes.equals(img.manifest.bytes)).toBe(true);
    const byDigest = await c.getManifest(repo, img.manifest.digest);
    expect(byDigest.digest).toBe(img.manifest.digest);
    expect(await c.headManifest(repo, 'v1')).toEqual({ digest: img.manifest.digest, mediaType: img.manifest.mediaType, size: img.manifest.size });
    expect(await c.headManifest(repo, 'nope')).toBeNull();
    expect(await c.headBlob(repo, blob(10).digest)).toBeNull();

    for (const t of ['v2', 'v3', 'v4', 'v5']) await c.putManifest(repo, t, img.manifest.bytes, img.manifest.mediaType);
    expect((await c.listTags(repo)).sort()).toEqual(['v1', 'v2', 'v3', 'v4', 'v5']);
    // Link pagination, two tags a page
    expect((await c.listTags(repo, { pageSize: 2 })).sort()).toEqual(['v1', 'v2', 'v3', 'v4', 'v5']);
    expect(await c.catalog({ pageSize: 3 })).toContain(repo);

    const other = uniqueRepo('plain');
    expect(await c.mountBlob(other, img.layers[0]!.digest, repo)).toBe(true);
    expect(await c.headBlob(other, img.layers[0]!.digest)).toEqual({ size: img.layers[0]!.size });
    // a blob the registry does not have: 202, the session is cancelled, false
    expect(await c.mountBlob(other, blob(10).digest, repo)).toBe(false);

    await c.deleteManifest(repo, img.manifest.digest);
    const e = await caught(c.getManifest(repo, 'v1'));
    expect(e.code).toBe('MANIFEST_UNKNOWN');
    expect(await c.listTags(repo)).toEqual([]);
    expect(e.exitCode).toBe(5);
    expect(e.hint).toBeTruthy();
  });

  it('names what is missing: unknown repository, unknown blob', async () => {
    const c = testClient(h.plain.host);
    const e = await caught(c.getManifest(uniqueRepo('nothere'), 'latest'));
    expect(['NAME_UNKNOWN', 'MANIFEST_UNKNOWN']).toContain(e.code);
    expect(e.exitCode).toBe(5);
    const b = blob(5);
    const e2 = await caught(c.getBlob(uniqueRepo('nothere'), b));
    expect(e2.exitCode).toBe(5);
  });

  it('refuses a blob whose bytes do not match the digest at upload (the registry checks it)', async () => {
    const c = testClient(h.plain.host);
    const b = blob(100);
    const e = await caught(c.uploadBlob(uniqueRepo('plain'), b, () => Readable.from([randomBytes(100)])));
    expect(e.code).toBe('DIGEST_MISMATCH');
    expect(e.exitCode).toBe(7);
  });
});

describe('basic flavour', () => {
  it('pushes and pulls with the right credentials', async () => {
    const c = testClient(h.basic.host, { cred: h.users.full });
    const p = await c.ping();
    expect(p.scheme).toBe('https');
    expect(p.status).toBe(401);
    expect(p.challenges[0]?.scheme).toBe('basic');
    const repo = uniqueRepo('basic');
    const img = await pushImage(c, repo, 'latest');
    expect((await c.getManifest(repo, 'latest')).digest).toBe(img.manifest.digest);
  });

  it('without credentials: UNAUTHORIZED with a login hint, never "not found"', async () => {
    const c = testClient(h.basic.host);
    const e = await caught(c.getManifest('any/repo', 'latest'));
    expect(e.code).toBe('UNAUTHORIZED');
    expect(e.exitCode).toBe(3);
    expect(e.hint).toContain('dhe-cli login');
  });

  it('checkLogin: accepts the right password, BAD_CREDENTIALS for a wrong one', async () => {
    expect(await testClient(h.basic.host).checkLogin(h.users.full)).toEqual({});
    const e = await caught(testClient(h.basic.host).checkLogin({ username: h.users.full.username, password: 'wrong' }));
    expect(e.code).toBe('BAD_CREDENTIALS');
    expect(e.exitCode).toBe(3);
    expect(e.message).not.toContain('wrong');
  });
});

describe('token flavour', () => {
  const t = h.token;

  it('full user: push then pull; the token server sees one request per scope set', async () => {
    const since = (await tokenLog(t.tokenServerUrl)).at(-1)?.seq ?? 0;
    const c = testClient(t.host, { cred: h.users.full });
    const repo = uniqueRepo('tok');
    c.intendPush(repo);
    const img = await pushImage(c, repo, 'v1');
    for (const l of img.layers) expect(await c.headBlob(repo, l.digest)).toEqual({ size: l.size });
    expect((await c.getManifest(repo, 'v1')).digest).toBe(img.manifest.digest);
    const log = (await tokenLog(t.tokenServerUrl, since)).filter((e) => e.scopesAsked.some((s) => s.includes(repo)));
    expect(log).toHaveLength(1);
    expect(log[0]!.grant).toBe('basic');
    expect(log[0]!.user).toBe(h.users.full.username);
    expect(log[0]!.scopesAsked).toEqual([`repository:${repo}:pull,push`]);
  });

  it('scope upgrade within one client: pull token first, then one pull+push token', async () => {
    const since = (await tokenLog(t.tokenServerUrl)).at(-1)?.seq ?? 0;
    const repo = uniqueRepo('tok');
    const seed = testClient(t.host, { cred: h.users.full });
    await pushImage(seed, repo, 'v1');
    const c = testClient(t.host, { cred: h.users.full });
    await c.getManifest(repo, 'v1');
    await c.getManifest(repo, 'v1');
    await c.putManifest(repo, 'v2', (await c.getManifest(repo, 'v1')).bytes, 'application/vnd.oci.image.manifest.v1+json');
    await c.getManifest(repo, 'v2'); // served by the pull+push token
    const log = (await tokenLog(t.tokenServerUrl, since)).filter((e) => e.scopesAsked.some((s) => s.includes(repo)));
    // seed: one pull,push (upload start) ... then c: pull once, pull+push once
    const asked = log.map((e) => e.scopesAsked.join(' '));
    const fromC = asked.slice(-2);
    expect(fromC).toEqual([`repository:${repo}:pull`, `repository:${repo}:pull,push`]);
  });

  it('pull-only user: pulls, and a push fails with INSUFFICIENT_SCOPE naming the scope', async () => {
    const repo = uniqueRepo('tok');
    await pushImage(testClient(t.host, { cred: h.users.full }), repo, 'v1');
    const c = testClient(t.host, { cred: h.users.pullonly });
    const m = await c.getManifest(repo, 'v1');
    const e = await caught(c.putManifest(repo, 'v2', m.bytes, m.mediaType));
    expect(e.code).toBe('INSUFFICIENT_SCOPE');
    expect(e.exitCode).toBe(3);
    expect(e.message).toContain(`repository:${repo}:pull,push`);
  });

  it('anonymous: pulls under public/, and is refused elsewhere with UNAUTHORIZED (not "not found")', async () => {
    const repo = `public/${uniqueRepo('anon').replace('/', '-')}`;
    const img = await pushImage(testClient(t.host, { cred: h.users.full }), repo, 'v1');
    const anon = testClient(t.host);
    expect((await anon.getManifest(repo, 'v1')).digest).toBe(img.manifest.digest);
    const e = await caught(anon.getManifest(uniqueRepo('private'), 'v1'));
    expect(['UNAUTHORIZED', 'INSUFFICIENT_SCOPE']).toContain(e.code);
    expect(e.exitCode).toBe(3);
  });

  it('checkLogin with offlineToken returns a refresh token; a client with it pulls via the refresh_token grant', async () => {
    const repo = uniqueRepo('tok');
    const img = await pushImage(testClient(t.host, { cred: h.users.full }), repo, 'v1');
    const { identityToken } = await testClient(t.host).checkLogin(h.users.full, { offlineToken: true });
    expect(identityToken).toBeTruthy();
    const since = (await tokenLog(t.tokenServerUrl)).at(-1)?.seq ?? 0;
    const c = testClient(t.host, { cred: { username: h.users.full.username, identityToken } });
    expect((await c.getManifest(repo, 'v1')).digest).toBe(img.manifest.digest);
    const log = (await tokenLog(t.tokenServerUrl, since)).filter((e) => e.scopesAsked.some((s) => s.includes(repo)));
    expect(log.map((e) => e.grant)).toEqual(['refresh_token']);
  });

  it('checkLogin: a wrong password is BAD_CREDENTIALS with the token server\'s words', async () => {
    const e = await caught(testClient(t.host).checkLogin({ username: h.users.full.username, password: 'nope-nope' }));
    expect(e.code).toBe('BAD_CREDENTIALS');
    expect(e.message).toContain('incorrect username or password');
    expect(e.message).not.toContain('nope-nope');
  });
});
