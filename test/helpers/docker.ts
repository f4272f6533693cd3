// Builders for the docker-daemon interop tests: a tiny busybox image (Debian's busybox-static, /usr/bin/busybox),
// as a tar for `docker import` or as a registry-ready image, layer tars with directories and symlinks, and a CONNECT
// proxy that gives a loopback registry a name dockerd does not resolve (see test/harness/dockerd.ts on 127.0.0.0/8).

import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { MT, sha256, type Blob, type BuiltImage } from './images.js';

export const BUSYBOX_BIN = process.env.DHE_BUSYBOX_BIN ?? '/usr/bin/busybox';
/** Applets linked in /bin (what the tests' `sh -c` scripts use). */
export const BUSYBOX_APPLETS = ['sh', 'cat', 'env', 'echo', 'ls', 'sha256sum', 'wc'];

export type TarEntry =
  | { type: 'dir'; name: string; mode?: number }
  | { type: 'file'; name: string; content: Buffer | string; mode?: number }
  | { type: 'symlink'; name: string; target: string };

/** An uncompressed tar of `entries`, in that order, with mtime 0 and root ownership. */
export async function tarEntries(entries: TarEntry[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const done = new Promise<void>((resolve, reject) => {
    p.on('end', () => resolve());
    p.on('error', reject);
  });
  const base = { mtime: new Date(0), uid: 0, gid: 0, uname: 'root', gname: 'root' };
  for (const e of entries) {
    if (e.type === 'dir') p.entry({ ...base, name: e.name, type: 'directory', mode: e.mode ?? 0o755 });
    else if (e.type === 'symlink') p.entry({ ...base, name: e.name, type: 'symlink', linkname: e.target, mode: 0o777 });
    else p.entry({ ...base, name: e.name, mode: e.mode ?? 0o644 }, typeof e.content === 'string' ? Buffer.from(e.content) : e.content);
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

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

export interface ConnectProxy {
  /** "http://127.0.0.1:PORT" */
  url: string;
  /** CONNECT targets asked for, in order ("host:port"). */
  connects: string[];
  close(): Promise<void>;
}

/**
 * An HTTP CONNECT proxy that only tunnels to the names in `routes` ("name:port" → "127.0.0.1:port"), refusing
 * anything else with 403. TLS stays end to end: the proxy never sees plain text.
 */
export async function startConnectProxy(routes: Record<string, string>): Promise<ConnectProxy> {
  const connects: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    let head = Buffer.alloc(0);
    const onData = (d: Buffer): void => {
      head = Buffer.concat([head, d]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > 16_384) client.destroy();
        return;
      }
      client.off('data', onData);
      const [method, target] = head.subarray(0, end).toString('latin1').split('\r\n')[0]!.split(' ');
      const rest = head.subarray(end + 4);
      const to = method === 'CONNECT' && target ? routes[target.toLowerCase()] : undefined;
      connects.push(`${method} ${target}`);
      if (!to) {
        client.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        return;
      }
      const [host, port] = [to.slice(0, to.lastIndexOf(':')), Number(to.slice(to.lastIndexOf(':') + 1))];
      const upstream = connect({ host, port }, () => {
        client.write('HTTP/1.1 200 Connection established\r\n\r\n');
        if (rest.length) upstream.write(rest);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      sockets.add(upstream);
      upstream.on('close', () => sockets.delete(upstream));
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
    };
    client.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    connects,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
