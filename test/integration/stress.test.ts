// Concurrent use of one store through the real CLI: several workers, each a sequence of dhe-cli processes (pull,
// tag, rmi, prune), run at the same time for a bounded number of rounds, while one slow pull (its last layer stalls
// for seconds at the fault proxy) has blobs on disk that no name refers to yet. The store never corrupts, no name
// another process wrote is lost, and prune never deletes a blob the running pull still needs.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { getHarness } from '../harness/index.js';
import { startFaultProxy, type FaultProxy } from '../harness/fault-proxy.js';
import { freshHome, runCli, type CliResult } from '../helpers/cli.js';
import { buildImage, seedImage, uniqueRepo, type BuiltImage } from '../helpers/images.js';
import { waitFor } from '../helpers/wait.js';

const h = getHarness();
const plain = { url: h.plain.url };
const WORKERS = 3;
const ROUNDS = 4;
let proxy: FaultProxy;

beforeAll(async () => {
  proxy = await startFaultProxy(h.plain.url);
});
afterAll(async () => {
  await proxy?.close();
});

function ok(r: CliResult, what: string): void {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}: ${r.stderr}`);
}

it(`${WORKERS} workers × ${ROUNDS} rounds of pull, tag, rmi and prune beside a slow pull keep one store consistent`, async () => {
  const base = uniqueRepo('stress');
  const shared = await buildImage({ layers: 1, salt: `${base}-shared` });
  await seedImage(plain, `${base}/shared`, 'v1', shared);
  const own: BuiltImage[][] = [];
  for (let w = 0; w < WORKERS; w++) {
    own.push([]);
    for (let r = 0; r < ROUNDS; r++) {
      const img = await buildImage({ layers: 1, salt: `${base}-w${w}-r${r}` });
      own[w]!.push(img);
      await seedImage(plain, `${base}/w${w}`, `r${r}`, img);
    }
  }
  // the slow one: its first layer lands quickly (a blob no name refers to), its second stalls until every worker has
  // pruned once (the test breaks the stall then; 60 s at most), and resumes
  const slow = await buildImage({ layers: 2, layerSize: 256 * 1024, salt: `${base}-slow` });
  await seedImage(plain, `${base}/slow`, 'v1', slow);
  proxy.add({ kind: 'stall', afterBytes: 32 * 1024, ms: 60_000, method: 'GET', path: slow.layers[1]!.digest });

  const home = freshHome();
  const env = home.env;
  const t0 = Date.now();
  const slowRef = `${proxy.host}/${base}/slow:v1`;
  const slowPull = runCli(['pull', slowRef], { env, timeoutMs: 60_000 });
  // the workers start once the slow pull is where the test needs it: its second layer stalled at the proxy, its
  // first layer a blob in the store that no name refers to yet
  const slowLayer = (i: number) => proxy.hits.filter((x) => x.method === 'GET' && x.path.includes(slow.layers[i]!.digest));
  await waitFor(() => slowLayer(1).some((x) => x.fault === 'stall'), "the slow pull's second layer stalled at the proxy", 30_000);
  await waitFor(() => existsSync(join(home.store, 'blobs', 'sha256', slow.layers[0]!.digest.slice(7))), "the slow pull's first layer in the store", 30_000);
  const prunedAt: number[] = [];

  const worker = async (w: number) => {
    const kept: string[] = [];
    const removed: string[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const ref = `${h.plain.host}/${base}/w${w}:r${r}`;
      ok(await runCli(['pull', ref], { env }), `w${w} pull ${ref}`);
      // every worker pulls the same image in the same rounds: the same blobs written by several processes at once
      if (r % 2 === 0) ok(await runCli(['pull', `${h.plain.host}/${base}/shared:v1`], { env }), `w${w} pull shared`);
      const alias = `stress.example/${base}/w${w}-keep:r${r}`;
      ok(await runCli(['tag', ref, alias], { env }), `w${w} tag`);
      kept.push(alias);
      // drop the pulled name every other round (the alias still needs its blobs), and one alias of the last round
      if (r % 2 === 1) {
        ok(await runCli(['rmi', ref], { env }), `w${w} rmi ${ref}`);
        removed.push(ref);
        const old = kept.splice(kept.length - 2, 1)[0]!;
        ok(await runCli(['rmi', old], { env }), `w${w} rmi ${old}`);
        removed.push(old);
      } else {
        kept.push(ref);
      }
      ok(await runCli(['prune'], { env }), `w${w} prune`);
      prunedAt.push(Date.now());
      if (prunedAt.length === WORKERS) proxy.breakStalls();
    }
    return { kept, removed };
  };
  const results = await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
  const slowResult = await slowPull;
  const took = (Date.now() - t0) / 1000;

  // the slow pull survived every prune that ran while its blobs had no name
  expect(slowResult.stderr).toBe('');
  expect(slowResult.code).toBe(0);
  const second = slowLayer(1);
  expect(second.length).toBeGreaterThanOrEqual(2);
  expect(second[0]!.fault).toBe('stall');
  expect(second[1]!.range, 'the stalled layer resumed from the bytes it had').toMatch(/^bytes=[1-9]\d*-$/);
  // prunes really ran while the slow pull's first layer had no name (before its second layer resumed)
  expect(prunedAt.filter((t) => t < second[1]!.time).length, 'prunes before the slow pull resumed').toBeGreaterThanOrEqual(WORKERS);

  // every name a worker kept is there; every name it removed is gone; nothing else
  const list = await runCli(['images', '--format', 'json'], { env });
  ok(list, 'images');
  const names = (JSON.parse(list.stdout) as Array<{ reference: string }>).map((i) => i.reference).sort();
  const expected = [...results.flatMap((r) => r.kept), `${h.plain.host}/${base}/shared:v1`, slowRef].sort();
  expect(names).toEqual(expected);

  // every blob verifies, every name has all of its blobs
  const v = await runCli(['store', 'verify'], { env });
  expect(v.stdout).toContain('Store OK');
  expect(v.code).toBe(0);
  // a final prune frees nothing a name needs: the slow image can still be pushed back whole
  ok(await runCli(['prune'], { env }), 'final prune');
  const backRef = `${h.plain.host}/${base}/slow-back:v1`;
  ok(await runCli(['tag', slowRef, backRef], { env }), 'tag slow-back');
  const back = await runCli(['push', backRef], { env });
  ok(back, 'push slow-back');
  expect(back.stdout).toContain(`v1: digest: ${slow.manifest.digest}`);
  console.log(`[figures] stress: ${WORKERS} workers × ${ROUNDS} rounds (${WORKERS * ROUNDS * 3.5 + WORKERS * 2} CLI runs) + a slow pull in ${took.toFixed(1)} s`);
}, 90_000);
