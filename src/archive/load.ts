// load: reads a docker save archive (old form with <id>/layer.tar and <id>.json, new form with blobs/sha256/...),
// a skopeo docker-archive: or oci-archive:, or an OCI layout tar, gzip-compressed or not, as a stream, in three
// steps: its members are read into the store (load-members.ts), what it describes is interpreted and every image
// checked complete with the image model's walk (load-index.ts, load-check.ts), and the names are set only after
// every image checks out (load-names.ts). On any failure the blobs this load added are removed again, so the
// store is as it was.

import { Readable } from 'node:stream';
import { DheError, isDheError } from '../errors.js';
import { silentTrace, type Trace } from '../trace.js';
import type { ImageStore } from '../store/index.js';
import { GraphBudget } from './graph.js';
import { findImages } from './load-index.js';
import { openInput, readMembers } from './load-members.js';
import { applyNames, type LoadResult } from './load-names.js';
import { badArchive } from './paths.js';

export type { LoadedImage, LoadResult } from './load-names.js';

export interface LoadOptions {
  trace?: Trace;
  signal?: AbortSignal;
  /** A name for the image when the archive names none (used only when it holds exactly one image). */
  name?: string;
  /** Called as entries are read: the entry name and bytes of it stored so far. */
  onProgress?: (e: { entry: string; bytes: number }) => void;
}

/** Reads an archive into the store and names what it names. See the module comment for the guarantees. */
export async function loadArchive(store: ImageStore, input: Readable | string, opts: LoadOptions = {}): Promise<LoadResult> {
  const trace = opts.trace ?? silentTrace;
  const signal = opts.signal;
  const lease = await store.lease([]);
  const created = new Set<string>();
  let source: Readable | undefined;
  const onAbort = () => source?.destroy(new DheError('INTERRUPTED', 'interrupted'));
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (signal?.aborted) throw new DheError('INTERRUPTED', 'interrupted');
    source = await openInput(input);
    const budget = new GraphBudget(signal);
    const ctx = { store, lease, created, budget, trace, signal, onProgress: opts.onProgress };
    const members = await readMembers(source, ctx);
    const found = await findImages(members, ctx);
    const result = await applyNames(store, found, budget, { name: opts.name, signal });
    // Whatever the archive held that no named image uses (junk entries, v1 json files) goes again.
    await store.discardBlobs([...created], { ownLease: lease });
    return result;
  } catch (e) {
    source?.destroy();
    await store.discardBlobs([...created], { ownLease: lease }).catch(() => {});
    throw loadError(e, signal);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await lease.release();
  }
}

/** What a failed load reports: interrupted, a corrupt archive, or the error as it is. */
function loadError(e: unknown, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted) return isDheError(e) && e.code === 'INTERRUPTED' ? e : new DheError('INTERRUPTED', 'interrupted', { cause: e });
  if (isDheError(e)) {
    if (e.code === 'DIGEST_MISMATCH' || e.code === 'SIZE_MISMATCH' || e.code === 'MALFORMED_MANIFEST') {
      return badArchive(`the archive is corrupt: ${e.message}`, e);
    }
    return e;
  }
  return badArchive(`the archive could not be read: ${e instanceof Error ? e.message : String(e)}`, e);
}
