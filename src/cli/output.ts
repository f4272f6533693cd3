// Terminal output: the only place that writes to stdout/stderr. Library code emits events; this renders them.

import type { Settings } from '../config.js';
import { DheError, ExitCode, isDheError, type ExitCodeValue } from '../errors.js';
import { redactText } from '../trace.js';

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

export class Output {
  readonly stdout: Writer;
  readonly stderr: Writer;
  paint: Paint = plainPaint;
  quiet = false;
  debug = false;
  /** Live progress (spinners, redrawn lines) allowed: a TTY on stderr, no CI, not quiet. */
  interactive = false;

  constructor(stdout: Writer = process.stdout, stderr: Writer = process.stderr) {
    this.stdout = stdout;
    this.stderr = stderr;
  }

  async configure(settings: Settings): Promise<void> {
    this.quiet = settings.quiet;
    this.debug = settings.debug;
    this.interactive = settings.interactive && !settings.quiet;
    if (settings.color) {
      const { Chalk } = await import('chalk');
      const c = new Chalk({ level: 1 });
      this.paint = { red: c.red, green: c.green, yellow: c.yellow, dim: c.dim, bold: c.bold, cyan: c.cyan };
    }
  }

  /** A result line on stdout (always printed, also with --quiet). */
  result(line: string): void {
    this.stdout.write(line + '\n');
  }

  /** A progress/status line on stdout (suppressed by --quiet), as docker prints pull/push status on stdout. */
  info(line: string): void {
    if (!this.quiet) this.stdout.write(line + '\n');
  }

  /** A warning on stderr. */
  warn(line: string): void {
    this.stderr.write(this.paint.yellow('WARNING: ') + line + '\n');
  }

  json(value: unknown): void {
    this.stdout.write(JSON.stringify(value, null, 2) + '\n');
  }

  /** Prints an error as `Error: …` and `Hint: …` on stderr and returns the exit code. */
  error(e: unknown): ExitCodeValue {
    const err = toDheError(e);
    this.stderr.write(this.paint.red('Error: ') + redactText(oneLine(err.message)) + '\n');
    if (err.hint) this.stderr.write(this.paint.dim('Hint: ') + redactText(oneLine(err.hint)) + '\n');
    const host = err.details?.host ?? err.details?.registry;
    if ((err.exitCode === 3 || err.exitCode === 4 || err.exitCode === 6) && typeof host === 'string' && host) {
      this.stderr.write(`Run 'dhe-cli doctor ${host === 'registry-1.docker.io' ? 'docker.io' : host}' for a full diagnosis.\n`);
    }
    if (this.debug) {
      const stack = (e instanceof Error ? e.stack : undefined) ?? String(e);
      this.stderr.write(redactText(stack) + '\n');
      let cause = e instanceof Error ? e.cause : undefined;
      while (cause instanceof Error) {
        this.stderr.write('Caused by: ' + redactText(cause.stack ?? cause.message) + '\n');
        cause = cause.cause;
      }
    }
    return err.exitCode;
  }
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

/** Anything thrown becomes a DheError: usage errors from commander, filesystem errors, bugs. */
export function toDheError(e: unknown): DheError {
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
