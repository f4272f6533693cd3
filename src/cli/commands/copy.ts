import { parseReference } from '../../reference/index.js';
import { defineCommand } from '../define.js';
import { createRenderer } from '../progress.js';
import { clientFor, transferSettings } from '../session.js';

export default defineCommand({
  meta: {
    name: 'copy',
    description: 'copy an image from one registry to another, streaming, without the local store',
    examples: ['dhe-cli copy docker.io/library/alpine:3.20 dhe.yourdomain.com/mirror/alpine:3.20', 'dhe-cli copy --referrers --all-platforms dhe.yourdomain.com/ci/app:1 dhe.yourdomain.com/prod/app:1'],
  },
  args: {
    src: { required: true, description: 'source reference' },
    dst: { required: true, description: 'destination reference' },
  },
  options: {
    allPlatforms: { type: 'boolean', description: 'copy every platform of a multi-platform image' },
    referrers: { type: 'boolean', description: "also copy what refers to the image (OCI 1.1 referrers: SBOMs, signatures…) and cosign's sha256-<hex>.sig/.att/.sbom tags" },
  },
  async run(ctx, { src: srcText, dst: dstText, ...opts }) {
    const { copyImage } = await import('../../transfer/copy.js');
    const src = parseReference(srcText);
    const dst = parseReference(dstText);
    const source = await clientFor(ctx, src.registry);
    const destination = src.registry === dst.registry ? source : await clientFor(ctx, dst.registry);
    const renderer = createRenderer(ctx.out);
    try {
      const r = await copyImage(src, dst, {
        source,
        destination,
        allPlatforms: !!opts.allPlatforms,
        referrers: !!opts.referrers,
        ...transferSettings(ctx, renderer),
      });
      renderer.finish();
      ctx.out.result(`${dst.name}@${r.digest}`);
      return 0;
    } finally {
      renderer.finish();
      await source.close();
      if (destination !== source) await destination.close();
    }
  },
});
