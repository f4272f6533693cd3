import { resolve } from 'node:path';
import { parseReference } from '../../reference/index.js';
import { appendLayer } from '../../transfer/mutate.js';
import type { CommandContext } from '../context.js';
import { openStore } from '../session.js';

export async function run(ctx: CommandContext, refText: string, opts: { layer: string; tag: string }): Promise<number> {
  const source = parseReference(refText);
  const target = parseReference(opts.tag);
  const store = await openStore(ctx);
  const r = await appendLayer(store, source, target, resolve(opts.layer), ctx.settings.platform);
  if (r.fromPlatform) ctx.out.info(`${source.familiar} is a multi-platform image: the new image is its ${r.fromPlatform} image only (choose another with --platform)`);
  ctx.out.info(`Layer: ${r.layerDigest} (diff_id ${r.diffId}, ${r.layerSize} bytes)`);
  ctx.out.info(`Image ID: ${r.configDigest}`);
  ctx.out.result(target.toString());
  return 0;
}
