import { DheError } from '../../errors.js';
import { parseReference } from '../../reference/index.js';
import type { CommandContext } from '../context.js';
import { findLocalImage } from '../local-image.js';
import { openStore } from '../session.js';

export async function run(ctx: CommandContext, sourceText: string, targetText: string): Promise<number> {
  const target = parseReference(targetText);
  if (target.digest) {
    throw new DheError('USAGE', `refusing to create a tag with a digest reference: ${targetText}`, {
      hint: 'give the new name a tag (NAME:TAG), not @sha256:…',
    });
  }
  const store = await openStore(ctx);
  const source = await findLocalImage(store, sourceText);
  await store.setName(target.toString(), source.descriptor);
  return 0;
}
