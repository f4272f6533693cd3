// Archives built to hurt `load`: an index naming the same child 40 times at each of four levels (2.56 million
// paths through a 50 KB file), more references than any real image has, and a gzip bomb. Each must load or be
// refused quickly with one Error line (exit 7), and leave nothing behind in the store.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createGzip, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { buildImage, makeTar, sha256 } from '../../fixtures/archives/helpers.js';
import { freshHome, runCli, tempDir } from '../helpers/cli.js';
import { filesUnder } from '../helpers/store.js';

const INDEX = 'application/vnd.oci.image.index.v1+json';
const REF_NAME = 'org.opencontainers.image.ref.name';

const work = () => tempDir('dhe-hostile-');
const blobName = (d: string) => `blobs/${d.replace(':', '/')}`;

/** Every file under DIR (relative names). */
/** An index document listing `child` `times` times. */
function indexOf(child: { mediaType: string; digest: string; size: number }, times: number): Buffer {
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests: Array.from({ length: times }, () => child) }));
}

/** An OCI layout whose index.json → index level N → … → level 1 → one image, each level naming its child `fan` times. */
async function fanOutArchive(levels: number, fan: number, rootFan = 1) {
  const img = await buildImage({});
  const files: Record<string, Buffer | string> = {
    'oci-layout': JSON.stringify({ imageLayoutVersion: '1.0.0' }),
    [blobName(img.configDigest)]: img.config,
    [blobName(img.manifestDigest)]: img.manifest,
  };
  for (const l of img.layers) files[blobName(l.digest)] = l.bytes;
  let child = { mediaType: img.manifestMediaType, digest: img.manifestDigest, size: img.manifest.length };
  for (let i = 0; i < levels; i++) {
    const doc = indexOf(child, fan);
    files[blobName(sha256(doc))] = doc;
    child = { mediaType: INDEX, digest: sha256(doc), size: doc.length };
  }
  const root = { ...child, annotations: { [REF_NAME]: 'hostile/fanout:v1' } };
  files['index.json'] = JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests: Array.from({ length: rootFan }, () => root) });
  return { tar: await makeTar(files), img };
}

describe('hostile archives', () => {
  it('an index naming the same child 40 times at each of four levels loads (and saves) in under 5 s', async () => {
    const { tar, img } = await fanOutArchive(4, 40);
    const file = join(work(), 'fanout.tar');
    writeFileSync(file, tar);
    expect(tar.length).toBeLessThan(64 * 1024); // the reported archive was 50 KB
    const home = freshHome();
    const t = Date.now();
    const r = await runCli(['load', '-i', file], { env: home.env, timeoutMs: 30_000 });
    const took = Date.now() - t;
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('Loaded image: hostile/fanout:v1\n');
    expect(r.code).toBe(0);
    expect(took).toBeLessThan(5_000);
    expect(filesUnder(home.store)).toContain(blobName(img.layers[0]!.digest));
    // and what was loaded is usable as quickly: saved out again, verified
    const t2 = Date.now();
    const out = join(work(), 'again.tar');
    const saved = await runCli(['save', '--format', 'oci', 'hostile/fanout:v1', '-o', out], { env: home.env, timeoutMs: 30_000 });
    expect(saved.stderr).toBe('');
    expect(saved.code).toBe(0);
    const verify = await runCli(['store', 'verify'], { env: home.env, timeoutMs: 30_000 });
    expect(verify.code).toBe(0);
    expect(Date.now() - t2).toBeLessThan(5_000);
    console.log(`[figures] fan-out archive (${tar.length} bytes, 40^4 paths): load ${took} ms; save + verify ${Date.now() - t2} ms`);
  });

  it('an archive whose indexes hold more than 100,000 references is refused: exit 7, one Error line, nothing kept', async () => {
    // index.json names the top index 30,000 times, which names the next 40,000 times, which names the image 40,000
    // times: 110,000 references in 6 MB documents (~100 KB gzip-compressed)
    const { tar } = await fanOutArchive(2, 40_000, 30_000);
    const file = join(work(), 'refs.tar.gz');
    writeFileSync(file, gzipSync(tar));
    const home = freshHome();
    const t = Date.now();
    const r = await runCli(['load', '-i', file], { env: home.env, timeoutMs: 30_000 });
    const took = Date.now() - t;
    expect(r.code, r.stderr).toBe(7);
    expect(r.stderr).toMatch(/^Error: the archive's indexes and manifests hold more than 100000 references to blobs\n/);
    expect(r.stderr).toMatch(/^Hint: .*nothing from it was kept/m);
    expect(r.stderr.trim().split('\n')).toHaveLength(2);
    // (the message names the budget that stopped the walk: no wall-clock bound needed for that)
    expect(filesUnder(join(home.store, 'blobs'))).toEqual([]);
    expect(filesUnder(join(home.store, 'tmp'))).toEqual([]);
    console.log(`[figures] 110,000-reference archive refused in ${took} ms`);
  });

  it('a gzip bomb (a small image followed by 64 MiB of zeros) is refused: exit 7, one Error line, nothing kept', async () => {
    const { tar } = await fanOutArchive(0, 1);
    const file = join(work(), 'bomb.tar.gz');
    const gz = createGzip({ level: 9 });
    const chunks: Buffer[] = [];
    gz.on('data', (c: Buffer) => chunks.push(c));
    const ended = new Promise((r) => gz.on('end', r));
    gz.write(tar);
    const zeros = Buffer.alloc(1 << 20);
    for (let i = 0; i < 64; i++) gz.write(zeros);
    gz.end();
    await ended;
    const bytes = Buffer.concat(chunks);
    writeFileSync(file, bytes);
    expect(bytes.length).toBeLessThan(200 * 1024);
    const home = freshHome();
    const t = Date.now();
    const r = await runCli(['load', '-i', file], { env: home.env, timeoutMs: 30_000 });
    const took = Date.now() - t;
    expect(r.code, r.stderr).toBe(7);
    expect(r.stderr).toMatch(/^Error: the gzip-compressed archive decompresses to more than its tar entries declare/);
    expect(r.stderr).toMatch(/^Hint: /m);
    expect(r.stderr.trim().split('\n')).toHaveLength(2);
    // (the message names the budget that stopped the walk: no wall-clock bound needed for that)
    expect(filesUnder(join(home.store, 'blobs'))).toEqual([]);
    expect(filesUnder(join(home.store, 'tmp'))).toEqual([]);
    expect((await runCli(['images', '-q'], { env: home.env })).stdout).toBe('');
    console.log(`[figures] gzip bomb (${bytes.length} bytes → ${64 + tar.length / 2 ** 20} MiB) refused in ${took} ms`);
  });
});
