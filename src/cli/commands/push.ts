import { parseReference } from '../../reference/index.js';
import { parseCompression } from '../../transfer/compress.js';
import { pushImage } from '../../transfer/push.js';
import type { CommandContext } from '../context.js';
import { createRenderer } from '../progress.js';
import { clientFor, openStore } from '../session.js';

export async function run(ctx: CommandContext, refText: string, opts: { compression?: string } = {}): Promise<number> {
  const ref = parseReference(refText);
  const compression = parseCompression(opts.compression ?? 'gzip');
  const store = await openStore(ctx);
  const client = clientFor(ctx, ref.registry);
  const renderer = createRenderer(ctx.out);
  try {
    const result = await pushImage(ref, {
      store,
      client,
      platform: ctx.settings.platform,
      compression,
      concurrency: ctx.settings.concurrency,
      onEvent: (e) => renderer.onEvent(e),
      signal: ctx.signal,
    });
    renderer.finish();
    if (ctx.out.quiet) ctx.out.result(`${ref.name}@${result.digest}`);
    return 0;
  } finally {
    renderer.finish();
    await client.close();
  }
}
