// Terminal safety. Text that came from outside (a registry, a token server, an archive, a credential helper) may
// hold control characters that a terminal obeys: ESC sequences (window title, clear screen, colours, OSC 8 links,
// cursor moves), a carriage return that overwrites a line ("v1\rLogin Succeeded"), C1 controls (U+009B is a
// one-character CSI on many terminals), DEL, and Unicode bidi controls that reorder what is shown.
//
// Nothing of that is passed through or silently dropped: each such character is shown as a visible escape
// (`\x1b`, `\r`, `\x9b`, `\u202e`), so the user sees that something odd was there and what it was.
// src/cli/output.ts applies this to everything it writes; the --debug trace applies it to every line.

/** Every character a terminal may act on, plus bidi controls; `\n` and `\t` are in it (callers choose). */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** Same set without `\n` and `\t`, for a quick test. */
const UNSAFE_EXCEPT_NL_TAB = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

export interface SanitizeOptions {
  /** Keep `\n` as a line break (default true); false shows it as `\n`, for text that must stay on one line. */
  newline?: boolean;
  /** Keep `\t` (default true): a tab only moves the cursor right, it cannot hide or overwrite text. */
  tab?: boolean;
}

/** The visible form of one unsafe character: `\r`, `\n`, `\t`, `\xHH` (up to U+00FF) or `\uHHHH`. */
export function escapeChar(c: string): string {
  if (c === '\r') return '\\r';
  if (c === '\n') return '\\n';
  if (c === '\t') return '\\t';
  const cp = c.codePointAt(0) ?? 0;
  return cp <= 0xff ? `\\x${cp.toString(16).padStart(2, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`;
}

/** `text` with every control character (C0, ESC, DEL, C1) and bidi control shown as a visible escape. */
export function sanitize(text: string, opts: SanitizeOptions = {}): string {
  const keepNewline = opts.newline ?? true;
  const keepTab = opts.tab ?? true;
  return text.replace(UNSAFE, (c) => ((c === '\n' && keepNewline) || (c === '\t' && keepTab) ? c : escapeChar(c)));
}

/** `text` made safe and kept on one line (`\n` and `\r` escaped; tabs kept). */
export function sanitizeLine(text: string): string {
  return sanitize(text, { newline: false });
}

/** True when `text` holds nothing `sanitize` would change, apart from `\n` and `\t`. */
export function isTerminalSafe(text: string): boolean {
  return !UNSAFE_EXCEPT_NL_TAB.test(text);
}

/** Characters JSON.stringify leaves raw (DEL, C1, bidi controls, U+2028/U+2029); it escapes C0 itself. */
const JSON_RAW_UNSAFE = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * JSON text (from JSON.stringify) with the characters it leaves raw written as `\uXXXX` escapes: still valid JSON
 * that parses back to the same strings, and safe on a terminal. Outside strings JSON text is plain ASCII, so only
 * string contents change.
 */
export function escapeJsonText(json: string): string {
  return json.replace(JSON_RAW_UNSAFE, (c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`);
}
