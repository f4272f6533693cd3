// attach: files as an OCI 1.1 artifact whose subject is REF (a tag resolved to its manifest; an index stays the
// index). Each file is one layer (titled with its base name), the config is the empty `{}`, and where the registry
// has no referrers API the fallback index tagged `sha256-<hex>` gets the new descriptor (src/image/referrers.ts).

import { createReadStream, promises as fsp } from 'node:fs';
import { basename } from 'node:path';
import { DheError, fsError } from '../errors.js';
import { DEFAULT_FILE_MEDIA_TYPE, EMPTY_CONFIG, EMPTY_CONFIG_BYTES, TITLE_ANNOTATION, artifactManifest, referrerDescriptor, unsafeTitleProblem } from '../oci/artifact.js';
import { createDigester, type Descriptor } from '../oci/index.js';
import type { Reference } from '../reference/index.js';
import type { RegistryClient } from '../registry/index.js';
import { recordReferrers, resolveDescriptor } from '../image/referrers.js';
import { Readable } from 'node:stream';

export interface AttachFile {
  path: string;
  /** Default application/octet-stream. */
  mediaType?: string;
}

export interface AttachOptions {
  client: RegistryClient;
  artifactType: string;
  files: AttachFile[];
  annotations?: Record<string, string>;
  signal?: AbortSignal;
}

export interface AttachResult {
  digest: string;
  size: number;
  subject: Descriptor;
  /** How the referrer is found: the registry's referrers API, or the fallback tag this run updated. */
  via: 'api' | 'tag';
}

/** `FILE[:MEDIATYPE]` as the command line has it (the last colon, when what follows looks like a media type). */
export function parseFileArg(arg: string): AttachFile {
  const m = /^(.*):([A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*)$/.exec(arg);
  return m ? { path: m[1]!, mediaType: m[2]! } : { path: arg };
}

async function fileDescriptor(file: AttachFile, signal?: AbortSignal): Promise<Descriptor> {
  const title = basename(file.path);
  const problem = unsafeTitleProblem(title);
  if (problem !== undefined) throw new DheError('USAGE', `${JSON.stringify(file.path)} cannot be attached: its name ${problem}`, { hint: 'attach a file with a plain name' });
  let size = 0;
  const d = createDigester();
  try {
    const st = await fsp.stat(file.path);
    if (!st.isFile()) throw new DheError('USAGE', `${file.path} is not a file`, { hint: 'attach regular files' });
    for await (const chunk of createReadStream(file.path, signal ? { signal } : {})) {
      d.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
  } catch (e) {
    if (e instanceof DheError) throw e;
    throw fsError(e, `reading ${file.path}`);
  }
  return { mediaType: file.mediaType ?? DEFAULT_FILE_MEDIA_TYPE, digest: d.digest(), size, annotations: { [TITLE_ANNOTATION]: title } };
}

export async function attach(ref: Reference, opts: AttachOptions): Promise<AttachResult> {
  const { client, signal } = opts;
  if (opts.files.length === 0) throw new DheError('USAGE', 'attach needs at least one FILE', { hint: 'dhe-cli attach REF --artifact-type TYPE FILE[:MEDIATYPE]...' });
  const repo = ref.repository;
  client.intendPush(repo);
  const subject = await resolveDescriptor(client, repo, ref.identifier, signal);
  const layers: Descriptor[] = [];
  const titles = new Set<string>();
  for (const f of opts.files) {
    const desc = await fileDescriptor(f, signal);
    const title = desc.annotations![TITLE_ANNOTATION]!;
    if (titles.has(title)) throw new DheError('USAGE', `two files are named ${title}`, { hint: 'each file of an artifact needs its own name (it is the file name fetch writes)' });
    titles.add(title);
    layers.push(desc);
  }
  const sopts = signal ? { signal } : {};
  await uploadIfMissing(client, repo, EMPTY_CONFIG, () => Readable.from([EMPTY_CONFIG_BYTES]), signal);
  for (const [i, l] of layers.entries()) await uploadIfMissing(client, repo, l, () => createReadStream(opts.files[i]!.path), signal);
  const art = artifactManifest({ artifactType: opts.artifactType, subject: subject.desc, layers, ...(opts.annotations ? { annotations: opts.annotations } : {}) });
  const put = await client.putManifest(repo, art.desc.digest, art.bytes, art.desc.mediaType, sopts);
  const entry = referrerDescriptor(art.desc, art.manifest);
  const via = await recordReferrers(client, repo, subject.desc.digest, [entry], put.subject, signal);
  return { digest: art.desc.digest, size: art.desc.size, subject: subject.desc, via };
}

/** Uploads a blob unless the repository has it already (attach's files, sign's payloads and configs). */
export async function uploadIfMissing(client: RegistryClient, repo: string, desc: Descriptor, open: () => Readable, signal?: AbortSignal): Promise<void> {
  if ((await client.headBlob(repo, desc.digest, signal ? { signal } : {})) !== null) return;
  await client.uploadBlob(repo, { digest: desc.digest, size: desc.size }, open, signal ? { signal } : {});
}
