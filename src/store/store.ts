// The local image store: an OCI image layout (oci-layout, index.json, blobs/<alg>/<hex>) that skopeo's `oci:DIR:NAME`
// transport and umoci can read. Names are index entries annotated with the full normalised reference
// (org.opencontainers.image.ref.name and io.dhe-cli.name). Every blob is written to DIR/tmp while being hashed and
// renamed into blobs/ only when digest and size match; index.json and sources.json are replaced atomically under a
// cross-process lock. Leases (DIR/leases) protect the blobs of a running pull/push/load from a concurrent prune.

import { randomBytes } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { DheError, fsError, isDheError } from '../errors.js';
import { silentTrace, type Trace } from '../trace.js';
import { digestOf, isValidDigest, newHash, parseDigest, type DigestAlgorithm } from './digest.js';
import { trackTemp } from '../fs/cleanup.js';
import { mkdirPrivate, PRIVATE_FILE_MODE } from '../fs/private.js';
import { createLease, parseLease, type Lease } from './leases.js';
import { ownerDead, ownerInfo, withFileLock } from './lock.js';
import {
  DHE_NAME_ANNOTATION,
  MEDIA_TYPES,
  REF_NAME_ANNOTATION,
  isIndexMediaType,
  isManifestMediaType,
  type Descriptor,
} from './types.js';

export interface ImageStoreOptions {
  trace?: Trace;
  /** How long index updates wait for another process's lock (default 60 s). */
  lockTimeoutMs?: number;
}

export interface WriteBlobOptions {
  /** Called with the total number of bytes received so far. */
  onProgress?: (bytes: number) => void;
  signal?: AbortSignal;
  /**
   * The blob is added to this lease before it becomes visible under blobs/ (or, when the digest is known up front,
   * before the existence check), so a concurrent prune can never take it between the write and the caller's naming.
   */
  lease?: Lease;
}

export interface WriteBlobResult {
  digest: string;
  size: number;
  /** True when the blob was already in the store (the source was then not read). */
  existed: boolean;
}

export interface StoredImage {
  name: string;
  descriptor: Descriptor;
}

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

export type { Lease } from './leases.js';

interface IndexDoc {
  schemaVersion: number;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
  [k: string]: unknown;
}

interface SourcesDoc {
  version: 1;
  sources: Record<string, string[]>;
}

const WRITE_CHUNK = 4 << 20; // 4 MiB writes
const READ_CHUNK = 1 << 20;
const MAX_WALK_DOC = 4 << 20; // manifests/indexes read while walking
const MAX_SOURCES_PER_BLOB = 8;
const TEMP_MAX_AGE_MS = 24 * 3600_000;
export const MAX_INDEX_BYTES = 64 << 20;

/** Splits a full reference "host/repo:tag" or "host/repo@sha256:…" (tag and digest both allowed). */
export function splitName(name: string): { repository: string; tag?: string; digest?: string } {
  let rest = name;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  const colon = rest.lastIndexOf(':');
  let tag: string | undefined;
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  return { repository: rest, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

function entryName(d: Descriptor): string | undefined {
  return d.annotations?.[DHE_NAME_ANNOTATION] ?? d.annotations?.[REF_NAME_ANNOTATION];
}

function errCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

function nonce(): string {
  return randomBytes(6).toString('hex');
}

function interrupted(signal: AbortSignal): DheError {
  const r: unknown = signal.reason;
  if (isDheError(r)) return r;
  return new DheError('INTERRUPTED', 'interrupted', { cause: r });
}

async function readJsonFile<T>(path: string, maxBytes: number): Promise<T | undefined> {
  let text: string;
  try {
    const st = await fsp.stat(path);
    if (st.size > maxBytes) throw new DheError('CORRUPT_STORE', `${path} is larger than ${maxBytes} bytes`);
    text = await fsp.readFile(path, 'utf8');
  } catch (e) {
    if (errCode(e) === 'ENOENT') return undefined;
    throw fsError(e, `reading ${path}`);
  }
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new DheError('CORRUPT_STORE', `${path} is not valid JSON`, {
      cause: e,
      hint: `restore or delete ${path} (deleting it forgets every name in the store; blobs stay)`,
    });
  }
}

export class ImageStore {
  readonly dir: string;
  readonly #trace: Trace;
  readonly #lockTimeoutMs: number;

  private constructor(dir: string, opts: ImageStoreOptions) {
    this.dir = dir;
    this.#trace = opts.trace ?? silentTrace;
    this.#lockTimeoutMs = opts.lockTimeoutMs ?? 60_000;
  }

  /** Opens the store at `dir`, creating an empty OCI layout there if there is none. */
  static async open(dir: string, opts: ImageStoreOptions = {}): Promise<ImageStore> {
    const s = new ImageStore(dir, opts);
    await s.#init();
    return s;
  }

  get #tmpDir(): string {
    return join(this.dir, 'tmp');
  }
  get #leaseDir(): string {
    return join(this.dir, 'leases');
  }
  get #indexPath(): string {
    return join(this.dir, 'index.json');
  }
  get #lockPath(): string {
    return join(this.dir, 'index.lock');
  }
  get #sourcesPath(): string {
    return join(this.dir, 'sources.json');
  }

  async #init(): Promise<void> {
    try {
      // 0700 folders, 0600 files (src/fs/private.ts): the store holds private layers.
      await mkdirPrivate(join(this.dir, 'blobs', 'sha256'));
      await mkdirPrivate(this.#tmpDir);
      await mkdirPrivate(this.#leaseDir);
    } catch (e) {
      throw fsError(e, `creating the store at ${this.dir}`);
    }
    const layoutPath = join(this.dir, 'oci-layout');
    const layout = await readJsonFile<{ imageLayoutVersion?: string }>(layoutPath, 1 << 16);
    if (layout === undefined) {
      await this.#createIfAbsent(layoutPath, JSON.stringify({ imageLayoutVersion: MEDIA_TYPES.ociLayout }));
    } else if (typeof layout.imageLayoutVersion !== 'string' || !layout.imageLayoutVersion.startsWith('1.')) {
      throw new DheError('CORRUPT_STORE', `${this.dir} holds an OCI layout of unsupported version`, {
        details: { layout },
        hint: 'point --store at another folder',
      });
    }
    const empty: IndexDoc = { schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: [] };
    try {
      await fsp.access(this.#indexPath);
    } catch {
      await this.#createIfAbsent(this.#indexPath, JSON.stringify(empty));
    }
  }

  /** Writes a file only if it does not exist yet, atomically (temp + link, which fails if the target exists). */
  async #createIfAbsent(path: string, content: string): Promise<void> {
    const tmp = join(this.#tmpDir, `${process.pid}-${nonce()}.new`);
    const untrack = trackTemp(tmp);
    try {
      await fsp.writeFile(tmp, content, { flag: 'wx', mode: PRIVATE_FILE_MODE });
      try {
        await fsp.link(tmp, path);
      } catch (e) {
        if (errCode(e) !== 'EEXIST') throw e;
      }
    } catch (e) {
      throw fsError(e, `creating ${path}`);
    } finally {
      await fsp.unlink(tmp).catch(() => {});
      untrack();
    }
  }

  /** Replaces a file atomically: temp file in DIR/tmp, fsync, rename. */
  async #atomicWrite(path: string, content: string): Promise<void> {
    const tmp = join(this.#tmpDir, `${process.pid}-${nonce()}.new`);
    const untrack = trackTemp(tmp);
    try {
      const fh = await fsp.open(tmp, 'wx', PRIVATE_FILE_MODE);
      try {
        await fh.writeFile(content);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fsp.rename(tmp, path);
    } catch (e) {
      await fsp.unlink(tmp).catch(() => {});
      throw fsError(e, `writing ${path}`);
    } finally {
      untrack();
    }
  }

  #withLock<T>(fn: () => Promise<T>): Promise<T> {
    return withFileLock(this.#lockPath, fn, { timeoutMs: this.#lockTimeoutMs, trace: this.#trace });
  }

  // ---------------------------------------------------------------- blobs

  blobPath(digest: string): string {
    const { algorithm, hex } = parseDigest(digest);
    return join(this.dir, 'blobs', algorithm, hex);
  }

  async statBlob(digest: string): Promise<{ size: number } | null> {
    try {
      const st = await fsp.stat(this.blobPath(digest));
      return st.isFile() ? { size: st.size } : null;
    } catch (e) {
      if (errCode(e) === 'ENOENT' || errCode(e) === 'ENOTDIR') return null;
      throw fsError(e, `reading blob ${digest}`);
    }
  }

  async hasBlob(digest: string): Promise<boolean> {
    return (await this.statBlob(digest)) !== null;
  }

  /** A stream of the blob's bytes (from `start`); errors with BLOB_UNKNOWN when it is not in the store. */
  openBlob(digest: string, opts: { start?: number; end?: number } = {}): Readable {
    const path = this.blobPath(digest);
    const rs = createReadStream(path, {
      start: opts.start ?? 0,
      ...(opts.end !== undefined ? { end: opts.end } : {}),
      highWaterMark: READ_CHUNK,
    });
    // Translate "missing" into our error type; other errors pass as they are.
    const out = new Readable({
      highWaterMark: READ_CHUNK,
      read() {
        rs.resume();
      },
      destroy(err, cb) {
        rs.destroy();
        cb(err);
      },
    });
    rs.on('data', (chunk) => {
      if (!out.push(chunk)) rs.pause();
    });
    rs.on('end', () => out.push(null));
    rs.on('error', (e) => {
      out.destroy(
        errCode(e) === 'ENOENT'
          ? new DheError('BLOB_UNKNOWN', `blob ${digest} is not in the local store`, { cause: e })
          : fsError(e, `reading blob ${digest}`),
      );
    });
    return out;
  }

  /** Reads a small blob (manifest, config) whole, refusing more than maxBytes, and checks its digest. */
  async readBlob(digest: string, maxBytes: number): Promise<Buffer> {
    const path = this.blobPath(digest);
    let buf: Buffer;
    try {
      const fh = await fsp.open(path, 'r');
      try {
        const st = await fh.stat();
        if (st.size > maxBytes) {
          throw new DheError('MALFORMED_MANIFEST', `blob ${digest} is ${st.size} bytes, more than the ${maxBytes} allowed`);
        }
        buf = await fh.readFile();
      } finally {
        await fh.close();
      }
    } catch (e) {
      if (errCode(e) === 'ENOENT') {
        throw new DheError('BLOB_UNKNOWN', `blob ${digest} is not in the local store`, { cause: e });
      }
      throw fsError(e, `reading blob ${digest}`);
    }
    if (digestOf(buf, parseDigest(digest).algorithm) !== digest) {
      throw new DheError('CORRUPT_STORE', `blob ${digest} in the local store does not match its digest`, {
        hint: 'run `dhe-cli store verify --repair`, then pull the image again',
      });
    }
    return buf;
  }

  /**
   * Streams `source` into the store. The bytes go to a temp file under DIR/tmp while hashed; the file is fsynced
   * and renamed into blobs/ only when digest (and size, when given) match. Without `expect.digest` the digest is
   * computed and the blob adopted under it. If the blob is already present the source is not read (a Readable is
   * destroyed) and `existed` is true.
   */
  async writeBlob(
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Readable,
    expect: { digest?: string; size?: number },
    opts: WriteBlobOptions = {},
  ): Promise<WriteBlobResult> {
    const { signal, onProgress } = opts;
    let algorithm: DigestAlgorithm = 'sha256';
    if (expect.size !== undefined && (!Number.isSafeInteger(expect.size) || expect.size < 0)) {
      throw new DheError('SIZE_MISMATCH', `invalid expected size ${expect.size}`);
    }
    if (expect.digest !== undefined) {
      algorithm = parseDigest(expect.digest).algorithm;
      if (opts.lease) await opts.lease.add([expect.digest]);
      const st = await this.statBlob(expect.digest);
      if (st && (expect.size === undefined || st.size === expect.size)) {
        discard(source);
        return { digest: expect.digest, size: st.size, existed: true };
      }
    }
    if (signal?.aborted) {
      discard(source);
      throw interrupted(signal);
    }
    const tmp = join(this.#tmpDir, `${process.pid}-${nonce()}.partial`);
    let fh: fsp.FileHandle | undefined;
    const untrack = trackTemp(tmp);
    try {
      fh = await fsp.open(tmp, 'wx', PRIVATE_FILE_MODE);
    } catch (e) {
      untrack();
      discard(source);
      throw fsError(e, `creating a temporary file in ${this.#tmpDir}`);
    }
    const hash = newHash(algorithm);
    let size = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const file = fh;
    // At most one write in flight: hashing the next chunks overlaps the disk write; writev avoids a concat copy.
    let inflight: Promise<void> = Promise.resolve();
    let writeError: unknown;
    const writeAll = async (bufs: Buffer[]) => {
      let rest = bufs;
      while (rest.length > 0) {
        const { bytesWritten } = await file.writev(rest);
        let n = bytesWritten;
        const next: Buffer[] = [];
        for (const b of rest) {
          if (n >= b.length) {
            n -= b.length;
            continue;
          }
          next.push(n > 0 ? b.subarray(n) : b);
          n = 0;
        }
        rest = next;
      }
    };
    const flush = async (final = false) => {
      await inflight;
      if (writeError !== undefined) throw fsError(writeError, `writing to ${this.dir}`);
      if (pendingBytes > 0) {
        const bufs = pending;
        pending = [];
        pendingBytes = 0;
        inflight = writeAll(bufs).catch((e: unknown) => {
          writeError = e;
        });
      }
      if (final) {
        await inflight;
        if (writeError !== undefined) throw fsError(writeError, `writing to ${this.dir}`);
      }
    };
    const onAbort = () => {
      if (source instanceof Readable) source.destroy(interrupted(signal!));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    let closed = false;
    try {
      for await (const chunk of source as AsyncIterable<Uint8Array | string>) {
        if (signal?.aborted) throw interrupted(signal);
        const buf = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        size += buf.length;
        if (expect.size !== undefined && size > expect.size) {
          throw new DheError('SIZE_MISMATCH', `blob ${expect.digest ?? ''} is larger than the expected ${expect.size} bytes`, {
            details: { expected: expect.size, atLeast: size, digest: expect.digest },
          });
        }
        hash.update(buf);
        pending.push(buf);
        pendingBytes += buf.length;
        if (pendingBytes >= WRITE_CHUNK || pending.length >= 512) await flush();
        onProgress?.(size);
      }
      if (signal?.aborted) throw interrupted(signal);
      await flush(true);
      if (expect.size !== undefined && size !== expect.size) {
        throw new DheError('SIZE_MISMATCH', `blob ${expect.digest ?? ''} has ${size} bytes, expected ${expect.size}`, {
          details: { expected: expect.size, actual: size, digest: expect.digest },
        });
      }
      const digest = `${algorithm}:${hash.digest('hex')}`;
      if (expect.digest !== undefined && digest !== expect.digest) {
        throw new DheError('DIGEST_MISMATCH', `content of blob ${expect.digest} hashes to ${digest}`, {
          details: { expected: expect.digest, actual: digest },
          hint: 'the data was corrupted on the way or the source is misbehaving; try again',
        });
      }
      if (opts.lease && expect.digest === undefined) await opts.lease.add([digest]);
      try {
        await file.sync();
        await file.close();
        closed = true;
        const final = this.blobPath(digest);
        const existing = await this.statBlob(digest);
        if (existing && existing.size === size) {
          await fsp.unlink(tmp);
          return { digest, size, existed: true };
        }
        if (algorithm !== 'sha256') await mkdirPrivate(join(this.dir, 'blobs', algorithm));
        await fsp.rename(tmp, final);
      } catch (e) {
        throw fsError(e, `storing blob ${digest}`);
      }
      this.#trace.log(`store: wrote blob ${digest} (${size} bytes)`);
      return { digest, size, existed: false };
    } catch (e) {
      if (source instanceof Readable && !source.destroyed) source.destroy();
      await inflight;
      if (!closed) await file.close().catch(() => {});
      await fsp.unlink(tmp).catch(() => {});
      throw e;
    } finally {
      untrack();
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Stores small content held in memory (manifests, configs). */
  async putBlob(bytes: Uint8Array, expectDigest?: string): Promise<{ digest: string; size: number }> {
    const algorithm = expectDigest !== undefined ? parseDigest(expectDigest).algorithm : 'sha256';
    const digest = digestOf(bytes, algorithm);
    if (expectDigest !== undefined && digest !== expectDigest) {
      throw new DheError('DIGEST_MISMATCH', `content of ${expectDigest} hashes to ${digest}`, {
        details: { expected: expectDigest, actual: digest },
      });
    }
    const r = await this.writeBlob([bytes], { digest, size: bytes.byteLength });
    return { digest: r.digest, size: r.size };
  }

  // ---------------------------------------------------------------- names

  async #readIndex(): Promise<IndexDoc> {
    const doc = await readJsonFile<IndexDoc>(this.#indexPath, MAX_INDEX_BYTES);
    if (doc === undefined) return { schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: [] };
    if (typeof doc !== 'object' || doc === null || !Array.isArray(doc.manifests)) {
      throw new DheError('CORRUPT_STORE', `${this.#indexPath} is not an OCI image index`, {
        hint: `restore or delete ${this.#indexPath} (deleting it forgets every name in the store; blobs stay)`,
      });
    }
    doc.manifests = doc.manifests.filter(
      (m) => m && typeof m === 'object' && typeof m.digest === 'string' && isValidDigest(m.digest),
    );
    return doc;
  }

  async #writeIndex(doc: IndexDoc): Promise<void> {
    await this.#atomicWrite(this.#indexPath, JSON.stringify(doc, null, 2) + '\n');
  }

  /** Every named entry of the index, in index order. */
  async listImages(): Promise<StoredImage[]> {
    const idx = await this.#readIndex();
    const out: StoredImage[] = [];
    for (const m of idx.manifests) {
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
    const idx = await this.#readIndex();
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
      const child = await this.#findChild(m, want.digest, 0, new Set());
      if (child) return child;
    }
    return null;
  }

  async #findChild(d: Descriptor, digest: string, depth: number, seen: Set<string>): Promise<Descriptor | null> {
    if (depth > 4 || seen.has(d.digest)) return null;
    seen.add(d.digest); // an index naming the same child many times is searched once
    const doc = await this.#readDoc(d);
    const children = (doc as { manifests?: unknown }).manifests;
    if (!Array.isArray(children)) return null;
    for (const c of children as Descriptor[]) {
      if (c?.digest === digest && (await this.hasBlob(digest))) return c;
    }
    for (const c of children as Descriptor[]) {
      if (isIndexMediaType(c?.mediaType) && isValidDigest(c.digest)) {
        const r = await this.#findChild(c, digest, depth + 1, seen);
        if (r) return r;
      }
    }
    return null;
  }

  /** Reads a manifest/index document for walking; null when absent, unreadable or not JSON. */
  async #readDoc(d: Descriptor): Promise<Record<string, unknown> | null> {
    if (!isValidDigest(d.digest)) return null;
    try {
      const buf = await this.readBlob(d.digest, MAX_WALK_DOC);
      const v: unknown = JSON.parse(buf.toString('utf8'));
      return v && typeof v === 'object' ? (v as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  }

  /** Names `descriptor` (a manifest or index already in the store) `name`, replacing what the name meant before. */
  async setName(name: string, descriptor: Descriptor): Promise<void> {
    await this.setNames([[name, descriptor]]);
  }

  /** Several names at once: one index update (load of an archive naming many images). */
  async setNames(pairs: Array<[name: string, descriptor: Descriptor]>): Promise<void> {
    const entries = new Map<string, Descriptor>();
    for (const [name, descriptor] of pairs) entries.set(name, await this.#nameEntry(name, descriptor));
    if (entries.size === 0) return;
    await this.#withLock(async () => {
      const idx = await this.#readIndex();
      idx.manifests = idx.manifests.filter((m) => !entries.has(entryName(m) ?? ''));
      idx.manifests.push(...entries.values());
      await this.#writeIndex(idx);
    });
    for (const [name, d] of entries) this.#trace.log(`store: named ${d.digest} ${name}`);
  }

  async #nameEntry(name: string, descriptor: Descriptor): Promise<Descriptor> {
    parseDigest(descriptor.digest);
    if (!name || /[\s]/.test(name)) throw new DheError('INVALID_REFERENCE', `invalid image name "${name}"`);
    if (!(await this.hasBlob(descriptor.digest))) {
      throw new DheError('BLOB_UNKNOWN', `manifest ${descriptor.digest} is not in the local store`);
    }
    const annotations: Record<string, string> = { ...(descriptor.annotations ?? {}) };
    annotations[REF_NAME_ANNOTATION] = name;
    annotations[DHE_NAME_ANNOTATION] = name;
    const entry: Descriptor = {
      mediaType: descriptor.mediaType,
      digest: descriptor.digest,
      size: descriptor.size,
      ...(descriptor.platform ? { platform: descriptor.platform } : {}),
      ...(descriptor.artifactType ? { artifactType: descriptor.artifactType } : {}),
      annotations,
    };
    return entry;
  }

  /** Forgets a name; its blobs stay until prune. False when there was no such name. */
  async removeName(name: string): Promise<boolean> {
    return this.#withLock(async () => {
      const idx = await this.#readIndex();
      const before = idx.manifests.length;
      idx.manifests = idx.manifests.filter((m) => entryName(m) !== name);
      if (idx.manifests.length === before) return false;
      await this.#writeIndex(idx);
      return true;
    });
  }

  // ---------------------------------------------------------------- reachability, prune, verify

  /** Digests reachable from these roots: manifests, their configs and layers, present children of indexes. */
  async #reachable(roots: Descriptor[]): Promise<Set<string>> {
    const seen = new Set<string>();
    const stack = [...roots];
    while (stack.length > 0) {
      const d = stack.pop()!;
      if (!d || typeof d.digest !== 'string' || !isValidDigest(d.digest) || seen.has(d.digest)) continue;
      seen.add(d.digest);
      if (!isIndexMediaType(d.mediaType) && !isManifestMediaType(d.mediaType)) continue;
      const doc = await this.#readDoc(d);
      if (!doc) continue;
      for (const key of ['manifests', 'layers', 'blobs']) {
        const arr = doc[key];
        if (Array.isArray(arr)) stack.push(...(arr as Descriptor[]));
      }
      for (const key of ['config', 'subject']) {
        const one = doc[key];
        if (one && typeof one === 'object') stack.push(one as Descriptor);
      }
    }
    return seen;
  }

  async #listBlobs(): Promise<Array<{ digest: string | null; path: string; name: string }>> {
    const out: Array<{ digest: string | null; path: string; name: string }> = [];
    const base = join(this.dir, 'blobs');
    let algs: string[];
    try {
      algs = await fsp.readdir(base);
    } catch (e) {
      if (errCode(e) === 'ENOENT') return out;
      throw fsError(e, `listing ${base}`);
    }
    for (const alg of algs) {
      let files: string[];
      try {
        files = await fsp.readdir(join(base, alg));
      } catch {
        continue;
      }
      for (const f of files) {
        const digest = `${alg}:${f}`;
        out.push({ digest: isValidDigest(digest) ? digest : null, path: join(base, alg, f), name: `${alg}/${f}` });
      }
    }
    return out;
  }

  async #leasedDigests(removeStale: boolean, exceptLeaseId?: string): Promise<Set<string>> {
    const keep = new Set<string>();
    let files: string[];
    try {
      files = await fsp.readdir(this.#leaseDir);
    } catch {
      return keep;
    }
    for (const f of files) {
      if (exceptLeaseId !== undefined && f === `${exceptLeaseId}.json`) continue;
      const p = join(this.#leaseDir, f);
      const doc = parseLease(await fsp.readFile(p, 'utf8').catch(() => ''));
      if (!doc) {
        // Unreadable: a lease being written right now, or garbage. Keep it unless old.
        const st = await fsp.stat(p).catch(() => null);
        if (removeStale && st && Date.now() - st.mtimeMs > TEMP_MAX_AGE_MS) await fsp.unlink(p).catch(() => {});
        continue;
      }
      if (ownerDead(doc.owner)) {
        if (removeStale) {
          this.#trace.log(`store: removing lease ${f} of dead process ${doc.owner.pid}`);
          await fsp.unlink(p).catch(() => {});
        }
        continue;
      }
      for (const d of doc.digests) keep.add(d);
    }
    return keep;
  }

  /** Temp files left by processes that are gone (or very old). */
  async #cleanTemp(remove: boolean): Promise<number> {
    let files: string[];
    try {
      files = await fsp.readdir(this.#tmpDir);
    } catch {
      return 0;
    }
    let n = 0;
    for (const f of files) {
      const p = join(this.#tmpDir, f);
      const pid = Number(f.split('-')[0]);
      const st = await fsp.stat(p).catch(() => null);
      if (!st) continue;
      const stale = ownerDead({ pid, host: ownerInfo().host }) || Date.now() - st.mtimeMs > TEMP_MAX_AGE_MS;
      if (!stale) continue;
      n++;
      if (remove) await fsp.rm(p, { recursive: true, force: true }).catch(() => {});
    }
    return n;
  }

  /**
   * Deletes every blob no name reaches and no live lease protects; removes temp files and leases of dead
   * processes. Runs under the index lock, so names and leases cannot appear half-way through.
   */
  async prune(): Promise<{ removedBlobs: number; freedBytes: number }> {
    return this.#withLock(async () => {
      const blobs = await this.#listBlobs();
      const idx = await this.#readIndex();
      const keep = await this.#reachable(idx.manifests);
      for (const d of await this.#leasedDigests(true)) keep.add(d);
      let removedBlobs = 0;
      let freedBytes = 0;
      const removed = new Set<string>();
      for (const b of blobs) {
        if (b.digest !== null && keep.has(b.digest)) continue;
        if (b.digest === null) continue; // not ours to judge; verify reports it
        try {
          const st = await fsp.stat(b.path);
          await fsp.unlink(b.path);
          removedBlobs++;
          freedBytes += st.size;
          removed.add(b.digest);
        } catch (e) {
          if (errCode(e) !== 'ENOENT') throw fsError(e, `removing ${b.path}`);
        }
      }
      await this.#cleanTemp(true);
      if (removed.size > 0) {
        const src = await this.#readSources();
        let changed = false;
        for (const d of removed) {
          if (d in src.sources) {
            delete src.sources[d];
            changed = true;
          }
        }
        if (changed) await this.#atomicWrite(this.#sourcesPath, JSON.stringify(src));
      }
      this.#trace.log(`store: prune removed ${removedBlobs} blobs, ${freedBytes} bytes`);
      return { removedBlobs, freedBytes };
    });
  }

  /**
   * Deletes these blobs unless a name or a live lease (other than `ownLease`) still reaches them: undoes what a
   * failed or partial import wrote. Returns how many were deleted.
   */
  async discardBlobs(digests: string[], opts: { ownLease?: Lease } = {}): Promise<number> {
    if (digests.length === 0) return 0;
    return this.#withLock(async () => {
      const idx = await this.#readIndex();
      const keep = await this.#reachable(idx.manifests);
      for (const d of await this.#leasedDigests(false, opts.ownLease?.id)) keep.add(d);
      let n = 0;
      for (const d of new Set(digests)) {
        if (!isValidDigest(d) || keep.has(d)) continue;
        try {
          await fsp.unlink(this.blobPath(d));
          n++;
        } catch (e) {
          if (errCode(e) !== 'ENOENT') throw fsError(e, `removing blob ${d}`);
        }
      }
      return n;
    });
  }

  async #hashFile(path: string, algorithm: DigestAlgorithm): Promise<{ digest: string; size: number; ino: number }> {
    const fh = await fsp.open(path, 'r');
    try {
      const st = await fh.stat();
      const h = newHash(algorithm);
      let size = 0;
      for await (const chunk of fh.createReadStream({ highWaterMark: READ_CHUNK, autoClose: false })) {
        h.update(chunk as Buffer);
        size += (chunk as Buffer).length;
      }
      return { digest: `${algorithm}:${h.digest('hex')}`, size, ino: st.ino };
    } finally {
      await fh.close();
    }
  }

  /**
   * Checks that every blob hashes to its name and every name's manifest, config and layers are present. With
   * `repair`, corrupt blobs are deleted, names left incomplete are removed and dead processes' temp files go.
   */
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
    const corrupt = new Map<string, number>(); // digest → inode seen corrupt
    for (const b of await this.#listBlobs()) {
      if (b.digest === null) {
        report.strayFiles.push(b.name);
        continue;
      }
      try {
        const r = await this.#hashFile(b.path, parseDigest(b.digest).algorithm);
        report.blobsChecked++;
        report.bytesChecked += r.size;
        if (r.digest !== b.digest) corrupt.set(b.digest, r.ino);
      } catch (e) {
        if (errCode(e) === 'ENOENT') continue; // pruned meanwhile
        throw fsError(e, `reading ${b.path}`);
      }
    }
    report.corruptBlobs = [...corrupt.keys()];
    const missingOf = async (root: Descriptor): Promise<string[]> => {
      const missing: string[] = [];
      const stack: Array<{ d: Descriptor; required: boolean }> = [{ d: root, required: true }];
      const seen = new Set<string>();
      while (stack.length > 0) {
        const { d, required } = stack.pop()!;
        if (!d || typeof d.digest !== 'string' || seen.has(d.digest)) continue;
        seen.add(d.digest);
        if (!isValidDigest(d.digest)) {
          missing.push(String(d.digest));
          continue;
        }
        const present = !corrupt.has(d.digest) && (await this.hasBlob(d.digest));
        if (!present) {
          // An index may name platforms that were not pulled; only what is present must be complete.
          if (required || corrupt.has(d.digest)) missing.push(d.digest);
          continue;
        }
        if (isIndexMediaType(d.mediaType) || isManifestMediaType(d.mediaType)) {
          const doc = await this.#readDoc(d);
          if (!doc) continue;
          if (Array.isArray(doc.manifests)) for (const c of doc.manifests as Descriptor[]) stack.push({ d: c, required: false });
          if (Array.isArray(doc.layers)) for (const c of doc.layers as Descriptor[]) stack.push({ d: c, required: true });
          if (doc.config && typeof doc.config === 'object') stack.push({ d: doc.config as Descriptor, required: true });
        }
      }
      return missing;
    };
    for (const img of await this.listImages()) {
      const missing = await missingOf(img.descriptor);
      if (missing.length > 0) report.brokenNames.push({ name: img.name, digest: img.descriptor.digest, missing });
    }
    report.staleTempFiles = await this.#cleanTemp(false);
    if (opts.repair) {
      await this.#withLock(async () => {
        for (const [digest, ino] of corrupt) {
          const p = this.blobPath(digest);
          const st = await fsp.stat(p).catch(() => null);
          if (st && st.ino === ino) {
            await fsp.unlink(p).catch(() => {});
            report.repaired.removedBlobs++;
          }
        }
        if (report.brokenNames.length > 0) {
          const idx = await this.#readIndex();
          const broken = new Map(report.brokenNames.map((b) => [b.name, b.digest]));
          idx.manifests = idx.manifests.filter((m) => {
            const n = entryName(m);
            if (n !== undefined && broken.get(n) === m.digest) {
              report.repaired.removedNames.push(n);
              return false;
            }
            return true;
          });
          await this.#writeIndex(idx);
        }
        report.repaired.removedTempFiles = await this.#cleanTemp(true);
      });
    }
    report.ok = report.corruptBlobs.length === 0 && report.brokenNames.length === 0;
    return report;
  }

  // ---------------------------------------------------------------- leases

  /** Protects these blobs (present or about to be written) from prune until released or this process dies. */
  async lease(digests: string[]): Promise<Lease> {
    return createLease(this.#leaseDir, digests, (fn) => this.#withLock(fn));
  }

  // ---------------------------------------------------------------- sources (for cross-repository mounts)

  async #readSources(): Promise<SourcesDoc> {
    const doc = await readJsonFile<SourcesDoc>(this.#sourcesPath, MAX_INDEX_BYTES).catch(() => undefined);
    if (!doc || typeof doc !== 'object' || !doc.sources || typeof doc.sources !== 'object') {
      return { version: 1, sources: {} };
    }
    return doc;
  }

  /** Records that blob `digest` came from (or was pushed to) "host/repository". */
  async addSource(digest: string, registryRepo: string): Promise<void> {
    await this.addSources([[digest, registryRepo]]);
  }

  async addSources(pairs: Array<[digest: string, registryRepo: string]>): Promise<void> {
    if (pairs.length === 0) return;
    for (const [d] of pairs) parseDigest(d);
    await this.#withLock(async () => {
      const doc = await this.#readSources();
      let changed = false;
      for (const [d, repo] of pairs) {
        const list = doc.sources[d] ?? [];
        if (list[0] === repo) continue;
        doc.sources[d] = [repo, ...list.filter((r) => r !== repo)].slice(0, MAX_SOURCES_PER_BLOB);
        changed = true;
      }
      if (changed) await this.#atomicWrite(this.#sourcesPath, JSON.stringify(doc));
    });
  }

  /** Repositories ("host/repository") the blob is known to exist in, most recent first. */
  async sources(digest: string): Promise<string[]> {
    const doc = await this.#readSources();
    const list = doc.sources[digest];
    return Array.isArray(list) ? list.filter((x): x is string => typeof x === 'string') : [];
  }
}

function stripNames(d: Descriptor): Descriptor {
  if (!d.annotations) return d;
  const annotations = { ...d.annotations };
  delete annotations[REF_NAME_ANNOTATION];
  delete annotations[DHE_NAME_ANNOTATION];
  const { annotations: _drop, ...rest } = d;
  return Object.keys(annotations).length > 0 ? { ...rest, annotations } : rest;
}

/** Stops a source we will not read. */
function discard(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Readable): void {
  if (source instanceof Readable) {
    source.destroy();
    return;
  }
  const it = (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]?.();
  void it?.return?.()?.catch?.(() => {});
}
