// A spinner where docker has none but a user waits (login's check, doctor's checks, store verify): ora, on stderr,
// only when live output is allowed (a TTY, no CI, not --quiet: Output.interactive) and the command prints no
// document (--format); never touching the cursor's visibility or stdin. Cleared when stopped, so the final line
// takes its place. ora is loaded only when a spinner can show (no cost for scripts and CI).

import type { Ora } from 'ora';
import type { Output } from './output.js';

export interface Spinner {
  /** Shows `text` with the spinner (again, after a stop). */
  start(text: string): void;
  /** Clears the spinner's line; what is printed next takes its place. */
  stop(): void;
}

const NONE: Spinner = { start: () => {}, stop: () => {} };

/** The spinner for `out`: ora (loaded here, only when it can show), or one that draws nothing. */
export async function spinner(out: Output, opts: { document?: boolean } = {}): Promise<Spinner> {
  if (!out.interactive || opts.document) return NONE;
  let ora: Ora;
  try {
    const { default: create } = await import('ora');
    ora = create({ stream: out.spinnerStream(), isEnabled: true, discardStdin: false, hideCursor: false, color: out.colored ? 'cyan' : false });
  } catch {
    return NONE; // no spinner is no failure
  }
  return { start: (text) => void ora.start(text), stop: () => void ora.stop() };
}
