// Builds small but real images (gzip tar layers, configs, manifests, indexes) and uploads them to a registry
// with plain HTTP requests, independent of our client, so tests can check what our client does with them.

import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { Agent, request, type Dispatcher } from 'undici';
import { tarOf } from './tar.js';

export { tarOf } from './tar.js';

export const MT = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
};

export const sha256 = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export interface Blob {
  digest: string;
  size: number;
  bytes: Buffer;
  mediaType: string;
}

export interface BuiltImage {
  manifest: Blob;
  config: Blob;
  layers: Blob[];
  diffIds: string[];
  platform: { os: string; architecture: string; variant?: string };
}

export interface ImageSpec {
  format?: 'oci' | 'docker';
  layers?: number;
  /** Random bytes per layer (incompressible), default 1 KiB. */
  layerSize?: number;
  platform?: { os: string; architecture: string; variant?: string };
  /** Makes the image unique (a file with this content in the first layer). */
  salt?: string;
  env?: string[];
  created?: string;
}

export async function buildImage(spec: ImageSpec = {}): Promise<BuiltImage> {
  const format = spec.format ?? 'oci';
  const platform = spec.platform ?? { os: 'linux', architecture: 'amd64' };
  const layers: Blob[] = [];
  const diffIds: string[] = [];
  for (let i = 0; i < (spec.layers ?? 2); i++) {
    const tar = await tarOf({
      [`layer${i}/data.bin`]: randomBytes(spec.layerSize ?? 1024),
      ...(i === 0 ? { 'salt.txt': spec.salt ?? randomBytes(8).toString('hex') } : {}),
    });
    diffIds.push(sha256(tar));
    const gz = gzipSync(tar);
    layers.push({ digest: sha256(gz), size: gz.length, bytes: gz, mediaType: format === 'oci' ? MT.ociLayer : MT.dockerLayer });
  }
  const configJson = {
    created: spec.created ?? new Date().toISOString(),
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: { Env: spec.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/bin/sh'] },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: diffIds.map((_, i) => ({ created: spec.created ?? new Date().toISOString(), created_by: `test layer ${i}` })),
  };
  const configBytes = Buffer.from(JSON.stringify(configJson));
  const config: Blob = {
    digest: sha256(configBytes),
    size: configBytes.length,
    bytes: configBytes,
    mediaType: format === 'oci' ? MT.ociConfig : MT.dockerConfig,
  };
  const manifestJson = {
    schemaVersion: 2,
    mediaType: format === 'oci' ? MT.ociManifest : MT.dockerManifest,
    config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  };
  const mb = Buffer.from(JSON.stringify(manifestJson));
  return {
    manifest: { digest: sha256(mb), size: mb.length, bytes: mb, mediaType: manifestJson.mediaType },
    config,
    layers,
    diffIds,
    platform,
  };
}

export function buildIndex(images: BuiltImage[], format: 'oci' | 'docker' = 'oci'): Blob {
  const json = {
    schemaVersion: 2,
    mediaType: format === 'oci' ? MT.ociIndex : MT.dockerList,
    manifests: images.map((i) => ({
      mediaType: i.manifest.mediaType,
      digest: i.manifest.digest,
      size: i.manifest.size,
      platform: i.platform,
    })),
  };
  const b = Buffer.from(JSON.stringify(json));
  return { digest: sha256(b), size: b.length, bytes: b, mediaType: json.mediaType };
}

export interface Target {
  /** "http://127.0.0.1:PORT" or "https://…" */
  url: string;
  /** PEM text of a CA to trust (for https). */
  ca?: string;
  /** Extra headers, e.g. Authorization for a basic-auth registry. */
  headers?: Record<string, string>;
}

function dispatcher(t: Target): Dispatcher {
  return new Agent({ connect: t.ca ? { ca: t.ca } : {} });
}

export async function uploadBlob(t: Target, repo: string, blob: { digest: string; bytes: Buffer }, d?: Dispatcher) {
  const agent = d ?? dispatcher(t);
  const head = await request(`${t.url}/v2/${repo}/blobs/${blob.digest}`, { method: 'HEAD', dispatcher: agent, headers: t.headers });
  await head.body.dump();
  if (head.statusCode === 200) return;
  const start = await request(`${t.url}/v2/${repo}/blobs/uploads/`, { method: 'POST', dispatcher: agent, headers: t.headers });
  await start.body.dump();
  if (start.statusCode !== 202) throw new Error(`upload start ${repo}: ${start.statusCode}`);
  const loc = new URL(String(start.headers.location), t.url);
  loc.searchParams.set('digest', blob.digest);
  const put = await request(loc.toString(), {
    method: 'PUT',
    dispatcher: agent,
    body: blob.bytes,
    headers: { ...t.headers, 'content-type': 'application/octet-stream', 'content-length': String(blob.bytes.length) },
  });
  const text = await put.body.text();
  if (put.statusCode !== 201) throw new Error(`upload ${repo} ${blob.digest}: ${put.statusCode} ${text}`);
}

export async function putManifest(t: Target, repo: string, ref: string, m: { bytes: Buffer; mediaType: string }, d?: Dispatcher) {
  const agent = d ?? dispatcher(t);
  const res = await request(`${t.url}/v2/${repo}/manifests/${ref}`, {
    method: 'PUT',
    dispatcher: agent,
    body: m.bytes,
    headers: { ...t.headers, 'content-type': m.mediaType },
  });
  const text = await res.body.text();
  if (res.statusCode !== 201) throw new Error(`manifest ${repo}:${ref}: ${res.statusCode} ${text}`);
}

/** Uploads an image (and its blobs) under repo:tag. */
export async function seedImage(t: Target, repo: string, tag: string, img: BuiltImage): Promise<void> {
  const d = dispatcher(t);
  try {
    for (const b of [img.config, ...img.layers]) await uploadBlob(t, repo, b, d);
    await putManifest(t, repo, tag, img.manifest, d);
  } finally {
    await d.close();
  }
}

/** Uploads a multi-platform image: every child by digest, then the index under the tag. */
export async function seedIndex(t: Target, repo: string, tag: string, images: BuiltImage[], format: 'oci' | 'docker' = 'oci') {
  const d = dispatcher(t);
  try {
    for (const img of images) {
      for (const b of [img.config, ...img.layers]) await uploadBlob(t, repo, b, d);
      await putManifest(t, repo, img.manifest.digest, img.manifest, d);
    }
    const index = buildIndex(images, format);
    await putManifest(t, repo, tag, index, d);
    return index;
  } finally {
    await d.close();
  }
}

/** Reads a manifest as a registry serves it (with an Accept header for every type). */
export async function fetchManifest(t: Target, repo: string, ref: string) {
  const d = dispatcher(t);
  try {
    const res = await request(`${t.url}/v2/${repo}/manifests/${ref}`, {
      dispatcher: d,
      headers: { ...t.headers, accept: [MT.ociIndex, MT.ociManifest, MT.dockerList, MT.dockerManifest].join(', ') },
    });
    const bytes = Buffer.from(await res.body.arrayBuffer());
    return { status: res.statusCode, bytes, digest: sha256(bytes), contentType: String(res.headers['content-type'] ?? '') };
  } finally {
    await d.close();
  }
}

export function uniqueRepo(prefix = 'test'): string {
  return `${prefix}/r${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}
