// What `images` lists: one row per name in the store, with the config digest (IMAGE ID), creation time and size.

import { parseConfig, type Descriptor } from '../oci/index.js';
import { pickLocalPlatform, presentChildren } from './local.js';
import { parseReference } from '../reference/index.js';
import type { ImageStore } from '../store/index.js';
import { readStoredManifest } from './pull.js';

export interface ImageSummary {
  /** The full stored name, e.g. "docker.io/library/alpine:3.20". */
  reference: string;
  /** registry/repository, e.g. "docker.io/library/alpine". */
  name: string;
  /** docker's short repository form, e.g. "alpine" or "dhe.example.com/team/app". */
  repository: string;
  tag?: string;
  /** Manifest (or index) digest. */
  digest: string;
  mediaType: string;
  /** First 12 hex digits of the config digest, as docker shows IMAGE ID. */
  id: string;
  configDigest: string;
  created?: string;
  /** Bytes: config plus compressed layers (of every platform present, for an index). */
  size: number;
  platforms: string[];
}

export function familiarRepository(registry: string, repository: string): string {
  if (registry === 'docker.io') return repository.startsWith('library/') ? repository.slice('library/'.length) : repository;
  return `${registry}/${repository}`;
}

export async function summarize(store: ImageStore, name: string, desc: Descriptor): Promise<ImageSummary> {
  const ref = parseReference(name, { defaultTag: false });
  const top = await readStoredManifest(store, desc);
  let manifests: Array<{ desc: Descriptor; platform?: string }>;
  if (top.parsed.kind === 'index') {
    const present = await presentChildren(store, top.parsed.index);
    const primary = pickLocalPlatform(top.parsed.index, present, undefined, desc);
    manifests = [
      ...(primary ? [{ desc: primary }] : []),
      ...present.filter((p) => p !== primary).map((desc) => ({ desc })),
    ];
  } else {
    manifests = [{ desc }];
  }
  let size = 0;
  let configDigest = '';
  let created: string | undefined;
  const platforms: string[] = [];
  for (const [i, m] of manifests.entries()) {
    const doc = i === 0 && top.parsed.kind === 'image' ? top : await readStoredManifest(store, m.desc);
    if (doc.parsed.kind !== 'image') continue;
    const man = doc.parsed.manifest;
    size += man.config.size + man.layers.reduce((a, l) => a + l.size, 0);
    if (i === 0) {
      configDigest = man.config.digest;
      try {
        const cfg = parseConfig(await store.readBlob(man.config.digest, 8 * 1024 * 1024));
        created = cfg.created;
        platforms.push([cfg.os, cfg.architecture, cfg.variant].filter(Boolean).join('/'));
      } catch {
        // A config that is missing or unreadable still lists (store verify tells what is wrong).
      }
    }
  }
  return {
    reference: name,
    name: ref.name,
    repository: familiarRepository(ref.registry, ref.repository),
    tag: ref.tag,
    digest: desc.digest,
    mediaType: desc.mediaType,
    id: configDigest.replace(/^sha256:/, '').slice(0, 12),
    configDigest,
    created,
    size,
    platforms,
  };
}

export async function listImageSummaries(store: ImageStore): Promise<ImageSummary[]> {
  const out: ImageSummary[] = [];
  for (const { name, descriptor } of await store.listImages()) {
    out.push(await summarize(store, name, descriptor));
  }
  return out.sort((a, b) => (b.created ?? '').localeCompare(a.created ?? '') || a.reference.localeCompare(b.reference));
}
