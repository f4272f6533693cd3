import { DheError } from '../../errors.js';
import { parseReference } from '../../reference/index.js';
import type { CommandContext } from '../context.js';
import { clientFor } from '../session.js';

export async function run(ctx: CommandContext, refText: string): Promise<number> {
  const ref = parseReference(refText);
  const client = clientFor(ctx, ref.registry);
  try {
    let digest = ref.digest;
    if (!digest) {
      const head = await client.headManifest(ref.repository, ref.identifier);
      if (!head) {
        throw new DheError('MANIFEST_UNKNOWN', `manifest unknown: ${ref.familiar} is not in the registry`, {
          hint: `list the tags with 'dhe-cli tags ${ref.name}'`,
        });
      }
      digest = head.digest;
    }
    // A registry deletes the manifest, so every tag pointing at it goes too: say which (bounded look-up).
    const others: string[] = [];
    try {
      const tags = await client.listTags(ref.repository);
      if (tags.length <= 50) {
        for (const t of tags) {
          if (t === ref.tag) continue;
          const h = await client.headManifest(ref.repository, t);
          if (h?.digest === digest) others.push(t);
        }
      }
    } catch {
      // listing is a courtesy: a registry that refuses it still deletes
    }
    if (others.length > 0) {
      ctx.out.warn(`${ref.name}@${digest} is also tagged ${others.join(', ')}: those tags are deleted with it`);
    }
    await client.deleteManifest(ref.repository, digest);
    for (const t of others) ctx.out.result(`Untagged: ${ref.name}:${t}`);
    ctx.out.result(`Deleted: ${ref.name}@${digest}`);
    return 0;
  } finally {
    await client.close();
  }
}
