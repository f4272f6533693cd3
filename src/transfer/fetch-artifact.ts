// fetch: an artifact's titled layers into a folder, each streamed through the registry client's verifying read into
// a temporary file of that folder and renamed into place only once digest and size matched. Titles come from the
// registry, so they are checked first (src/oci/artifact.ts safeTitle): never absolute, never `..`, never a path
// separator or control character; a rename replaces a name inside the folder (a symlink there is replaced, not
// followed), so nothing outside the folder is ever written.

import { createWriteStream, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { DheError, fsError, isDheError } from '../errors.js';
import { TITLE_ANNOTATION, safeTitle } from '../oci/artifact.js';
import type { Descriptor } from '../oci/index.js';
import type { Reference } from '../reference/index.js';
import type { RegistryClient } from '../registry/index.js';
import { resolveDescriptor } from '../image/referrers.js';
import { tempPath } from '../fs/atomic.js';
import { trackTemp } from '../fs/cleanup.js';
import { PRIVATE_FILE_MODE, mkdirPrivate } from '../fs/private.js';

export interface FetchArtifactOptions {
  client: RegistryClient;
  /** The folder the files go into (created 0700 when missing). */
  dir: string;
  signal?: AbortSignal;
}

export interface FetchedFile {
  title: string;
  path: string;
  digest: string;
  size: number;
}

export interface FetchArtifactResult {
  digest: string;
  artifactType?: string;
  files: FetchedFile[];
  /** Layers without a title (not written). */
  untitled: number;
}

export async function fetchArtifact(ref: Reference, opts: FetchArtifactOptions): Promise<FetchArtifactResult> {
  const { client, signal } = opts;
  const doc = await resolveDescriptor(client, ref.repository, ref.identifier, signal);
  if (doc.parsed.kind !== 'image') {
    throw new DheError('USAGE', `${ref.familiar} is an index, not an artifact`, { hint: 'fetch an artifact by the digest dhe-cli referrers lists' });
  }
  const m = doc.parsed.manifest;
  const titled: Array<{ layer: Descriptor; title: string }> = [];
  const seen = new Set<string>();
  let untitled = 0;
  for (const layer of m.layers) {
    const raw = layer.annotations?.[TITLE_ANNOTATION];
    if (raw === undefined) {
      untitled++;
      continue;
    }
    const title = safeTitle(raw, layer.digest);
    if (seen.has(title)) {
      throw new DheError('MALFORMED_MANIFEST', `the artifact ${doc.desc.digest} has two layers titled ${JSON.stringify(title)}`, { hint: 'one would overwrite the other; nothing was written' });
    }
    seen.add(title);
    titled.push({ layer, title });
  }
  await mkdirPrivate(opts.dir).catch((e: unknown) => {
    throw fsError(e, `creating ${opts.dir}`);
  });
  const files: FetchedFile[] = [];
  for (const { layer, title } of titled) {
    const path = join(opts.dir, title);
    await downloadInto(client, ref.repository, layer, opts.dir, path, signal);
    files.push({ title, path, digest: layer.digest, size: layer.size });
  }
  return { digest: doc.desc.digest, ...(m.artifactType ? { artifactType: m.artifactType } : {}), files, untitled };
}

async function downloadInto(client: RegistryClient, repo: string, layer: Descriptor, dir: string, path: string, signal?: AbortSignal): Promise<void> {
  const tmp = tempPath(dir, '.part');
  const untrack = trackTemp(tmp);
  try {
    const stream = await client.getBlob(repo, { digest: layer.digest, size: layer.size }, { verify: true, ...(signal ? { signal } : {}) });
    await pipeline(stream, createWriteStream(tmp, { flags: 'wx', mode: PRIVATE_FILE_MODE }), signal ? { signal } : {});
    await fsp.rename(tmp, path);
  } catch (e) {
    await fsp.unlink(tmp).catch(() => {});
    if (isDheError(e)) throw e;
    throw fsError(e, `writing ${path}`);
  } finally {
    untrack();
  }
}
