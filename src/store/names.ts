// Names: index.json entries annotated with the full normalised reference (org.opencontainers.image.ref.name, which
// skopeo's oci:DIR:NAME and umoci match, and io.dhe-cli.name). Reads are lock-free (index.json is replaced
// atomically); every change is a read-modify-write under the store's index lock.

import { DheError } from '../errors.js';
import { atomicWrite } from '../fs/atomic.js';
import { LAYOUT_INDEX_MAX_BYTES, INDEX_DEPTH_MAX, MANIFEST_MAX_BYTES } from '../oci/limits.js';
import { parseReference } from '../reference/index.js';
import type { BlobStore } from './blobs.js';
import { isValidDigest, parseDigest } from './digest.js';
import { reachableDigests } from './graph.js';
import { readJsonFile, type StoreContext } from './layout.js';
import { DHE_NAME_ANNOTATION, MEDIA_TYPES, REF_NAME_ANNOTATION, isIndexMediaType, type Descriptor } from './types.js';

export interface StoredImage {
  name: string;
  descriptor: Descriptor;
}

export interface IndexDoc {
  schemaVersion: number;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
  [k: string]: unknown;
}

/**
 * Splits a stored name "host/repo:tag", "host/repo@sha256:…" or "host/repo:tag@sha256:…" into the repository as
 * written and its tag and digest, by the reference grammar (src/reference). A name that is no reference (written
 * by another tool) is all repository.
 */
export function splitName(name: string): { repository: string; tag?: string; digest?: string } {
  let ref;
  try {
    ref = parseReference(name, { defaultTag: false });
  } catch {
    return { repository: name };
  }
  const suffix = (ref.tag !== undefined ? `:${ref.tag}` : '') + (ref.digest !== undefined ? `@${ref.digest}` : '');
  return {
    repository: name.slice(0, name.length - suffix.length),
    ...(ref.tag !== undefined ? { tag: ref.tag } : {}),
    ...(ref.digest !== undefined ? { digest: ref.digest } : {}),
  };
}

/** The name an index entry carries (ours, else the OCI ref.name). */
function entryName(d: Descriptor): string | undefined {
  return d.annotations?.[DHE_NAME_ANNOTATION] ?? d.annotations?.[REF_NAME_ANNOTATION];
}

/** The descriptor without the name annotations (what a digest reference resolves to). */
function stripNames(d: Descriptor): Descriptor {
  if (!d.annotations) return d;
  const annotations = { ...d.annotations };
  delete annotations[REF_NAME_ANNOTATION];
  delete annotations[DHE_NAME_ANNOTATION];
  const { annotations: _drop, ...rest } = d;
  return Object.keys(annotations).length > 0 ? { ...rest, annotations } : rest;
}

export class NameIndex {
  readonly #ctx: StoreContext;
  readonly #blobs: BlobStore;

  constructor(ctx: StoreContext, blobs: BlobStore) {
    this.#ctx = ctx;
    this.#blobs = blobs;
  }

  /** index.json, with entries that have no valid digest left out. */
  async read(): Promise<IndexDoc> {
    const path = this.#ctx.paths.index;
    const doc = await readJsonFile<IndexDoc>(path, LAYOUT_INDEX_MAX_BYTES);
    if (doc === undefined) return { schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: [] };
    if (typeof doc !== 'object' || doc === null || !Array.isArray(doc.manifests)) {
      throw new DheError('CORRUPT_STORE', `${path} is not an OCI image index`, {
        hint: `restore or delete ${path} (deleting it forgets every name in the store; blobs stay)`,
      });
    }
    doc.manifests = doc.manifests.filter((m) => m && typeof m === 'object' && typeof m.digest === 'string' && isValidDigest(m.digest));
    return doc;
  }

  /** Replaces index.json atomically; call under the lock. */
  async write(doc: IndexDoc): Promise<void> {
    await atomicWrite(this.#ctx.paths.tmp, this.#ctx.paths.index, JSON.stringify(doc, null, 2) + '\n');
  }

  /** Every named entry of the index, in index order. */
  async list(): Promise<StoredImage[]> {
    const out: StoredImage[] = [];
    for (const m of (await this.read()).manifests) {
      const name = entryName(m);
      if (name) out.push({ name, descriptor: m });
    }
    return out;
  }

  /**
   * Finds what a full normalised reference names: the entry with that exact name; for "repo@digest", an entry of
   * the same repository with that digest, or a child of such an entry's index present in the store.
   */
  async resolve(ref: string): Promise<Descriptor | null> {
    const idx = await this.read();
    const exact = idx.manifests.find((m) => entryName(m) === ref);
    if (exact) return exact;
    const want = splitName(ref);
    if (!want.digest || !isValidDigest(want.digest)) return null;
    const sameRepo = idx.manifests.filter((m) => {
      const n = entryName(m);
      return n !== undefined && splitName(n).repository === want.repository;
    });
    const direct = sameRepo.find((m) => m.digest === want.digest);
    if (direct) return stripNames(direct);
    for (const m of sameRepo) {
      if (!isIndexMediaType(m.mediaType)) continue;
      const child = await this.#findChild(m, want.digest);
      if (child) return child;
    }
    return null;
  }

  /** A child (of an index, at most INDEX_DEPTH_MAX indexes below `top`) with this digest, present in the store. */
  async #findChild(top: Descriptor, digest: string): Promise<Descriptor | null> {
    const onlyIndexes = (d: Descriptor) =>
      isIndexMediaType(d.mediaType) ? this.#blobs.read(d.digest, MANIFEST_MAX_BYTES) : Promise.resolve(null);
    const node = (await reachableDigests([top], onlyIndexes)).get(digest);
    if (!node || node.via !== 'index' || node.depth > INDEX_DEPTH_MAX + 1) return null;
    return (await this.#blobs.has(digest)) ? node.descriptor : null;
  }

  /** Names descriptors (manifests or indexes already in the store), replacing what each name meant before. */
  async setNames(pairs: Array<[name: string, descriptor: Descriptor]>): Promise<void> {
    const entries = new Map<string, Descriptor>();
    for (const [name, descriptor] of pairs) entries.set(name, await this.#entry(name, descriptor));
    if (entries.size === 0) return;
    await this.#ctx.withLock(async () => {
      const idx = await this.read();
      idx.manifests = idx.manifests.filter((m) => !entries.has(entryName(m) ?? ''));
      idx.manifests.push(...entries.values());
      await this.write(idx);
    });
    for (const [name, d] of entries) this.#ctx.trace.log(`store: named ${d.digest} ${name}`);
  }

  async #entry(name: string, descriptor: Descriptor): Promise<Descriptor> {
    parseDigest(descriptor.digest);
    if (!name || /[\s]/.test(name)) throw new DheError('INVALID_REFERENCE', `invalid image name "${name}"`);
    if (!(await this.#blobs.has(descriptor.digest))) {
      throw new DheError('BLOB_UNKNOWN', `manifest ${descriptor.digest} is not in the local store`);
    }
    return {
      mediaType: descriptor.mediaType,
      digest: descriptor.digest,
      size: descriptor.size,
      ...(descriptor.platform ? { platform: descriptor.platform } : {}),
      ...(descriptor.artifactType ? { artifactType: descriptor.artifactType } : {}),
      annotations: { ...(descriptor.annotations ?? {}), [REF_NAME_ANNOTATION]: name, [DHE_NAME_ANNOTATION]: name },
    };
  }

  /** Removes the entries `drop` selects, under the lock; returns the names removed. */
  async removeWhere(drop: (entry: Descriptor, name: string | undefined) => boolean, locked = false): Promise<Array<string | undefined>> {
    const run = async () => {
      const idx = await this.read();
      const removed: Array<string | undefined> = [];
      idx.manifests = idx.manifests.filter((m) => {
        const n = entryName(m);
        if (!drop(m, n)) return true;
        removed.push(n);
        return false;
      });
      if (removed.length > 0) await this.write(idx);
      return removed;
    };
    return locked ? run() : this.#ctx.withLock(run);
  }
}
