import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, promises as fsp, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { DheError } from '../../src/errors.js';
import { waitFor } from '../helpers/wait.js';
import { ImageStore, splitName } from '../../src/store/index.js';
import { buildImage, sha256, storeImage, transpileSources } from '../../fixtures/archives/helpers.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'dhe-store-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const blobFiles = (dir: string) => readdirSync(join(dir, 'blobs', 'sha256'));
const tmpFiles = (dir: string) => readdirSync(join(dir, 'tmp'));

async function* chunks(parts: Buffer[], delayMs = 0) {
  for (const p of parts) {
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    yield p;
  }
}

async function expectDheError(p: Promise<unknown>, code: string, exitCode?: number): Promise<DheError> {
  const e = await p.then(
    () => {
      throw new Error(`expected ${code}, it succeeded`);
    },
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(DheError);
  expect((e as DheError).code).toBe(code);
  if (exitCode !== undefined) expect((e as DheError).exitCode).toBe(exitCode);
  return e as DheError;
}

let dir: string;
let store: ImageStore;
beforeEach(async () => {
  dir = tempDir();
  store = await ImageStore.open(join(dir, 'store'));
  dir = store.dir;
});

describe('layout', () => {
  it('creates an OCI image layout that a second open leaves alone', async () => {
    expect(JSON.parse(readFileSync(join(dir, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
    const idx = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
    expect(idx).toMatchObject({ schemaVersion: 2, manifests: [] });
    const img = await buildImage({});
    await storeImage(store, img, 'docker.io/library/alpine:3.20');
    await ImageStore.open(dir);
    expect((await store.listImages()).map((i) => i.name)).toEqual(['docker.io/library/alpine:3.20']);
  });

  it('refuses a layout of another major version', async () => {
    const d = tempDir();
    writeFileSync(join(d, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '2.0.0' }));
    await expectDheError(ImageStore.open(d), 'CORRUPT_STORE', 7);
  });

  it('splits names', () => {
    expect(splitName('localhost:5000/a/b:1.0')).toEqual({ repository: 'localhost:5000/a/b', tag: '1.0' });
    expect(splitName('localhost:5000/a/b')).toEqual({ repository: 'localhost:5000/a/b' });
    expect(splitName(`h/r@${sha256('x')}`)).toEqual({ repository: 'h/r', digest: sha256('x') });
  });
});

describe('writeBlob', () => {
  const data = Buffer.from('some layer bytes '.repeat(100_000)); // 1.7 MB: several write batches
  const digest = sha256(data);

  it('stores a streamed blob under its digest, then knows it exists without reading the source again', async () => {
    const progress: number[] = [];
    const parts = [data.subarray(0, 700_000), data.subarray(700_000, 1_300_000), data.subarray(1_300_000)];
    const r = await store.writeBlob(chunks(parts), { digest, size: data.length }, { onProgress: (n) => progress.push(n) });
    expect(r).toEqual({ digest, size: data.length, existed: false });
    expect(readFileSync(store.blobPath(digest)).equals(data)).toBe(true);
    expect(progress.at(-1)).toBe(data.length);
    let read = false;
    const again = await store.writeBlob(
      (async function* () {
        read = true;
        yield data;
      })(),
      { digest, size: data.length },
    );
    expect(again.existed).toBe(true);
    expect(read).toBe(false);
    expect(tmpFiles(dir)).toEqual([]);
    expect(await store.statBlob(digest)).toEqual({ size: data.length });
  });

  it('computes the digest when none is expected', async () => {
    const r = await store.writeBlob(Readable.from([data]), {});
    expect(r.digest).toBe(digest);
    expect(await store.hasBlob(digest)).toBe(true);
  });

  it('leaves nothing behind on a digest mismatch (exit 7)', async () => {
    const wrong = sha256('something else');
    const e = await expectDheError(store.writeBlob(chunks([data]), { digest: wrong, size: data.length }), 'DIGEST_MISMATCH', 7);
    expect(e.message).toContain(digest);
    expect(blobFiles(dir)).toEqual([]);
    expect(tmpFiles(dir)).toEqual([]);
  });

  it('leaves nothing behind on a size mismatch, too long or too short', async () => {
    await expectDheError(store.writeBlob(chunks([data]), { digest, size: data.length - 1 }), 'SIZE_MISMATCH', 7);
    await expectDheError(store.writeBlob(chunks([data.subarray(1)]), { digest, size: data.length }), 'SIZE_MISMATCH', 7);
    expect(blobFiles(dir)).toEqual([]);
    expect(tmpFiles(dir)).toEqual([]);
  });

  it('stops reading at the first byte beyond the expected size', async () => {
    let pulled = 0;
    const endless = (async function* () {
      for (;;) {
        pulled++;
        yield Buffer.alloc(65536);
      }
    })();
    await expectDheError(store.writeBlob(endless, { digest, size: 100_000 }), 'SIZE_MISMATCH');
    expect(pulled).toBeLessThan(5);
    expect(tmpFiles(dir)).toEqual([]);
  });

  it('removes the temp file when aborted or when the source fails', async () => {
    const ac = new AbortController();
    const src = new Readable({ read() {} });
    src.push(data.subarray(0, 1000));
    const p = store.writeBlob(src, { digest, size: data.length }, { signal: ac.signal });
    // aborted while the write is under way: its temporary file exists
    await waitFor(() => tmpFiles(dir).length > 0, 'the temporary file of the write');
    ac.abort();
    await expectDheError(p, 'INTERRUPTED', 130);
    expect(src.destroyed).toBe(true);
    const failing = (async function* () {
      yield data.subarray(0, 1000);
      throw new Error('connection reset');
    })();
    await expect(store.writeBlob(failing, { digest })).rejects.toThrow('connection reset');
    expect(tmpFiles(dir)).toEqual([]);
    expect(blobFiles(dir)).toEqual([]);
  });

  it('lets many concurrent writers of the same blob all succeed with one intact file', async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, () => store.writeBlob(chunks([data.subarray(0, 500_000), data.subarray(500_000)], 1), { digest })),
    );
    for (const r of results) expect(r.digest).toBe(digest);
    expect(blobFiles(dir)).toEqual([digest.slice(7)]);
    expect(sha256(readFileSync(store.blobPath(digest)))).toBe(digest);
    expect(tmpFiles(dir)).toEqual([]);
  });

  it('refuses digests that are not digests before they become paths', async () => {
    expect(() => store.blobPath('sha256:../../etc/passwd')).toThrow(DheError);
    expect(() => store.blobPath('md5:abcd')).toThrow(DheError);
    await expectDheError(store.writeBlob(chunks([data]), { digest: 'sha256:ABC' }), 'MALFORMED_MANIFEST');
  });

  it('reads blobs back: whole with a cap and a digest check, or streamed from an offset', async () => {
    await store.putBlob(data, digest);
    expect((await store.readBlob(digest, data.length)).equals(data)).toBe(true);
    await expectDheError(store.readBlob(digest, 10), 'MALFORMED_MANIFEST');
    const parts: Buffer[] = [];
    for await (const c of store.openBlob(digest, { start: 1000 })) parts.push(c as Buffer);
    expect(Buffer.concat(parts).equals(data.subarray(1000))).toBe(true);
    const missing = sha256('missing');
    await expectDheError(store.readBlob(missing, 100), 'BLOB_UNKNOWN', 5);
    await expectDheError(
      (async () => {
        for await (const _ of store.openBlob(missing)) void _;
      })(),
      'BLOB_UNKNOWN',
      5,
    );
    writeFileSync(store.blobPath(digest), 'tampered');
    await expectDheError(store.readBlob(digest, data.length), 'CORRUPT_STORE', 7);
  });
});

describe('names', () => {
  it('names, resolves, lists, renames and removes', async () => {
    const a = await buildImage({});
    const b = await buildImage({});
    const da = await storeImage(store, a, 'docker.io/library/alpine:3.20');
    await store.setName('localhost:5000/team/alpine:1', da);
    expect(await store.resolve('docker.io/library/alpine:3.20')).toMatchObject({ digest: a.manifestDigest });
    expect(await store.resolve(`docker.io/library/alpine@${a.manifestDigest}`)).toMatchObject({ digest: a.manifestDigest });
    expect(await store.resolve(`docker.io/library/other@${a.manifestDigest}`)).toBeNull();
    expect(await store.resolve('docker.io/library/alpine:latest')).toBeNull();
    // a name moves to another image: replaced, not duplicated
    const db = await storeImage(store, b, 'docker.io/library/alpine:3.20');
    const list = await store.listImages();
    expect(list.map((i) => [i.name, i.descriptor.digest]).sort()).toEqual(
      [
        ['docker.io/library/alpine:3.20', db.digest],
        ['localhost:5000/team/alpine:1', da.digest],
      ].sort(),
    );
    const entry = list.find((i) => i.name === 'localhost:5000/team/alpine:1')!;
    expect(entry.descriptor.annotations).toMatchObject({
      'org.opencontainers.image.ref.name': 'localhost:5000/team/alpine:1',
      'io.dhe-cli.name': 'localhost:5000/team/alpine:1',
    });
    expect(await store.removeName('localhost:5000/team/alpine:1')).toBe(true);
    expect(await store.removeName('localhost:5000/team/alpine:1')).toBe(false);
    expect((await store.listImages()).map((i) => i.name)).toEqual(['docker.io/library/alpine:3.20']);
  });

  it('refuses to name a manifest that is not stored', async () => {
    await expectDheError(
      store.setName('h/r:t', { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256('nope'), size: 4 }),
      'BLOB_UNKNOWN',
      5,
    );
  });

  it('resolves a platform manifest inside a named multi-platform index by digest', async () => {
    const amd = await buildImage({ architecture: 'amd64' });
    const arm = await buildImage({ architecture: 'arm64' });
    await storeImage(store, amd);
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          { mediaType: amd.manifestMediaType, digest: amd.manifestDigest, size: amd.manifest.length, platform: { os: 'linux', architecture: 'amd64' } },
          { mediaType: arm.manifestMediaType, digest: arm.manifestDigest, size: arm.manifest.length, platform: { os: 'linux', architecture: 'arm64' } },
        ],
      }),
    );
    const { digest } = await store.putBlob(index);
    await store.setName('h/multi:1', { mediaType: 'application/vnd.oci.image.index.v1+json', digest, size: index.length });
    expect(await store.resolve(`h/multi@${amd.manifestDigest}`)).toMatchObject({ platform: { architecture: 'amd64' } });
    expect(await store.resolve(`h/multi@${arm.manifestDigest}`)).toBeNull(); // not pulled
    // the missing arm64 platform is not a defect; everything present is complete
    expect((await store.verify()).ok).toBe(true);
  });

  it('keeps every name when many tag at once in one process', async () => {
    const img = await buildImage({});
    const d = await storeImage(store, img);
    await Promise.all(Array.from({ length: 40 }, (_, i) => store.setName(`h/r:t${i}`, d)));
    expect((await store.listImages()).length).toBe(40);
    expect(readdirSync(dir).filter((f) => f.includes('lock'))).toEqual([]);
  });
});

describe('several processes', () => {
  let build: string;
  const node = (args: string[]) => spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const run = (args: string[]) =>
    new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const c = node(args);
      let out = '';
      let err = '';
      c.stdout.on('data', (b) => (out += b));
      c.stderr.on('data', (b) => (err += b));
      c.on('close', (code) => resolve({ code, out, err }));
    });

  it('lets several processes tag the same store at once without losing a name', async () => {
    build ??= transpileSources();
    dirs.push(build);
    const img = await buildImage({});
    const d = await storeImage(store, img);
    const script = `
      const { ImageStore } = await import(${JSON.stringify(join(build, 'src/store/index.js'))});
      const [dir, who, n, digest, size, mt] = process.argv.slice(1);
      const s = await ImageStore.open(dir);
      await Promise.all(Array.from({ length: Number(n) }, (_, i) => s.setName('h/r:' + who + '-' + i, { mediaType: mt, digest, size: Number(size) })));
      await s.addSource(digest, 'h/' + who);
    `;
    const procs = await Promise.all(
      ['a', 'b', 'c', 'd'].map((who) => run(['--input-type=module', '-e', script, dir, who, '15', d.digest, String(d.size), d.mediaType])),
    );
    for (const p of procs) expect(p.err).toBe('');
    for (const p of procs) expect(p.code).toBe(0);
    const names = (await store.listImages()).map((i) => i.name);
    expect(names.length).toBe(60);
    expect((await store.sources(d.digest)).sort()).toEqual(['h/a', 'h/b', 'h/c', 'h/d']);
  });

  it('breaks the lock of a dead process, and a killed blob write leaves blobs/ clean', async () => {
    if (!build) dirs.push((build = transpileSources()));
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    writeFileSync(join(dir, 'index.lock'), `${dead}\n${(await import('node:os')).hostname()}\nabc\n0\n`);
    const img = await buildImage({});
    // a store that would give up on a held lock after 10 s (it breaks a dead holder's lock at once, so never does)
    const impatient = await ImageStore.open(dir, { lockTimeoutMs: 10_000 });
    await storeImage(impatient, img, 'h/r:after-stale-lock');
    expect((await store.listImages()).map((i) => i.name)).toContain('h/r:after-stale-lock');

    const script = `
      const { ImageStore } = await import(${JSON.stringify(join(build, 'src/store/index.js'))});
      const s = await ImageStore.open(process.argv[1]);
      async function* slow() { for (;;) { yield Buffer.alloc(1 << 20, 7); await new Promise(r => setTimeout(r, 5)); } }
      const lease = await s.lease([${JSON.stringify(sha256('x'))}]);
      console.log('writing');
      await s.writeBlob(slow(), { digest: ${JSON.stringify(sha256('x'))}, size: 1e12 });
    `;
    const child = node(['--input-type=module', '-e', script, dir]);
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    // killed once the partial write has bytes on disk
    await waitFor(() => tmpFiles(dir).some((f) => statSync(join(dir, 'tmp', f)).size > 0), 'bytes of the blob write in its temporary file');
    child.kill('SIGKILL');
    await new Promise((r) => child.once('close', r));
    expect(tmpFiles(dir).length).toBe(1); // the partial write, only there
    expect(blobFiles(dir).every((f) => sha256(readFileSync(join(dir, 'blobs/sha256', f))) === `sha256:${f}`)).toBe(true);
    expect(readdirSync(join(dir, 'leases')).length).toBe(1);
    const r = await store.prune();
    expect(r.removedBlobs).toBe(0);
    expect(tmpFiles(dir)).toEqual([]);
    expect(readdirSync(join(dir, 'leases'))).toEqual([]);
  });
});

describe('prune and verify', () => {
  it('frees only blobs no name or live lease reaches', async () => {
    const kept = await buildImage({});
    const dropped = await buildImage({});
    const leased = await buildImage({});
    await storeImage(store, kept, 'h/kept:1');
    await storeImage(store, dropped, 'h/dropped:1');
    await storeImage(store, leased);
    const shared = await buildImage({ layers: [{ 'a.txt': 'shared' }] });
    await storeImage(store, shared, 'h/shared:1');
    await storeImage(store, shared, 'h/shared:2');
    expect(await store.removeName('h/dropped:1')).toBe(true);
    expect(await store.removeName('h/shared:1')).toBe(true);
    const lease = await store.lease([leased.manifestDigest]);
    await lease.add([leased.configDigest, ...leased.layers.map((l) => l.digest)]);
    const before = blobFiles(dir).length;
    const r = await store.prune();
    expect(r.removedBlobs).toBe(3); // dropped: manifest, config, layer
    expect(r.freedBytes).toBe(dropped.manifest.length + dropped.config.length + dropped.layers[0]!.size);
    expect(blobFiles(dir).length).toBe(before - 3);
    for (const img of [kept, leased, shared]) {
      for (const d of [img.manifestDigest, img.configDigest, ...img.layers.map((l) => l.digest)]) {
        expect(await store.hasBlob(d)).toBe(true);
      }
    }
    await lease.release();
    expect((await store.prune()).removedBlobs).toBe(3);
    expect((await store.prune()).removedBlobs).toBe(0);
    expect((await store.verify()).ok).toBe(true);
  });

  it('never deletes a blob a running pull holds a lease on, while prunes run alongside', async () => {
    const img = await buildImage({ layers: [{ a: 'a' }, { b: 'b' }, { c: 'c' }] });
    const pull = (async () => {
      const lease = await store.lease([img.manifestDigest]);
      await lease.add([img.configDigest, ...img.layers.map((l) => l.digest)]);
      for (const l of img.layers) {
        await store.writeBlob(chunks([l.bytes.subarray(0, 10), l.bytes.subarray(10)], 5), { digest: l.digest, size: l.size });
      }
      await store.putBlob(img.config, img.configDigest);
      await store.putBlob(img.manifest, img.manifestDigest);
      await store.setName('h/pulled:1', { mediaType: img.manifestMediaType, digest: img.manifestDigest, size: img.manifest.length });
      await lease.release();
    })();
    let prunes = 0;
    let done = false;
    void pull.finally(() => (done = true));
    while (!done) {
      await store.prune();
      prunes++;
    }
    await pull;
    expect(prunes).toBeGreaterThan(1);
    expect((await store.verify()).ok).toBe(true);
    expect(await store.resolve('h/pulled:1')).not.toBeNull();
    expect((await store.prune()).removedBlobs).toBe(0);
  });

  it('finds a corrupted blob and a name it breaks; repair drops both and the store is consistent again', async () => {
    const good = await buildImage({});
    const bad = await buildImage({});
    await storeImage(store, good, 'h/good:1');
    await storeImage(store, bad, 'h/bad:1');
    const layer = bad.layers[0]!.digest;
    const p = store.blobPath(layer);
    const bytes = readFileSync(p);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    writeFileSync(p, bytes);
    writeFileSync(join(dir, 'tmp', '999999-leftover.partial'), 'x');
    const report = await store.verify();
    expect(report.ok).toBe(false);
    expect(report.corruptBlobs).toEqual([layer]);
    expect(report.brokenNames).toEqual([{ name: 'h/bad:1', digest: bad.manifestDigest, missing: [layer] }]);
    expect(await store.hasBlob(layer)).toBe(true); // verify without repair changes nothing
    const repaired = await store.verify({ repair: true });
    expect(repaired.repaired.removedBlobs).toBe(1);
    expect(repaired.repaired.removedNames).toEqual(['h/bad:1']);
    expect(await store.hasBlob(layer)).toBe(false);
    expect(tmpFiles(dir)).toEqual([]);
    const after = await store.verify();
    expect(after.ok).toBe(true);
    expect((await store.listImages()).map((i) => i.name)).toEqual(['h/good:1']);
  });

  it('reports a name whose layer is missing', async () => {
    const img = await buildImage({});
    await storeImage(store, img, 'h/r:1');
    await fsp.unlink(store.blobPath(img.configDigest));
    const r = await store.verify();
    expect(r.brokenNames).toEqual([{ name: 'h/r:1', digest: img.manifestDigest, missing: [img.configDigest] }]);
  });
});

describe('sources', () => {
  it('remembers repositories a blob came from, most recent first, deduplicated', async () => {
    const d = sha256('layer');
    await store.addSource(d, 'r.example/a');
    await store.addSource(d, 'r.example/b');
    await store.addSource(d, 'r.example/a');
    expect(await store.sources(d)).toEqual(['r.example/a', 'r.example/b']);
    expect(await store.sources(sha256('other'))).toEqual([]);
  });
});
