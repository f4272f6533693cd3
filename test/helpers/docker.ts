// Builders for the docker-daemon interop tests: a tiny busybox image (Debian's busybox-static, /usr/bin/busybox),
// as a tar for `docker import` or as a registry-ready image. (Layer tars: tar.ts; the CONNECT proxy: proxy.ts.)

import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { MT, sha256, type Blob, type BuiltImage } from './images.js';
import { tarEntries, type TarEntry } from './tar.js';

// (re-exported for the files that import them from here)
export { startConnectProxy, type ConnectProxy } from './proxy.js';
export { tarEntries, type TarEntry } from './tar.js';

export const BUSYBOX_BIN = process.env.DHE_BUSYBOX_BIN ?? '/usr/bin/busybox';
/** Applets linked in /bin (what the tests' `sh -c` scripts use). */
export const BUSYBOX_APPLETS = ['sh', 'cat', 'env', 'echo', 'ls', 'sha256sum', 'wc'];

/** The root filesystem of a busybox image: /bin/busybox, /bin/sh, /bin/cat… (symlinks), /tmp, plus `extra`. */
export async function busyboxRootfsTar(extra: TarEntry[] = []): Promise<Buffer> {
  if (!existsSync(BUSYBOX_BIN)) throw new Error(`${BUSYBOX_BIN} is missing (install Debian's busybox-static)`);
  return tarEntries([
    { type: 'dir', name: 'bin' },
    { type: 'file', name: 'bin/busybox', content: readFileSync(BUSYBOX_BIN), mode: 0o755 },
    ...BUSYBOX_APPLETS.map((a): TarEntry => ({ type: 'symlink', name: `bin/${a}`, target: 'busybox' })),
    { type: 'dir', name: 'tmp', mode: 0o1777 },
    ...extra,
  ]);
}

/** `docker import --change 'CMD ["/bin/sh"]'` arguments for a rootfs tar (with `--platform` when given). */
export function importArgs(tarPath: string, name: string, platform?: string): string[] {
  return ['import', ...(platform ? ['--platform', platform] : []), '--change', 'CMD ["/bin/sh"]', '--change', 'ENV PATH=/bin', tarPath, name];
}

/**
 * A registry-ready busybox image (one gzip layer, docker or OCI media types), built without docker: for indexes
 * pushed by the test helpers of images.ts (`seedIndex`). `salt` adds /salt.txt so two builds differ.
 */
export async function busyboxImage(
  opts: { platform?: BuiltImage['platform']; format?: 'oci' | 'docker'; salt?: string; env?: string[] } = {},
): Promise<BuiltImage> {
  const format = opts.format ?? 'docker';
  const platform = opts.platform ?? { os: 'linux', architecture: 'amd64' };
  const tar = await busyboxRootfsTar([{ type: 'file', name: 'salt.txt', content: opts.salt ?? randomBytes(8).toString('hex') }]);
  const gz = gzipSync(tar);
  const layer: Blob = { digest: sha256(gz), size: gz.length, bytes: gz, mediaType: format === 'oci' ? MT.ociLayer : MT.dockerLayer };
  const created = new Date().toISOString();
  const configJson = {
    created,
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: { Env: opts.env ?? ['PATH=/bin'], Cmd: ['/bin/sh'] },
    rootfs: { type: 'layers', diff_ids: [sha256(tar)] },
    history: [{ created, created_by: 'busybox rootfs (test/helpers/docker.ts)' }],
  };
  const cb = Buffer.from(JSON.stringify(configJson));
  const config: Blob = { digest: sha256(cb), size: cb.length, bytes: cb, mediaType: format === 'oci' ? MT.ociConfig : MT.dockerConfig };
  const manifestJson = {
    schemaVersion: 2,
    mediaType: format === 'oci' ? MT.ociManifest : MT.dockerManifest,
    config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
    layers: [{ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }],
  };
  const mb = Buffer.from(JSON.stringify(manifestJson));
  return {
    manifest: { digest: sha256(mb), size: mb.length, bytes: mb, mediaType: manifestJson.mediaType },
    config,
    layers: [layer],
    diffIds: [sha256(tar)],
    platform,
  };
}
