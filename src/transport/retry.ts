// The one retry policy: how long to wait before another try (exponential, capped, with jitter; Retry-After when
// the server names a time) and which failures are worth another try. Every layer that tries again uses it: the
// transport (one HTTP exchange), a download resuming with Range, an upload starting again.

import { setTimeout as sleep } from 'node:timers/promises';
import { DheError, type ErrorCode } from '../errors.js';
import { isRetryableNetworkError } from './errors.js';

export interface RetryOptions {
  /** Tries of one HTTP exchange, the first included (default 5). */
  attempts?: number;
  /** The wait before the first retry, before jitter (default 250 ms); doubled for each one after. */
  baseDelayMs?: number;
  /** The longest wait (default 8 s). */
  maxDelayMs?: number;
  /** A Retry-After above this is not waited for: the failure is reported (default 60 s). */
  maxRetryAfterMs?: number;
}

export const DEFAULT_RETRY: Required<RetryOptions> = { attempts: 5, baseDelayMs: 250, maxDelayMs: 8000, maxRetryAfterMs: 60_000 };

/** Statuses one HTTP exchange is tried again for (idempotent requests only). */
export const RETRY_STATUSES = new Set([408, 429, 500, 502, 503, 504]);

/** Retry-After in seconds or as an HTTP date → ms (undefined when absent/invalid). */
export function parseRetryAfter(v: string | undefined, now = Date.now()): number | undefined {
  if (!v) return undefined;
  const t = v.trim();
  if (/^\d+$/.test(t)) return Number(t) * 1000;
  const d = Date.parse(t);
  if (Number.isNaN(d)) return undefined;
  return Math.max(0, d - now);
}

/**
 * The wait before retry number `attempt` (1, 2, …): base · 2^(attempt-1), capped at maxDelayMs, of which a random
 * half ("equal jitter"): between exp/2 and exp, so clients that failed together do not come back together.
 */
export function backoffDelay(attempt: number, r: Pick<Required<RetryOptions>, 'baseDelayMs' | 'maxDelayMs'> = DEFAULT_RETRY, random = Math.random): number {
  const exp = Math.min(r.maxDelayMs, r.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp / 2 + random() * (exp / 2));
}

/** Waits `ms`; a signal that aborts ends the wait early (the caller checks `signal.aborted`), never throws. */
export async function pause(ms: number, signal?: AbortSignal): Promise<void> {
  await sleep(ms, undefined, { signal }).catch(() => undefined);
}

/** Failures of the connection itself: the same request may well work a moment later. */
const CONNECTION_CODES: readonly ErrorCode[] = ['NETWORK', 'TIMEOUT'];
/** Failures of a whole operation (an upload) that a fresh start may get past: the registry's own trouble too. */
const OPERATION_CODES: readonly ErrorCode[] = [...CONNECTION_CODES, 'SERVER_ERROR', 'RATE_LIMITED'];
/** Statuses that, answered to a request of an operation, say "start again" (request timeout, range not satisfiable). */
const OPERATION_STATUSES = new Set([408, 416]);

/**
 * May the failed thing be tried again? `connection`: one request or a download (a broken or stalled connection);
 * `operation`: a whole upload (also a failing registry, a rate limit, a 408 / 416 answer). Classified by
 * DheError.code (never by exit code or message); anything else by the Node / undici error code.
 */
export function isRetryable(e: unknown, scope: 'connection' | 'operation' = 'connection'): boolean {
  if (!(e instanceof DheError)) return isRetryableNetworkError(e);
  if ((scope === 'operation' ? OPERATION_CODES : CONNECTION_CODES).includes(e.code)) return true;
  return scope === 'operation' && e.code === 'PROTOCOL' && OPERATION_STATUSES.has(e.details?.status as number);
}
