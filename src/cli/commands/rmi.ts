import { DheError } from '../../errors.js';
import { parseReference } from '../../reference/index.js';
import type { CommandContext } from '../context.js';
import { openStore } from '../session.js';

export async function run(ctx: CommandContext, refs: string[]): Promise<number> {
  const store = await openStore(ctx);
  const missing: string[] = [];
  for (const text of refs) {
    const ref = parseReference(text);
    if (await store.removeName(ref.toString())) ctx.out.result(`Untagged: ${ref.familiar}`);
    else missing.push(ref.familiar);
  }
  if (missing.length > 0) {
    throw new DheError('IMAGE_NOT_LOCAL', `no such image in the local store: ${missing.join(', ')}`, {
      hint: "list the local images with 'dhe-cli images'",
    });
  }
  return 0;
}
