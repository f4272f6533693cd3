import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { DheError } from '../../src/errors.js';
import { loadArchive, saveArchive } from '../../src/archive/index.js';
import { ImageStore } from '../../src/store/index.js';
import { buildImage, makeTar, sha256, storeImage, type BuiltImage } from '../../fixtures/archives/helpers.js';
import { tarEntries, type TarEntry } from '../helpers/tar.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'dhe-archive-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

type Entry = { name: string; content?: Buffer | string; type?: 'file' | 'symlink' | 'link' | 'character-device' | 'directory'; linkname?: string };

/** The tar of `entries` (test/helpers/tar.ts, in this file's shorter spelling). */
function tarOf(entries: Entry[]): Promise<Buffer> {
  const one = (e: Entry): TarEntry => {
    const type = e.type ?? 'file';
    if (type === 'file') return { type, name: e.name, content: e.content ?? Buffer.alloc(0) };
    if (type === 'directory') return { type: 'dir', name: e.name };
    if (type === 'character-device') return { type, name: e.name };
    return { type: type === 'link' ? 'hardlink' : 'symlink', name: e.name, target: e.linkname ?? '' };
  };
  return tarEntries(entries.map(one));
}

const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

/** Entries of an OCI layout holding `img` named `name`. */
function ociEntries(img: BuiltImage, name: string): Entry[] {
  const blob = (d: string, content: Buffer): Entry => ({ name: `blobs/sha256/${d.slice(7)}`, content });
  return [
    { name: 'oci-layout', content: '{"imageLayoutVersion":"1.0.0"}' },
    ...img.layers.map((l) => blob(l.digest, l.bytes)),
    blob(img.configDigest, img.config),
    blob(img.manifestDigest, img.manifest),
    {
      name: 'index.json',
      content: JSON.stringify({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: img.manifestMediaType,
            digest: img.manifestDigest,
            size: img.manifest.length,
            annotations: { 'org.opencontainers.image.ref.name': name },
          },
        ],
      }),
    },
  ];
}

function snapshot(store: ImageStore) {
  const list = (d: string) => (existsSync(join(store.dir, d)) ? readdirSync(join(store.dir, d)).sort() : []);
  return {
    blobs: list('blobs/sha256'),
    index: readFileSync(join(store.dir, 'index.json'), 'utf8'),
    tmp: list('tmp'),
    leases: list('leases'),
  };
}

async function expectCode(p: Promise<unknown>, code: string): Promise<DheError> {
  const e = await p.then(
    () => new Error('expected a failure'),
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(DheError);
  expect((e as DheError).code).toBe(code);
  return e as DheError;
}

let root: string;
let src: ImageStore;
let alpine: BuiltImage;
let app: BuiltImage;
beforeEach(async () => {
  root = tempDir();
  src = await ImageStore.open(join(root, 'src'));
  alpine = await buildImage({ layers: [{ 'etc/motd': 'hi\n' }, { 'bin/tool': 'x'.repeat(5000) }] });
  app = await buildImage({ format: 'docker' });
  await storeImage(src, alpine, 'docker.io/library/alpine:3.20');
  await storeImage(src, app, 'localhost:5000/team/app:1.0');
  await src.setName('localhost:5000/team/app:latest', { mediaType: app.manifestMediaType, digest: app.manifestDigest, size: app.manifest.length });
});

describe('save then load', () => {
  for (const format of ['docker', 'oci'] as const) {
    it(`keeps names, image ids and manifest digests (${format} format)`, async () => {
      const file = join(root, `out-${format}.tar`);
      const refs = ['docker.io/library/alpine:3.20', 'localhost:5000/team/app:1.0', 'localhost:5000/team/app:latest'];
      await saveArchive(src, refs, file, { format });
      expect(readdirSync(root).filter((f) => f.includes('partial'))).toEqual([]);
      const dst = await ImageStore.open(join(root, `dst-${format}`));
      const r = await loadArchive(dst, file);
      expect(r.names.sort()).toEqual([...refs].sort());
      for (const ref of refs) {
        const want = await src.resolve(ref);
        expect((await dst.resolve(ref))?.digest).toBe(want?.digest);
      }
      const ids = r.images.map((i) => i.configDigest).sort();
      expect(ids).toEqual([alpine.configDigest, app.configDigest].sort());
      expect((await dst.verify()).ok).toBe(true);
      // nothing beyond the two images was left in the store
      expect(readdirSync(join(dst.dir, 'blobs/sha256')).length).toBe(readdirSync(join(src.dir, 'blobs/sha256')).length);
    });
  }

  it('writes the docker form docker load reads: manifest.json, repositories, index.json, oci-layout', async () => {
    const file = join(root, 'd.tar');
    await saveArchive(src, ['docker.io/library/alpine:3.20', 'localhost:5000/team/app:1.0'], file);
    const names: string[] = [];
    const files = new Map<string, Buffer>();
    const ex = tar.extract();
    const done = (async () => {
      for await (const e of ex) {
        names.push(e.header.name);
        const parts: Buffer[] = [];
        for await (const c of e) parts.push(c as Buffer);
        files.set(e.header.name, Buffer.concat(parts));
      }
    })();
    Readable.from([readFileSync(file)]).pipe(ex);
    await done;
    const manifest = JSON.parse(files.get('manifest.json')!.toString());
    expect(manifest).toEqual([
      {
        Config: `blobs/sha256/${alpine.configDigest.slice(7)}`,
        RepoTags: ['alpine:3.20'],
        Layers: alpine.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`),
      },
      { Config: `blobs/sha256/${app.configDigest.slice(7)}`, RepoTags: ['localhost:5000/team/app:1.0'], Layers: app.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`) },
    ]);
    expect(JSON.parse(files.get('repositories')!.toString())).toEqual({
      alpine: { '3.20': alpine.layers.at(-1)!.digest.slice(7) },
      'localhost:5000/team/app': { '1.0': app.layers.at(-1)!.digest.slice(7) },
    });
    for (const n of names.filter((n) => n.startsWith('blobs/'))) expect(sha256(files.get(n)!)).toBe(n.slice(6).replace('/', ':'));
    expect(JSON.parse(files.get('index.json')!.toString()).manifests[0].annotations['io.containerd.image.name']).toBe('docker.io/library/alpine:3.20');
  });

  it('loads gzip-compressed archives and archives given as a stream', async () => {
    const file = join(root, 'x.tar');
    await saveArchive(src, ['docker.io/library/alpine:3.20'], file, { format: 'oci' });
    writeFileSync(`${file}.gz`, gzipSync(readFileSync(file)));
    const dst = await ImageStore.open(join(root, 'dst'));
    const r = await loadArchive(dst, `${file}.gz`);
    expect(r.names).toEqual(['docker.io/library/alpine:3.20']);
    const dst2 = await ImageStore.open(join(root, 'dst2'));
    const r2 = await loadArchive(dst2, Readable.from([readFileSync(file)]));
    expect(r2.images[0]!.descriptor.digest).toBe(alpine.manifestDigest);
  });

  it('keeps a multi-platform index in oci format; docker format needs one platform', async () => {
    const arm = await buildImage({ architecture: 'arm64' });
    await storeImage(src, arm);
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          { mediaType: alpine.manifestMediaType, digest: alpine.manifestDigest, size: alpine.manifest.length, platform: { os: 'linux', architecture: 'amd64' } },
          { mediaType: arm.manifestMediaType, digest: arm.manifestDigest, size: arm.manifest.length, platform: { os: 'linux', architecture: 'arm64' } },
        ],
      }),
    );
    const { digest } = await src.putBlob(index);
    await src.setName('h/multi:1', { mediaType: 'application/vnd.oci.image.index.v1+json', digest, size: index.length });
    const ociFile = join(root, 'multi-oci.tar');
    await saveArchive(src, ['h/multi:1'], ociFile, { format: 'oci' });
    const dst = await ImageStore.open(join(root, 'dst'));
    await loadArchive(dst, ociFile);
    expect((await dst.resolve('docker.io/h/multi:1'))?.digest).toBe(digest); // names are normalised on load
    await expectCode(saveArchive(src, ['h/multi:1'], join(root, 'm.tar')), 'USAGE');
    expect(existsSync(join(root, 'm.tar'))).toBe(false);
    const r = await saveArchive(src, ['h/multi:1'], join(root, 'm.tar'), { platform: { os: 'linux', architecture: 'arm64' } });
    expect(r.images.length).toBe(1);
    const dst2 = await ImageStore.open(join(root, 'dst2'));
    const l = await loadArchive(dst2, join(root, 'm.tar'));
    expect(l.images[0]).toMatchObject({ configDigest: arm.configDigest, descriptor: { digest: arm.manifestDigest } });
  });

  it('says when an image to save is not in the store', async () => {
    await expectCode(saveArchive(src, ['docker.io/library/nope:1'], join(root, 'n.tar')), 'IMAGE_NOT_LOCAL');
    expect(readdirSync(root).filter((f) => f.startsWith('.') || f.startsWith('n.tar'))).toEqual([]);
  });
});

describe('load edge cases', () => {
  it('an archive that names no image loads nothing unless a name is given', async () => {
    const img = await buildImage({});
    const archive = await tarOf(ociEntries(img, 'x').map((e) => (e.name === 'index.json' ? { ...e, content: JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: img.manifestMediaType, digest: img.manifestDigest, size: img.manifest.length }] }) } : e)));
    const dst = await ImageStore.open(join(root, 'dst'));
    const before = snapshot(dst);
    const e = await expectCode(loadArchive(dst, Readable.from([archive])), 'USAGE');
    expect(e.message).toMatch(/names none/);
    expect(snapshot(dst)).toEqual(before);
    const r = await loadArchive(dst, Readable.from([archive]), { name: 'localhost:5000/given/name:1' });
    expect(r.names).toEqual(['localhost:5000/given/name:1']);
    expect((await dst.resolve('localhost:5000/given/name:1'))?.digest).toBe(img.manifestDigest);
  });

  it('an interrupted load stops, exits 130 and leaves the store as it was', async () => {
    const big = await buildImage({ layers: [{ 'big.bin': Buffer.alloc(3 << 20, 7) }], gzip: false });
    const archive = await tarOf(ociEntries(big, 'h/big:1'));
    const dst = await ImageStore.open(join(root, 'dst'));
    const before = snapshot(dst);
    const ac = new AbortController();
    // a slow source: 64 KiB every 5 ms
    const slow = Readable.from(
      (async function* () {
        for (let i = 0; i < archive.length; i += 65536) {
          yield archive.subarray(i, i + 65536);
          await new Promise((r) => setTimeout(r, 5));
        }
      })(),
    );
    setTimeout(() => ac.abort(), 60);
    const e = await expectCode(loadArchive(dst, slow, { signal: ac.signal }), 'INTERRUPTED');
    expect(e.exitCode).toBe(130);
    expect(snapshot(dst)).toEqual(before);
  });
});

describe('old docker save form', () => {
  it('loads <id>/layer.tar archives with shared layers as symlinks, synthesising docker manifests', async () => {
    const layerA = await makeTar({ 'a.txt': 'A' });
    const layerB = await makeTar({ 'b.txt': 'B' });
    const idA = 'a'.repeat(64);
    const idB = 'b'.repeat(64);
    const idB2 = 'c'.repeat(64);
    const diff = (t: Buffer) => sha256(t);
    const cfg = (layers: Buffer[]) =>
      Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map(diff) } }));
    const cfg1 = cfg([layerA, layerB]);
    const cfg2 = cfg([layerA]);
    const hex = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    const archive = await tarOf([
      { name: `${idA}/`, type: 'directory' },
      { name: `${idA}/VERSION`, content: '1.0' },
      { name: `${idA}/json`, content: '{}' },
      { name: `${idA}/layer.tar`, content: layerA },
      { name: `${idB}/layer.tar`, content: layerB },
      { name: `${idB2}/layer.tar`, type: 'symlink', linkname: `../${idA}/layer.tar` },
      { name: `${hex(cfg1)}.json`, content: cfg1 },
      { name: `${hex(cfg2)}.json`, content: cfg2 },
      {
        name: 'manifest.json',
        content: JSON.stringify([
          { Config: `${hex(cfg1)}.json`, RepoTags: ['busybox:latest', 'registry.example.com:5000/x/busybox:1'], Layers: [`${idA}/layer.tar`, `${idB}/layer.tar`] },
          { Config: `${hex(cfg2)}.json`, RepoTags: ['user/small:2'], Layers: [`${idB2}/layer.tar`] },
        ]),
      },
      { name: 'repositories', content: '{}' },
    ]);
    const dst = await ImageStore.open(join(root, 'dst'));
    const r = await loadArchive(dst, Readable.from([archive]));
    expect(r.names).toEqual(['docker.io/library/busybox:latest', 'registry.example.com:5000/x/busybox:1', 'docker.io/user/small:2']);
    const d = (await dst.resolve('docker.io/library/busybox:latest'))!;
    expect(d.mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
    const m = JSON.parse((await dst.readBlob(d.digest, 1 << 20)).toString());
    expect(m).toEqual({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: cfg1.length, digest: sha256(cfg1) },
      layers: [
        { mediaType: 'application/vnd.docker.image.rootfs.diff.tar', size: layerA.length, digest: diff(layerA) },
        { mediaType: 'application/vnd.docker.image.rootfs.diff.tar', size: layerB.length, digest: diff(layerB) },
      ],
    });
    expect(r.images.map((i) => i.configDigest)).toEqual([sha256(cfg1), sha256(cfg2)]);
    expect((await dst.verify()).ok).toBe(true);
    // the v1 json/VERSION files are not kept; config, two layers, two manifests are
    expect(readdirSync(join(dst.dir, 'blobs/sha256')).length).toBe(6);
  });
});

describe('hostile archives are refused with exit 7 and leave the store as it was', () => {
  let dst: ImageStore;
  let before: ReturnType<typeof snapshot>;
  let good: BuiltImage;
  beforeEach(async () => {
    dst = await ImageStore.open(join(root, 'victim', 'store'));
    await storeImage(dst, await buildImage({}), 'h/existing:1');
    before = snapshot(dst);
    good = await buildImage({ layers: [{ 'f.txt': 'payload '.repeat(1000) }] });
  });

  const refused = async (archive: Buffer | Readable, message?: RegExp) => {
    const input: Readable = Buffer.isBuffer(archive) ? Readable.from([archive]) : archive;
    const e = await expectCode(loadArchive(dst, input), 'BAD_ARCHIVE');
    expect(e.exitCode).toBe(7);
    if (message) expect(e.message).toMatch(message);
    expect(snapshot(dst)).toEqual(before);
    expect(readdirSync(join(root, 'victim')).sort()).toEqual(['store']);
    return e;
  };
  const withExtra = (extra: Entry[], at = 1) => {
    const e = ociEntries(good, 'h/evil:1');
    e.splice(at, 0, ...extra);
    return tarOf(e);
  };

  it('path traversal', async () => {
    await refused(await withExtra([{ name: '../escaped.txt', content: 'x' }], 3), /escapes/);
    await refused(await withExtra([{ name: 'blobs/../../escaped.txt', content: 'x' }], 3), /escapes/);
  });
  it('absolute path', async () => {
    await refused(await withExtra([{ name: '/tmp/dhe-absolute-evil', content: 'x' }], 3), /absolute/);
    expect(existsSync('/tmp/dhe-absolute-evil')).toBe(false);
  });
  it('symlink or hard link escaping the archive', async () => {
    await refused(await withExtra([{ name: 'evil', type: 'symlink', linkname: '/etc/passwd' }], 3), /outside/);
    await refused(await withExtra([{ name: 'a/evil', type: 'symlink', linkname: '../../outside' }], 3), /outside/);
    await refused(await withExtra([{ name: 'evil', type: 'link', linkname: '../outside' }], 3), /outside/);
  });
  it('device files', async () => {
    await refused(await withExtra([{ name: 'dev', type: 'character-device' }], 3), /character-device/);
  });
  it('a blob that does not match its digest', async () => {
    const e = ociEntries(good, 'h/evil:1');
    const layer = e[1]!;
    const flipped = Buffer.from(layer.content as Buffer);
    flipped[20] = flipped[20]! ^ 1;
    layer.content = flipped;
    await refused(await tarOf(e), /digest/);
  });
  it('a blob of another size than its manifest declares', async () => {
    const e = ociEntries(good, 'h/evil:1');
    const m = JSON.parse(good.manifest.toString());
    m.layers[0].size += 1;
    const manifest = Buffer.from(JSON.stringify(m));
    e.splice(e.length - 2, 2,
      { name: `blobs/sha256/${sha256(manifest).slice(7)}`, content: manifest },
      { name: 'index.json', content: JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: good.manifestMediaType, digest: sha256(manifest), size: manifest.length }] }) },
    );
    await refused(await tarOf(e), /declared/);
  });
  it('a layer the manifest names but the archive lacks', async () => {
    const e = ociEntries(good, 'h/evil:1').filter((x) => !x.name.endsWith(good.layers[0]!.digest.slice(7)));
    await refused(await tarOf(e), /does not contain/);
  });
  // the completeness check is the image model's walk (walkImage over the blobs just stored)
  const nested = (levels: number, child: { mediaType: string; digest: string; size: number }) => {
    const e = ociEntries(good, 'h/evil:1');
    const index = e.pop()!;
    for (let i = 0; i < levels; i++) {
      const doc = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [child] }));
      e.push({ name: `blobs/sha256/${sha256(doc).slice(7)}`, content: doc });
      child = { mediaType: OCI_INDEX, digest: sha256(doc), size: doc.length };
    }
    const top = JSON.parse(index.content as string);
    top.manifests = [{ ...child, annotations: top.manifests[0].annotations }];
    e.push({ name: 'index.json', content: JSON.stringify(top) });
    return e;
  };
  const image = () => ({ mediaType: good.manifestMediaType, digest: good.manifestDigest, size: good.manifest.length });
  it('indexes nesting deeper than the walk allows', async () => {
    await refused(await tarOf(nested(6, image())), /nest/);
  });
  it('an index none of whose images the archive holds', async () => {
    await refused(await tarOf(nested(1, { ...image(), digest: sha256(Buffer.from('absent')) })), /none of the images/);
  });
  it('a document of another media type than its descriptor says', async () => {
    const e = nested(1, image());
    const top = JSON.parse(e.at(-1)!.content as string);
    top.manifests[0].mediaType = good.manifestMediaType;
    e[e.length - 1] = { name: 'index.json', content: JSON.stringify(top) };
    await refused(await tarOf(e), /corrupt/);
  });
  it('a truncated archive, plain or gzipped', async () => {
    const full = await tarOf(ociEntries(good, 'h/evil:1'));
    await refused(full.subarray(0, 2048 + 700));
    await refused(gzipSync(full).subarray(0, 400));
  });
  it('things that are not tar archives at all', async () => {
    await refused(Buffer.from('this is not a tar archive'.repeat(40)));
    await refused(Buffer.alloc(0), /empty/);
  });
  it('two entries with the same name', async () => {
    await refused(await withExtra([{ name: 'oci-layout', content: '{}' }], 2), /two entries/);
  });
  it('an uncompressed docker layer that does not match the config diff_id', async () => {
    const layer = await makeTar({ 'a.txt': 'A' });
    const cfg = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256('other')] } }));
    const archive = await tarOf([
      { name: 'l/layer.tar', content: layer },
      { name: 'c.json', content: cfg },
      { name: 'manifest.json', content: JSON.stringify([{ Config: 'c.json', RepoTags: ['evil:1'], Layers: ['l/layer.tar'] }]) },
    ]);
    await refused(archive, /config expects/);
  });
  it('manifest.json pointing outside the archive', async () => {
    const archive = await tarOf([
      { name: 'c.json', content: '{}' },
      { name: 'manifest.json', content: JSON.stringify([{ Config: '../../etc/passwd', RepoTags: ['evil:1'], Layers: [] }]) },
    ]);
    await refused(archive, /escapes/);
  });
  it('an invalid name', async () => {
    await refused(await tarOf(ociEntries(good, 'UPPER/Case:!!')), /invalid image reference/);
  });
});

describe('save: failures end the save cleanly', () => {
  it('a missing output folder is an IO error naming it, and leaves nothing behind', async () => {
    const e = await expectCode(saveArchive(src, ['docker.io/library/alpine:3.20'], join(root, 'nope', 'x.tar')), 'IO');
    expect(e.message).toContain(`${join(root, 'nope')} does not exist`);
    expect(e.hint).toBeTruthy();
    expect(readdirSync(root).filter((f) => f.includes('partial'))).toEqual([]);
  });

  it('a sink that fails while a blob streams rejects the save (no unhandled error event)', async () => {
    const { Writable } = await import('node:stream');
    let seen = 0;
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        seen += chunk.length;
        cb(seen > 1024 ? Object.assign(new Error('broken pipe'), { code: 'EPIPE' }) : null);
      },
    });
    sink.on('error', () => {});
    await expect(saveArchive(src, ['docker.io/library/alpine:3.20', 'localhost:5000/team/app:1.0'], sink)).rejects.toThrow(/broken pipe|EPIPE/);
  });

  it('a blob whose bytes changed on disk (same size) is CORRUPT_STORE, the output file removed', async () => {
    const d = await src.resolve('docker.io/library/alpine:3.20');
    const m = JSON.parse((await src.readBlob(d!.digest, 1 << 20)).toString()) as { layers: Array<{ digest: string }> };
    const f = join(src.dir, 'blobs', 'sha256', m.layers[1]!.digest.slice(7));
    const b = readFileSync(f);
    b[10] = b[10]! ^ 0xff;
    writeFileSync(f, b);
    const out = join(root, 'out');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(out);
    const e = await expectCode(saveArchive(src, ['docker.io/library/alpine:3.20'], join(out, 'x.tar')), 'CORRUPT_STORE');
    expect(e.exitCode).toBe(7);
    expect(e.hint).toContain('store verify --repair');
    expect(readdirSync(out)).toEqual([]);
  });
});
