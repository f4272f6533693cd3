// dhe-cli under a real pseudo-terminal (`script` from bsdutils): stdout and stderr are a TTY, so only CI / NO_COLOR
// can turn colour and live progress off. The environment is the hermetic one of every CLI run (cliEnv), with
// TERM=xterm and without NO_COLOR unless the test gives it; what the terminal got passes the secret guard.

import { spawn } from 'node:child_process';
import { BIN, cliEnv, guardOutput } from './cli.js';

export interface TerminalRun {
  code: number | null;
  /** What the terminal showed, the tty's \r\n made \n. */
  out: string;
}

export interface TerminalOptions {
  /** Environment for the CLI (over the hermetic base); undefined removes a variable, e.g. NO_COLOR. */
  env?: Record<string, string | undefined>;
  /** Terminal width (stty cols), default 120. */
  cols?: number;
  /** Answers typed when a text appears on the terminal (e.g. { 'Password: ': 'secret\r' }). */
  answers?: Record<string, string>;
  secrets?: string[];
  timeoutMs?: number;
}

/** Runs `dhe-cli ARGS` on a pseudo-terminal; resolves with its exit code and what the terminal showed. */
export function runInTerminal(args: string[], opts: TerminalOptions = {}): Promise<TerminalRun> {
  const env = cliEnv({ env: { TERM: 'xterm', ...withoutUndefined(opts.env ?? {}) } });
  if (!opts.env || !('NO_COLOR' in opts.env) || opts.env.NO_COLOR === undefined) delete env.NO_COLOR;
  for (const [k, v] of Object.entries(opts.env ?? {})) if (v === undefined) delete env[k];
  const cmd = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('script', ['-qfec', `stty cols ${opts.cols ?? 120}; ${cmd}`, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  const pending = new Map(Object.entries(opts.answers ?? {}));
  let out = '';
  return new Promise<TerminalRun>((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      for (const [prompt, answer] of pending) {
        if (out.includes(prompt)) {
          pending.delete(prompt);
          child.stdin.write(answer);
        }
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const shown = out.replace(/\r\n/g, '\n');
      guardOutput({ terminal: shown }, `dhe-cli ${args.join(' ')} (on a terminal)`, opts.secrets)
        .then(() => resolve({ code, out: shown }))
        .catch(reject);
    });
  });
}

function withoutUndefined(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}
