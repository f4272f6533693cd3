import { isDheError } from '../../errors.js';
import { normalizeRegistry } from '../../reference/index.js';
import { defineCommand } from '../define.js';
import { clientFor } from '../session.js';

export default defineCommand({
  meta: {
    name: 'catalog',
    description: 'list the repositories of a registry',
    examples: ['dhe-cli catalog dhe.yourdomain.com'],
  },
  args: { registry: { required: true, description: 'REGISTRYHOST[:PORT]' } },
  options: { format: { type: 'string', choices: ['table', 'json'], default: 'table', description: 'output format' } },
  async run(ctx, { registry: registryText, ...opts }) {
    const registry = normalizeRegistry(registryText.replace(/^https?:\/\//, '').replace(/\/+$/, ''));
    const client = await clientFor(ctx, registry);
    try {
      let repositories: string[];
      try {
        repositories = await client.catalog();
      } catch (e) {
        if (isDheError(e) && (e.code === 'INSUFFICIENT_SCOPE' || e.code === 'DENIED')) {
          throw e.withHint(
            `listing the catalog needs the registry:catalog:* permission, which most registries give only to administrators; log in as one (dhe-cli login ${registry}), or list a repository's tags with 'dhe-cli tags ${registry}/REPO'`,
          );
        }
        throw e;
      }
      if (opts.format === 'json') ctx.out.json({ registry, repositories });
      else for (const r of repositories) ctx.out.result(r);
      return 0;
    } finally {
      await client.close();
    }
  },
});
