// Several processes pull (leased blob writes), tag, remove names and prune on one store at once, for a bounded
// number of rounds: no name another process wrote is lost, no blob a running "pull" needs is deleted, and the store
// verifies clean at the end.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { ImageStore } from '../../src/store/index.js';
import { transpileSources } from '../../fixtures/archives/helpers.js';

const clean: string[] = [];
afterAll(() => {
  for (const d of clean) rmSync(d, { recursive: true, force: true });
});

const PROCS = 4;
const ROUNDS = 8;

it(`${PROCS} processes × ${ROUNDS} rounds of pull, tag, rmi and prune keep the store consistent`, async () => {
  const build = transpileSources();
  const tmp = mkdtempSync(join(tmpdir(), 'dhe-store-stress-'));
  clean.push(build, tmp);
  const dir = join(tmp, 'store');
  const script = `
    import { createHash } from 'node:crypto';
    const { ImageStore } = await import(${JSON.stringify(join(build, 'src/store/index.js'))});
    const [dir, who, rounds] = process.argv.slice(1);
    const s = await ImageStore.open(dir);
    const sha = (b) => 'sha256:' + createHash('sha256').update(b).digest('hex');
    async function* slowly(b) { for (let i = 0; i < b.length; i += 4096) { yield b.subarray(i, i + 4096); await new Promise((r) => setTimeout(r, 1)); } }
    const shared = Buffer.from('a layer every process pulls '.repeat(2000));
    const kept = [], removed = [];
    for (let r = 0; r < Number(rounds); r++) {
      const layer = Buffer.from(('layer ' + who + ' ' + r + ' ').repeat(3000));
      const cfg = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, who, r }));
      const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(cfg), size: cfg.length },
        layers: [shared, layer].map((b) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha(b), size: b.length })) }));
      const lease = await s.lease([sha(manifest)]);
      await lease.add([sha(cfg), sha(shared), sha(layer)]);
      for (const b of [shared, layer]) await s.writeBlob(slowly(b), { digest: sha(b), size: b.length });
      await s.putBlob(cfg, sha(cfg));
      await s.putBlob(manifest, sha(manifest));
      const name = 'localhost:5000/stress/' + who + ':' + r;
      await s.setName(name, { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(manifest), size: manifest.length });
      await lease.release();
      kept.push(name);
      if (r % 2 === 1) { const old = kept.splice(kept.length - 2, 1)[0]; if (!(await s.removeName(old))) throw new Error('lost ' + old); removed.push(old); }
      await s.prune();
    }
    console.log(JSON.stringify({ kept, removed }));
  `;
  const run = (who: string) =>
    new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const c = spawn(process.execPath, ['--input-type=module', '-e', script, dir, who, String(ROUNDS)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      c.stdout.on('data', (b) => (out += b));
      c.stderr.on('data', (b) => (err += b));
      c.on('close', (code) => resolve({ code, out, err }));
    });
  const t0 = Date.now();
  const results = await Promise.all(Array.from({ length: PROCS }, (_, i) => run(`p${i}`)));
  for (const r of results) {
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
  }
  const store = await ImageStore.open(dir);
  const names = (await store.listImages()).map((i) => i.name).sort();
  const kept = results.flatMap((r) => (JSON.parse(r.out) as { kept: string[] }).kept).sort();
  expect(names).toEqual(kept);
  expect(kept.length).toBe(PROCS * (ROUNDS / 2));
  const report = await store.verify();
  expect(report.corruptBlobs).toEqual([]);
  expect(report.brokenNames).toEqual([]);
  // nothing unreachable is left: each kept image has its own layer, config, manifest, plus one shared layer
  expect(readdirSync(join(dir, 'blobs/sha256')).length).toBe(kept.length * 3 + 1);
  expect(readdirSync(join(dir, 'leases'))).toEqual([]);
  expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
  console.log(`store-stress: ${PROCS} processes × ${ROUNDS} rounds in ${Date.now() - t0} ms`);
}, 120_000);
