// Reading the members of an archive for load: the input is opened and sniffed (gzip is undone on the fly under a
// cap, other compressions are refused), then every tar member is checked (no traversal, no devices, no
// duplicates) and read: regular files are streamed into the store while hashed (members named blobs/<alg>/<hex>
// must match that digest), metadata files are kept in memory under a cap, links are recorded and resolved later.

import { ARCHIVE_META_MAX_BYTES, ARCHIVE_META_TOTAL_MAX_BYTES } from '../oci/limits.js';
import { createReadStream, promises as fsp } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { DheError, fsError, isDheError } from '../errors.js';
import type { Trace } from '../trace.js';
import type { ImageStore, Lease } from '../store/index.js';
import { isValidDigest, parseDigest } from '../store/digest.js';
import { type GraphBudget, GunzipBudget, interruptedError, tarBytesOf } from './graph.js';
import { badArchive, cleanEntryName, resolveLinkTarget, shownName } from './paths.js';

const MAX_META_BYTES = ARCHIVE_META_MAX_BYTES;
const MAX_META_TOTAL = ARCHIVE_META_TOTAL_MAX_BYTES;
const MAX_ENTRIES = 200_000;
const MAX_LINK_DEPTH = 16;
/** Per tar entry, room for a PAX or GNU long-name header before it (not reported as entries by tar-stream). */
const LONG_HEADER_ALLOWANCE = 2048;

export interface StoredEntry {
  digest: string;
  size: number;
  head: Buffer;
}

/** What an archive held: stored files by path, metadata files, and links (path → target path). */
export interface Members {
  files: Map<string, StoredEntry>;
  meta: Map<string, Buffer>;
  links: Map<string, string>;
  metaTotal: number;
  entries: number;
}

export interface MemberContext {
  store: ImageStore;
  lease: Lease;
  /** Digests this load wrote (and so removes again on failure). */
  created: Set<string>;
  budget: GraphBudget;
  trace: Trace;
  signal?: AbortSignal | undefined;
  onProgress?: ((e: { entry: string; bytes: number }) => void) | undefined;
}

type Entry = AsyncIterable<unknown> & { header: tar.Header; resume(): unknown };

function isMetaName(p: string): boolean {
  return (
    p === 'manifest.json' ||
    p === 'index.json' ||
    p === 'repositories' ||
    p === 'oci-layout' ||
    p.endsWith('/json') ||
    p.endsWith('/VERSION')
  );
}

function blobEntryDigest(p: string): string | undefined {
  const m = /^blobs\/([a-z0-9]+)\/([a-f0-9]+)$/.exec(p);
  if (!m) return undefined;
  const d = `${m[1]}:${m[2]}`;
  return isValidDigest(d) ? d : undefined;
}

export async function openInput(input: Readable | string): Promise<Readable> {
  if (typeof input !== 'string') return input;
  try {
    const st = await fsp.stat(input);
    if (!st.isFile() && !st.isFIFO()) throw new DheError('USAGE', `${input} is not a file`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new DheError('NOT_FOUND', `archive ${input} does not exist`, { hint: 'check the path given to load -i' });
    }
    throw fsError(e, `opening ${input}`);
  }
  return createReadStream(input, { highWaterMark: 1 << 20 });
}

/** Refuses compressions other than gzip, from the first bytes. */
function refuseCompression(first: Buffer): void {
  if (first.length === 0) throw badArchive('the archive is empty');
  if (first[0] === 0x28 && first[1] === 0xb5 && first[2] === 0x2f && first[3] === 0xfd) {
    throw badArchive('zstd-compressed archives are not supported', undefined).withHint('decompress it first (zstd -d) or use gzip');
  }
  if (first.subarray(0, 3).toString('latin1') === 'BZh' || first.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) {
    throw badArchive('bzip2/xz-compressed archives are not supported').withHint('decompress it first, or use gzip');
  }
}

/** The input with its first bytes looked at: gzip is undone on the fly; other compressions are refused. */
async function sniff(src: Readable): Promise<{ stream: Readable; gzip: boolean }> {
  const it = (src as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let n = 0;
  let ended = false;
  while (n < 6) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    const b = Buffer.from(r.value);
    head.push(b);
    n += b.length;
  }
  const first = Buffer.concat(head);
  refuseCompression(first);
  const gen = async function* () {
    try {
      yield first;
      if (ended) return;
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        yield r.value;
      }
    } finally {
      await it.return?.();
    }
  };
  const stream = Readable.from(gen(), { objectMode: false, highWaterMark: 1 << 20 });
  return { stream, gzip: first[0] === 0x1f && first[1] === 0x8b };
}

/** Follows links from `p` until `map` has the path (undefined when it leads nowhere). */
export function follow<T>(map: Map<string, T>, links: Map<string, string>, p: string): T | undefined {
  let cur = p;
  for (let i = 0; i < MAX_LINK_DEPTH; i++) {
    const v = map.get(cur);
    if (v !== undefined) return v;
    const next = links.get(cur);
    if (next === undefined) return undefined;
    cur = next;
  }
  throw badArchive(`links in the archive loop or nest too deep at "${shownName(p)}"`);
}

/** Reads every member of the tar (gzip-compressed or not) in `source`; see the module comment. */
export async function readMembers(source: Readable, ctx: MemberContext): Promise<Members> {
  const { stream, gzip } = await sniff(source);
  ctx.trace.log(`archive: reading ${gzip ? 'gzip-compressed ' : ''}tar`);
  const extract = tar.extract();
  let pipeError: unknown;
  // gzip: the decompressed bytes may exceed what the tar headers declare only by a margin (no gzip bombs).
  const gunzipBudget = gzip ? new GunzipBudget() : undefined;
  const piping = (gunzipBudget ? pipeline(stream, createGunzip(), gunzipBudget, extract) : pipeline(stream, extract)).catch(
    (e: unknown) => {
      pipeError = e;
    },
  );
  const m: Members = { files: new Map(), meta: new Map(), links: new Map(), metaTotal: 0, entries: 0 };
  try {
    for await (const entry of extract) await readMember(entry, m, ctx, gunzipBudget);
  } catch (e) {
    extract.destroy();
    stream.destroy();
    await piping;
    // the gzip budget's own error says more than "premature close" of the extractor it ended
    if (isDheError(pipeError) && pipeError.code === 'BAD_ARCHIVE' && !(isDheError(e) && e.code === 'INTERRUPTED')) throw pipeError;
    throw e;
  }
  await piping;
  if (pipeError !== undefined) throw pipeError;
  ctx.trace.log(`archive: ${m.files.size} files stored, ${m.meta.size} metadata files, ${m.links.size} links`);
  return m;
}

async function readMember(entry: Entry, m: Members, ctx: MemberContext, gunzipBudget: GunzipBudget | undefined): Promise<void> {
  if (ctx.signal?.aborted) throw interruptedError(ctx.signal);
  if (++m.entries > MAX_ENTRIES) throw badArchive(`the archive has more than ${MAX_ENTRIES} entries`);
  const h = entry.header;
  gunzipBudget?.declare(tarBytesOf(h.size ?? 0) + LONG_HEADER_ALLOWANCE);
  if (m.entries % 256 === 0) await ctx.budget.tick();
  const type: string = h.type ?? 'file';
  if (type === 'pax-global-header') return void entry.resume();
  const path = cleanEntryName(h.name);
  if (type === 'directory') return void entry.resume();
  if (path === '') throw badArchive(`archive entry "${shownName(h.name)}" has no name`);
  if (m.files.has(path) || m.meta.has(path) || m.links.has(path)) {
    throw badArchive(`the archive has two entries named "${shownName(path)}"`);
  }
  if (type === 'symlink' || type === 'link') {
    m.links.set(path, resolveLinkTarget(path, h.linkname ?? '', type));
    return void entry.resume();
  }
  if (type !== 'file' && type !== 'contiguous-file') {
    throw badArchive(`archive entry "${shownName(path)}" is a ${type}; only files, folders and links are allowed`);
  }
  if (isMetaName(path)) return readMeta(entry, path, m);
  m.files.set(path, await storeFile(entry, path, ctx));
}

async function readMeta(entry: Entry, path: string, m: Members): Promise<void> {
  const size = entry.header.size ?? 0;
  if (size > MAX_META_BYTES || m.metaTotal + size > MAX_META_TOTAL) {
    throw badArchive(`archive entry "${shownName(path)}" is too large (${entry.header.size} bytes)`);
  }
  const chunks: Buffer[] = [];
  for await (const c of entry) chunks.push(c as Buffer);
  const buf = Buffer.concat(chunks);
  m.metaTotal += buf.length;
  m.meta.set(path, buf);
}

/** Streams one regular member into the store, hashed (and checked against the digest its name gives). */
async function storeFile(entry: Entry, path: string, ctx: MemberContext): Promise<StoredEntry> {
  const { store, lease, signal, onProgress } = ctx;
  const expectDigest = blobEntryDigest(path);
  const size = entry.header.size ?? 0;
  if (expectDigest !== undefined) {
    await lease.add([expectDigest]);
    const st = await store.statBlob(expectDigest);
    if (st && st.size === size) {
      // Already stored (and verified when it was): skip the bytes.
      for await (const _ of entry) void _;
      return { digest: expectDigest, size, head: await readHead(store, expectDigest) };
    }
  }
  let head = Buffer.alloc(0);
  const tap = async function* () {
    for await (const c of entry) {
      const b = c as Buffer;
      if (head.length < 8) head = Buffer.concat([head, b.subarray(0, 8 - head.length)]);
      yield b;
    }
  };
  const r = await store
    .writeBlob(
      tap(),
      { ...(expectDigest !== undefined ? { digest: expectDigest } : {}), size },
      {
        lease,
        ...(signal ? { signal } : {}),
        ...(onProgress ? { onProgress: (bytes: number) => onProgress({ entry: path, bytes }) } : {}),
      },
    )
    .catch((e: unknown) => {
      if (isDheError(e) && e.code === 'DIGEST_MISMATCH') {
        throw badArchive(`archive entry "${shownName(path)}" does not match its digest`, e);
      }
      throw e;
    });
  if (!r.existed) ctx.created.add(r.digest);
  return { digest: r.digest, size: r.size, head };
}

async function readHead(store: ImageStore, digest: string): Promise<Buffer> {
  parseDigest(digest);
  const fh = await fsp.open(store.blobPath(digest), 'r');
  try {
    const buf = Buffer.alloc(8);
    const { bytesRead } = await fh.read(buf, 0, 8, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}
