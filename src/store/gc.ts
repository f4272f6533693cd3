// Garbage collection and checks over one typed walk of the store's graph (graph.ts reachableDigests):
//   prune        deletes every blob no name reaches and no live lease protects, with dead processes' temp files
//                and leases (under the index lock, so names and leases cannot appear half-way through);
//   discard      undoes what a failed import wrote, unless a name or another live lease reaches it;
//   verify       hashes every blob, finds names whose graph is incomplete or corrupt; --repair drops both.

import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { fsError, isDheError } from '../errors.js';
import { errnoCode } from '../fs/atomic.js';
import { createVerifier } from '../oci/digest.js';
import { MANIFEST_MAX_BYTES } from '../oci/limits.js';
import type { BlobStore } from './blobs.js';
import { isValidDigest } from './digest.js';
import { reachableDigests, type ReadDocument } from './graph.js';
import { leasedDigests, STALE_AGE_MS, type Lease } from './leases.js';
import type { StoreContext } from './layout.js';
import { ownerDead, ownerInfo } from './lock.js';
import type { NameIndex } from './names.js';
import type { SourceIndex } from './sources.js';
import type { PartialBlobs } from './partials.js';
import type { UploadRecords } from './uploads.js';
import type { Descriptor } from './types.js';

export interface VerifyReport {
  ok: boolean;
  blobsChecked: number;
  bytesChecked: number;
  /** Blobs whose content does not hash to their name. */
  corruptBlobs: string[];
  /** Files under blobs/ that are not named like a digest. */
  strayFiles: string[];
  /** Names whose manifest, config or layers are missing or corrupt. */
  brokenNames: Array<{ name: string; digest: string; missing: string[] }>;
  /** Temporary files of dead processes. */
  staleTempFiles: number;
  /** What --repair did (all zero without repair). */
  repaired: { removedBlobs: number; removedNames: string[]; removedTempFiles: number };
}

const READ_CHUNK = 1 << 20;

export class Collector {
  readonly #ctx: StoreContext;
  readonly #blobs: BlobStore;
  readonly #names: NameIndex;
  readonly #sources: SourceIndex;
  readonly #uploads: UploadRecords | undefined;
  readonly #partials: PartialBlobs | undefined;
  /** Manifests and indexes as the walk reads them: whole, capped, digest checked (a corrupt one throws). */
  readonly #readDoc: ReadDocument;

  constructor(ctx: StoreContext, blobs: BlobStore, names: NameIndex, sources: SourceIndex, kept: { uploads?: UploadRecords; partials?: PartialBlobs } = {}) {
    this.#uploads = kept.uploads;
    this.#partials = kept.partials;
    this.#ctx = ctx;
    this.#blobs = blobs;
    this.#names = names;
    this.#sources = sources;
    this.#readDoc = (d) =>
      blobs.read(d.digest, MANIFEST_MAX_BYTES).catch((e: unknown) => {
        if (isDheError(e) && e.code === 'BLOB_UNKNOWN') return null;
        throw e;
      });
  }

  /** What must stay: every digest a name reaches, and (unless left out) what live leases protect. Under the lock. */
  async #keepSet(lease: { removeStale: boolean; exceptId?: string }): Promise<Set<string>> {
    const roots = (await this.#names.read()).manifests;
    const keep = new Set((await reachableDigests(roots, this.#readDoc)).keys());
    for (const d of await leasedDigests(this.#ctx.paths.leases, { ...lease, trace: this.#ctx.trace })) keep.add(d);
    return keep;
  }

  async prune(): Promise<{ removedBlobs: number; freedBytes: number }> {
    return this.#ctx.withLock(async () => {
      const blobs = await this.#blobs.list();
      const keep = await this.#keepSet({ removeStale: true });
      let freedBytes = 0;
      const removed: string[] = [];
      for (const b of blobs) {
        if (b.digest === null || keep.has(b.digest)) continue; // a stray file is not ours to judge; verify reports it
        try {
          const st = await fsp.stat(b.path);
          await fsp.unlink(b.path);
          freedBytes += st.size;
          removed.push(b.digest);
        } catch (e) {
          if (errnoCode(e) !== 'ENOENT') throw fsError(e, `removing ${b.path}`);
        }
      }
      await this.staleTemp(true);
      await this.#uploads?.prune();
      await this.#partials?.prune();
      if (removed.length > 0) await this.#sources.forget(removed);
      this.#ctx.trace.log(`store: prune removed ${removed.length} blobs, ${freedBytes} bytes`);
      return { removedBlobs: removed.length, freedBytes };
    });
  }

  async discard(digests: string[], ownLease?: Lease): Promise<number> {
    if (digests.length === 0) return 0;
    return this.#ctx.withLock(async () => {
      const keep = await this.#keepSet({ removeStale: false, ...(ownLease ? { exceptId: ownLease.id } : {}) });
      let n = 0;
      for (const d of new Set(digests)) {
        if (isValidDigest(d) && !keep.has(d) && (await this.#blobs.remove(d))) n++;
      }
      return n;
    });
  }

  /** Temp files left by processes that are gone (or very old): how many; with `remove`, they are deleted. */
  async staleTemp(remove: boolean): Promise<number> {
    const dir = this.#ctx.paths.tmp;
    const files = await fsp.readdir(dir).catch(() => [] as string[]);
    let n = 0;
    for (const f of files) {
      const p = join(dir, f);
      const st = await fsp.stat(p).catch(() => null);
      if (!st) continue;
      const pid = Number(f.split('-')[0]);
      if (!ownerDead({ pid, host: ownerInfo().host }) && Date.now() - st.mtimeMs <= STALE_AGE_MS) continue;
      n++;
      if (remove) await fsp.rm(p, { recursive: true, force: true }).catch(() => {});
    }
    return n;
  }

  async verify(opts: { repair?: boolean } = {}): Promise<VerifyReport> {
    const report: VerifyReport = {
      ok: true,
      blobsChecked: 0,
      bytesChecked: 0,
      corruptBlobs: [],
      strayFiles: [],
      brokenNames: [],
      staleTempFiles: 0,
      repaired: { removedBlobs: 0, removedNames: [], removedTempFiles: 0 },
    };
    const corrupt = await this.#checkBlobs(report);
    report.corruptBlobs = [...corrupt.keys()];
    for (const img of await this.#names.list()) {
      const missing = await this.#missing(img.descriptor, corrupt);
      if (missing.length > 0) report.brokenNames.push({ name: img.name, digest: img.descriptor.digest, missing });
    }
    report.staleTempFiles = await this.staleTemp(false);
    if (opts.repair) await this.#repair(report, corrupt);
    report.ok = report.corruptBlobs.length === 0 && report.brokenNames.length === 0;
    return report;
  }

  /** Hashes every blob; returns the corrupt ones (digest → inode seen corrupt) and records strays and counts. */
  async #checkBlobs(report: VerifyReport): Promise<Map<string, number>> {
    const corrupt = new Map<string, number>();
    for (const b of await this.#blobs.list()) {
      if (b.digest === null) {
        report.strayFiles.push(b.name);
        continue;
      }
      try {
        const r = await hashFile(b.path, b.digest);
        report.blobsChecked++;
        report.bytesChecked += r.size;
        if (!r.ok) corrupt.set(b.digest, r.ino);
      } catch (e) {
        if (errnoCode(e) === 'ENOENT') continue; // pruned meanwhile
        throw fsError(e, `reading ${b.path}`);
      }
    }
    return corrupt;
  }

  /**
   * What a name's image lacks: required blobs (the manifest, configs, layers) absent or corrupt, documents that do
   * not parse, and corrupt optional ones. An index may name platforms that were not pulled: only what is present
   * must be complete.
   */
  async #missing(root: Descriptor, corrupt: Map<string, number>): Promise<string[]> {
    const missing: string[] = [];
    for (const [digest, node] of await reachableDigests([root], this.#readDoc)) {
      if (corrupt.has(digest)) missing.push(digest);
      else if (node.malformed) missing.push(digest);
      else if (node.required && !(await this.#blobs.has(digest))) missing.push(digest);
    }
    return missing;
  }

  async #repair(report: VerifyReport, corrupt: Map<string, number>): Promise<void> {
    await this.#ctx.withLock(async () => {
      for (const [digest, ino] of corrupt) {
        const p = this.#blobs.path(digest);
        const st = await fsp.stat(p).catch(() => null);
        if (st && st.ino === ino) {
          await fsp.unlink(p).catch(() => {});
          report.repaired.removedBlobs++;
        }
      }
      if (report.brokenNames.length > 0) {
        const broken = new Map(report.brokenNames.map((b) => [b.name, b.digest]));
        const removed = await this.#names.removeWhere((m, n) => n !== undefined && broken.get(n) === m.digest, true);
        report.repaired.removedNames.push(...removed.filter((n): n is string => n !== undefined));
      }
      report.repaired.removedTempFiles = (await this.staleTemp(true)) + ((await this.#partials?.prune(true)) ?? 0);
    });
  }
}

/** Hashes a blob file with the one verifier (the algorithm of its name): whether it has its digest, size, inode. */
async function hashFile(path: string, digest: string): Promise<{ ok: boolean; size: number; ino: number }> {
  const fh = await fsp.open(path, 'r');
  try {
    const st = await fh.stat();
    const v = createVerifier({ digest });
    for await (const chunk of fh.createReadStream({ highWaterMark: READ_CHUNK, autoClose: false })) v.update(chunk as Buffer);
    try {
      v.result();
      return { ok: true, size: v.bytes, ino: st.ino };
    } catch {
      return { ok: false, size: v.bytes, ino: st.ino }; // DIGEST_MISMATCH: no size was expected
    }
  } finally {
    await fh.close();
  }
}
