// Files replaced or created atomically, through a temporary file in a given folder on the same file system (0600,
// tracked for removal on a forced exit): readers see the old content or the new one, never half a file.

import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { fsError } from '../errors.js';
import { trackTemp } from './cleanup.js';
import { PRIVATE_FILE_MODE } from './private.js';

/** The errno code of a file-system error, if any. */
export function errnoCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

/** A fresh temporary file name in `dir`: "<pid>-<nonce><suffix>" (the pid tells cleanup whose it is). */
export function tempPath(dir: string, suffix: string): string {
  return join(dir, `${process.pid}-${randomBytes(6).toString('hex')}${suffix}`);
}

/** Replaces `path` atomically: a temporary file in `tmpDir`, fsync, rename. */
export async function atomicWrite(tmpDir: string, path: string, content: string): Promise<void> {
  const tmp = tempPath(tmpDir, '.new');
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

/** Creates `path` only if it does not exist yet, atomically (temporary file + link, which fails if it exists). */
export async function createIfAbsent(tmpDir: string, path: string, content: string): Promise<void> {
  const tmp = tempPath(tmpDir, '.new');
  const untrack = trackTemp(tmp);
  try {
    await fsp.writeFile(tmp, content, { flag: 'wx', mode: PRIVATE_FILE_MODE });
    try {
      await fsp.link(tmp, path);
    } catch (e) {
      if (errnoCode(e) !== 'EEXIST') throw e;
    }
  } catch (e) {
    throw fsError(e, `creating ${path}`);
  } finally {
    await fsp.unlink(tmp).catch(() => {});
    untrack();
  }
}
