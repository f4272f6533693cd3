import { parseReference } from '../../reference/index.js';
import { defineCommand } from '../define.js';
import { clientFor } from '../session.js';

export default defineCommand({
  meta: {
    name: 'fetch',
    description: "download an artifact's titled files into a folder, verified",
    examples: ['dhe-cli fetch dhe.yourdomain.com/team/app@sha256:… -o ./out'],
  },
  args: { ref: { required: true, description: 'the artifact (as referrers lists it)' } },
  options: { output: { type: 'string', short: 'o', required: true, value: 'dir', description: 'the folder the files go into' } },
  async run(ctx, { ref: refText, ...opts }) {
    const { fetchArtifact } = await import('../../transfer/fetch-artifact.js');
    const ref = parseReference(refText);
    const client = await clientFor(ctx, ref.registry);
    try {
      const r = await fetchArtifact(ref, { client, dir: opts.output, signal: ctx.signal });
      for (const f of r.files) ctx.out.result(f.path);
      if (r.untitled > 0) ctx.out.warn(`${r.untitled} layer(s) without a title (org.opencontainers.image.title) were not written`);
      return 0;
    } finally {
      await client.close();
    }
  },
});
