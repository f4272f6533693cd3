// Waiting for an event instead of sleeping a fixed time: on a loaded 2-core machine a sleep is either too short
// (the event has not happened yet, the test checks the wrong thing) or wastes time. `waitFor` polls a predicate
// and rejects, saying what it waited for, when it does not hold within `timeoutMs`.

export async function waitFor<T>(
  predicate: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  what: string,
  timeoutMs = 15_000,
  everyMs = 20,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await predicate();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Best (smallest) of `runs` timings of `fn`, in ms: a bound on how fast something is, robust to a busy machine. */
export function fastestOf(runs: number, fn: () => void): number {
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    fn();
    best = Math.min(best, performance.now() - t);
  }
  return best;
}
