// What reaches the terminal. Our own colours must work while nobody else's ESC can pass, and by the time a line is
// written, painted words and registry text are one string. So our paint never puts a raw ESC into a string: it
// puts a marker holding a random per-process nonce (never printed, so no server can forge it), and the writer turns
// exactly those markers into SGR sequences; every other byte of the string goes through sanitize().

import { randomBytes } from 'node:crypto';
import { sanitize } from './sanitize.js';

const NONCE = randomBytes(12).toString('hex');
const OPEN = '\ufff9';
const CLOSE = '\ufffb';
const MARK = new RegExp(`${OPEN}${NONCE}([0-9;]{1,16})${CLOSE}`, 'g');
/** What chalk (or any ANSI painter) writes for a style: SGR only. */
const SGR = /\x1b\[([0-9;]{1,16})m/g;

function sgrMarker(codes: string): string {
  return `${OPEN}${NONCE}${codes}${CLOSE}`;
}

/** Applies `f` to the text between our markers, keeping the markers as they are. */
function mapText(s: string, f: (text: string) => string, mark: (codes: string) => string): string {
  let out = '';
  let last = 0;
  for (const m of s.matchAll(MARK)) {
    out += f(s.slice(last, m.index)) + mark(m[1]!);
    last = m.index + m[0].length;
  }
  return out + f(s.slice(last));
}

/**
 * Wraps an ANSI painter (a chalk style) so that it cannot carry anyone else's escape sequences: the text it is
 * given is sanitised first (our markers inside it kept), and the SGR sequences it adds become markers.
 */
export function ownStyle(paint: (s: string) => string): (s: string) => string {
  return (s: string) => paint(mapText(s, (t) => sanitize(t), sgrMarker)).replace(SGR, (_, codes: string) => sgrMarker(codes));
}

/** The terminal form of `s`: our style markers become SGR sequences (or nothing when `color` is off), the rest is sanitised. */
export function toTerminal(s: string, color = true): string {
  return mapText(s, (t) => sanitize(t), (codes) => (color ? `\x1b[${codes}m` : ''));
}

/** Our own cursor control for live progress: up `n` lines, then erase to the end of the screen. */
export function cursorUpAndClear(n: number): string {
  if (!Number.isSafeInteger(n) || n <= 0) return '';
  // \r first: the terminal's own echo of ^C (or anything typed) moved the cursor right, and the redraw must start at
  // column 1, not after the echo
  return `\r\x1b[${n}A\x1b[J`;
}

/** Back to column 1 and clear that line: a spinner redraws or removes itself with it. */
export const CLEAR_LINE = '\r\x1b[2K';
