import { CREATED_ANNOTATION, referrersIndex } from '../../oci/artifact.js';
import { parseReference } from '../../reference/index.js';
import { defineCommand } from '../define.js';
import { clientFor } from '../session.js';

export default defineCommand({
  meta: {
    name: 'referrers',
    description: 'list the artifacts that refer to an image (OCI 1.1 referrers, or the sha256-<hex> tag)',
    examples: ['dhe-cli referrers dhe.yourdomain.com/team/app:1.0'],
  },
  args: { ref: { required: true, description: 'image reference' } },
  options: {
    artifactType: { type: 'string', value: 'type', description: 'only artifacts of this type' },
    format: { type: 'string', choices: ['table', 'json'], default: 'table', description: 'output format' },
  },
  async run(ctx, { ref: refText, ...opts }) {
    const { listReferrers, resolveDescriptor } = await import('../../image/referrers.js');
    const ref = parseReference(refText);
    const client = await clientFor(ctx, ref.registry);
    try {
      const subject = await resolveDescriptor(client, ref.repository, ref.identifier, ctx.signal);
      const list = await listReferrers(client, ref.repository, subject.desc.digest, { ...(opts.artifactType ? { artifactType: opts.artifactType } : {}), signal: ctx.signal });
      if (opts.format === 'json') {
        ctx.out.json(referrersIndex(list.manifests));
        return 0;
      }
      const rows = list.manifests.map((d) => [d.digest, d.artifactType ?? '', String(d.size), d.annotations?.[CREATED_ANNOTATION] ?? '']);
      const head = ['DIGEST', 'ARTIFACT TYPE', 'SIZE', 'CREATED'];
      const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
      const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
      ctx.out.result(line(head));
      for (const r of rows) ctx.out.result(line(r));
      return 0;
    } finally {
      await client.close();
    }
  },
});
