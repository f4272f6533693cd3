// Bytes of interrupted downloads kept across runs (DIR/partial/<alg>-<hex>.<pid>-<nonce>, 0600): never a blob,
// never read as content, not listed by `images`. The next pull of that blob claims the file (rename: one claimer
// wins; never one whose writing process still runs), re-hashes it into the blob's verifier and asks the registry for
// the rest with Range. Files older than RESUME_MAX_AGE_MS are removed by prune; `store verify --repair` removes all.

import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { errnoCode } from '../fs/atomic.js';
import { mkdirPrivate } from '../fs/private.js';
import type { Trace } from '../trace.js';
import { ownerDead } from './lock.js';
import { parseDigest } from './digest.js';
import { RESUME_MAX_AGE_MS } from './uploads.js';
import { hostname } from 'node:os';

const NAME = /^([a-z0-9]+)-([0-9a-f]+)\.(\d+)-[0-9a-f]+$/;
const HOST = hostname();

export class PartialBlobs {
  constructor(
    readonly dir: string,
    private readonly trace: Trace,
    private readonly now: () => number = Date.now,
  ) {}

  /** A new file name for this process's download of `digest`. */
  async pathFor(digest: string): Promise<string> {
    const { algorithm, hex } = parseDigest(digest);
    await mkdirPrivate(this.dir);
    return join(this.dir, `${algorithm}-${hex}.${process.pid}-${randomBytes(4).toString('hex')}`);
  }

  /** A kept prefix of `digest` (fewer than `size` bytes, not older than 24 h, its writer gone), now ours; or none. */
  async claim(digest: string, size: number): Promise<{ path: string; bytes: number } | undefined> {
    const { algorithm, hex } = parseDigest(digest);
    const prefix = `${algorithm}-${hex}.`;
    for (const f of await this.#files()) {
      const m = NAME.exec(f);
      if (!f.startsWith(prefix) || !m) continue;
      if (!ownerDead({ pid: Number(m[3]), host: HOST }) && Number(m[3]) !== process.pid) continue; // still being written
      const p = join(this.dir, f);
      const st = await fsp.stat(p).catch(() => null);
      if (!st) continue;
      if (st.size === 0 || st.size >= size || this.now() - st.mtimeMs > RESUME_MAX_AGE_MS) {
        this.trace.log(`store: kept download ${f} dropped (${st.size} bytes, ${Math.round((this.now() - st.mtimeMs) / 1000)} s old)`);
        await fsp.unlink(p).catch(() => {});
        continue;
      }
      const mine = await this.pathFor(digest);
      try {
        await fsp.rename(p, mine);
      } catch (e) {
        if (errnoCode(e) === 'ENOENT') continue; // another process claimed it first
        throw e;
      }
      return { path: mine, bytes: st.size };
    }
    return undefined;
  }

  /** Removes kept downloads older than 24 h (all of them with `all`), never one a running process writes. */
  async prune(all = false): Promise<number> {
    let n = 0;
    for (const f of await this.#files()) {
      const m = NAME.exec(f);
      if (m && !ownerDead({ pid: Number(m[3]), host: HOST }) && Number(m[3]) !== process.pid) continue;
      const p = join(this.dir, f);
      const st = await fsp.stat(p).catch(() => null);
      if (!st || (!all && this.now() - st.mtimeMs <= RESUME_MAX_AGE_MS)) continue;
      await fsp.unlink(p).catch(() => {});
      n++;
    }
    return n;
  }

  async #files(): Promise<string[]> {
    return fsp.readdir(this.dir).catch(() => [] as string[]);
  }
}
