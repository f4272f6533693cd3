// A cross-process lock: a file created with O_EXCL ("wx") holding pid, host and a nonce. A lock whose holder is
// dead (same host, pid gone) or that is older than `staleMs` is broken; waiting retries with a capped backoff and
// gives up after `timeoutMs`. Inside one process, acquisitions of the same lock are queued without polling.

import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { hostname } from 'node:os';
import { DheError, fsError } from '../errors.js';
import { trackLock } from '../fs/cleanup.js';
import { PRIVATE_FILE_MODE } from '../fs/private.js';
import { silentTrace, type Trace } from '../trace.js';

export interface LockOptions {
  /** How long to wait for another holder before giving up (default 60 s). */
  timeoutMs?: number;
  /** A lock older than this is considered abandoned whatever its pid (default 10 min). */
  staleMs?: number;
  trace?: Trace;
  /** What is locked, for the message when waiting gives up (default "the store"). */
  what?: string;
  /** Aborts the wait for another holder. */
  signal?: AbortSignal;
}

const HOST = hostname();

/** True when a process with this pid exists on this machine (EPERM means it exists but is not ours). */
function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface OwnerInfo {
  pid: number;
  host: string;
}

/** Whether an owner (pid + host) recorded in a lock or lease file is certainly gone. */
export function ownerDead(owner: OwnerInfo): boolean {
  return owner.host === HOST && !pidAlive(owner.pid);
}

export function ownerInfo(): OwnerInfo {
  return { pid: process.pid, host: HOST };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function parseLock(text: string): (OwnerInfo & { nonce: string }) | null {
  const [pid, host, nonce] = text.split('\n');
  const n = Number(pid);
  if (!Number.isInteger(n) || n <= 0 || !host || !nonce) return null;
  return { pid: n, host, nonce };
}

// In-process queue per lock path.
const queues = new Map<string, Promise<void>>();

export async function withFileLock<T>(lockPath: string, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
  const prev = queues.get(lockPath) ?? Promise.resolve();
  let done!: () => void;
  const mine = new Promise<void>((r) => (done = r));
  const chained = prev.then(() => mine);
  queues.set(lockPath, chained);
  await prev;
  try {
    const release = await acquire(lockPath, opts);
    try {
      return await fn();
    } finally {
      await release();
    }
  } finally {
    done();
    if (queues.get(lockPath) === chained) queues.delete(lockPath);
  }
}

async function acquire(lockPath: string, opts: LockOptions): Promise<() => Promise<void>> {
  const trace = opts.trace ?? silentTrace;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const staleMs = opts.staleMs ?? 10 * 60_000;
  const nonce = randomBytes(8).toString('hex');
  const content = `${process.pid}\n${HOST}\n${nonce}\n${Date.now()}\n`;
  const deadline = Date.now() + timeoutMs;
  let delay = 2;
  let waitedLogged = false;
  for (;;) {
    try {
      const fh = await fsp.open(lockPath, 'wx', PRIVATE_FILE_MODE);
      const untrack = trackLock(lockPath, content);
      try {
        await fh.writeFile(content);
      } finally {
        await fh.close();
      }
      return async () => {
        untrack();
        // Only remove the lock if it is still ours (it may have been broken as stale by someone else).
        try {
          const now = await fsp.readFile(lockPath, 'utf8');
          if (parseLock(now)?.nonce === nonce) await fsp.unlink(lockPath);
        } catch {
          /* already gone */
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw fsError(e, `creating the lock ${lockPath}`);
    }
    // Someone holds it. Is it stale?
    let holder: (OwnerInfo & { nonce: string }) | null = null;
    let text = '';
    let age = 0;
    try {
      text = await fsp.readFile(lockPath, 'utf8');
      const st = await fsp.stat(lockPath);
      age = Date.now() - st.mtimeMs;
      holder = parseLock(text);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // released meanwhile
      throw fsError(e, `reading the lock ${lockPath}`);
    }
    const stale = holder ? ownerDead(holder) || age > staleMs : age > 5_000; // empty: holder still writing it
    if (stale) {
      trace.log(`store: breaking stale lock ${lockPath} (pid ${holder?.pid ?? '?'}, age ${Math.round(age)} ms)`);
      await breakStale(lockPath, text);
      continue;
    }
    if (Date.now() >= deadline) {
      throw new DheError('IO', `${opts.what ?? 'the store'} is locked by another dhe-cli process (pid ${holder?.pid ?? 'unknown'})`, {
        hint: `wait for it to finish; if no dhe-cli is running, delete ${lockPath}`,
        details: { lockPath, pid: holder?.pid },
      });
    }
    if (!waitedLogged) {
      trace.log(`store: waiting for lock ${lockPath} held by pid ${holder?.pid ?? '?'}`);
      waitedLogged = true;
    }
    if (opts.signal?.aborted) throw new DheError('INTERRUPTED', 'interrupted');
    await sleep(delay + Math.random() * delay);
    delay = Math.min(delay * 2, 100);
  }
}

/** Moves a stale lock aside; if what was moved is no longer the stale one (a race), puts it back. */
async function breakStale(lockPath: string, staleText: string): Promise<void> {
  const aside = `${lockPath}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    await fsp.rename(lockPath, aside);
  } catch {
    return; // gone already
  }
  try {
    const moved = await fsp.readFile(aside, 'utf8');
    if (moved !== staleText) {
      // We took a live lock someone acquired a moment ago: give it back (fails only if yet another took its place).
      await fsp.link(aside, lockPath).catch(() => {});
    }
  } finally {
    await fsp.unlink(aside).catch(() => {});
  }
}
