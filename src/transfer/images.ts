// What `images` lists: one row per name in the store, with the config digest (IMAGE ID), creation time and size.

import type { Descriptor } from '../oci/index.js';
import { pickLocalPlatform } from '../oci/index.js';
import { presentChildren, StoreSource } from '../image/store.js';
import { walkImage } from '../image/walk.js';
import { parseReference } from '../reference/index.js';
import type { ImageStore } from '../store/index.js';
import { readStoredConfig } from '../image/config.js';

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
  /** The config's Labels (for `images --filter label=…`). */
  labels: Record<string, string>;
}

function familiarRepository(registry: string, repository: string): string {
  if (registry === 'docker.io') return repository.startsWith('library/') ? repository.slice('library/'.length) : repository;
  return `${registry}/${repository}`;
}

async function summarize(store: ImageStore, name: string, desc: Descriptor): Promise<ImageSummary> {
  const ref = parseReference(name, { defaultTag: false });
  // every stored platform of an index counts towards the size; the one the name means comes first (IMAGE ID)
  const source = new StoreSource(store, desc);
  const graph = await walkImage(source, await source.root(), {
    choose: async (index) => {
      const present = await presentChildren(store, index);
      const primary = pickLocalPlatform(index, present, undefined, desc);
      return [...(primary ? [primary] : []), ...present.filter((p) => p !== primary)];
    },
  });
  let size = 0;
  let configDigest = '';
  let created: string | undefined;
  let labels: Record<string, string> = {};
  const platforms: string[] = [];
  for (const [i, { manifest: man }] of graph.images.entries()) {
    size += man.config.size + man.layers.reduce((a, l) => a + l.size, 0);
    if (i === 0) {
      configDigest = man.config.digest;
      try {
        const cfg = await readStoredConfig(store, man.config);
        created = cfg.created;
        labels = cfg.config?.Labels ?? {};
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
    labels,
  };
}

export async function listImageSummaries(store: ImageStore): Promise<ImageSummary[]> {
  const out: ImageSummary[] = [];
  for (const { name, descriptor } of await store.listImages()) {
    out.push(await summarize(store, name, descriptor));
  }
  return out.sort((a, b) => (b.created ?? '').localeCompare(a.created ?? '') || a.reference.localeCompare(b.reference));
}
