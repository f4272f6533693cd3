// mutate and append: customise an image in the local store without a daemon. Both write a new config and manifest
// (and, for append, a new layer blob) and name the result; the source image is untouched.

import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { DheError, fsError } from '../errors.js';
import { hostPlatform, parsePlatform, selectManifest, type Descriptor } from '../oci/index.js';
import type { Reference } from '../reference/index.js';
import type { ImageStore } from '../store/index.js';
import { readStoredManifest } from './pull.js';
import { notLocalError } from './push.js';

const CONFIG_CAP = 8 * 1024 * 1024;

export interface ConfigChanges {
  env?: string[];
  labels?: string[];
  entrypoint?: string[];
  cmd?: string[];
  workdir?: string;
  user?: string;
  expose?: string[];
}

interface Loaded {
  manifest: Record<string, any>;
  manifestMediaType: string;
  config: Record<string, any>;
}

async function loadImage(store: ImageStore, ref: Reference, platform?: string): Promise<Loaded> {
  const desc = await store.resolve(ref.toString());
  if (!desc) throw notLocalError(ref.familiar);
  let doc = await readStoredManifest(store, desc);
  if (doc.parsed.kind === 'index') {
    const present: Descriptor[] = [];
    for (const c of doc.parsed.index.manifests) if (await store.hasBlob(c.digest)) present.push(c);
    const child = selectManifest({ ...doc.parsed.index, manifests: present }, platform ? parsePlatform(platform) : hostPlatform());
    doc = await readStoredManifest(store, child);
  }
  if (doc.parsed.kind !== 'image') throw new DheError('MALFORMED_MANIFEST', `nested index in ${ref.familiar}`);
  const manifest = JSON.parse(doc.bytes.toString('utf8')) as Record<string, any>;
  const configBytes = await store.readBlob(doc.parsed.manifest.config.digest, CONFIG_CAP);
  const config = JSON.parse(configBytes.toString('utf8')) as Record<string, any>;
  return { manifest, manifestMediaType: doc.parsed.mediaType, config };
}

async function saveImage(store: ImageStore, target: Reference, loaded: Loaded): Promise<{ digest: string; configDigest: string }> {
  const configBytes = Buffer.from(JSON.stringify(loaded.config));
  const cfg = await store.putBlob(configBytes);
  loaded.manifest.config = { ...loaded.manifest.config, digest: cfg.digest, size: cfg.size };
  const manifestBytes = Buffer.from(JSON.stringify(loaded.manifest));
  const man = await store.putBlob(manifestBytes);
  await store.setName(target.toString(), { mediaType: loaded.manifestMediaType, digest: man.digest, size: man.size });
  return { digest: man.digest, configDigest: cfg.digest };
}

function keyValue(s: string, what: string): [string, string] {
  const i = s.indexOf('=');
  if (i <= 0) throw new DheError('USAGE', `--${what} needs KEY=VALUE, not "${s}"`);
  return [s.slice(0, i), s.slice(i + 1)];
}

/** "--cmd" values: a JSON array, or a string split on white space. */
export function parseCommandList(s: string): string[] {
  const t = s.trim();
  if (t.startsWith('[')) {
    try {
      const v = JSON.parse(t) as unknown;
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
    } catch {
      // fall through to the error
    }
    throw new DheError('USAGE', `not a JSON array of strings: ${s}`);
  }
  return t === '' ? [] : t.split(/\s+/);
}

export async function mutateImage(
  store: ImageStore,
  source: Reference,
  target: Reference,
  changes: ConfigChanges,
  platform?: string,
): Promise<{ digest: string; configDigest: string }> {
  const loaded = await loadImage(store, source, platform);
  const c = (loaded.config.config ??= {}) as Record<string, any>;
  if (changes.env?.length) {
    const env: string[] = Array.isArray(c.Env) ? [...c.Env] : [];
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
    for (const p of changes.expose) {
      if (!/^\d{1,5}(\/(tcp|udp|sctp))?$/.test(p)) throw new DheError('USAGE', `--expose needs PORT[/tcp|udp|sctp], not "${p}"`);
      c.ExposedPorts[p.includes('/') ? p : `${p}/tcp`] = {};
    }
  }
  return saveImage(store, target, loaded);
}

function hashing(hash: ReturnType<typeof createHash>, count: { n: number }) {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      count.n += chunk.length;
      cb(null, chunk);
    },
  });
}

/** Adds a layer (a tar file, gzipped or not) on top of an image. A plain tar is gzip-compressed on the way in. */
export async function appendLayer(
  store: ImageStore,
  source: Reference,
  target: Reference,
  layerFile: string,
  platform?: string,
): Promise<{ digest: string; configDigest: string; layerDigest: string; diffId: string }> {
  let head: Buffer;
  try {
    const fh = await open(layerFile, 'r');
    try {
      head = Buffer.alloc(512);
      const { bytesRead } = await fh.read(head, 0, 512, 0);
      head = head.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new DheError('NOT_FOUND', `layer file not found: ${layerFile}`, { hint: 'give a .tar or .tar.gz file with --layer' });
    }
    throw fsError(e, `reading ${layerFile}`);
  }
  const gz = head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
  if (!gz && !(head.length >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar')) {
    throw new DheError('BAD_ARCHIVE', `${layerFile} is neither a tar nor a gzip-compressed tar`, {
      hint: 'make the layer with: tar -cf layer.tar -C DIR .',
    });
  }
  const loaded = await loadImage(store, source, platform);
  const tmp = await mkdtemp(join(tmpdir(), 'dhe-append-'));
  try {
    const diffHash = createHash('sha256');
    const diffCount = { n: 0 };
    let blobPath = layerFile;
    if (gz) {
      // diff_id = sha256 of the uncompressed tar
      await pipeline(createReadStream(layerFile), createGunzip(), hashing(diffHash, diffCount), async function* (src) {
        for await (const _ of src) {
          // drain
        }
      });
    } else {
      blobPath = join(tmp, 'layer.tar.gz');
      await pipeline(createReadStream(layerFile), hashing(diffHash, diffCount), createGzip({ level: 6 }), createWriteStream(blobPath));
    }
    const blobHash = createHash('sha256');
    const blobCount = { n: 0 };
    await pipeline(createReadStream(blobPath), hashing(blobHash, blobCount), async function* (src) {
      for await (const _ of src) {
        // drain
      }
    });
    const layerDigest = `sha256:${blobHash.digest('hex')}`;
    const diffId = `sha256:${diffHash.digest('hex')}`;
    const size = (await stat(blobPath)).size;
    await store.writeBlob(createReadStream(blobPath, { highWaterMark: 1 << 20 }), { digest: layerDigest, size });
    const docker = String(loaded.manifestMediaType).includes('docker');
    const layerMediaType = docker ? 'application/vnd.docker.image.rootfs.diff.tar.gzip' : 'application/vnd.oci.image.layer.v1.tar+gzip';
    (loaded.manifest.layers ??= []).push({ mediaType: layerMediaType, digest: layerDigest, size });
    const rootfs = (loaded.config.rootfs ??= { type: 'layers', diff_ids: [] });
    (rootfs.diff_ids ??= []).push(diffId);
    (loaded.config.history ??= []).push({ created: new Date().toISOString(), created_by: `dhe-cli append --layer ${layerFile.split('/').pop()}` });
    const saved = await saveImage(store, target, loaded);
    return { ...saved, layerDigest, diffId };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
