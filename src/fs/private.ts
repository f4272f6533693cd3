// Files on disk are private to the user whatever the umask: every folder dhe-cli creates is 0700 and every file
// 0600 (blobs included). A umask can only take bits away, so passing these modes explicitly on every mkdir/open is
// enough: with umask 000 they stay 0700/0600, with a stricter umask they get stricter. Files are never created
// with Node's default 0666.

import { statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';

const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** mkdir -p with 0700 for every folder it creates (existing folders are left as they are). */
export async function mkdirPrivate(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
}

const warned = new Set<string>();

/**
 * One `WARNING:` line per folder and run when an existing folder (the config folder) gives other users any access.
 * Returns the warning shown, if any.
 */
export function warnIfShared(dir: string, warn: (line: string) => void): string | undefined {
  if (warned.has(dir)) return undefined;
  let mode: number;
  try {
    const st = statSync(dir);
    if (!st.isDirectory()) return undefined;
    mode = st.mode & 0o777;
  } catch {
    return undefined; // not there (yet): it will be created 0700
  }
  if ((mode & 0o077) === 0) return undefined;
  warned.add(dir);
  const line = `${dir} can be read by other users (mode ${mode.toString(8).padStart(4, '0')}); credentials and images in it are not private. Run: chmod 700 ${dir}`;
  warn(line);
  return line;
}
