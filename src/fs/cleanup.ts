// Temporary files (and held lock files) this process has open, so a signal that ends the process before the code
// that made them unwinds (SIGTERM's one-second deadline, a second Ctrl-C) can still remove them, synchronously.

import { readFileSync, unlinkSync } from 'node:fs';

const temps = new Set<string>();
const locks = new Map<string, string>(); // lock path → the content that makes it ours

/** Remembers a temporary file; call the returned function once it is renamed into place or removed. */
export function trackTemp(path: string): () => void {
  temps.add(path);
  return () => {
    temps.delete(path);
  };
}

/** Remembers a lock file we hold (removed on a forced exit only if its content is still ours). */
export function trackLock(path: string, content: string): () => void {
  locks.set(path, content);
  return () => {
    if (locks.get(path) === content) locks.delete(path);
  };
}

/** Removes every tracked temporary file and lock, synchronously (for process exit paths). */
export function removeTrackedSync(): number {
  let n = 0;
  for (const p of temps) {
    try {
      unlinkSync(p);
      n++;
    } catch {
      /* gone already */
    }
  }
  temps.clear();
  for (const [p, content] of locks) {
    try {
      if (readFileSync(p, 'utf8') === content) unlinkSync(p);
    } catch {
      /* gone already */
    }
  }
  locks.clear();
  return n;
}
