import { parseReference } from '../../reference/index.js';
import { defineCommand } from '../define.js';
import { clientFor } from '../session.js';

export default defineCommand({
  meta: {
    name: 'inspect',
    description: 'the manifest or index as the registry serves it',
    examples: ['dhe-cli manifest inspect dhe.yourdomain.com/team/app:1.0', 'dhe-cli manifest inspect --raw dhe.yourdomain.com/team/app:1.0 | sha256sum'],
  },
  args: { ref: { required: true, description: 'image reference' } },
  options: { raw: { type: 'boolean', description: 'the bytes as served (into a pipe or file: byte for byte)' } },
  async run(ctx, { ref: refText, ...opts }) {
    const { resolveDescriptor } = await import('../../image/referrers.js');
    const ref = parseReference(refText);
    const client = await clientFor(ctx, ref.registry);
    try {
      const doc = await resolveDescriptor(client, ref.repository, ref.identifier, ctx.signal);
      if (opts.raw) ctx.out.document(doc.bytes);
      else ctx.out.json(JSON.parse(doc.bytes.toString('utf8')));
      return 0;
    } finally {
      await client.close();
    }
  },
});
