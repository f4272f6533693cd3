// The one image model: the same walk and transfer cases against every source backend (a registry of the harness,
// a store in a temp dir, an OCI archive written by save and read back by ArchiveSource). A backend that passes
// them is a backend.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveArchive } from '../../src/archive/index.js';
import { readConfig } from '../../src/image/config.js';
import { transfer } from '../../src/image/copy.js';
import { DheError } from '../../src/errors.js';
import { CONFIG_MAX_BYTES } from '../../src/oci/limits.js';
import { ArchiveSource } from '../../src/image/archive-source.js';
import { RemoteSink, RemoteSource } from '../../src/image/remote.js';
import type { Doc, ImageSource } from '../../src/image/source.js';
import { StoreSink, StoreSource } from '../../src/image/store.js';
import { reachableDigests, walkImage } from '../../src/image/walk.js';
import { selectManifest, type Descriptor } from '../../src/oci/index.js';
import { RegistryClient } from '../../src/registry/index.js';
import { ImageStore } from '../../src/store/index.js';
import { getHarness } from '../harness/index.js';
import { buildImage, buildIndex, MT, seedIndex, sha256, tarOf, uniqueRepo, type BuiltImage } from '../helpers/images.js';
import { compressStoredImage } from '../../src/transfer/compress.js';

const h = getHarness();
const dirs: string[] = [];
const clients: RegistryClient[] = [];
const temp = () => {
  const d = mkdtempSync(join(tmpdir(), 'dhe-engine-'));
  dirs.push(d);
  return d;
};
const client = () => {
  const c = new RegistryClient({ registry: h.plain.host, tls: { caCertFiles: [], certsDirs: [], insecureRegistries: [h.plain.host] }, proxy: {}, retry: { attempts: 2, baseDelayMs: 20, maxDelayMs: 50 } });
  clients.push(c);
  return c;
};
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

let amd: BuiltImage;
let arm: BuiltImage;
const repo = uniqueRepo('engine');
type Backend = { name: string; open(): Promise<ImageSource> };
const backends: Backend[] = [];

beforeAll(async () => {
  amd = await buildImage({ layers: 2, salt: 'amd' });
  arm = await buildImage({ layers: 1, salt: 'arm', platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
  const index = await seedIndex({ url: h.plain.url }, repo, 'multi', [amd, arm]);
  const store = await ImageStore.open(temp());
  for (const img of [amd, arm]) for (const b of [...img.layers, img.config, img.manifest]) await store.putBlob(b.bytes, b.digest);
  await store.putBlob(index.bytes, index.digest);
  const top: Descriptor = { mediaType: index.mediaType!, digest: index.digest, size: index.size };
  await store.setName(`${h.plain.host}/${repo}:multi`, top);
  const file = join(temp(), 'multi.tar');
  await saveArchive(store, [`${h.plain.host}/${repo}:multi`], file, { format: 'oci' });
  backends.push(
    { name: 'registry', open: async () => new RemoteSource(client(), repo, 'multi') },
    { name: 'store', open: async () => new StoreSource(store, top) },
    { name: 'archive', open: () => ArchiveSource.open(file) },
  );
}, 60_000);

const digestsOf = (img: BuiltImage) => [img.config.digest, ...img.layers.map((l) => l.digest)];

describe.each(['registry', 'store', 'archive'])('the %s backend', (name) => {
  const source = () => backends.find((b) => b.name === name)!.open();

  it('walks an index: every child, each blob once, children before the index', async () => {
    const s = await source();
    const g = await walkImage(s, await s.root());
    expect(g.top.parsed.kind).toBe('index');
    expect(g.whole).toBe(true);
    expect(g.images.map((i) => i.desc.digest)).toEqual([amd.manifest.digest, arm.manifest.digest]);
    expect(g.blobs.map((b) => b.digest)).toEqual([...digestsOf(amd), ...digestsOf(arm)]);
    expect([...g.layers].sort()).toEqual([...amd.layers, ...arm.layers].map((l) => l.digest).sort());
    expect(g.manifests.map((m) => m.desc.digest)).toEqual([amd.manifest.digest, arm.manifest.digest]);
  });

  it('walks one platform of an index with the platform policy', async () => {
    const s = await source();
    const g = await walkImage(s, await s.root(), { choose: (index) => [selectManifest(index, { os: 'linux', architecture: 'arm64' })] });
    expect(g.whole).toBe(false);
    expect(g.images.map((i) => i.desc.digest)).toEqual([arm.manifest.digest]);
    expect(g.blobs.map((b) => b.digest)).toEqual(digestsOf(arm));
  });

  it('serves verified blobs and says what it has', async () => {
    const s = await source();
    expect(await s.has(amd.layers[0]!.digest)).toBe(true);
    expect(await s.has(`sha256:${'0'.repeat(64)}`)).toBe(false);
    const chunks: Buffer[] = [];
    for await (const c of await s.blob({ mediaType: amd.layers[0]!.mediaType!, digest: amd.layers[0]!.digest, size: amd.layers[0]!.size })) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).equals(amd.layers[0]!.bytes)).toBe(true);
  });

  it('transfers into a store (blobs, then documents, the name last), and a second time writes nothing', async () => {
    const s = await source();
    const store = await ImageStore.open(temp());
    const g = await walkImage(s, await s.root());
    const first = await transfer(s, new StoreSink(store), g, { tag: 'example.test/copy:1' });
    expect(first.written).toBe(g.blobs.length);
    expect(first.root.desc.digest).toBe(g.top.desc.digest);
    expect((await store.resolve('example.test/copy:1'))?.digest).toBe(g.top.desc.digest);
    for (const d of [...g.blobs.map((b) => b.digest), amd.manifest.digest, arm.manifest.digest]) expect(await store.hasBlob(d)).toBe(true);
    const again = await transfer(s, new StoreSink(store), await walkImage(s, await s.root()), { tag: 'example.test/copy:1' });
    expect(again.written).toBe(0);
    expect(again.existing).toBe(g.blobs.length);
    const reach = await reachableDigests(new StoreSource(store), [g.top.desc]);
    expect(reach.size).toBe(1 + 2 + g.blobs.length);
  });

  it('transfers one platform into a registry: the chosen image goes under the tag, not the partial index', async () => {
    const s = await source();
    const dst = uniqueRepo(`engine-${name}`);
    const g = await walkImage(s, await s.root(), { choose: (index) => [selectManifest(index, { os: 'linux', architecture: 'amd64' })] });
    const events: string[] = [];
    const r = await transfer(s, new RemoteSink(client(), dst), g, { tag: 'one', events: 'push', onEvent: (e) => e.type === 'layer' && events.push(e.status) });
    expect(r.root.desc.digest).toBe(amd.manifest.digest);
    // from the same registry the layers are mounted, from anywhere else uploaded
    expect(events.filter((e) => e === (name === 'registry' ? 'mounted' : 'pushed'))).toHaveLength(amd.layers.length);
    const back = await client().getManifest(dst, 'one');
    expect(back.digest).toBe(amd.manifest.digest);
    const same = await transfer(s, new RemoteSink(client(), dst), g, { tag: 'one' });
    expect(same.upToDate).toBe(true);
  });
});

describe('the walk against hostile fan-out', () => {
  it('reads a child named thousands of times once, and refuses indexes nested too deep', async () => {
    const store = await ImageStore.open(temp());
    const img = await buildImage({ layers: 1, salt: 'fan' });
    for (const b of [...img.layers, img.config, img.manifest]) await store.putBlob(b.bytes, b.digest);
    let level: Descriptor = { mediaType: img.manifest.mediaType!, digest: img.manifest.digest, size: img.manifest.size };
    const tops: Descriptor[] = [];
    for (let depth = 0; depth < 6; depth++) {
      const idx = buildIndex([]);
      const doc = Buffer.from(JSON.stringify({ ...JSON.parse(idx.bytes.toString()), manifests: Array.from({ length: 40 }, () => level) }));
      const put = await store.putBlob(doc);
      level = { mediaType: idx.mediaType!, digest: put.digest, size: put.size };
      tops.push(level);
    }
    const reads: string[] = [];
    const counting = new StoreSource(store);
    const source: ImageSource = { ...counting, kind: 'store', root: () => counting.manifest(tops[3]!), has: (d) => counting.has(d), blob: (d, o) => counting.blob(d, o), manifest: async (d): Promise<Doc> => (reads.push(d.digest), counting.manifest(d)) };
    const started = Date.now();
    const g = await walkImage(source, await source.root());
    expect(Date.now() - started).toBeLessThan(2000);
    expect(reads).toHaveLength(4); // 40^4 references, four documents read
    expect(g.images).toHaveLength(1);
    expect(g.blobs).toHaveLength(2);
    await expect(walkImage(source, await counting.manifest(tops[5]!))).rejects.toThrow(/nest more than 4 levels/);
  });
});

describe('readConfig', () => {
  const fake = (bytes: Buffer): ImageSource => ({
    kind: 'fake',
    root: () => Promise.reject(new Error('unused')),
    manifest: () => Promise.reject(new Error('unused')),
    blob: () => Readable.from([bytes]),
    has: () => Promise.resolve(true),
  });
  it('refuses a config above the cap, by its descriptor or by its bytes: a malformed document, exit 7', async () => {
    const big = Buffer.alloc(CONFIG_MAX_BYTES + 1, 0x20);
    const bySize = await readConfig(fake(big), { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${'0'.repeat(64)}`, size: big.length }).catch((e: unknown) => e);
    expect(bySize).toBeInstanceOf(DheError);
    expect((bySize as DheError).exitCode).toBe(7);
    expect((bySize as DheError).message).toMatch(/more than the 8 MiB limit/);
    const byBytes = await readConfig(fake(big), { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${'0'.repeat(64)}`, size: 10 }).catch((e: unknown) => e);
    expect((byBytes as DheError).code).toBe('MALFORMED_MANIFEST');
    expect((byBytes as DheError).exitCode).toBe(7);
  });
});

describe('compressStoredImage of an index', () => {
  const blob = (json: unknown, mediaType: string) => {
    const bytes = Buffer.from(JSON.stringify(json));
    return { digest: sha256(bytes), size: bytes.length, bytes, mediaType };
  };
  it('rewrites the children the store has (a shared layer compressed once), leaves a missing one, moves the name', async () => {
    const store = await ImageStore.open(temp());
    const shared = await tarOf({ 'shared.txt': 'shared '.repeat(5000) });
    const own = [await tarOf({ 'a.txt': 'a'.repeat(9000) }), await tarOf({ 'b.txt': 'b'.repeat(9000) })];
    for (const t of [shared, ...own]) await store.putBlob(t, sha256(t));
    const plain = (t: Buffer) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(t), size: t.length });
    const children = own.map((t, i) => {
      const arch = i === 0 ? 'amd64' : 'arm64';
      const cfg = blob({ architecture: arch, os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(shared), sha256(t)] } }, MT.ociConfig);
      const man = blob({ schemaVersion: 2, mediaType: MT.ociManifest, config: { mediaType: cfg.mediaType, digest: cfg.digest, size: cfg.size }, layers: [plain(shared), plain(t)] }, MT.ociManifest);
      return { cfg, man, platform: { os: 'linux', architecture: arch } };
    });
    for (const c of children) for (const b of [c.cfg, c.man]) await store.putBlob(b.bytes, b.digest);
    const missing = { mediaType: MT.ociManifest, digest: `sha256:${'1'.repeat(64)}`, size: 123, platform: { os: 'linux', architecture: 's390x' } };
    const index = blob({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: [...children.map((c) => ({ mediaType: MT.ociManifest, digest: c.man.digest, size: c.man.size, platform: c.platform })), missing] }, MT.ociIndex);
    await store.putBlob(index.bytes, index.digest);
    const top: Descriptor = { mediaType: MT.ociIndex, digest: index.digest, size: index.size };
    await store.setName('example.com/app:1', top);

    const r = await compressStoredImage(store, top);
    expect(r.layers.map((l) => l.from).sort()).toEqual([sha256(shared), ...own.map(sha256)].sort());
    expect(r.top.digest).not.toBe(top.digest);
    expect(r.top.mediaType).toBe(MT.ociIndex);
    expect((await store.resolve('example.com/app:1'))?.digest).toBe(r.top.digest);
    const next = JSON.parse((await store.readBlob(r.top.digest, 1 << 20)).toString()) as { manifests: Array<Descriptor & { platform: unknown }> };
    expect(next.manifests.map((m) => m.platform)).toEqual([children[0]!.platform, children[1]!.platform, missing.platform]);
    expect(next.manifests[2]).toEqual(missing);
    for (const [i, m] of next.manifests.slice(0, 2).entries()) {
      expect(m.digest).not.toBe(children[i]!.man.digest);
      const man = JSON.parse((await store.readBlob(m.digest, 1 << 20)).toString()) as { config: Descriptor; layers: Descriptor[] };
      expect(m.size).toBe((await store.readBlob(m.digest, 1 << 20)).length);
      expect(man.config.digest).toBe(children[i]!.cfg.digest);
      expect(man.layers.map((l) => l.mediaType)).toEqual(['application/vnd.oci.image.layer.v1.tar+gzip', 'application/vnd.oci.image.layer.v1.tar+gzip']);
    }
    expect((await compressStoredImage(store, r.top)).layers).toEqual([]);
  });
});
