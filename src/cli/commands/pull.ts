import { parseReference } from '../../reference/index.js';
import { pullImage } from '../../transfer/pull.js';
import type { CommandContext } from '../context.js';
import { explainMissingManifest } from '../missing-image.js';
import { createRenderer } from '../progress.js';
import { clientFor, openStore } from '../session.js';

export async function run(ctx: CommandContext, refText: string, opts: { allPlatforms?: boolean }): Promise<number> {
  // NAME:TAG@DIGEST is pinned by its digest and the tag ignored, as docker does: one name, NAME@DIGEST
  const given = parseReference(refText);
  const ref = given.digest && given.tag ? parseReference(`${given.name}@${given.digest}`) : given;
  const store = await openStore(ctx);
  const client = clientFor(ctx, ref.registry);
  const renderer = createRenderer(ctx.out);
  try {
    const result = await pullImage(ref, {
      store,
      client,
      platform: ctx.settings.platform,
      allPlatforms: !!opts.allPlatforms,
      concurrency: ctx.settings.concurrency,
      onEvent: (e) => renderer.onEvent(e),
      signal: ctx.signal,
    });
    renderer.finish();
    if (result.platformMismatch) {
      const { image, requested } = result.platformMismatch;
      // docker's words for the same case; the image is kept (it has no index to choose another platform from)
      ctx.out.warn(`The requested image's platform (${image}) does not match the requested platform (${requested}); ${ref.familiar} is a single-platform image, not a multi-platform index`);
    }
    ctx.out.info(`Digest: ${result.digest}`);
    ctx.out.info(
      result.upToDate
        ? `Status: Image is up to date for ${ref.familiar}`
        : `Status: Downloaded newer image for ${ref.familiar}`,
    );
    ctx.out.result(result.reference);
    return 0;
  } catch (e) {
    throw await explainMissingManifest(client, ref, e);
  } finally {
    renderer.finish();
    await client.close();
  }
}
