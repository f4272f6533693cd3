// Lease files (DIR/leases/<pid>-<nonce>.json): which blobs a running pull/push/load needs, so a concurrent prune
// leaves them alone. The digests are kept in memory; the file is created once and only new digests are appended
// (one line per batch, no fsync: a lease only matters while its process lives), under the store's index lock so
// prune, which holds that lock, never reads half a line. Adds that arrive together share one append.
//
// Format: the first line is {"pid","host","created","digests":[…]}; every further line a JSON array of digests.
// (A lease of the older single-document form is the first line alone.)

import { promises as fsp } from 'node:fs';
import { basename, join } from 'node:path';
import { fsError } from '../errors.js';
import { tempPath } from '../fs/atomic.js';
import { trackTemp } from '../fs/cleanup.js';
import { PRIVATE_FILE_MODE } from '../fs/private.js';
import type { Trace } from '../trace.js';
import { ownerDead, ownerInfo, type OwnerInfo } from './lock.js';

export interface Lease {
  readonly id: string;
  /** Protects more digests (e.g. config and layers once the manifest is known). */
  add(digests: string[]): Promise<void>;
  /** Ends the protection; safe to call twice. */
  release(): Promise<void>;
}

type WithLock = <T>(fn: () => Promise<T>) => Promise<T>;

export async function createLease(leaseDir: string, digests: string[], withLock: WithLock): Promise<Lease> {
  const path = tempPath(leaseDir, '.json');
  const id = basename(path, '.json');
  const set = new Set(digests);
  const untrack = trackTemp(path);
  let fh: fsp.FileHandle;
  try {
    fh = await withLock(async () => {
      const h = await fsp.open(path, 'wx', PRIVATE_FILE_MODE);
      try {
        await h.write(JSON.stringify({ ...ownerInfo(), created: Date.now(), digests: [...set] }) + '\n');
      } catch (e) {
        await h.close().catch(() => {});
        throw e;
      }
      return h;
    });
  } catch (e) {
    untrack();
    await fsp.unlink(path).catch(() => {});
    throw fsError(e, `writing the lease ${path}`);
  }
  let released = false;
  let pending: string[] = [];
  let last: Promise<void> = Promise.resolve();
  const flush = async () => {
    if (pending.length === 0) return;
    const batch = pending;
    pending = [];
    await withLock(async () => {
      await fh.write(JSON.stringify(batch) + '\n');
    }).catch((e: unknown) => {
      throw fsError(e, `writing the lease ${path}`);
    });
  };
  return {
    id,
    add: async (more: string[]) => {
      if (released) throw new Error('lease already released');
      let fresh = false;
      for (const d of more) {
        if (!set.has(d)) {
          set.add(d);
          pending.push(d);
          fresh = true;
        }
      }
      // Nothing new: still wait for the append that carries these digests, if it is under way.
      if (fresh) last = last.then(flush, flush);
      await last;
    },
    release: async () => {
      if (released) return;
      released = true;
      await last.catch(() => {});
      await fh.close().catch(() => {});
      await fsp.unlink(path).catch(() => {});
      untrack();
    },
  };
}

/** What a lease file says: its owner and every digest it protects; undefined when it is not a lease (yet). */
function parseLease(text: string): { owner: OwnerInfo; digests: string[] } | undefined {
  const lines = text.split('\n');
  let head: (OwnerInfo & { digests?: unknown }) | undefined;
  try {
    head = JSON.parse(lines[0] ?? '') as OwnerInfo & { digests?: unknown };
  } catch {
    return undefined;
  }
  if (!head || typeof head.pid !== 'number' || typeof head.host !== 'string') return undefined;
  const digests: string[] = [];
  const take = (v: unknown) => {
    if (Array.isArray(v)) for (const d of v) if (typeof d === 'string') digests.push(d);
  };
  take(head.digests);
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    try {
      take(JSON.parse(line));
    } catch {
      /* a line cut short by a crash: its owner is dead */
    }
  }
  return { owner: { pid: head.pid, host: head.host }, digests };
}

/** Lease files that are unreadable (being written, or garbage) are removed only when older than this. */
export const STALE_AGE_MS = 24 * 3600_000;

/**
 * The digests live leases in `leaseDir` protect (leaving out the lease `exceptId`). With `removeStale`, leases of
 * dead processes, and unreadable ones older than a day, are removed on the way.
 */
export async function leasedDigests(
  leaseDir: string,
  opts: { removeStale: boolean; exceptId?: string; trace: Trace },
): Promise<Set<string>> {
  const keep = new Set<string>();
  const files = await fsp.readdir(leaseDir).catch(() => [] as string[]);
  for (const f of files) {
    if (opts.exceptId !== undefined && f === `${opts.exceptId}.json`) continue;
    const p = join(leaseDir, f);
    const doc = parseLease(await fsp.readFile(p, 'utf8').catch(() => ''));
    if (!doc) {
      const st = await fsp.stat(p).catch(() => null);
      if (opts.removeStale && st && Date.now() - st.mtimeMs > STALE_AGE_MS) await fsp.unlink(p).catch(() => {});
      continue;
    }
    if (ownerDead(doc.owner)) {
      if (opts.removeStale) {
        opts.trace.log(`store: removing lease ${f} of dead process ${doc.owner.pid}`);
        await fsp.unlink(p).catch(() => {});
      }
      continue;
    }
    for (const d of doc.digests) keep.add(d);
  }
  return keep;
}
