// save and load through the CLI: what `docker save`/`docker load` users do, and what a hostile archive gets.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pack } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { getHarness } from '../harness/index.js';
import { BIN, freshHome, runCli } from '../helpers/cli.js';
import { buildImage, seedImage, uniqueRepo } from '../helpers/images.js';

const h = getHarness();

async function tarFile(path: string, entries: Array<{ name: string; body?: string; type?: 'symlink'; linkname?: string }>) {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const done = new Promise<void>((r) => p.on('end', () => r()));
  for (const e of entries) {
    if (e.type === 'symlink') p.entry({ name: e.name, type: 'symlink', linkname: e.linkname });
    else p.entry({ name: e.name }, e.body ?? '');
  }
  p.finalize();
  await done;
  writeFileSync(path, Buffer.concat(chunks));
}

describe('save and load', () => {
  for (const format of ['docker', 'oci'] as const) {
    it(`save --format ${format} → load into a fresh store keeps the image ID and digest`, async () => {
      const repo = uniqueRepo('arch');
      const img = await buildImage({ layers: 2, format: format === 'oci' ? 'oci' : 'docker' });
      await seedImage({ url: h.plain.url }, repo, 'v1', img);
      const a = freshHome();
      const ref = `${h.plain.host}/${repo}:v1`;
      expect((await runCli(['pull', ref], { env: a.env })).code).toBe(0);
      const file = join(mkdtempSync(join(tmpdir(), 'dhe-save-')), 'image.tar');
      const saved = await runCli(['save', ref, '-o', file, '--format', format], { env: a.env });
      expect(saved.stderr).toBe('');
      expect(saved.code).toBe(0);
      const listing = execFileSync('tar', ['-tf', file], { encoding: 'utf8' });
      if (format === 'docker') expect(listing).toContain('manifest.json');
      expect(listing).toContain('oci-layout');

      const b = freshHome();
      const loaded = await runCli(['load', '-i', file], { env: b.env });
      expect(loaded.stderr).toBe('');
      expect(loaded.code).toBe(0);
      expect(loaded.stdout).toContain(`Loaded image: ${ref}`);
      const before = JSON.parse((await runCli(['images', '--format', 'json'], { env: a.env })).stdout);
      const after = JSON.parse((await runCli(['images', '--format', 'json'], { env: b.env })).stdout);
      expect(after[0].id).toBe(before[0].id);
      expect(after[0].digest).toBe(img.manifest.digest);
      // and it pushes back out unchanged
      const target = `${h.plain.host}/${repo}-reloaded:v1`;
      expect((await runCli(['tag', ref, target], { env: b.env })).code).toBe(0);
      const push = await runCli(['push', target], { env: b.env });
      expect(push.code).toBe(0);
      expect(push.stdout).toContain(`digest: ${img.manifest.digest}`);
    });
  }

  it('load reads the archive from standard input', async () => {
    const repo = uniqueRepo('arch');
    await seedImage({ url: h.plain.url }, repo, 'v1', await buildImage({ layers: 1 }));
    const a = freshHome();
    const ref = `${h.plain.host}/${repo}:v1`;
    await runCli(['pull', ref], { env: a.env });
    const file = join(mkdtempSync(join(tmpdir(), 'dhe-save-')), 'image.tar');
    await runCli(['save', ref, '-o', file], { env: a.env });
    const b = freshHome();
    const piped = execFileSync('sh', ['-c', `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} load < ${JSON.stringify(file)}`], {
      env: { ...process.env, ...b.env },
      encoding: 'utf8',
    });
    expect(piped).toContain(`Loaded image: ${ref}`);
  });

  it('refuses a hostile archive with exit 7 and leaves the store as it was', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dhe-hostile-'));
    const cases: Record<string, Array<{ name: string; body?: string; type?: 'symlink'; linkname?: string }>> = {
      traversal: [{ name: '../../evil.txt', body: 'x' }],
      absolute: [{ name: '/tmp/evil-abs.txt', body: 'x' }],
      symlink: [{ name: 'blobs', type: 'symlink', linkname: '/etc' }],
    };
    for (const [label, entries] of Object.entries(cases)) {
      const file = join(dir, `${label}.tar`);
      await tarFile(file, [...entries, { name: 'manifest.json', body: '[]' }]);
      const home = freshHome();
      const r = await runCli(['load', '-i', file], { env: home.env });
      expect(r.code, label).toBe(7);
      expect(r.stderr, label).toMatch(/^Error: /);
      expect(r.stderr, label).not.toMatch(/\n\s+at /);
      let blobs: string[] = [];
      try {
        blobs = readdirSync(join(home.store, 'blobs', 'sha256'));
      } catch {
        // no blobs folder at all is as clean as it gets
      }
      expect(blobs, label).toEqual([]);
    }
  });

  it('save of an image that is not local says so with exit 5', async () => {
    const home = freshHome();
    const r = await runCli(['save', 'nothing/here:v1', '-o', join(home.config, 'x.tar')], { env: home.env });
    expect(r.code).toBe(5);
  });
});
