// The password of a cosign key, as cosign finds it: COSIGN_PASSWORD when set (even empty), else a hidden prompt on
// a terminal, else a usage error (a script without the variable would hang on a prompt nobody sees).

import { DheError } from '../errors.js';
import type { CommandContext } from './context.js';
import { prompt } from './prompt.js';

export function keyPassword(ctx: CommandContext, confirm: boolean): () => Promise<string> {
  return async () => {
    const env = ctx.settings.env.COSIGN_PASSWORD;
    if (env !== undefined) return env;
    if (!process.stdin.isTTY) {
      throw new DheError('USAGE', 'the key needs a password and COSIGN_PASSWORD is not set', { hint: 'set COSIGN_PASSWORD (it may be empty), or run on a terminal to be asked' });
    }
    const pw = await prompt(ctx.out, 'Enter password for private key: ', true, ctx.signal);
    if (!confirm) return pw;
    const again = await prompt(ctx.out, 'Enter password for private key again: ', true, ctx.signal);
    if (again !== pw) throw new DheError('USAGE', 'the passwords do not match', { hint: 'run it again and type the same password twice' });
    return pw;
  };
}
