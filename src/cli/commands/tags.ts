import { DheError } from '../../errors.js';
import { parseRepository } from '../../reference/index.js';
import type { CommandContext } from '../context.js';
import { clientFor } from '../session.js';

export async function run(ctx: CommandContext, repoText: string, opts: { format?: string }): Promise<number> {
  if (/^[^/]+:\d+$/.test(repoText) || /^[^/]*\.[^/]*$/.test(repoText) || repoText === 'localhost') {
    throw new DheError('USAGE', `"${repoText}" is a registry, not a repository`, {
      hint: `name the repository too, e.g. dhe-cli tags ${repoText}/team/app (dhe-cli catalog ${repoText} lists them)`,
    });
  }
  const repo = parseRepository(repoText);
  const client = clientFor(ctx, repo.registry);
  try {
    const tags = await client.listTags(repo.repository);
    if (opts.format === 'json') ctx.out.json({ name: repo.name, tags });
    else for (const t of tags) ctx.out.result(t);
    return 0;
  } finally {
    await client.close();
  }
}
