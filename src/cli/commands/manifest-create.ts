import { parseReference } from '../../reference/index.js';
import { defineCommand } from '../define.js';
import { createRenderer } from '../progress.js';
import { clientFor } from '../session.js';
import { parseAnnotations } from './attach.js';

export default defineCommand({
  meta: {
    name: 'create',
    description: 'a multi-platform index from images on the registry, without moving layers, pushed as TARGET',
    examples: [
      'dhe-cli manifest create dhe.yourdomain.com/team/app:1.0 dhe.yourdomain.com/team/app:1.0-amd64 dhe.yourdomain.com/team/app:1.0-arm64',
      'dhe-cli manifest create --format oci --annotation org.opencontainers.image.version=1.0 dhe.yourdomain.com/team/app:1.0 dhe.yourdomain.com/team/app:1.0-amd64',
    ],
  },
  args: {
    target: { required: true, description: 'the reference the index is pushed as' },
    sources: { required: true, variadic: true, description: 'images or indexes on the same registry (an index gives all its entries)' },
  },
  options: {
    annotation: { type: 'repeatable', value: 'k=v', description: 'an annotation on the index, repeatable (OCI index only)' },
    format: { type: 'string', choices: ['oci', 'docker'], description: 'OCI image index or docker manifest list (default: docker when every source is docker schema 2, else OCI)' },
  },
  async run(ctx, { target: targetText, sources: sourceTexts, ...opts }) {
    const { createIndex } = await import('../../transfer/manifest-create.js');
    const target = parseReference(targetText);
    const sources = sourceTexts.map((s) => parseReference(s));
    const annotations = parseAnnotations(opts.annotation ?? []);
    const client = await clientFor(ctx, target.registry);
    const renderer = createRenderer(ctx.out);
    try {
      const r = await createIndex(target, sources, {
        client,
        annotations,
        ...(opts.format ? { format: opts.format } : {}),
        concurrency: ctx.settings.concurrency,
        onEvent: (e) => renderer.onEvent(e),
        signal: ctx.signal,
      });
      renderer.finish();
      if (ctx.out.quiet) ctx.out.result(`${target.name}@${r.digest}`);
      return 0;
    } finally {
      renderer.finish();
      await client.close();
    }
  },
});
