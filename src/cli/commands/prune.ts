import { defineCommand } from '../define.js';
import { humanBytes } from '../progress.js';
import { openStore } from '../session.js';

export default defineCommand({
  meta: { name: 'prune', description: 'delete blobs that no image name needs', examples: ['dhe-cli prune'] },
  async run(ctx, _values) {
    const store = await openStore(ctx);
    const r = await store.prune();
    ctx.out.result(`Deleted ${r.removedBlobs} blob${r.removedBlobs === 1 ? '' : 's'}`);
    ctx.out.result(`Total reclaimed space: ${humanBytes(r.freedBytes)}`);
    return 0;
  },
});
