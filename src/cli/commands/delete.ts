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
    await client.deleteManifest(ref.repository, digest);
    ctx.out.result(`Deleted: ${ref.name}@${digest}`);
    return 0;
  } finally {
    await client.close();
  }
}
