import { resolve } from 'node:path';
import { parseReference } from '../../reference/index.js';
import { defineCommand } from '../define.js';
import { openStore } from '../session.js';

export default defineCommand({
  meta: {
    name: 'append',
    description: 'add a layer from a tar file to an image in the local store',
    examples: ['dhe-cli append app:1.0 --layer config.tar -t app:1.0-custom'],
  },
  args: { ref: { required: true, description: 'image in the local store' } },
  options: {
    layer: { type: 'string', value: 'file', required: true, description: 'layer tar (.tar or .tar.gz)' },
    tag: { type: 'string', short: 't', value: 'new', required: true, description: 'name of the new image' },
  },
  async run(ctx, { ref: refText, ...opts }) {
    const { appendLayer } = await import('../../transfer/mutate.js');
    const source = parseReference(refText);
    const target = parseReference(opts.tag);
    const store = await openStore(ctx);
    const r = await appendLayer(store, source, target, resolve(opts.layer), ctx.settings.platform);
    if (r.fromPlatform) ctx.out.info(`${source.familiar} is a multi-platform image: the new image is its ${r.fromPlatform} image only (choose another with --platform)`);
    ctx.out.info(`Layer: ${r.layerDigest} (diff_id ${r.diffId}, ${r.layerSize} bytes)`);
    ctx.out.info(`Image ID: ${r.configDigest}`);
    ctx.out.result(target.toString());
    return 0;
  },
});
