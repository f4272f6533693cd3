// Upload sessions kept across runs (DIR/uploads/<key>-<nonce>.json, 0600): while a blob uploads, the registry's
// upload URL and the offset it confirmed, so the next push of that blob to that repository continues the session
// instead of starting again (src/registry/blob-write.ts asks the registry where it stands; the record only says
// where to ask). URLs only, never a token: a URL carrying credentials in its query or user part is not recorded.
// A record is the property of the process that wrote it while that process lives (two concurrent pushes of one
// blob never share a session); a dead writer's record is claimed by renaming it (one claimer wins), then rewritten
// under the claimer's name. Records older than MAX_AGE_MS or of another registry/repository/digest are dropped.

import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { atomicWrite, errnoCode } from '../fs/atomic.js';
import { mkdirPrivate } from '../fs/private.js';
import type { Trace } from '../trace.js';
import { ownerDead, ownerInfo, type OwnerInfo } from './lock.js';

/** How long an upload session is worth resuming (and a kept download prefix worth keeping). */
export const RESUME_MAX_AGE_MS = 24 * 3600_000;
const RECORD_MAX_BYTES = 16 * 1024;

/** Query parameters that carry a credential (presigned storage URLs, tokens): such a URL is never recorded. */
const SECRET_QUERY = /^(x-amz-(signature|credential|security-token)|signature|sig|token|access_token|x-goog-signature|x-goog-credential|se|sp|sv|jwt|auth|password)$/i;

/** One blob's upload session as the rest of the program sees it (registry/blob-write.ts UploadSessionRecord). */
export interface UploadSession {
  /** The recorded session's URL, claimed for this process; undefined when there is none to resume. */
  claim(): Promise<string | undefined>;
  /** Records (or updates) the session at `location` with `offset` bytes confirmed by the registry. */
  record(location: string, offset: number): Promise<void>;
  /** Removes this process's record (the blob is up, or the session is dead). */
  forget(): Promise<void>;
}

interface RecordDoc extends OwnerInfo {
  registry: string;
  repository: string;
  digest: string;
  location: string;
  offset: number;
  created: number;
}

/** Whether a URL may be written to disk: http(s), no user part, no credential in its query. */
export function recordableUrl(location: string): boolean {
  let u: URL;
  try {
    u = new URL(location);
  } catch {
    return false;
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return false;
  if (u.username || u.password) return false;
  for (const k of u.searchParams.keys()) if (SECRET_QUERY.test(k)) return false;
  return true;
}

function keyOf(registry: string, repository: string, digest: string): string {
  return createHash('sha256').update(`${registry}\n${repository}\n${digest}`).digest('hex').slice(0, 32);
}

function parseRecord(text: string): RecordDoc | undefined {
  try {
    const d = JSON.parse(text) as Partial<RecordDoc>;
    const ok = ['registry', 'repository', 'digest', 'location', 'host'].every((k) => typeof d[k as keyof RecordDoc] === 'string');
    if (!ok || typeof d.offset !== 'number' || typeof d.created !== 'number' || typeof d.pid !== 'number') return undefined;
    return d as RecordDoc;
  } catch {
    return undefined;
  }
}

export class UploadRecords {
  constructor(
    readonly dir: string,
    private readonly tmpDir: string,
    private readonly trace: Trace,
    private readonly now: () => number = Date.now,
  ) {}

  /** The session of `digest` in `registry`/`repository`. */
  session(registry: string, repository: string, digest: string): UploadSession {
    return new BlobUploadSession(this, registry, repository, digest);
  }

  /** Every record file (for prune). */
  async files(): Promise<string[]> {
    return (await fsp.readdir(this.dir).catch(() => [] as string[])).filter((f) => f.endsWith('.json') || f.endsWith('.claimed'));
  }

  /** Removes records that are too old, unreadable, or whose writer died without them being worth anything. */
  async prune(): Promise<number> {
    let removed = 0;
    for (const f of await this.files()) {
      const p = join(this.dir, f);
      const doc = parseRecord(await fsp.readFile(p, 'utf8').catch(() => ''));
      const st = await fsp.stat(p).catch(() => null);
      const age = this.now() - (doc?.created ?? st?.mtimeMs ?? 0);
      // a claimed record is removed by its claimer at once: one left over is from a claimer that died
      const stale = f.endsWith('.claimed') ? this.now() - (st?.mtimeMs ?? 0) > 60_000 : age > RESUME_MAX_AGE_MS;
      if (stale) {
        await fsp.unlink(p).catch(() => {});
        removed++;
      }
    }
    return removed;
  }

  /** @internal */ async claim(registry: string, repository: string, digest: string): Promise<RecordDoc | undefined> {
    const prefix = `${keyOf(registry, repository, digest)}-`;
    const files = (await fsp.readdir(this.dir).catch(() => [] as string[])).filter((f) => f.startsWith(prefix) && f.endsWith('.json'));
    for (const f of files) {
      const p = join(this.dir, f);
      const doc = parseRecord(await fsp.readFile(p, 'utf8').catch(() => ''));
      if (doc && !ownerDead(doc) && doc.pid !== process.pid) {
        this.trace.log(`upload session of ${digest.slice(0, 19)} belongs to running process ${doc.pid}: not shared`);
        continue;
      }
      const fresh = doc && this.now() - doc.created <= RESUME_MAX_AGE_MS;
      const same = doc && doc.registry === registry && doc.repository === repository && doc.digest === digest;
      if (!doc || !fresh || !same) {
        this.trace.log(`upload session record ${f} dropped (${!doc ? 'unreadable' : !fresh ? 'older than 24 h' : 'of another registry or blob'})`);
        await fsp.unlink(p).catch(() => {});
        continue;
      }
      const claimed = `${p}.${process.pid}.claimed`;
      try {
        await fsp.rename(p, claimed);
      } catch (e) {
        if (errnoCode(e) === 'ENOENT') continue; // another process claimed it first
        throw e;
      }
      await fsp.unlink(claimed).catch(() => {});
      return doc;
    }
    return undefined;
  }

  /** @internal */ async write(file: string, doc: RecordDoc): Promise<void> {
    await mkdirPrivate(this.dir);
    const text = JSON.stringify(doc);
    if (text.length > RECORD_MAX_BYTES) return;
    await atomicWrite(this.tmpDir, join(this.dir, file), text);
  }
}

class BlobUploadSession implements UploadSession {
  readonly #file: string;
  #created: number | undefined;
  #location: string | undefined;
  #written = false;

  constructor(
    private readonly records: UploadRecords,
    private readonly registry: string,
    private readonly repository: string,
    private readonly digest: string,
  ) {
    this.#file = `${keyOf(registry, repository, digest)}-${process.pid}-${randomBytes(4).toString('hex')}.json`;
  }

  async claim(): Promise<string | undefined> {
    const doc = await this.records.claim(this.registry, this.repository, this.digest);
    if (!doc) return undefined;
    this.#created = doc.created;
    await this.record(doc.location, doc.offset);
    return doc.location;
  }

  async record(location: string, offset: number): Promise<void> {
    if (!recordableUrl(location)) {
      await this.forget();
      return;
    }
    this.#created ??= Date.now(); // the session's start: its Location changes with every PATCH
    this.#location = location;
    const doc: RecordDoc = { ...ownerInfo(), registry: this.registry, repository: this.repository, digest: this.digest, location, offset, created: this.#created ?? Date.now() };
    try {
      await this.records.write(this.#file, doc);
      this.#written = true;
    } catch {
      // a record that cannot be written only costs the resume
    }
  }

  async forget(): Promise<void> {
    this.#location = undefined;
    this.#created = undefined;
    if (!this.#written) return;
    this.#written = false;
    await fsp.unlink(join(this.records.dir, this.#file)).catch(() => {});
  }
}
