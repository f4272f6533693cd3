import { DheError, isDheError } from '../../errors.js';
import { parseReference } from '../../reference/index.js';
import { defineCommand } from '../define.js';
import { findLocalImage } from '../local-image.js';
import { openStore } from '../session.js';

export default defineCommand({
  meta: {
    name: 'rmi',
    description: 'remove image names from the local store (blobs are freed by prune)',
    examples: ['dhe-cli rmi localhost:5000/app:1.0'],
  },
  args: { refs: { required: true, variadic: true, description: 'image names' } },
  async run(ctx, { refs }) {
    const store = await openStore(ctx);
    const missing: string[] = [];
    for (const text of refs) {
      let found;
      try {
        found = await findLocalImage(store, text);
      } catch (e) {
        if (isDheError(e) && e.code === 'IMAGE_NOT_LOCAL') {
          missing.push(text);
          continue;
        }
        throw e;
      }
      let names = found.names;
      if (!found.ref && names.length > 1) {
        throw new DheError('FAILURE', `image ${text} is referenced by several names: ${names.join(', ')}`, {
          hint: 'remove the names one by one (dhe-cli rmi NAME)',
        });
      }
      const images = await store.listImages();
      if (found.ref?.digest && !images.some((i) => i.name === found.ref!.toString())) {
        // repo@sha256:… given, stored under repo:tag: untag that repository's names pointing at the digest
        const repo = found.ref.name;
        names = images
          .filter((i) => i.descriptor.digest === found.descriptor.digest && parseReference(i.name, { defaultTag: false }).name === repo)
          .map((i) => i.name);
      }
      for (const name of names) {
        if (await store.removeName(name)) ctx.out.result(`Untagged: ${parseReference(name, { defaultTag: false }).familiar}`);
      }
    }
    if (missing.length > 0) {
      throw new DheError('IMAGE_NOT_LOCAL', `no such image in the local store: ${missing.join(', ')}`, {
        hint: "list the local images with 'dhe-cli images'",
      });
    }
    return 0;
  },
});
