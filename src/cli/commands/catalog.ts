import { normalizeRegistry } from '../../reference/index.js';
import type { CommandContext } from '../context.js';
import { clientFor } from '../session.js';

export async function run(ctx: CommandContext, registryText: string, opts: { format?: string }): Promise<number> {
  const registry = normalizeRegistry(registryText.replace(/^https?:\/\//, '').replace(/\/+$/, ''));
  const client = clientFor(ctx, registry);
  try {
    const repositories = await client.catalog();
    if (opts.format === 'json') ctx.out.json({ registry, repositories });
    else for (const r of repositories) ctx.out.result(r);
    return 0;
  } finally {
    await client.close();
  }
}
