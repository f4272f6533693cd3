// `--cmd` / `--entrypoint` values, read as `docker commit --change` reads them: a JSON array of strings
// (`["sh","-c","echo hi"]`), or words split as a POSIX shell splits them, quotes and backslashes included
// (`sh -c "echo hi there"` → sh, -c, echo hi there). What cannot be parsed is a usage error, never a guess.

import { DheError } from '../errors.js';

const JSON_HINT = `write it as '["/bin/sh","-c","echo hi"]' (JSON, double quotes), or as shell words: sh -c "echo hi"`;

/** The argument list a `--cmd`/`--entrypoint` value stands for. */
export function parseCommandList(value: string, option = '--cmd'): string[] {
  const text = value.trim();
  return text.startsWith('[') ? jsonList(text, option) : shellWords(text, option);
}

function jsonList(text: string, option: string): string[] {
  try {
    const v = JSON.parse(text) as unknown;
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  } catch {
    // reported below
  }
  throw new DheError('USAGE', `${option} is not a JSON array of strings: ${text}`, { hint: JSON_HINT });
}

/** POSIX word splitting: '…' literal, "…" with \\ \" \$ \` escapes, a backslash outside quotes escapes one char. */
function shellWords(text: string, option = '--cmd'): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let i = 0;
  const add = (s: string) => (word = (word ?? '') + s);
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
      i++;
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw unterminated(option, "'", text);
      add(text.slice(i + 1, end));
      i = end + 1;
    } else if (c === '"') {
      i = doubleQuoted(text, i + 1, add, option);
    } else if (c === '\\') {
      if (i + 1 >= text.length) throw new DheError('USAGE', `${option} ends with a lone backslash: ${text}`, { hint: JSON_HINT });
      add(text[i + 1]!);
      i += 2;
    } else {
      add(c);
      i++;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

/** Reads a "…" section starting after its opening quote; returns the index after the closing quote. */
function doubleQuoted(text: string, start: number, add: (s: string) => void, option: string): number {
  let i = start;
  add('');
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') return i + 1;
    if (c === '\\' && i + 1 < text.length && '\\"$`'.includes(text[i + 1]!)) {
      add(text[i + 1]!);
      i += 2;
    } else {
      add(c);
      i++;
    }
  }
  throw unterminated(option, '"', text);
}

function unterminated(option: string, quote: string, text: string): DheError {
  return new DheError('USAGE', `${option} has an unterminated ${quote} quote: ${text}`, { hint: JSON_HINT });
}
