// save and load through the CLI: what `docker save`/`docker load` users do, and what a hostile archive gets.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extract, pack } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { getHarness } from '../harness/index.js';
import { BIN, cliEnv, freshHome, guardOutput, runCli } from '../helpers/cli.js';
import { buildImage, seedImage, uniqueRepo } from '../helpers/images.js';

const h = getHarness();

type TarEntry = { name: string; body?: Buffer; type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'fifo'; linkname?: string; mode?: number };

async function readTar(path: string): Promise<TarEntry[]> {
  const out: TarEntry[] = [];
  const x = extract();
  const done = new Promise<void>((resolve, reject) => {
    x.on('entry', (hd, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => {
        chunks.push(c as Buffer);
      });
      stream.on('end', () => {
        const type = (hd.type ?? 'file') as TarEntry['type'];
        out.push({ name: hd.name, type, mode: hd.mode, ...(hd.linkname ? { linkname: hd.linkname } : {}), ...(type === 'file' ? { body: Buffer.concat(chunks) } : {}) });
        next();
      });
    });
    x.on('finish', () => resolve());
    x.on('error', reject);
  });
  x.end(readFileSync(path));
  await done;
  return out;
}

async function writeTar(path: string, entries: TarEntry[]): Promise<void> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const done = new Promise<void>((r) => p.on('end', () => r()));
  for (const e of entries) {
    const type = e.type ?? 'file';
    if (type === 'file') p.entry({ name: e.name, mode: e.mode ?? 0o644 }, e.body ?? Buffer.alloc(0));
    else p.entry({ name: e.name, type, ...(e.linkname ? { linkname: e.linkname } : {}), mode: e.mode ?? 0o644 });
  }
  p.finalize();
  await done;
  writeFileSync(path, Buffer.concat(chunks));
}

/** A home whose store holds one pulled image (A). */
async function seededHome() {
  const repo = uniqueRepo('arch-a');
  await seedImage({ url: h.plain.url }, repo, 'v1', await buildImage({ layers: 2, salt: repo }));
  const home = freshHome();
  const ref = `${h.plain.host}/${repo}:v1`;
  expect((await runCli(['pull', ref], { env: home.env })).code).toBe(0);
  return { home, ref };
}

/** A docker-save archive (made by `dhe-cli save`) of another image (B). */
async function savedArchive() {
  const repo = uniqueRepo('arch-b');
  const img = await buildImage({ layers: 1, layerSize: 64 * 1024, salt: repo });
  await seedImage({ url: h.plain.url }, repo, 'v1', img);
  const home = freshHome();
  const ref = `${h.plain.host}/${repo}:v1`;
  expect((await runCli(['pull', ref], { env: home.env })).code).toBe(0);
  const file = join(mkdtempSync(join(tmpdir(), 'dhe-save-')), 'b.tar');
  expect((await runCli(['save', ref, '-o', file], { env: home.env })).code).toBe(0);
  return { file, ref, img };
}

/** What a user can see of a store: its listing, its blobs (name and size) and its temporary files. */
async function storeState(a: { home: ReturnType<typeof freshHome> }) {
  const list = await runCli(['images', '--format', 'json'], { env: a.home.env });
  expect(list.code).toBe(0);
  const images = JSON.parse(list.stdout) as Array<{ reference: string; id: string; digest: string }>;
  const ls = (d: string) => (existsSync(d) ? readdirSync(d).sort() : []);
  const blobDir = join(a.home.store, 'blobs', 'sha256');
  const blobs = ls(blobDir).map((n) => `${n} ${statSync(join(blobDir, n)).size}`);
  return { images, blobs, tmp: ls(join(a.home.store, 'tmp')) };
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
      env: cliEnv({ env: b.env }),
      encoding: 'utf8',
    });
    await guardOutput({ stdout: piped }, 'dhe-cli load < archive');
    expect(piped).toContain(`Loaded image: ${ref}`);
  });

  it('refuses a hostile archive with exit 7 and leaves the store as it was', async () => {
    // The store already holds image A. Each hostile archive is a valid docker-save archive of another image B plus
    // exactly one hostile part (appended after B's blobs, so B's blobs are written before the refusal and must be
    // dropped again), and the Error line names that part. The untouched archive loads (the control at the end).
    const a = await seededHome();
    const b = await savedArchive();
    const entries = await readTar(b.file);
    const layerName = `blobs/sha256/${b.img.layers[0]!.digest.slice(7)}`;
    const layerAt = entries.findIndex((e) => e.name === layerName);
    const manifestAt = entries.findIndex((e) => e.name === 'manifest.json');
    expect(layerAt, 'the saved archive holds the layer as a blob').toBeGreaterThanOrEqual(0);
    expect(manifestAt, 'the saved archive has manifest.json').toBeGreaterThanOrEqual(0);
    const replaced = (at: number, body: Buffer) => entries.map((e, i) => (i === at ? { ...e, body } : e));
    const flipped = Buffer.from(entries[layerAt]!.body!);
    flipped[flipped.length >> 1] = flipped[flipped.length >> 1]! ^ 0xff;
    const manifestDoc = JSON.parse(entries[manifestAt]!.body!.toString('utf8'));
    const hugeManifest = Buffer.from(JSON.stringify(manifestDoc) + ' '.repeat(8 * 1024 * 1024 + 1));
    const q = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

    const cases: Array<{ label: string; archive: TarEntry[]; reason: RegExp }> = [
      { label: 'path traversal', archive: [...entries, { name: '../../evil.txt', body: Buffer.from('x') }], reason: new RegExp(`archive entry name escapes the archive: "${q('../../evil.txt')}"`) },
      { label: 'absolute path', archive: [...entries, { name: '/tmp/evil-abs.txt', body: Buffer.from('x') }], reason: new RegExp(`archive entry has an absolute path: "${q('/tmp/evil-abs.txt')}"`) },
      { label: 'symlink to an absolute path', archive: [...entries, { name: 'evil-link', type: 'symlink', linkname: '/etc' }], reason: new RegExp(`link "evil-link" points outside the archive \\(to "${q('/etc')}"\\)`) },
      { label: 'symlink escaping with ..', archive: [...entries, { name: 'blobs/up', type: 'symlink', linkname: '../../etc/passwd' }], reason: new RegExp(`link "blobs/up" points outside the archive \\(to "${q('../../etc/passwd')}"\\)`) },
      { label: 'hardlink escaping', archive: [...entries, { name: 'evil-hard', type: 'link', linkname: '../etc/shadow' }], reason: new RegExp(`link "evil-hard" points outside the archive \\(to "${q('../etc/shadow')}"\\)`) },
      { label: 'character device', archive: [...entries, { name: 'evil-dev', type: 'character-device' }], reason: /archive entry "evil-dev" is a character-device; only files, folders and links are allowed/ },
      { label: 'fifo', archive: [...entries, { name: 'evil-fifo', type: 'fifo' }], reason: /archive entry "evil-fifo" is a fifo; only files, folders and links are allowed/ },
      { label: 'oversize manifest.json', archive: replaced(manifestAt, hugeManifest), reason: new RegExp(`archive entry "manifest\\.json" is too large \\(${hugeManifest.length} bytes\\)`) },
      { label: 'a blob that does not match its digest', archive: replaced(layerAt, flipped), reason: new RegExp(`archive entry "${q(layerName)}" does not match its digest`) },
    ];
    const dir = mkdtempSync(join(tmpdir(), 'dhe-hostile-'));
    const before = await storeState(a);
    expect(before.images, 'the store holds image A before').toHaveLength(1);
    expect(before.blobs.length).toBeGreaterThanOrEqual(3);
    for (const c of cases) {
      const file = join(dir, `${c.label.replace(/\W+/g, '-')}.tar`);
      await writeTar(file, c.archive);
      const r = await runCli(['load', '-i', file], { env: a.home.env });
      expect(r.code, `${c.label}: ${r.stderr}`).toBe(7);
      const first = r.stderr.split('\n')[0]!;
      expect(first, c.label).toMatch(/^Error: /);
      expect(first, c.label).toMatch(c.reason);
      expect(r.stderr, c.label).not.toMatch(/\n\s+at /);
      expect(r.stdout, c.label).not.toContain('Loaded image');
      expect(await storeState(a), `${c.label}: the store as it was`).toEqual(before);
    }
    // control: the same archive without a hostile part loads into that store, next to A
    const ok = await runCli(['load', '-i', b.file], { env: a.home.env });
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`Loaded image: ${b.ref}`);
    const after = await storeState(a);
    expect(after.images.map((i) => i.reference).sort()).toEqual([a.ref, b.ref].sort());
    expect(after.blobs).toEqual(expect.arrayContaining(before.blobs));
    expect(after.blobs.length).toBeGreaterThan(before.blobs.length);
  });

  it('save of an image that is not local says so with exit 5', async () => {
    const home = freshHome();
    const r = await runCli(['save', 'nothing/here:v1', '-o', join(home.config, 'x.tar')], { env: home.env });
    expect(r.code).toBe(5);
  });
});
