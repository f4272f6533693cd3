import { resolve } from 'node:path';
import { loadArchive } from '../../archive/index.js';
import { parseReference } from '../../reference/index.js';
import type { CommandContext } from '../context.js';
import { openStore } from '../session.js';

export async function run(ctx: CommandContext, opts: { input?: string; name?: string }): Promise<number> {
  const store = await openStore(ctx);
  const input = opts.input && opts.input !== '-' ? resolve(opts.input) : process.stdin;
  const r = await loadArchive(store, input, {
    name: opts.name ? parseReference(opts.name).toString() : undefined,
    signal: ctx.signal,
    trace: ctx.trace,
  });
  for (const img of r.images) {
    if (img.names.length === 0) {
      ctx.out.result(`Loaded image ID: ${img.configDigest ?? img.descriptor.digest}`);
      continue;
    }
    for (const n of img.names) ctx.out.result(`Loaded image: ${parseReference(n).familiar}`);
  }
  return 0;
}
