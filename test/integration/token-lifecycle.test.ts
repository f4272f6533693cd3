// Bearer tokens over their whole life, against the real distribution 2.8.2 of a private harness (its token servers
// are reconfigured and paused here, which the shared servers must never be):
// - a token that runs out during a long operation is renewed before the registry would refuse it;
// - a token the registry refuses as invalid_token (revoked, clock skew) is dropped, replaced and the request retried
//   once; a second refusal is UNAUTHORIZED (exit 3), not a loop;
// - a token server that is down for a moment is retried with backoff; one that stays down is a network error
//   (exit 6) naming the realm's host, not an authentication error.
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RegistryClient, RegistryClientOptions } from '../../src/registry/index.js';
import type { Trace } from '../../src/trace.js';
import { startHarness, type Harness } from '../harness/harness.js';
import type { TokenServer } from '../harness/token-server.js';
import { Agent, fetch } from 'undici';
import { uniqueRepo } from '../helpers/images.js';
import { waitFor } from '../helpers/wait.js';
import { blob, caught, testClient } from '../helpers/registry.js';

let own: Harness;

beforeAll(async () => {
  own = await startHarness({ flavours: ['token', 'dhe'] });
});
afterAll(async () => {
  await own?.stop();
});

interface Traced {
  client: RegistryClient;
  lines: string[];
}

/** The shared test client for this file's own harness (its CA, its full user), the transport's own retry policy, traced. */
function client(registry: string, over: Partial<RegistryClientOptions> = {}): Traced {
  const lines: string[] = [];
  const trace: Trace = { enabled: true, log: (l) => lines.push(l) };
  const c = testClient(registry, { tls: { caCertFiles: [own.caCert], certsDirs: [], insecureRegistries: [] }, cred: own.users.full, retry: undefined, trace, ...over });
  return { client: c, lines };
}


/** Pushes a config and `layers` blobs and a manifest for them; returns the blobs. */
async function pushImage(c: RegistryClient, repo: string, layers: number) {
  const config = blob(300);
  const ls = Array.from({ length: layers }, () => blob(2048));
  for (const b of [config, ...ls]) await c.uploadBlob(repo, b, () => Readable.from([b.bytes]));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.size },
      layers: ls.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: l.digest, size: l.size })),
    }),
  );
  await c.putManifest(repo, 'v1', manifest, 'application/vnd.oci.image.manifest.v1+json');
  return { config, layers: ls };
}

async function readAll(r: Readable, slowMs = 0): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) {
    chunks.push(c as Buffer);
    if (slowMs) await sleep(slowMs);
  }
  return Buffer.concat(chunks);
}


/** Token requests (granted or not) for `repo` since log entry `since`. */
function grantsFor(ts: TokenServer, repo: string, since = 0) {
  return ts.log().filter((e) => e.seq > since && e.scopesAsked.some((s) => s.includes(repo)));
}
/** Waits until the registry refuses `token` (401) for a manifest GET of `repo`: the token has run out there. */
async function refusedByRegistry(token: string, repo: string): Promise<void> {
  const dispatcher = new Agent({ connect: { ca: readFileSync(own.caCert) } });
  try {
    await waitFor(
      async () => {
        const res = await fetch(`${own.token.url}/v2/${repo}/manifests/v1`, {
          headers: { authorization: `Bearer ${token}`, accept: 'application/vnd.oci.image.manifest.v1+json' },
          dispatcher,
        });
        await res.arrayBuffer();
        return res.status === 401;
      },
      'the registry to refuse the first token',
      15_000,
      100,
    );
  } finally {
    await dispatcher.close();
  }
}
const lastSeq = (ts: TokenServer) => ts.log().at(-1)?.seq ?? 0;
const refusals = (lines: string[]) => lines.filter((l) => /^401 for /.test(l));

describe('a token that runs out during a long operation', () => {
  it('is renewed before it expires: a pull lasting longer than a 2 s token completes, and the token log shows the renewal', async () => {
    const ts = own.tokenServers.token!;
    const repo = uniqueRepo('expiry');
    const pusher = client(own.token.host);
    const img = await pushImage(pusher.client, repo, 3);

    // From now on tokens say expires_in 2 and the registry really refuses them about a second after that.
    ts.configure({ expiresIn: 2, acceptFor: 3 });
    try {
      const since = lastSeq(ts);
      const issuedBefore = ts.issued().length;
      const { client: c, lines } = client(own.token.host);
      const m = await c.getManifest(repo, 'v1');
      expect(m.bytes.length).toBeGreaterThan(0);
      const got = await readAll(await c.getBlob(repo, img.config));
      expect(got.equals(img.config.bytes)).toBe(true);
      // The pull outlives its first token: the rest is read once the registry refuses that token.
      await refusedByRegistry(ts.issued()[issuedBefore]!, repo);
      for (const b of img.layers) {
        const got = await readAll(await c.getBlob(repo, b), 0);
        expect(got.equals(b.bytes)).toBe(true);
      }
      const asked = grantsFor(ts, repo, since);
      // renewed (at least once; a 2 s token is stale after 1.6 s), every request granted pull
      expect(asked.length).toBeGreaterThanOrEqual(2);
      for (const e of asked) {
        expect(e.status).toBe(200);
        expect(e.scopesGranted).toContain(`repository:${repo}:pull`);
      }
      // renewed before the registry refused anything: no 401 during the pull
      expect(refusals(lines)).toEqual([]);
    } finally {
      ts.configure({ expiresIn: 300, acceptFor: 0 });
    }
  });
});

describe('a token the registry refuses as invalid_token', () => {
  it('is dropped, a new one fetched and the request retried once (a token the registry stops accepting early)', async () => {
    const ts = own.tokenServers.token!;
    const repo = uniqueRepo('revoked');
    const img = await pushImage(client(own.token.host).client, repo, 1);
    // The client is told 300 s; the registry accepts the token for 1-2 s only (revoked, or a skewed clock).
    ts.configure({ expiresIn: 300, acceptFor: 2 });
    try {
      const since = lastSeq(ts);
      const { client: c, lines } = client(own.token.host);
      expect((await c.getManifest(repo, 'v1')).bytes.length).toBeGreaterThan(0);
      expect(grantsFor(ts, repo, since)).toHaveLength(1);
      await refusedByRegistry(ts.issued().at(-1)!, repo);
      const got = await readAll(await c.getBlob(repo, img.layers[0]!));
      expect(got.equals(img.layers[0]!.bytes)).toBe(true);
      expect(grantsFor(ts, repo, since)).toHaveLength(2);
      expect(refusals(lines)).toHaveLength(1);
    } finally {
      ts.configure({ expiresIn: 300, acceptFor: 0 });
    }
  });

  it('is dropped and replaced for a pull and a push when the token server issues one the registry refuses', async () => {
    const ts = own.tokenServers.token!;
    const repo = uniqueRepo('invalid');
    const since = lastSeq(ts);
    ts.configure({ invalidTokens: 1 });
    const { client: c, lines } = client(own.token.host);
    // push: the first token (pull,push) is refused, the second one works
    const img = await pushImage(c, repo, 2);
    expect(grantsFor(ts, repo, since)).toHaveLength(2);
    expect(refusals(lines)).toHaveLength(1);
    // pull with a fresh client: same once more
    ts.configure({ invalidTokens: 1 });
    const since2 = lastSeq(ts);
    const p = client(own.token.host);
    const got = await readAll(await p.client.getBlob(repo, img.layers[1]!));
    expect(got.equals(img.layers[1]!.bytes)).toBe(true);
    expect(grantsFor(ts, repo, since2)).toHaveLength(2);
    expect(refusals(p.lines)).toHaveLength(1);
  });

  it('a second refusal is UNAUTHORIZED (exit 3) after exactly one retry, not a loop', async () => {
    const ts = own.tokenServers.token!;
    const repo = uniqueRepo('refused');
    await pushImage(client(own.token.host).client, repo, 1);
    ts.configure({ invalidTokens: 1_000 });
    try {
      const since = lastSeq(ts);
      const { client: c, lines } = client(own.token.host);
      const e = await caught(c.getManifest(repo, 'v1'));
      expect(e.code).toBe('UNAUTHORIZED');
      expect(e.exitCode).toBe(3);
      expect(e.message).toBe(`${own.token.host} refused the tokens its token server issued for manifest ${repo}:v1 (invalid_token)`);
      expect(e.hint).toContain(own.token.realm);
      expect(e.hint).not.toMatch(/password/);
      expect(grantsFor(ts, repo, since)).toHaveLength(2);
      expect(refusals(lines)).toHaveLength(1);
    } finally {
      ts.configure({ invalidTokens: 0 });
    }
  });
});

describe('a token server that is down', () => {
  it('for about a second while a pull asks for a token: the token request is retried with backoff and the pull completes', async () => {
    const ts = own.tokenServers.dhe!;
    const repo = uniqueRepo('tsdown');
    const img = await pushImage(client(own.dhe.host).client, repo, 1);
    const since = lastSeq(ts);
    await ts.pause();
    const { client: c, lines } = client(own.dhe.host);
    const refused502 = () => lines.some((l) => /^retry \d+\/\d+ of GET .*\/auth\/v2\/token.* after 502/.test(l));
    // back once the client was refused (502 from nginx) and is retrying
    const back = waitFor(refused502, 'a token request retried after a 502', 30_000).then(() => ts.start());
    try {
      const m = await c.getManifest(repo, 'v1');
      expect(m.bytes.length).toBeGreaterThan(0);
      const got = await readAll(await c.getBlob(repo, img.layers[0]!));
      expect(got.equals(img.layers[0]!.bytes)).toBe(true);
      // nginx answered 502 while it was down; the token request was sent again until it came back
      expect(lines.some((l) => /^retry \d+\/\d+ of GET .*\/auth\/v2\/token.* after 502/.test(l))).toBe(true);
      expect(grantsFor(ts, repo, since).filter((e) => e.status === 200).length).toBeGreaterThanOrEqual(1);
    } finally {
      await back;
    }
  });

  it('for good: a network error (exit 6) naming the token realm host, not an authentication error', async () => {
    const retry = { attempts: 3, baseDelayMs: 100, maxDelayMs: 300 };
    // the `token` flavour's realm is on its own port: connection refused
    const tok = own.tokenServers.token!;
    const realmHost = new URL(own.token.realm).host;
    expect(realmHost).not.toBe(own.token.host);
    const { client: c } = client(own.token.host, { retry });
    await c.ping();
    await tok.pause();
    try {
      const e = await caught(c.getManifest(uniqueRepo('gone'), 'v1'));
      expect(e.exitCode).toBe(6);
      expect(e.message).toContain(realmHost);
      expect(e.message).toMatch(/^the token server at \S+ is not reachable: connection refused/);
      expect(e.hint).toContain(own.token.realm);
      expect(e.hint).not.toMatch(/is the registry running/);
    } finally {
      await tok.start();
    }
    // behind nginx (the `dhe` shape): 502 from the realm
    const dts = own.tokenServers.dhe!;
    const d = client(own.dhe.host, { retry });
    await d.client.ping();
    await dts.pause();
    try {
      const e = await caught(d.client.getManifest(uniqueRepo('gone'), 'v1'));
      expect(e.exitCode).toBe(6);
      expect(e.message).toContain(new URL(own.dhe.realm).host);
      expect(e.message).toMatch(/token server/);
    } finally {
      await dts.start();
    }
  });
});
