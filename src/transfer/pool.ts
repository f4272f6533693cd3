// Runs async jobs with at most `limit` at once. The first failure aborts the others (through `signal`) and is
// thrown once all started jobs have settled, so nothing is left running behind the caller's back.

import { setMaxListeners } from 'node:events';

export async function runPool<T>(
  items: readonly T[],
  limit: number,
  job: (item: T, signal: AbortSignal) => Promise<void>,
  parent?: AbortSignal,
): Promise<void> {
  const controller = new AbortController();
  // Every running job hangs a few abort listeners on this signal (its request, its file write): not a leak.
  setMaxListeners(Math.max(10, 4 * limit), controller.signal);
  const onAbort = () => controller.abort(parent?.reason);
  if (parent?.aborted) throw parent.reason;
  parent?.addEventListener('abort', onAbort, { once: true });
  let next = 0;
  let firstError: unknown;
  let failed = false;
  const worker = async () => {
    while (!controller.signal.aborted) {
      const i = next++;
      if (i >= items.length) return;
      try {
        await job(items[i] as T, controller.signal);
      } catch (e) {
        if (!failed) {
          failed = true;
          firstError = e;
        }
        controller.abort(e);
        return;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  } finally {
    parent?.removeEventListener('abort', onAbort);
  }
  if (failed) throw firstError;
  if (parent?.aborted) throw parent.reason;
}
