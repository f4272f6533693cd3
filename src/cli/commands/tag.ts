import { parseReference } from '../../reference/index.js';
import { notLocalError } from '../../transfer/push.js';
import type { CommandContext } from '../context.js';
import { openStore } from '../session.js';

export async function run(ctx: CommandContext, sourceText: string, targetText: string): Promise<number> {
  const source = parseReference(sourceText);
  const target = parseReference(targetText);
  const store = await openStore(ctx);
  const desc = await store.resolve(source.toString());
  if (!desc) throw notLocalError(source.familiar);
  await store.setName(target.toString(), desc);
  return 0;
}
