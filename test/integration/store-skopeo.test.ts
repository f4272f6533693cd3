// Other OCI tools read the store: skopeo's oci:DIR:NAME transport finds our names and copies images out.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool, SKOPEO_PATHS } from '../helpers/tools.js';
import { afterAll, describe, expect, it } from 'vitest';
import { ImageStore } from '../../src/store/index.js';
import { buildImage, sha256, storeImage } from '../../fixtures/archives/helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'dhe-store-skopeo-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('skopeo reads the store', () => {
  const run = (...args: string[]) => execFileSync(requireTool('skopeo', SKOPEO_PATHS), args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

  it('inspects and copies images by their full normalised names', async () => {
    const store = await ImageStore.open(join(tmp, 'store'));
    const img = await buildImage({ layers: [{ 'etc/motd': 'hello\n' }, { 'bin/x': 'x' }] });
    await storeImage(store, img, 'docker.io/library/alpine:3.20');
    // (skopeo's oci: transport only looks at index entries of OCI media types; docker schema2 manifests are kept
    // with their own media type so their digests survive a push, and are then not visible to skopeo by name.)
    const second = await buildImage({ architecture: 'arm64' });
    await storeImage(store, second, 'localhost:5000/team/app:1.0');

    const info = JSON.parse(run('inspect', `oci:${store.dir}:docker.io/library/alpine:3.20`));
    expect(info.Digest).toBe(img.manifestDigest);
    expect(info.Layers).toEqual(img.layers.map((l) => l.digest));
    expect(info.Architecture).toBe('amd64');

    const raw = run('inspect', '--raw', `oci:${store.dir}:localhost:5000/team/app:1.0`);
    expect(sha256(raw)).toBe(second.manifestDigest);

    // skopeo copies out of the store, byte for byte
    const out = join(tmp, 'copy');
    run('copy', '--preserve-digests', `oci:${store.dir}:docker.io/library/alpine:3.20`, `oci:${out}:copied`);
    const outIndex = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8'));
    expect(outIndex.manifests[0].digest).toBe(img.manifestDigest);

    // and skopeo's own writes into the layout are readable by us
    run('copy', `oci:${store.dir}:docker.io/library/alpine:3.20`, `oci:${store.dir}:by-skopeo`);
    const again = await ImageStore.open(store.dir);
    expect(await again.resolve('by-skopeo')).toMatchObject({ digest: img.manifestDigest });
    expect((await again.verify()).ok).toBe(true);
  });
});
