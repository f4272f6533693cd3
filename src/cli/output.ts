// Terminal output: the only place that writes to stdout/stderr. Library code emits events; this renders them.

import type { Settings } from '../config.js';
import { DheError, ExitCode, isDheError, type ExitCodeValue } from '../errors.js';
import { escapeJsonText, sanitizeLine } from '../text/sanitize.js';
import { CLEAR_LINE, cursorUpAndClear, ownStyle, toTerminal } from '../text/terminal.js';
import { redactProse, redactText } from '../trace.js';
import { doctorCommand, NO_SUGGESTION, type DoctorSuggestion } from './doctor-suggestion.js';

export interface Writer {
  write(s: string): unknown;
  isTTY?: boolean;
}

export interface Paint {
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
  cyan(s: string): string;
}

const plainPaint: Paint = {
  red: (s) => s,
  green: (s) => s,
  yellow: (s) => s,
  dim: (s) => s,
  bold: (s) => s,
  cyan: (s) => s,
};

/**
 * A stream that only ever writes terminal-safe text: every control character that is not our own style marker is
 * shown escaped (src/text/sanitize.ts). `isTTY` and `columns` are those of the stream it wraps.
 */
class TerminalWriter implements Writer {
  constructor(private readonly raw: Writer) {}
  get isTTY(): boolean | undefined {
    return this.raw.isTTY;
  }
  get columns(): number | undefined {
    return (this.raw as { columns?: number }).columns;
  }
  write(s: string): unknown {
    return this.raw.write(toTerminal(typeof s === 'string' ? s : String(s)));
  }
  /** Our own control sequence, written as is (only from the fixed set src/text/terminal.ts builds). */
  control(seq: string): void {
    if (seq) this.raw.write(seq);
  }
  /** A terminal prompt's own output (readline's echo of what the user types, its line editing), as it is. */
  echo(chunk: string | Uint8Array): void {
    this.raw.write(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
  }
}

export class Output {
  /** Sanitising writers: everything written here, by us or by commander, is terminal-safe. */
  readonly stdout: Writer;
  readonly stderr: Writer;
  paint: Paint = plainPaint;
  quiet = false;
  debug = false;
  /** Live progress (spinners, redrawn lines) allowed: a TTY on stderr, no CI, not quiet. */
  interactive = false;
  /** Colour allowed (a TTY, no NO_COLOR / --no-color, no CI). */
  colored = false;
  /** What the suggested doctor command repeats of the failing one (its trust options, its repository). */
  doctorSuggestion: DoctorSuggestion = NO_SUGGESTION;

  constructor(
    stdout: Writer = process.stdout,
    private readonly rawStderr: Writer = process.stderr,
  ) {
    const stderr = rawStderr;
    this.stdout = new TerminalWriter(stdout);
    this.stderr = new TerminalWriter(stderr);
  }

  /** Live progress: moves the cursor up `n` lines and clears from there (our own sequence, never outside text). */
  eraseLines(n: number): void {
    (this.stdout as TerminalWriter).control(cursorUpAndClear(n));
  }

  /** A spinner's line on stderr: the current line cleared, then `text` (sanitised); empty text only clears. */
  statusLine(text: string): void {
    (this.stderr as TerminalWriter).control(CLEAR_LINE);
    if (text) this.stderr.write(sanitizeLine(text));
  }

  /**
   * The stream a spinner (ora) draws on: the terminal's stderr itself (ora hooks that stream's writes while it spins,
   * so it must be the real one). Only our own text goes there: the frames and a literal status text.
   */
  spinnerStream(): NodeJS.WritableStream {
    return this.rawStderr as unknown as NodeJS.WritableStream;
  }

  /**
   * What an interactive prompt writes on stderr: the question, readline's echo of the typed answer and its line
   * editing. That is the user's own typing on their own terminal, so it is written as is (not escaped).
   */
  promptEcho(chunk: string | Uint8Array): void {
    (this.stderr as TerminalWriter).echo(chunk);
  }

  async configure(settings: Settings): Promise<void> {
    this.quiet = settings.quiet;
    this.debug = settings.debug;
    this.interactive = settings.interactive && !settings.quiet;
    this.colored = settings.color;
    if (settings.color) {
      const { Chalk } = await import('chalk');
      const c = new Chalk({ level: 1 });
      // Painted strings carry markers, not ESC: only TerminalWriter turns them into colour (src/text/terminal.ts).
      this.paint = {
        red: ownStyle(c.red),
        green: ownStyle(c.green),
        yellow: ownStyle(c.yellow),
        dim: ownStyle(c.dim),
        bold: ownStyle(c.bold),
        cyan: ownStyle(c.cyan),
      };
    }
  }

  /** A result line on stdout (always printed, also with --quiet). */
  result(line: string): void {
    this.stdout.write(line + '\n');
  }

  /**
   * A document as a server sent it (`manifest inspect --raw`): byte for byte into a pipe or file; on a terminal
   * through the sanitising writer like everything else.
   */
  document(bytes: Uint8Array): void {
    if (this.stdout.isTTY) this.stdout.write(Buffer.from(bytes).toString('utf8'));
    else (this.stdout as TerminalWriter).echo(bytes);
  }

  /** A progress/status line on stdout (suppressed by --quiet), as docker prints pull/push status on stdout. One line: a `\n` in it is shown escaped. */
  info(line: string): void {
    if (!this.quiet) this.stdout.write(sanitizeLine(line) + '\n');
  }

  /** A warning on stderr, on one line (a `\n` in it is shown escaped). */
  warn(line: string): void {
    this.stderr.write(this.paint.yellow('WARNING: ') + sanitizeLine(line) + '\n');
  }

  /** One JSON document; DEL, C1 and bidi controls inside strings are written as \uXXXX escapes (still the same JSON). */
  json(value: unknown): void {
    this.stdout.write(escapeJsonText(String(JSON.stringify(value, null, 2))) + '\n');
  }

  /** Prints an error as `Error: …` and `Hint: …` on stderr and returns the exit code. */
  error(e: unknown): ExitCodeValue {
    const err = toDheError(e);
    this.stderr.write(this.paint.red('Error: ') + redactProse(oneLine(err.message)) + '\n');
    if (err.hint) this.stderr.write(this.paint.dim('Hint: ') + redactProse(oneLine(err.hint)) + '\n');
    const host = err.details?.host ?? err.details?.registry;
    if ((err.exitCode === 3 || err.exitCode === 4 || err.exitCode === 6) && typeof host === 'string' && host) {
      this.stderr.write(`Run '${doctorCommand(host, this.doctorSuggestion)}' for a full diagnosis.\n`);
    }
    if (this.debug) {
      this.stderr.write(redactText(e instanceof Error ? stackText(e) : sanitizeLine(String(e))) + '\n');
      let cause = e instanceof Error ? e.cause : undefined;
      while (cause instanceof Error) {
        this.stderr.write('Caused by: ' + redactText(stackText(cause)) + '\n');
        cause = cause.cause;
      }
    }
    return err.exitCode;
  }
}

/**
 * A stack trace whose message (which may quote a registry) stays on its first line: a newline in the message is
 * shown escaped, so it cannot start a line of its own; the `at …` frames keep theirs.
 */
function stackText(e: Error): string {
  const stack = e.stack;
  if (!stack) return sanitizeLine(`${e.name}: ${e.message}`);
  const head = e.message ? `${e.name}: ${e.message}` : e.name;
  if (stack.startsWith(head)) return sanitizeLine(head) + stack.slice(head.length);
  // a message changed after the stack was taken: everything before the first frame is the head
  const lines = stack.split('\n');
  const k = lines.findIndex((l) => /^\s+at /.test(l));
  if (k <= 0) return sanitizeLine(stack);
  return [sanitizeLine(lines.slice(0, k).join('\n')), ...lines.slice(k)].join('\n');
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

/** Anything thrown becomes a DheError: usage errors from commander, filesystem errors, bugs. */
function toDheError(e: unknown): DheError {
  if (isDheError(e)) return e;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new DheError('DISK_FULL', 'no space left on device', {
      hint: 'free some disk space (dhe-cli prune removes unused blobs) or point --store at a larger disk',
      cause: e,
    });
  }
  if (code === 'EACCES' || code === 'EPERM') {
    const path = (e as NodeJS.ErrnoException).path;
    return new DheError('IO', `permission denied${path ? `: ${path}` : ''}`, {
      hint: 'check the folder permissions, or choose another folder with --store / --config',
      cause: e,
    });
  }
  if ((e as Error | undefined)?.name === 'AbortError') {
    return new DheError('INTERRUPTED', 'interrupted', { cause: e, exitCode: ExitCode.INTERRUPTED });
  }
  const msg = e instanceof Error ? e.message : String(e);
  return new DheError('FAILURE', msg || 'unexpected failure', {
    cause: e,
    hint: 'run again with --debug for details; if it persists, report it with that output',
  });
}
