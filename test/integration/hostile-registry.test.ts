// Attacks by a hostile registry, its storage host and an attacker's token realm (test/harness/hostile-server.ts),
// through the real CLI. Each test asserts what the user sees (exit code, Error/Hint lines) and what every hostile
// server saw (each logs every request with its headers): credentials stay with the registry's own origin, a
// realm never moves, listings stay bounded, and nothing a server sent reaches a URL unchecked.
import { readFileSync } from 'node:fs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getHarness } from '../harness/index.js';
import { FOREIGN_BODY_MARKER, startHostileRegistry, type HostileRegistry } from '../harness/hostile-server.js';
import { freshHome, runCli, startCli, type CliResult } from '../helpers/cli.js';
import { buildImage, seedImage, uniqueRepo, type BuiltImage } from '../helpers/images.js';

const h = getHarness();
let hostile: HostileRegistry | undefined;
let img: BuiltImage;
let plainRepo: string;

beforeAll(async () => {
  plainRepo = uniqueRepo('hostile-src');
  img = await buildImage({ layers: 1, salt: plainRepo });
  await seedImage({ url: h.plain.url }, plainRepo, 'v1', img);
});

afterEach(async () => {
  await hostile?.close();
  hostile = undefined;
});

async function setup(): Promise<{ hr: HostileRegistry; env: Record<string, string>; run: (args: string[], input?: string) => Promise<CliResult> }> {
  const hr = await startHostileRegistry(h.workDir);
  hostile = hr;
  hr.manifests.set('team/app:1', { bytes: img.manifest.bytes, mediaType: img.manifest.mediaType });
  for (const b of [img.config, ...img.layers]) hr.blobs.set(b.digest, b.bytes);
  const env = { ...freshHome().env, DHE_CA_CERT: h.caCert };
  const run = (args: string[], input?: string) => runCli(args, { env, input, secrets: hr.secrets, timeoutMs: 45_000 });
  return { hr, env, run };
}

async function login(hr: HostileRegistry, run: (args: string[], input?: string) => Promise<CliResult>): Promise<void> {
  const r = await run(['login', hr.registry.host, '-u', hr.user.username, '--password-stdin'], hr.user.password);
  expect(r.stderr).not.toMatch(/^Error/m);
  expect(r.code).toBe(0);
}

/** A local image tagged for the hostile registry (pulled from the harness's plain registry). */
async function localImage(hr: HostileRegistry, run: (args: string[]) => Promise<CliResult>): Promise<string> {
  expect((await run(['pull', `${h.plain.host}/${plainRepo}:v1`])).code).toBe(0);
  const target = `${hr.registry.host}/team/mine:v1`;
  hr.blobs.clear(); // the registry has none of its blobs: they are uploaded
  expect((await run(['tag', `${h.plain.host}/${plainRepo}:v1`, target])).code).toBe(0);
  return target;
}

function errorLine(r: CliResult): string {
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('Error: '));
  expect(lines, r.stderr).toHaveLength(1);
  expect(r.stderr).not.toMatch(/^\s+at /m); // no stack trace without --debug
  return lines[0]!;
}

describe('credentials stay with the registry', () => {
  it('a blob redirected to storage that answers 401 with an attacker realm: nothing reaches the realm, exit 3 naming the storage host', async () => {
    const { hr, run } = await setup();
    await login(hr, run);
    const r = await run(['pull', `${hr.registry.host}/team/app:1`]);
    expect(r.code).toBe(3);
    const err = errorLine(r);
    expect(err).toContain(hr.storage.host);
    expect(err).toMatch(/never sent to another host/);
    expect(r.stderr).toMatch(/^Hint: .+/m);
    expect(r.stderr + r.stdout).not.toContain(FOREIGN_BODY_MARKER); // another origin's body is never echoed
    // the storage host was asked (the redirect was followed) but never got an Authorization header
    expect(hr.storage.requests.some((q) => q.path.startsWith('/blobs/'))).toBe(true);
    expect(hr.storage.withAuthorization()).toEqual([]);
    // the attacker's realm got nothing at all
    expect(hr.attacker.requests).toEqual([]);
    // the registry got its token requests, and Basic credentials went only to its own /token
    for (const q of hr.registry.requests) {
      if (String(q.headers.authorization ?? '').startsWith('Basic ')) expect(q.path).toMatch(/^\/token\?/);
    }
  });

  it('a later challenge from the registry itself that moves the realm to another host is refused (exit 3), nothing sent there', async () => {
    const { hr, run } = await setup();
    await login(hr, run);
    hr.route((req, res) => {
      if (!req.url?.includes('/manifests/')) return false;
      res.writeHead(401, {
        'content-type': 'application/json',
        'www-authenticate': `Bearer realm="${hr.attacker.url}/steal",service="hostile",scope="repository:team/app:pull",error="insufficient_scope"`,
      }).end('{"errors":[{"code":"UNAUTHORIZED","message":"more scope"}]}');
    });
    const r = await run(['pull', `${hr.registry.host}/team/app:1`]);
    expect(r.code).toBe(3);
    const err = errorLine(r);
    expect(err).toMatch(/moved its authentication .* to a token realm at https:\/\/127\.0\.0\.1:\d+; refused, nothing was sent there/);
    expect(err).toContain(hr.attacker.host);
    expect(r.stderr).toMatch(/^Hint: .+/m);
    expect(hr.attacker.requests).toEqual([]);
  });

  it('an upload Location on another origin gets no Authorization; its 401 challenge is ignored (exit 3 naming that host)', async () => {
    const { hr, run } = await setup();
    await login(hr, run);
    const target = await localImage(hr, run);
    const r = await run(['push', target]);
    expect(r.code).toBe(3);
    expect(errorLine(r)).toContain(hr.storage.host);
    expect(r.stderr).toMatch(new RegExp(`^Run 'dhe-cli (--[\\w-]+ \\S+ )*doctor ${hr.registry.host} `, 'm')); // the registry, not the storage host
    expect(r.stderr + r.stdout).not.toContain(FOREIGN_BODY_MARKER);
    // the client did go to the Location (PUT ?digest= or PATCH) and cancelled it, all without Authorization
    expect(hr.storage.requests.some((q) => q.path.startsWith('/upload/') && (q.method === 'PUT' || q.method === 'PATCH'))).toBe(true);
    expect(hr.storage.withAuthorization()).toEqual([]);
    expect(hr.attacker.requests).toEqual([]);
    // the POST that opened the session went to the registry with its token
    expect(hr.registry.requests.some((q) => q.method === 'POST' && q.headers.authorization === `Bearer ${hr.token}`)).toBe(true);
  });
});

describe('doctor against the same hostile registry', () => {
  it("doctor --repo cancels its test upload at a Location on another origin without Authorization, and ignores that host's challenge", async () => {
    const { hr, run } = await setup();
    await login(hr, run);
    const r = await run(['doctor', hr.registry.host, '--repo', 'team/mine']);
    expect(r.stdout + r.stderr).not.toContain(FOREIGN_BODY_MARKER);
    // the session was opened on the registry with its token, then the cancel went to the storage host bare
    expect(hr.registry.requests.some((q) => q.method === 'POST' && q.path.startsWith('/v2/team/mine/blobs/uploads/') && q.headers.authorization === `Bearer ${hr.token}`)).toBe(true);
    expect(hr.storage.requests.some((q) => q.method === 'DELETE' && q.path.startsWith('/upload/'))).toBe(true);
    expect(hr.storage.withAuthorization()).toEqual([]);
    expect(hr.attacker.requests).toEqual([]);
  });
});

describe('link-local and metadata addresses are never followed', () => {
  it('a blob redirect to 169.254.169.254 (spelled as a decimal number) is refused before any connection (exit 1)', async () => {
    const { hr, run } = await setup();
    hr.route((req, res) => {
      if (!req.url?.includes('/blobs/sha256:')) return false;
      res.writeHead(307, { location: 'http://2852039166/latest/meta-data/iam/security-credentials/' }).end();
    });
    await login(hr, run);
    const started = Date.now();
    const r = await run(['pull', `${hr.registry.host}/team/app:1`]);
    expect(r.code).toBe(1);
    expect(errorLine(r)).toMatch(/refusing a redirect from 127\.0\.0\.1:\d+ to the link-local\/metadata address 169\.254\.169\.254/);
    expect(r.stderr).toMatch(/^Hint: .*metadata/m);
    expect(Date.now() - started).toBeLessThan(10_000); // no connection attempt, no retries
    expect(hr.storage.requests).toEqual([]);
  });

  it('an upload Location at [::ffff:169.254.169.254] is refused (exit 1); nothing is sent there', async () => {
    const { hr, run } = await setup();
    hr.route((req, res) => {
      if (req.method !== 'POST' || !req.url?.includes('/blobs/uploads/')) return false;
      res.writeHead(202, { location: 'https://[::ffff:a9fe:a9fe]/upload/x', 'content-length': '0' }).end();
    });
    await login(hr, run);
    const target = await localImage(hr, run);
    const r = await run(['push', target]);
    expect(r.code).toBe(1);
    expect(errorLine(r)).toMatch(/refusing an upload Location from 127\.0\.0\.1:\d+ to the link-local\/metadata address \[::ffff:a9fe:a9fe\]/);
    expect(hr.storage.requests).toEqual([]);
    expect(hr.attacker.requests).toEqual([]);
  });
});

describe('digests and tags from a registry are checked before use', () => {
  it('a manifest whose layer descriptor has a malformed digest is refused (exit 7) before any blob request', async () => {
    const { hr, run } = await setup();
    const m = JSON.parse(img.manifest.bytes.toString('utf8')) as { layers: Array<{ digest: string }> };
    m.layers[0]!.digest = 'sha256:../../../../v2/other/blobs/x';
    hr.manifests.set('team/app:bad', { bytes: Buffer.from(JSON.stringify(m)), mediaType: img.manifest.mediaType });
    const r = await run(['pull', `${hr.registry.host}/team/app:bad`]);
    expect(r.code).toBe(7);
    expect(errorLine(r)).toMatch(/not a valid digest/);
    expect(hr.registry.requests.filter((q) => q.path.includes('/blobs/'))).toEqual([]);
    expect(hr.registry.requests.some((q) => q.path.includes('../'))).toBe(false);
    expect(hr.storage.requests).toEqual([]);
  });

  it('a Docker-Content-Digest that is not a digest is refused (exit 7); delete sends no DELETE', async () => {
    const { hr, run } = await setup();
    hr.route((req, res) => {
      if (req.method !== 'HEAD' || !req.url?.includes('/manifests/')) return false;
      res.writeHead(200, { 'content-type': img.manifest.mediaType, 'content-length': String(img.manifest.size), 'docker-content-digest': 'sha256:../../_catalog?x=' }).end();
    });
    const r = await run(['delete', `${hr.registry.host}/team/app:1`]);
    expect(r.code).toBe(7);
    expect(errorLine(r)).toMatch(/invalid Docker-Content-Digest/);
    expect(hr.registry.requests.filter((q) => q.method === 'DELETE')).toEqual([]);
  });

  it('a listing with something that is not a tag is refused (exit 1), not printed', async () => {
    const { hr, run } = await setup();
    hr.route((req, res) => {
      if (!req.url?.includes('/tags/list')) return false;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name: 'team/app', tags: ['1', '../../manifests/x'] }));
    });
    const r = await run(['tags', `${hr.registry.host}/team/app`]);
    expect(r.code).toBe(1);
    expect(errorLine(r)).toMatch(/which is not a valid tag/);
    expect(r.stdout).toBe('');
  });
});

/** Runs the CLI with a 256 MiB heap, polling the child's peak RSS (VmHWM). */
async function measured(args: string[], env: Record<string, string>, secrets: string[]): Promise<{ r: CliResult; peakMiB: number; ms: number }> {
  const started = Date.now();
  const cli = startCli(args, { env: { ...env, NODE_OPTIONS: '--max-old-space-size=256' }, secrets, timeoutMs: 60_000 });
  let peakKb = 0;
  const poll = setInterval(() => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${cli.child.pid}/status`, 'utf8'));
      if (m) peakKb = Math.max(peakKb, Number(m[1]));
    } catch {
      /* exited */
    }
  }, 20);
  try {
    const r = await cli.result;
    return { r, peakMiB: Math.round(peakKb / 1024), ms: Date.now() - started };
  } finally {
    clearInterval(poll);
  }
}

describe('bounded listings', () => {
  it('a Link next to another origin is not followed (exit 1); that host gets no request', async () => {
    const { hr, run } = await setup();
    hr.route((req, res) => {
      if (!req.url?.includes('/tags/list')) return false;
      res.writeHead(200, { 'content-type': 'application/json', link: `<${hr.attacker.url}/v2/team/app/tags/list?last=b>; rel="next"` }).end('{"name":"team/app","tags":["a","b"]}');
    });
    const r = await run(['tags', `${hr.registry.host}/team/app`]);
    expect(r.code).toBe(1);
    expect(errorLine(r)).toMatch(new RegExp(`points at another host \\(${hr.attacker.host.replace(/\./g, '\\.')}\\); not followed`));
    expect(r.stdout).toBe('');
    expect(hr.attacker.requests).toEqual([]);
  });

  const FOUR_MIB = 4 * 1024 * 1024;
  function page(tagLength: number): Buffer {
    const tags: string[] = [];
    let n = 30;
    for (let i = 0; n < FOUR_MIB - tagLength - 10; i++) {
      const t = `t${String(i).padStart(tagLength - 1, '0')}`;
      tags.push(t);
      n += t.length + 3;
    }
    return Buffer.from(JSON.stringify({ name: 'team/app', tags }));
  }

  it.each([
    { name: 'a Link next pointing back at its own page', next: (_i: number) => '/v2/team/app/tags/list?n=1000', tagLength: 100, message: /loop: the Link to the next page points at a page already fetched; stopped after 1 page$/, pages: 1 },
    { name: 'endless distinct 4 MiB pages of long tags', next: (i: number) => `/v2/team/app/tags/list?n=1000&last=${i}`, tagLength: 120, message: /are larger than 64 MiB in all; stopped after 16 pages/, pages: 17 },
    { name: 'endless distinct 4 MiB pages of short tags', next: (i: number) => `/v2/team/app/tags/list?n=1000&last=${i}`, tagLength: 7, message: /hold more than 1000000 entries; stopped/, pages: 3 },
  ])('$name: an Error (exit 1) within seconds, peak RSS bounded under a 256 MiB heap', async ({ next, tagLength, message, pages }) => {
    const { hr, env } = await setup();
    const body = page(tagLength);
    let served = 0;
    hr.route((req, res) => {
      if (!req.url?.includes('/tags/list')) return false;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length), link: `<${next(++served)}>; rel="next"` }).end(body);
    });
    const { r, peakMiB, ms } = await measured(['tags', `${hr.registry.host}/team/app`], env, hr.secrets);
    console.log(`listing bound (${tagLength}-char tags): exit ${r.code} after ${served} page(s), ${ms} ms, peak RSS ${peakMiB} MiB`);
    expect(r.signal).toBeNull();
    expect(r.code).toBe(1);
    expect(errorLine(r)).toMatch(message);
    expect(r.stdout).toBe('');
    expect(served).toBe(pages);
    expect(ms).toBeLessThan(20_000);
    expect(peakMiB).toBeGreaterThan(0);
    expect(peakMiB).toBeLessThan(320);
  });
});
