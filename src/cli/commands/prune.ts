import type { CommandContext } from '../context.js';
import { humanBytes } from '../progress.js';
import { openStore } from '../session.js';

export async function run(ctx: CommandContext): Promise<number> {
  const store = await openStore(ctx);
  const r = await store.prune();
  ctx.out.result(`Deleted ${r.removedBlobs} blob${r.removedBlobs === 1 ? '' : 's'}`);
  ctx.out.result(`Total reclaimed space: ${humanBytes(r.freedBytes)}`);
  return 0;
}
