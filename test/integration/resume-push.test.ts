// A push interrupted at about half of a 64 MiB layer (Ctrl-C or kill -9 while the network stalls) continues on the
// next run from what the registry confirmed: the fault proxy in front of the real registry counts the request-body
// bytes of the second run (≤ 60 % of the layer), the registry serves the image byte for byte and skopeo reads it.
// Resuming works behind a body limit (413: smaller chunks). Every fallback (forgotten session, stale state, record
// older than 24 h, DHE_NO_RESUME, a concurrent push holding the session) uploads afresh and completes.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getHarness } from '../harness/index.js';
import { startFaultProxy, type FaultProxy, type Hit } from '../harness/fault-proxy.js';
import { freshHome, runCli, startCli, type StartedCli } from '../helpers/cli.js';
import { buildImage, fetchManifest, seedImage, uniqueRepo, type BuiltImage } from '../helpers/images.js';
import { requireTool, SKOPEO_PATHS } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait.js';

const h = getHarness();
const plain = { url: h.plain.url };
const MiB = 1024 * 1024;
const HALF = 32 * MiB; // two 16 MiB chunks
let proxy: FaultProxy;
let img: BuiltImage;
let srcRepo: string;

beforeAll(async () => {
  proxy = await startFaultProxy(h.plain.url);
  srcRepo = uniqueRepo('resumesrc');
  img = await buildImage({ layers: 1, layerSize: 64 * MiB });
  await seedImage(plain, srcRepo, 'v1', img);
}, 120_000);
afterAll(async () => {
  await proxy?.close();
});

const layer = () => img.layers[0]!;
const uploadsDir = (store: string) => join(store, 'uploads');
const records = (store: string) => (existsSync(uploadsDir(store)) ? readdirSync(uploadsDir(store)).filter((f) => f.endsWith('.json')) : []);

/** A home whose store holds the image, tagged for a new repository behind the proxy. */
async function prepared(): Promise<{ env: NodeJS.ProcessEnv; store: string; repo: string; target: string }> {
  const home = freshHome();
  const direct = `${h.plain.host}/${srcRepo}:v1`;
  expect((await runCli(['pull', direct], { env: home.env })).code).toBe(0);
  const repo = uniqueRepo('resume');
  const target = `${proxy.host}/${repo}:v1`;
  expect((await runCli(['tag', direct, target], { env: home.env })).code).toBe(0);
  return { env: home.env, store: home.store, repo, target };
}

/** A push whose upload stalls at the chunk starting at byte HALF (the registry has exactly the first half). */
async function stalledAtHalf(env: NodeJS.ProcessEnv, repo: string, target: string): Promise<StartedCli> {
  proxy.add({ kind: 'stall', method: 'PATCH', path: `/v2/${repo}/blobs/uploads/`, contentRangeFrom: HALF });
  const run = startCli(['push', target], { env, timeoutMs: 120_000 });
  await waitFor(() => proxy.hits.some((x) => x.method === 'PATCH' && x.path.includes(`/v2/${repo}/`) && x.contentRange?.startsWith(`${HALF}-`)), 'the upload to stall at half the layer', 60_000);
  return run;
}

/** Request-body bytes the proxy received for the repository's uploads since hit number `from`. */
function sentSince(from: number, repo: string): { bytes: number; hits: Hit[] } {
  const hits = proxy.hits.slice(from).filter((x) => x.path.includes(`/v2/${repo}/blobs/uploads/`));
  return { bytes: hits.reduce((n, x) => n + x.bodyBytes, 0), hits };
}

async function expectPushed(repo: string): Promise<void> {
  const m = await fetchManifest(plain, repo, 'v1');
  expect(m.status).toBe(200);
  expect(m.digest).toBe(img.manifest.digest);
  const skopeo = requireTool('skopeo', SKOPEO_PATHS);
  const out = execFileSync(skopeo, ['inspect', '--tls-verify=false', `docker://${h.plain.host}/${repo}:v1`], { encoding: 'utf8' });
  expect(JSON.parse(out).Layers).toEqual([layer().digest]);
  // the registry serves the layer byte for byte
  const blob = await fetch(`${h.plain.url}/v2/${repo}/blobs/${layer().digest}`);
  expect(blob.status).toBe(200);
  expect(Buffer.from(await blob.arrayBuffer()).equals(layer().bytes)).toBe(true);
}

describe('push resumes across runs', () => {
  it.each(['SIGINT', 'SIGKILL'] as const)('after %s at half of a 64 MiB layer the next push sends at most 60 percent of it', async (signal) => {
    const { env, store, repo, target } = await prepared();
    const first = await stalledAtHalf(env, repo, target);
    first.child.kill(signal);
    const r1 = await first.result;
    expect(r1.code).toBe(signal === 'SIGINT' ? 130 : null);
    // the session is kept: no DELETE, one record (0600) naming no credential
    expect(proxy.hits.some((x) => x.method === 'DELETE' && x.path.includes(`/v2/${repo}/`))).toBe(false);
    expect(records(store)).toHaveLength(1);
    proxy.clear();

    const from = proxy.hits.length;
    const r2 = await runCli(['push', target], { env });
    expect(r2.stderr).toBe('');
    expect(r2.code).toBe(0);
    const id = layer().digest.slice(7, 19);
    expect(r2.stdout).toContain(`${id}: Resuming upload at 33.6MB`);
    expect(r2.stdout).toContain(`${id}: Pushed`);
    const sent = sentSince(from, repo);
    expect(sent.hits.some((x) => x.method === 'POST')).toBe(false);
    expect(sent.bytes).toBeLessThanOrEqual(0.6 * layer().size);
    await expectPushed(repo);
    expect(records(store)).toEqual([]);
    console.log(`[figures] push resumed after ${signal}: second run sent ${sent.bytes} of ${layer().size} bytes`);
  }, 180_000);

  it('behind a body limit (413 for 16 MiB chunks) the push resumes too, in the smaller chunks the limit lets through', async () => {
    const { env, repo, target } = await prepared();
    const limit = () => proxy.add({ kind: 'body-limit', maxBytes: 6 * MiB, method: 'PATCH', path: `/v2/${repo}/blobs/uploads/`, times: Infinity });
    limit();
    const first = await stalledAtHalf(env, repo, target);
    first.child.kill('SIGKILL');
    await first.result;
    proxy.clear();
    limit();
    const from = proxy.hits.length;
    const r2 = await runCli(['push', target], { env });
    proxy.clear();
    expect(r2.stderr).toBe('');
    expect(r2.code).toBe(0);
    expect(r2.stdout).toContain(`${layer().digest.slice(7, 19)}: Resuming upload at 33.6MB`);
    const sent = sentSince(from, repo);
    expect(sent.hits.some((x) => x.method === 'POST')).toBe(false);
    // the new process learns the limit again (one 413), then continues the same session from its confirmed offset
    const refused = sent.hits.filter((x) => x.status === 413);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    const accepted = sent.hits.filter((x) => x.status !== 413).reduce((n, x) => n + x.bodyBytes, 0);
    expect(accepted).toBeLessThanOrEqual(0.6 * layer().size);
    expect(sent.hits.filter((x) => x.status !== 413 && x.method === 'PATCH').every((x) => x.bodyBytes <= 6 * MiB)).toBe(true);
    await expectPushed(repo);
    console.log(`[figures] push resumed behind a 6 MiB body limit: ${accepted} bytes accepted, ${sent.bytes - accepted} refused (413) of ${layer().size}`);
  }, 180_000);

  it('a session the registry no longer knows (404) is dropped and the blob uploaded afresh', async () => {
    const { env, store, repo, target } = await prepared();
    const first = await stalledAtHalf(env, repo, target);
    first.child.kill('SIGKILL');
    await first.result;
    proxy.clear();
    const rec = JSON.parse(readFileSync(join(uploadsDir(store), records(store)[0]!), 'utf8')) as { location: string };
    // the registry forgets the session (its own DELETE, not through the CLI)
    expect((await fetch(rec.location.replace(`http://${proxy.host}`, h.plain.url), { method: 'DELETE' })).status).toBe(204);
    const from = proxy.hits.length;
    const r2 = await runCli(['push', target], { env });
    expect(r2.code, r2.stderr).toBe(0);
    expect(r2.stdout).not.toContain('Resuming');
    const sent = sentSince(from, repo);
    expect(sent.hits.some((x) => x.method === 'GET' && x.status === 404)).toBe(true);
    expect(sent.bytes).toBe(layer().size);
    await expectPushed(repo);
    expect(records(store)).toEqual([]);
  }, 180_000);

  it('a session whose state the registry refuses (400), a record older than 24 h or of another registry is dropped: fresh upload', async () => {
    for (const damage of ['state', 'age', 'registry'] as const) {
      const { env, store, repo, target } = await prepared();
      const first = await stalledAtHalf(env, repo, target);
      first.child.kill('SIGKILL');
      await first.result;
      proxy.clear();
      const file = join(uploadsDir(store), records(store)[0]!);
      const rec = JSON.parse(readFileSync(file, 'utf8')) as { location: string; created: number; registry: string };
      if (damage === 'state') rec.location = rec.location.replace(/_state=[^&]+/, '_state=bm90LXRoZS1zdGF0ZQ%3D%3D');
      else if (damage === 'age') rec.created = Date.now() - 25 * 3600_000;
      else rec.registry = 'registry.other.example:5000';
      writeFileSync(file, JSON.stringify(rec));
      const from = proxy.hits.length;
      const r2 = await runCli(['push', target], { env });
      expect(r2.code, r2.stderr).toBe(0);
      expect(r2.stdout).not.toContain('Resuming');
      const sent = sentSince(from, repo);
      // an expired record or another registry's is not even asked about; a refused state is asked about once
      expect(sent.hits.filter((x) => x.method === 'GET').length, damage).toBe(damage === 'state' ? 1 : 0);
      expect(sent.bytes).toBe(layer().size);
      await expectPushed(repo);
      expect(records(store)).toEqual([]);
    }
  }, 300_000);

  it('a push running at the same time does not take the session of one still running', async () => {
    const { env, store, repo, target } = await prepared();
    const first = await stalledAtHalf(env, repo, target);
    expect(records(store)).toHaveLength(1);
    const from = proxy.hits.length;
    const second = await runCli(['push', target], { env });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).not.toContain('Resuming');
    const sent = sentSince(from, repo);
    expect(sent.hits.filter((x) => x.method === 'POST')).toHaveLength(1);
    expect(sent.bytes).toBe(layer().size);
    await expectPushed(repo);
    first.child.kill('SIGKILL');
    await first.result;
    proxy.clear();
  }, 180_000);

  it('DHE_NO_RESUME=1: Ctrl-C cancels the session (DELETE) and keeps nothing', async () => {
    const { env, store, repo, target } = await prepared();
    const off = { ...env, DHE_NO_RESUME: '1' };
    proxy.add({ kind: 'stall', method: 'PATCH', path: `/v2/${repo}/blobs/uploads/` });
    const first = startCli(['push', target], { env: off, timeoutMs: 120_000 });
    await waitFor(() => proxy.hits.some((x) => x.method === 'PATCH' && x.path.includes(`/v2/${repo}/`)), 'the stalled upload', 60_000);
    first.child.kill('SIGINT');
    expect((await first.result).code).toBe(130);
    expect(proxy.hits.some((x) => x.method === 'DELETE' && x.path.includes(`/v2/${repo}/`))).toBe(true);
    expect(records(store)).toEqual([]);
    proxy.clear();
  }, 180_000);
});
