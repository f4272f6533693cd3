import { DheError } from '../../errors.js';
import { parseReference } from '../../reference/index.js';
import { defineCommand } from '../define.js';
import { findLocalImage } from '../local-image.js';
import { openStore } from '../session.js';

export default defineCommand({
  meta: {
    name: 'tag',
    description: 'give an image in the local store another name (any registry, any repository)',
    examples: ['dhe-cli tag hello-world:latest dhe.yourdomain.com/yourusername/hello-mine:latest'],
  },
  args: {
    source: { required: true, description: 'an image in the local store' },
    target: { required: true, description: 'the new name, [REGISTRYHOST/][USERNAME/]NAME[:TAG]' },
  },
  async run(ctx, { source: sourceText, target: targetText }) {
    const target = parseReference(targetText);
    if (target.digest) {
      throw new DheError('USAGE', `refusing to create a tag with a digest reference: ${targetText}`, {
        hint: 'give the new name a tag (NAME:TAG), not @sha256:…',
      });
    }
    const store = await openStore(ctx);
    const source = await findLocalImage(store, sourceText);
    await store.setName(target.toString(), source.descriptor);
    return 0;
  },
});
