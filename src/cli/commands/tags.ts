import { DheError } from '../../errors.js';
import { parseRepository } from '../../reference/index.js';
import { defineCommand } from '../define.js';
import { clientFor } from '../session.js';
import { checkTemplate, formatRows, isTemplate } from '../format.js';

export default defineCommand({
  meta: {
    name: 'tags',
    description: 'list the tags of a remote repository',
    examples: ['dhe-cli tags dhe.yourdomain.com/yourusername/hello-mine'],
  },
  args: { repo: { required: true, description: 'REGISTRYHOST/NAME' } },
  options: { format: { type: 'string', default: 'table', description: "table, json, or a Go template per tag ('{{.Repository}}:{{.Tag}}')" } },
  async run(ctx, { repo: repoText, ...opts }) {
    if (/^[^/]+:\d+$/.test(repoText) || /^[^/]*\.[^/]*$/.test(repoText) || repoText === 'localhost') {
      throw new DheError('USAGE', `"${repoText}" is a registry, not a repository`, {
        hint: `name the repository too, e.g. dhe-cli tags ${repoText}/team/app (dhe-cli catalog ${repoText} lists them)`,
      });
    }
    const template = isTemplate(opts.format) ? checkTemplate(opts.format) : undefined;
    const repo = parseRepository(repoText);
    const client = await clientFor(ctx, repo.registry);
    try {
      const tags = await client.listTags(repo.repository);
      if (template) {
        const text = formatRows(template, tags.map((Tag) => ({ Repository: repo.name, Tag })), { Repository: 'REPOSITORY', Tag: 'TAG' });
        if (text) ctx.out.result(text.replace(/\n$/, ''));
      } else if (opts.format === 'json') ctx.out.json({ name: repo.name, tags });
      else for (const t of tags) ctx.out.result(t);
      return 0;
    } finally {
      await client.close();
    }
  },
});
