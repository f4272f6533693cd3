// What helpers leave behind for one test file (temporary homes, open clients) is undone after it: helpers register
// an undo with onFileEnd(), and the setup file (test/harness/log-on-failure.ts) runs them in an afterAll.

const undo: Array<() => void | Promise<void>> = [];

/** Runs `fn` after each test file (after the file's own afterAll hooks). */
export function onFileEnd(fn: () => void | Promise<void>): void {
  undo.push(fn);
}

/**
 * Runs everything registered with onFileEnd(), last first; the first error is thrown after all ran. They stay
 * registered (each undoes what its helper made since the last run), in case modules outlive a file (isolate: false).
 */
export async function runFileEnd(): Promise<void> {
  let first: unknown;
  for (const fn of [...undo].reverse()) {
    try {
      await fn();
    } catch (e) {
      first ??= e;
    }
  }
  if (first !== undefined) throw first;
}
