// mutate and append: customise an image in the local store without a daemon. Both write a new config and manifest
// (and, for append, a new layer blob) and name the result; the source image is untouched.

import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import tar from 'tar-stream';
import { DheError, fsError, isDheError } from '../errors.js';
import type { Reference } from '../reference/index.js';
import type { ImageStore, Lease } from '../store/index.js';
import { CONFIG_MAX_BYTES } from '../oci/limits.js';
import { requireLocalImage } from '../image/local.js';
import { notLocalError } from './push.js';


export interface ConfigChanges {
  /** KEY=VALUE; replaces a variable of the same name. */
  env?: string[];
  /** KEY=VALUE */
  labels?: string[];
  entrypoint?: string[];
  cmd?: string[];
  workdir?: string;
  user?: string;
  /** PORT[/tcp|udp|sctp] */
  expose?: string[];
}

export interface MutateResult {
  /** Digest of the new manifest. */
  digest: string;
  /** Digest of the new config (the IMAGE ID). */
  configDigest: string;
  /** Set when the source was a multi-platform index: the one platform ("os/arch[/variant]") the new image has. */
  fromPlatform?: string;
}

export interface AppendResult extends MutateResult {
  /** Digest of the gzip-compressed layer blob. */
  layerDigest: string;
  /** sha256 of the uncompressed tar (the config's rootfs.diff_ids entry). */
  diffId: string;
  /** Size of the layer blob. */
  layerSize: number;
}

interface Loaded {
  manifest: Record<string, any>;
  manifestMediaType: string;
  config: Record<string, any>;
  /** The source was a multi-platform index: only this platform's image was used. */
  fromPlatform?: string;
}

async function loadImage(store: ImageStore, ref: Reference, platform?: string): Promise<Loaded> {
  const desc = await store.resolve(ref.toString());
  if (!desc) throw notLocalError(ref.familiar);
  const local = await requireLocalImage(store, desc, ref.familiar, platform);
  const manifest = JSON.parse(local.image.bytes.toString('utf8')) as Record<string, any>;
  const configBytes = await store.readBlob(local.image.manifest.config.digest, CONFIG_MAX_BYTES);
  const config = JSON.parse(configBytes.toString('utf8')) as Record<string, any>;
  return { manifest, manifestMediaType: local.image.desc.mediaType, config, ...(local.platform ? { fromPlatform: local.platform } : {}) };
}

const sha256 = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function saveImage(store: ImageStore, target: Reference, loaded: Loaded, lease: Lease): Promise<MutateResult> {
  const configBytes = Buffer.from(JSON.stringify(loaded.config));
  const cfg = sha256(configBytes);
  await store.writeBlob([configBytes], { digest: cfg, size: configBytes.length }, { lease });
  loaded.manifest.config = { ...loaded.manifest.config, digest: cfg, size: configBytes.length };
  const manifestBytes = Buffer.from(JSON.stringify(loaded.manifest));
  const man = sha256(manifestBytes);
  await store.writeBlob([manifestBytes], { digest: man, size: manifestBytes.length }, { lease });
  await store.setName(target.toString(), { mediaType: loaded.manifestMediaType, digest: man, size: manifestBytes.length });
  return { digest: man, configDigest: cfg, ...(loaded.fromPlatform ? { fromPlatform: loaded.fromPlatform } : {}) };
}

function keyValue(s: string, what: string): [string, string] {
  const i = s.indexOf('=');
  if (i <= 0) throw new DheError('USAGE', `--${what} needs KEY=VALUE, not "${s}"`, { hint: `e.g. --${what} ${what === 'env' ? 'DEBUG=1' : 'team=web'}` });
  return [s.slice(0, i), s.slice(i + 1)];
}

function exposedPort(p: string): string {
  const m = /^(\d{1,5})(?:\/(tcp|udp|sctp))?$/i.exec(p);
  const n = m ? Number(m[1]) : 0;
  if (!m || n < 1 || n > 65535) {
    throw new DheError('USAGE', `--expose needs PORT[/tcp|udp|sctp] with a port from 1 to 65535, not "${p}"`, { hint: 'e.g. --expose 8080 or --expose 53/udp' });
  }
  return `${n}/${(m[2] ?? 'tcp').toLowerCase()}`;
}

/** Checks every change before anything is read or written (usage errors first, exit 2). */
function validateChanges(changes: ConfigChanges): void {
  for (const e of changes.env ?? []) keyValue(e, 'env');
  for (const l of changes.labels ?? []) keyValue(l, 'label');
  for (const p of changes.expose ?? []) exposedPort(p);
  const any =
    !!changes.env?.length ||
    !!changes.labels?.length ||
    !!changes.expose?.length ||
    changes.entrypoint !== undefined ||
    changes.cmd !== undefined ||
    changes.workdir !== undefined ||
    changes.user !== undefined;
  if (!any) {
    throw new DheError('USAGE', 'nothing to change: give at least one of --env, --label, --entrypoint, --cmd, --workdir, --user, --expose', {
      hint: "to give an image another name only, use 'dhe-cli tag'",
    });
  }
}

/** Applies the changes to an image config's `config` section (docker's names: Env, Labels, Entrypoint, ...). */
function applyChanges(config: Record<string, any>, changes: ConfigChanges): void {
  const c = (config.config ??= {}) as Record<string, any>;
  if (changes.env?.length) {
    const env: string[] = Array.isArray(c.Env) ? [...(c.Env as string[])] : [];
    for (const e of changes.env) {
      const [k] = keyValue(e, 'env');
      const i = env.findIndex((x) => x.split('=')[0] === k);
      if (i >= 0) env[i] = e;
      else env.push(e);
    }
    c.Env = env;
  }
  if (changes.labels?.length) {
    c.Labels = { ...(c.Labels ?? {}) };
    for (const l of changes.labels) {
      const [k, v] = keyValue(l, 'label');
      c.Labels[k] = v;
    }
  }
  if (changes.entrypoint) c.Entrypoint = changes.entrypoint;
  if (changes.cmd) c.Cmd = changes.cmd;
  if (changes.workdir !== undefined) c.WorkingDir = changes.workdir;
  if (changes.user !== undefined) c.User = changes.user;
  if (changes.expose?.length) {
    c.ExposedPorts = { ...(c.ExposedPorts ?? {}) };
    for (const p of changes.expose) c.ExposedPorts[exposedPort(p)] = {};
  }
}

/**
 * Writes a new image named `target` whose config has the changes; layers are shared with the source. From a
 * multi-platform source, the platform asked for (default the host's) is used and the result is a single image.
 */
export async function mutateImage(
  store: ImageStore,
  source: Reference,
  target: Reference,
  changes: ConfigChanges,
  platform?: string,
): Promise<MutateResult> {
  validateChanges(changes);
  const loaded = await loadImage(store, source, platform);
  applyChanges(loaded.config, changes);
  // As `docker commit --change` does: a history entry without a layer, so `history` shows what changed.
  const what = Object.entries(changes)
    .filter(([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0))
    .map(([k]) => k)
    .join(', ');
  (loaded.config.history ??= []).push({ created: new Date().toISOString(), created_by: `dhe-cli mutate (${what})`, empty_layer: true });
  const lease = await store.lease([]);
  try {
    return await saveImage(store, target, loaded, lease);
  } finally {
    await lease.release();
  }
}

// ---------------------------------------------------------------- append

function hashing(hash: ReturnType<typeof createHash>): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      cb(null, chunk);
    },
  });
}

const drain = () =>
  new Writable({
    write(_chunk, _enc, cb) {
      cb();
    },
  });

function notATar(file: string, why: string): DheError {
  return new DheError('BAD_ARCHIVE', `${file} is not a valid tar archive: ${why}`, {
    hint: 'make the layer with: tar -cf layer.tar -C DIR . (optionally gzip it)',
  });
}

/** A pass-through that parses the tar going through it entry by entry, and fails on a corrupt or truncated one. */
function tarChecker(file: string): Transform {
  const ex = tar.extract();
  let failure: Error | undefined;
  const consumed = (async () => {
    for await (const entry of ex) entry.resume();
  })().catch((e: unknown) => {
    failure = e as Error;
  });
  const check = () => (failure ? notATar(file, failure.message.replace(/\.$/, '')) : null);
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      const bad = check();
      if (bad) return cb(bad);
      if (ex.write(chunk)) return cb(null, chunk);
      Promise.race([once(ex as unknown as NodeJS.EventEmitter, 'drain'), consumed]).then(
        () => cb(check(), chunk),
        (e: unknown) => cb(e as Error),
      );
    },
    flush(cb) {
      (ex as unknown as { end(): void }).end();
      consumed.then(
        () => cb(check()),
        (e: unknown) => cb(e as Error),
      );
    },
    destroy(err, cb) {
      ex.destroy();
      cb(err);
    },
  });
}

/** The 512-byte header checksum of a tar block (ustar, GNU or v7), or an all-zero block (an empty archive). */
function isTarHeader(block: Buffer): boolean {
  if (block.length < 512) return false;
  if (block.subarray(0, 512).every((b) => b === 0)) return true;
  const field = block.subarray(148, 156).toString('latin1').replace(/\0.*$/s, '').trim();
  if (!/^[0-7]+$/.test(field)) return false;
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  return sum === parseInt(field, 8);
}

async function sniffLayer(file: string): Promise<'tar' | 'gzip'> {
  let head: Buffer;
  try {
    const fh = await open(file, 'r');
    try {
      if ((await fh.stat()).isDirectory()) {
        throw new DheError('USAGE', `--layer needs a tar file, and ${file} is a folder`, { hint: `make one with: tar -cf layer.tar -C ${file} .` });
      }
      head = Buffer.alloc(512);
      const { bytesRead } = await fh.read(head, 0, 512, 0);
      head = head.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  } catch (e) {
    if (isDheError(e)) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new DheError('NOT_FOUND', `layer file not found: ${file}`, { hint: 'give an existing .tar or .tar.gz file with --layer' });
    }
    if (code === 'EISDIR') {
      throw new DheError('USAGE', `--layer needs a tar file, and ${file} is a folder`, { hint: `make one with: tar -cf layer.tar -C ${file} .` });
    }
    throw fsError(e, `reading ${file}`);
  }
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  const other =
    head.length >= 4 && head.readUInt32BE(0) === 0x28b52ffd
      ? 'zstd'
      : head.length >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))
        ? 'xz'
        : head.length >= 3 && head.subarray(0, 3).toString('latin1') === 'BZh'
          ? 'bzip2'
          : undefined;
  if (other) {
    throw new DheError('BAD_ARCHIVE', `${file} is ${other}-compressed; layers must be a tar or a gzip-compressed tar`, {
      hint: `decompress it first, e.g. ${other === 'zstd' ? 'zstd -d' : other === 'xz' ? 'xz -d' : 'bunzip2'} ${basename(file)}`,
    });
  }
  if (!isTarHeader(head)) {
    throw new DheError('BAD_ARCHIVE', `${file} is neither a tar nor a gzip-compressed tar`, {
      hint: 'make the layer with: tar -cf layer.tar -C DIR . (optionally gzip it)',
    });
  }
  return 'tar';
}

/** zlib and stream errors on a layer file → BAD_ARCHIVE; ours pass through. */
function layerError(e: unknown, file: string): unknown {
  if (isDheError(e)) return e;
  const code = String((e as NodeJS.ErrnoException | undefined)?.code ?? '');
  if (code.startsWith('Z_')) {
    return new DheError('BAD_ARCHIVE', `${file} is not a valid gzip file: ${(e as Error).message}`, {
      hint: 'the file is corrupt or truncated; make it again with: tar -czf layer.tar.gz -C DIR .',
      cause: e,
    });
  }
  return fsError(e, `reading ${file}`);
}

/**
 * Adds a layer (a tar file, gzip-compressed or not) on top of an image and names the result `target`. A plain tar
 * is gzip-compressed on the way into the store; the tar is parsed through so a corrupt one is refused (BAD_ARCHIVE)
 * before anything is named. The config gets the diff_id (sha256 of the uncompressed tar) and a history entry.
 */
export async function appendLayer(
  store: ImageStore,
  source: Reference,
  target: Reference,
  layerFile: string,
  platform?: string,
): Promise<AppendResult> {
  const kind = await sniffLayer(layerFile);
  const loaded = await loadImage(store, source, platform);
  const lease = await store.lease([]);
  try {
    const diffHash = createHash('sha256');
    let written: { digest: string; size: number };
    try {
      if (kind === 'gzip') {
        // first pass: the tar inside must be whole; its sha256 is the diff_id. Then the file goes in as it is.
        await pipeline(createReadStream(layerFile, { highWaterMark: 1 << 20 }), createGunzip(), hashing(diffHash), tarChecker(layerFile), drain());
        written = await store.writeBlob(createReadStream(layerFile, { highWaterMark: 1 << 20 }), {}, { lease });
      } else {
        const gz = createGzip({ level: 6 });
        const [w] = await Promise.all([
          store.writeBlob(gz, {}, { lease }),
          pipeline(createReadStream(layerFile, { highWaterMark: 1 << 20 }), hashing(diffHash), tarChecker(layerFile), gz),
        ]);
        written = w;
      }
    } catch (e) {
      throw layerError(e, layerFile);
    }
    const diffId = `sha256:${diffHash.digest('hex')}`;
    const docker = String(loaded.manifestMediaType).includes('docker');
    const layerMediaType = docker ? 'application/vnd.docker.image.rootfs.diff.tar.gzip' : 'application/vnd.oci.image.layer.v1.tar+gzip';
    (loaded.manifest.layers ??= []).push({ mediaType: layerMediaType, digest: written.digest, size: written.size });
    const rootfs = (loaded.config.rootfs ??= { type: 'layers', diff_ids: [] });
    (rootfs.diff_ids ??= []).push(diffId);
    const now = new Date().toISOString();
    loaded.config.created = now;
    (loaded.config.history ??= []).push({ created: now, created_by: `dhe-cli append --layer ${basename(layerFile)}` });
    const saved = await saveImage(store, target, loaded, lease);
    return { ...saved, layerDigest: written.digest, diffId, layerSize: written.size };
  } finally {
    await lease.release();
  }
}
