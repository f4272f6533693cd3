// A spinner where docker has none but a user waits (login's check, doctor's checks, store verify): on stderr, only
// when live output is allowed (a TTY, no CI, not --quiet: Output.interactive) and the command prints no document
// (--format). It draws at once, turns every 80 ms, and clears its line when stopped, so the final line replaces it.

import type { Output } from './output.js';

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const INTERVAL_MS = 80;

export interface Spinner {
  /** Shows `text` with the spinner (again, after a stop). */
  start(text: string): void;
  /** Clears the spinner's line; what is printed next takes its place. */
  stop(): void;
}

const NONE: Spinner = { start: () => {}, stop: () => {} };

export function spinner(out: Output, opts: { document?: boolean } = {}): Spinner {
  if (!out.interactive || opts.document) return NONE;
  let timer: NodeJS.Timeout | undefined;
  let frame = 0;
  let text = '';
  const draw = () => out.statusLine(`${FRAMES[frame++ % FRAMES.length]} ${text}`);
  return {
    start(t: string) {
      text = t;
      draw();
      if (!timer) {
        timer = setInterval(draw, INTERVAL_MS);
        timer.unref();
      }
    },
    stop() {
      if (!timer) return;
      clearInterval(timer);
      timer = undefined;
      out.statusLine('');
    },
  };
}
