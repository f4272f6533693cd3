// The store's folder and what every part of it shares: its paths, the trace, the cross-process index lock, the
// capped JSON reader, and creating the OCI layout (oci-layout, index.json, blobs/, tmp/, leases/) on first open.
// Folders are 0700 and files 0600 (src/fs/private.ts): the store holds private layers.

import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { DheError, fsError } from '../errors.js';
import { createIfAbsent, errnoCode } from '../fs/atomic.js';
import { mkdirPrivate } from '../fs/private.js';
import type { Trace } from '../trace.js';
import { withFileLock } from './lock.js';
import { MEDIA_TYPES } from './types.js';

export interface StorePaths {
  readonly blobs: string;
  readonly tmp: string;
  readonly leases: string;
  /** Upload sessions kept across runs (uploads.ts). */
  readonly uploads: string;
  /** Bytes of interrupted downloads kept across runs (partials.ts). */
  readonly partial: string;
  readonly index: string;
  readonly lock: string;
  readonly sources: string;
  readonly layout: string;
}

/** What the store's parts (blobs, names, sources, gc) are given. */
export interface StoreContext {
  readonly dir: string;
  readonly paths: StorePaths;
  readonly trace: Trace;
  /** Runs `fn` holding the store's cross-process index lock. */
  withLock<T>(fn: () => Promise<T>): Promise<T>;
}

export function storeContext(dir: string, trace: Trace, lockTimeoutMs: number): StoreContext {
  const paths: StorePaths = {
    blobs: join(dir, 'blobs'),
    tmp: join(dir, 'tmp'),
    leases: join(dir, 'leases'),
    uploads: join(dir, 'uploads'),
    partial: join(dir, 'partial'),
    index: join(dir, 'index.json'),
    lock: join(dir, 'index.lock'),
    sources: join(dir, 'sources.json'),
    layout: join(dir, 'oci-layout'),
  };
  return {
    dir,
    paths,
    trace,
    withLock: (fn) => withFileLock(paths.lock, fn, { timeoutMs: lockTimeoutMs, trace }),
  };
}

/** Reads a JSON file of at most `maxBytes`; undefined when it does not exist, CORRUPT_STORE when it is no JSON. */
export async function readJsonFile<T>(path: string, maxBytes: number): Promise<T | undefined> {
  let text: string;
  try {
    const st = await fsp.stat(path);
    if (st.size > maxBytes) throw new DheError('CORRUPT_STORE', `${path} is larger than ${maxBytes} bytes`);
    text = await fsp.readFile(path, 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
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

/** Creates what is missing of an OCI image layout at ctx.dir; refuses a layout of another major version. */
export async function initLayout(ctx: StoreContext): Promise<void> {
  const { paths } = ctx;
  try {
    await mkdirPrivate(join(paths.blobs, 'sha256'));
    await mkdirPrivate(paths.tmp);
    await mkdirPrivate(paths.leases);
  } catch (e) {
    throw fsError(e, `creating the store at ${ctx.dir}`);
  }
  const layout = await readJsonFile<{ imageLayoutVersion?: string }>(paths.layout, 1 << 16);
  if (layout === undefined) {
    await createIfAbsent(paths.tmp, paths.layout, JSON.stringify({ imageLayoutVersion: MEDIA_TYPES.ociLayout }));
  } else if (typeof layout.imageLayoutVersion !== 'string' || !layout.imageLayoutVersion.startsWith('1.')) {
    throw new DheError('CORRUPT_STORE', `${ctx.dir} holds an OCI layout of unsupported version`, {
      details: { layout },
      hint: 'point --store at another folder',
    });
  }
  try {
    await fsp.access(paths.index);
  } catch {
    await createIfAbsent(paths.tmp, paths.index, JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: [] }));
  }
}
