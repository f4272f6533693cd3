// sources.json: for each blob, the repositories ("host/repository") it came from or was pushed to, most recent
// first (at most 8), so a push can ask the registry to mount it from there instead of uploading it. Only a hint:
// an unreadable file counts as empty. Replaced atomically under the store's index lock.

import { atomicWrite } from '../fs/atomic.js';
import { LAYOUT_INDEX_MAX_BYTES } from '../oci/limits.js';
import { parseDigest } from './digest.js';
import { readJsonFile, type StoreContext } from './layout.js';

interface SourcesDoc {
  version: 1;
  sources: Record<string, string[]>;
}

const MAX_SOURCES_PER_BLOB = 8;

export class SourceIndex {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  async #read(): Promise<SourcesDoc> {
    const doc = await readJsonFile<SourcesDoc>(this.#ctx.paths.sources, LAYOUT_INDEX_MAX_BYTES).catch(() => undefined);
    if (!doc || typeof doc !== 'object' || !doc.sources || typeof doc.sources !== 'object') {
      return { version: 1, sources: {} };
    }
    return doc;
  }

  async #write(doc: SourcesDoc): Promise<void> {
    await atomicWrite(this.#ctx.paths.tmp, this.#ctx.paths.sources, JSON.stringify(doc));
  }

  /** Records that each blob came from (or was pushed to) "host/repository"; one update for them all. */
  async add(pairs: Array<[digest: string, registryRepo: string]>): Promise<void> {
    if (pairs.length === 0) return;
    for (const [d] of pairs) parseDigest(d);
    await this.#ctx.withLock(async () => {
      const doc = await this.#read();
      let changed = false;
      for (const [d, repo] of pairs) {
        const list = doc.sources[d] ?? [];
        if (list[0] === repo) continue;
        doc.sources[d] = [repo, ...list.filter((r) => r !== repo)].slice(0, MAX_SOURCES_PER_BLOB);
        changed = true;
      }
      if (changed) await this.#write(doc);
    });
  }

  /** Repositories ("host/repository") the blob is known to exist in, most recent first. */
  async of(digest: string): Promise<string[]> {
    const list = (await this.#read()).sources[digest];
    return Array.isArray(list) ? list.filter((x): x is string => typeof x === 'string') : [];
  }

  /** Forgets the sources of blobs that are gone; call under the lock. */
  async forget(digests: Iterable<string>): Promise<void> {
    const doc = await this.#read();
    let changed = false;
    for (const d of digests) {
      if (d in doc.sources) {
        delete doc.sources[d];
        changed = true;
      }
    }
    if (changed) await this.#write(doc);
  }
}
