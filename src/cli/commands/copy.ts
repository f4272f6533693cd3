import { parseReference } from '../../reference/index.js';
import { copyImage } from '../../transfer/copy.js';
import type { CommandContext } from '../context.js';
import { createRenderer } from '../progress.js';
import { clientFor } from '../session.js';

export async function run(ctx: CommandContext, srcText: string, dstText: string, opts: { allPlatforms?: boolean }): Promise<number> {
  const src = parseReference(srcText);
  const dst = parseReference(dstText);
  const source = clientFor(ctx, src.registry);
  const destination = src.registry === dst.registry ? source : clientFor(ctx, dst.registry);
  const renderer = createRenderer(ctx.out);
  try {
    const r = await copyImage(src, dst, {
      source,
      destination,
      allPlatforms: !!opts.allPlatforms,
      platform: ctx.settings.platform,
      concurrency: ctx.settings.concurrency,
      onEvent: (e) => renderer.onEvent(e),
      signal: ctx.signal,
    });
    renderer.finish();
    ctx.out.result(`${dst.name}@${r.digest}`);
    return 0;
  } finally {
    renderer.finish();
    await source.close();
    if (destination !== source) await destination.close();
  }
}
