// A question on the terminal (stdin a TTY): the question and readline's echo of the answer go to stderr through the
// Output; Ctrl-C or the command's abort ends it with INTERRUPTED. login asks for the user and password here,
// `doctor --trust` for the [y/N] confirmation.

import { Writable } from 'node:stream';
import { createInterface } from 'node:readline';
import { DheError } from '../errors.js';
import type { Output } from './output.js';

/**
 * Asks on the terminal (stdin a TTY); the question and readline's echo go to stderr through the Output. With
 * hidden, nothing typed is echoed (the writes are dropped while the answer is typed).
 */
export function prompt(out: Output, question: string, hidden: boolean, signal: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    let muted = false;
    const output = new Writable({
      decodeStrings: false,
      write(chunk: string | Buffer, _enc, cb) {
        if (!muted) out.promptEcho(chunk);
        cb();
      },
    });
    const rl = createInterface({ input: process.stdin, output, terminal: true });
    const onAbort = () => {
      rl.close();
      reject(new DheError('INTERRUPTED', 'interrupted'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    rl.on('SIGINT', () => {
      out.promptEcho('\n');
      onAbort();
    });
    rl.question(question, (answer) => {
      signal.removeEventListener('abort', onAbort);
      if (hidden) out.promptEcho('\n');
      rl.close();
      resolve(answer);
    });
    muted = hidden;
  });
}
