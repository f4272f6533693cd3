import { parseReference } from '../../reference/index.js';
import { parseCompression } from '../../transfer/compress.js';
import { defineCommand } from '../define.js';
import { createRenderer } from '../progress.js';
import { clientFor, openStore, transferSettings } from '../session.js';

export default defineCommand({
  meta: {
    name: 'push',
    description: 'upload an image from the local store to its registry',
    examples: ['dhe-cli push dhe.yourdomain.com/yourusername/hello-mine:latest', 'dhe-cli -q push localhost:5000/app:1.0'],
  },
  args: { ref: { required: true, description: 'REGISTRYHOST/USERNAME/NAME[:TAG]' } },
  options: {
    compression: {
      type: 'string',
      value: 'gzip|none',
      default: 'gzip',
      description: 'layers stored uncompressed (from docker save archives) are gzip-compressed once before the push (default gzip); none pushes them as stored',
    },
  },
  async run(ctx, { ref: refText, ...opts }) {
    const { pushImage } = await import('../../transfer/push.js');
    const ref = parseReference(refText);
    const compression = parseCompression(opts.compression ?? 'gzip');
    const store = await openStore(ctx);
    const client = await clientFor(ctx, ref.registry);
    const renderer = createRenderer(ctx.out);
    try {
      const result = await pushImage(ref, {
        store,
        client,
        compression,
        ...transferSettings(ctx, renderer),
      });
      renderer.finish();
      if (ctx.out.quiet) ctx.out.result(`${ref.name}@${result.digest}`);
      return 0;
    } finally {
      renderer.finish();
      await client.close();
    }
  },
});
