// An archive on disk as a source: an OCI layout tar (oci-archive:, dhe-cli save --format oci) or a docker save
// archive with an index.json (docker 25+, dhe-cli save). The tar is indexed once (entry headers only: names,
// offsets, sizes; links followed), then documents and blobs are read by digest from their offsets, verified.
// Gzip-compressed archives and the old <id>/layer.tar form have no random access: `load` reads those as a stream.

import { createReadStream, promises as fsp } from 'node:fs';
import { PassThrough, type Readable } from 'node:stream';
import { badArchive, cleanEntryName, resolveLinkTarget } from '../archive/paths.js';
import { createVerifier, verifyDigest, type Descriptor } from '../oci/index.js';
import { MANIFEST_MAX_BYTES } from '../oci/limits.js';
import type { BlobReadOptions, Doc, ImageSource } from './source.js';

interface Entry {
  offset: number;
  size: number;
}

const BLOCK = 512;
const MAX_LINKS = 16;

function field(h: Buffer, start: number, len: number): string {
  const s = h.subarray(start, start + len).toString('utf8');
  const nul = s.indexOf('\0');
  return nul >= 0 ? s.slice(0, nul) : s;
}

function paxPath(data: Buffer): string | undefined {
  for (const rec of data.toString('utf8').split('\n')) {
    const m = /^\d+ path=(.*)$/.exec(rec);
    if (m) return m[1];
  }
  return undefined;
}

/** Reads every header of a tar file: regular files by name, and links. */
async function indexTar(file: string): Promise<{ files: Map<string, Entry>; links: Map<string, string> }> {
  const files = new Map<string, Entry>();
  const links = new Map<string, string>();
  const fh = await fsp.open(file, 'r');
  try {
    const { size: total } = await fh.stat();
    const h = Buffer.alloc(BLOCK);
    let pos = 0;
    let longName: string | undefined;
    while (pos + BLOCK <= total) {
      await fh.read(h, 0, BLOCK, pos);
      if (h.every((b) => b === 0)) break;
      if (h[0] === 0x1f && h[1] === 0x8b && pos === 0) throw badArchive('a gzip-compressed archive has no random access').withHint("load it with 'dhe-cli load -i FILE'");
      const size = parseInt(field(h, 124, 12).trim() || '0', 8);
      if (!Number.isSafeInteger(size) || size < 0) throw badArchive(`tar header at ${pos} has no valid size`);
      const type = String.fromCharCode(h[156] || 0x30);
      const data = pos + BLOCK;
      const prefix = field(h, 345, 155);
      const name = longName ?? (prefix ? `${prefix}/${field(h, 0, 100)}` : field(h, 0, 100));
      longName = undefined;
      if (type === 'x' || type === 'L') {
        const buf = Buffer.alloc(Math.min(size, 64 * 1024));
        await fh.read(buf, 0, buf.length, data);
        longName = type === 'L' ? field(buf, 0, buf.length) : paxPath(buf);
      } else if (type === '0' || type === '7') {
        files.set(cleanEntryName(name), { offset: data, size });
      } else if (type === '1' || type === '2') {
        const path = cleanEntryName(name);
        links.set(path, resolveLinkTarget(path, field(h, 157, 100), type === '2' ? 'symlink' : 'link'));
      }
      pos = data + Math.ceil(size / BLOCK) * BLOCK;
    }
  } finally {
    await fh.close();
  }
  return { files, links };
}

export class ArchiveSource implements ImageSource {
  readonly kind = 'archive';

  private constructor(
    readonly file: string,
    readonly files: Map<string, Entry>,
    readonly links: Map<string, string>,
    readonly name?: string,
  ) {}

  /** `name`: the image to read (its io.dhe-cli.name, io.containerd.image.name or ref.name); the first one otherwise. */
  static async open(file: string, name?: string): Promise<ArchiveSource> {
    const { files, links } = await indexTar(file);
    return new ArchiveSource(file, files, links, name);
  }

  #entry(path: string): Entry | undefined {
    let cur = path;
    for (let i = 0; i < MAX_LINKS; i++) {
      const e = this.files.get(cur);
      if (e) return e;
      const next = this.links.get(cur);
      if (next === undefined) return undefined;
      cur = next;
    }
    throw badArchive(`links in the archive loop or nest too deep at "${path}"`);
  }

  async #read(path: string, cap: number): Promise<Buffer> {
    const e = this.#entry(path);
    if (!e) throw badArchive(`the archive does not contain ${path}`);
    if (e.size > cap) throw badArchive(`${path} in the archive is ${e.size} bytes, more than the ${cap} allowed`);
    const fh = await fsp.open(this.file, 'r');
    try {
      const buf = Buffer.alloc(e.size);
      await fh.read(buf, 0, e.size, e.offset);
      return buf;
    } finally {
      await fh.close();
    }
  }

  /** The entries of index.json (each a descriptor with its annotations). */
  async images(): Promise<Descriptor[]> {
    let doc: { manifests?: unknown };
    try {
      doc = JSON.parse((await this.#read('index.json', MANIFEST_MAX_BYTES)).toString('utf8')) as { manifests?: unknown };
    } catch (e) {
      throw badArchive('the archive has no readable index.json (an old docker save archive: load it instead)', e);
    }
    if (!Array.isArray(doc.manifests)) throw badArchive('index.json has no manifests');
    return doc.manifests as Descriptor[];
  }

  async root(): Promise<Doc> {
    const all = await this.images();
    const named = (d: Descriptor) => Object.values(d.annotations ?? {}).includes(this.name ?? '');
    const top = this.name === undefined ? all[0] : all.find(named);
    if (!top) throw badArchive(this.name === undefined ? 'the archive contains no image' : `the archive has no image named ${this.name}`);
    return this.manifest(top);
  }

  async manifest(desc: Descriptor): Promise<Doc> {
    const bytes = await this.#read(`blobs/${desc.digest.replace(':', '/')}`, MANIFEST_MAX_BYTES);
    verifyDigest(bytes, desc.digest, `manifest ${desc.digest} in the archive`);
    return { desc: { ...desc, size: bytes.length }, bytes };
  }

  blob(desc: Descriptor, opts: BlobReadOptions = {}): Readable {
    const e = this.#entry(`blobs/${desc.digest.replace(':', '/')}`);
    if (!e) {
      const out = new PassThrough();
      process.nextTick(() => out.destroy(badArchive(`the archive does not contain ${desc.digest}`)));
      return out;
    }
    const raw: Readable = e.size === 0 ? new PassThrough().end() : createReadStream(this.file, { start: e.offset, end: e.offset + e.size - 1, highWaterMark: 1 << 20 });
    if (opts.verify === false) return raw;
    const check = createVerifier({ digest: desc.digest, size: desc.size, what: `blob ${desc.digest} in the archive` });
    raw.on('error', (err) => check.destroy(err));
    return raw.pipe(check);
  }

  async has(digest: string): Promise<boolean> {
    return this.#entry(`blobs/${digest.replace(':', '/')}`) !== undefined;
  }
}
