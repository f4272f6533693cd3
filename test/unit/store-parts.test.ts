// The parts of the store split out in issue 15: the one verifier (src/oci/digest.ts createVerifier), the store's
// typed graph walk (src/store/graph.ts reachableDigests), names split by the reference grammar, and verify naming a
// manifest that does not parse.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable, Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { createVerifier } from '../../src/oci/digest.js';
import { reachableDigests } from '../../src/store/graph.js';
import { ImageStore, splitName } from '../../src/store/index.js';
import { buildImage, sha256, storeImage } from '../../fixtures/archives/helpers.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
async function openStore(): Promise<ImageStore> {
  const d = mkdtempSync(join(tmpdir(), 'dhe-store-parts-'));
  dirs.push(d);
  return ImageStore.open(d);
}

describe('createVerifier', () => {
  const data = Buffer.from('0123456789'.repeat(1000));

  it('computes digest and size without expectations, fed directly', () => {
    const v = createVerifier();
    v.update(data.subarray(0, 3000));
    v.update(data.subarray(3000));
    expect(v.bytes).toBe(data.length);
    expect(v.result()).toEqual({ digest: sha256(data), size: data.length });
  });

  it('throws SIZE_MISMATCH at the first byte beyond the size, and at the end when short', () => {
    const v = createVerifier({ digest: sha256(data), size: 10 });
    expect(() => v.update(data.subarray(0, 11))).toThrow(expect.objectContaining({ code: 'SIZE_MISMATCH' }));
    const short = createVerifier({ digest: sha256(data), size: data.length });
    short.update(data.subarray(1));
    expect(() => short.result()).toThrow(expect.objectContaining({ code: 'SIZE_MISMATCH' }));
  });

  it('throws DIGEST_MISMATCH naming both digests; refuses a malformed digest up front', () => {
    const v = createVerifier({ digest: sha256('other'), what: 'layer z' });
    v.update(data);
    expect(() => v.result()).toThrow(expect.objectContaining({ code: 'DIGEST_MISMATCH', message: expect.stringContaining(sha256(data)) }));
    expect(() => createVerifier({ digest: 'sha256:ABC' })).toThrow(expect.objectContaining({ code: 'MALFORMED_MANIFEST' }));
  });

  it('as a Transform passes bytes through and fails the pipeline on a mismatch', async () => {
    let seen = 0;
    const sink = () => new Writable({ write: (c: Buffer, _e, cb) => ((seen += c.length), cb()) });
    const v = createVerifier({ digest: sha256(data), size: data.length });
    await pipeline(Readable.from([data]), v, sink());
    expect(seen).toBe(data.length);
    expect(v.result().digest).toBe(sha256(data));
    await expect(pipeline(Readable.from([data]), createVerifier({ digest: sha256('x') }), sink())).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
  });
});

describe('reachableDigests', () => {
  it('walks index → manifests → config and layers; absent index children are optional; a bad document is malformed', async () => {
    const img = await buildImage({});
    const manifest = { mediaType: img.manifestMediaType, digest: img.manifestDigest, size: img.manifest.length };
    const absent = { mediaType: img.manifestMediaType, digest: sha256('absent'), size: 5 };
    const broken = Buffer.from('{"schemaVersion":2,"layers":"nope"}');
    const brokenDesc = { mediaType: img.manifestMediaType, digest: sha256(broken), size: broken.length };
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [manifest, absent, brokenDesc] }));
    const indexDesc = { mediaType: 'application/vnd.oci.image.index.v1+json', digest: sha256(index), size: index.length };
    const docs = new Map([[indexDesc.digest, index], [manifest.digest, img.manifest], [brokenDesc.digest, broken]]);
    const nodes = await reachableDigests([indexDesc], async (d) => docs.get(d.digest) ?? null);
    expect(nodes.get(indexDesc.digest)).toMatchObject({ via: 'root', required: true, depth: 0 });
    expect(nodes.get(manifest.digest)).toMatchObject({ via: 'index', required: false, depth: 1 });
    expect(nodes.get(absent.digest)).toMatchObject({ via: 'index', required: false });
    expect(nodes.get(brokenDesc.digest)).toMatchObject({ malformed: true });
    expect(nodes.get(img.configDigest)).toMatchObject({ via: 'manifest', required: true, depth: 2 });
    expect(nodes.get(img.layers[0]!.digest)).toMatchObject({ via: 'manifest', required: true, depth: 2 });
    expect(nodes.size).toBe(6);
  });
});

describe('names and verify', () => {
  it('splits a name with both tag and digest by the reference grammar; a non-reference is all repository', () => {
    const d = sha256('x');
    expect(splitName(`reg.example:5000/a/b:1.0@${d}`)).toEqual({ repository: 'reg.example:5000/a/b', tag: '1.0', digest: d });
    expect(splitName('NOT A REFERENCE')).toEqual({ repository: 'NOT A REFERENCE' });
  });

  it('reports a name whose manifest is in the store but does not parse', async () => {
    const store = await openStore();
    const bad = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', layers: [] }));
    const { digest } = await store.putBlob(bad);
    await store.setName('reg.example/bad:1', { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size: bad.length });
    const good = await buildImage({});
    await storeImage(store, good, 'reg.example/good:1');
    const r = await store.verify();
    expect(r.ok).toBe(false);
    expect(r.brokenNames).toEqual([{ name: 'reg.example/bad:1', digest, missing: [digest] }]);
  });
});

describe('blob writes through the reused write buffers', () => {
  it('store every byte, in order, whatever the chunk sizes against the 512 KiB buffers', async () => {
    const store = await openStore();
    const K = 1024;
    // chunks that end exactly on, just before, just after and across several buffer boundaries
    const sizes = [1, 512 * K - 1, 1, 1, 512 * K, 3 * 1024 * K + 7, 64 * K, 0, 512 * K + 1, 5];
    const chunks = sizes.map((n) => randomBytes(n));
    const whole = Buffer.concat(chunks);
    const r = await store.writeBlob(chunks, { digest: sha256(whole), size: whole.length });
    expect(r).toEqual({ digest: sha256(whole), size: whole.length, existed: false });
    expect((await store.readBlob(r.digest, whole.length)).equals(whole)).toBe(true);
    // two blobs written at once share the pool without mixing their bytes
    const a = Buffer.alloc(2 * 1024 * K + 3, 0xaa);
    const b = Buffer.alloc(2 * 1024 * K + 5, 0xbb);
    const split = (buf: Buffer) => Array.from({ length: Math.ceil(buf.length / (100 * K)) }, (_, i) => buf.subarray(i * 100 * K, (i + 1) * 100 * K));
    const [ra, rb] = await Promise.all([store.writeBlob(split(a), { digest: sha256(a) }), store.writeBlob(split(b), { digest: sha256(b) })]);
    expect((await store.readBlob(ra.digest, a.length)).equals(a)).toBe(true);
    expect((await store.readBlob(rb.digest, b.length)).equals(b)).toBe(true);
  });
});
