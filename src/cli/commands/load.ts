import { resolve } from 'node:path';
import { parseReference } from '../../reference/index.js';
import { defineCommand } from '../define.js';
import { openStore } from '../session.js';

export default defineCommand({
  meta: {
    name: 'load',
    description: 'read images from a docker save / skopeo / OCI archive (gzip or not) into the local store',
    examples: ['dhe-cli load -i app.tar', 'docker save app:1.0 | dhe-cli load'],
  },
  options: {
    input: { type: 'string', short: 'i', value: 'file', description: 'archive to read (default stdin)' },
    name: { type: 'string', value: 'ref', description: 'name for the image when the archive names none (e.g. an OCI layout without ref names)' },
  },
  async run(ctx, opts) {
    const { loadArchive } = await import('../../archive/index.js');
    const store = await openStore(ctx);
    const input = opts.input && opts.input !== '-' ? resolve(opts.input) : process.stdin;
    const r = await loadArchive(store, input, {
      name: opts.name ? parseReference(opts.name).toString() : undefined,
      signal: ctx.signal,
      trace: ctx.trace,
    });
    for (const img of r.images) {
      if (img.names.length === 0) {
        ctx.out.result(`Loaded image ID: ${img.configDigest ?? img.descriptor.digest}`);
        continue;
      }
      for (const n of img.names) ctx.out.result(`Loaded image: ${parseReference(n).familiar}`);
    }
    return 0;
  },
});
