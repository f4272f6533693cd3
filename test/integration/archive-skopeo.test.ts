// Archives cross the border with skopeo both ways: what skopeo writes (docker-archive:, oci-archive:) loads, and
// what dhe-cli save writes skopeo reads and copies in full.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool, SKOPEO_PATHS } from '../helpers/tools.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadArchive, saveArchive } from '../../src/archive/index.js';
import { ImageStore } from '../../src/store/index.js';
import { buildImage, storeImage, type BuiltImage } from '../../fixtures/archives/helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'dhe-archive-skopeo-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const NAME = 'docker.io/library/alpine:3.20';

describe('archives and skopeo', () => {
  const run = (...args: string[]) => execFileSync(requireTool('skopeo', SKOPEO_PATHS), args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  let store: ImageStore;
  let img: BuiltImage;
  beforeAll(async () => {
    store = await ImageStore.open(join(tmp, 'store'));
    img = await buildImage({ layers: [{ 'etc/motd': 'hello\n' }, { 'usr/bin/app': 'binary'.repeat(1000) }] });
    await storeImage(store, img, NAME);
  });

  it('loads skopeo docker-archive: (uncompressed layers, synthesised docker manifest) keeping the image id', async () => {
    const file = join(tmp, 'skopeo-docker.tar');
    run('copy', `oci:${store.dir}:${NAME}`, `docker-archive:${file}:alpine:3.20`);
    const dst = await ImageStore.open(join(tmp, 'dst1'));
    const r = await loadArchive(dst, file);
    expect(r.names).toEqual([NAME]);
    expect(r.images[0]!.configDigest).toBe(img.configDigest);
    const m = JSON.parse((await dst.readBlob(r.images[0]!.descriptor.digest, 1 << 20)).toString());
    const config = JSON.parse(img.config.toString());
    // uncompressed layers are kept as they are: their digests are the diff_ids
    expect(m.layers.map((l: { digest: string }) => l.digest)).toEqual(config.rootfs.diff_ids);
    expect(m.layers[0].mediaType).toBe('application/vnd.docker.image.rootfs.diff.tar');
    expect((await dst.verify()).ok).toBe(true);
    // saved again (docker format) it is the same image for skopeo: same config bytes
    const again = join(tmp, 'again.tar');
    await saveArchive(dst, [NAME], again);
    expect(run('inspect', '--config', '--raw', `docker-archive:${again}:alpine:3.20`)).toBe(img.config.toString());
  });

  it('loads skopeo oci-archive: keeping the manifest digest', async () => {
    const file = join(tmp, 'skopeo-oci.tar');
    run('copy', `oci:${store.dir}:${NAME}`, `oci-archive:${file}:${NAME}`);
    const dst = await ImageStore.open(join(tmp, 'dst2'));
    const r = await loadArchive(dst, file);
    expect(r.names).toEqual([NAME]);
    expect((await dst.resolve(NAME))?.digest).toBe(img.manifestDigest);
  });

  it('writes archives skopeo reads in full: docker format and oci format', async () => {
    const dockerFile = join(tmp, 'ours-docker.tar');
    await saveArchive(store, [NAME], dockerFile);
    // skopeo finds the image by its RepoTag in manifest.json
    const info = JSON.parse(run('inspect', `docker-archive:${dockerFile}:alpine:3.20`));
    expect(info.Layers).toEqual(img.layers.map((l) => l.diffId)); // docker-archive names layers by diff_id
    // a full copy makes skopeo read every layer and check it against the config's diff_ids
    run('copy', `docker-archive:${dockerFile}`, `oci:${join(tmp, 'out-docker')}:x`);
    expect(existsSync(join(tmp, 'out-docker', 'index.json'))).toBe(true);

    const ociFile = join(tmp, 'ours-oci.tar');
    await saveArchive(store, [NAME], ociFile, { format: 'oci' });
    const digest = JSON.parse(run('inspect', `oci-archive:${ociFile}:${NAME}`)).Digest;
    expect(digest).toBe(img.manifestDigest);
    run('copy', '--preserve-digests', `oci-archive:${ociFile}:${NAME}`, `oci:${join(tmp, 'out-oci')}:y`);
    const idx = JSON.parse(readFileSync(join(tmp, 'out-oci', 'index.json'), 'utf8'));
    expect(idx.manifests[0].digest).toBe(img.manifestDigest);
  });
});
