import type { Reference } from '../../reference/index.js';
import type { RegistryClient } from '../../registry/index.js';
import { parseReference } from '../../reference/index.js';
import type { CommandContext } from '../context.js';
import { defineCommand } from '../define.js';
import { explainMissingManifest } from '../missing-image.js';
import { createRenderer } from '../progress.js';
import { clientFor, openStore, transferSettings } from '../session.js';

export default defineCommand({
  meta: {
    name: 'pull',
    description: 'download an image into the local store',
    examples: [
      'dhe-cli pull dhe.yourdomain.com/yourusername/hello-mine',
      'dhe-cli pull --platform linux/arm64 localhost:5000/app:1.0',
      'dhe-cli pull localhost:5000/app@sha256:…',
    ],
  },
  args: { ref: { required: true, description: '[REGISTRYHOST/][USERNAME/]NAME[:TAG|@DIGEST]' } },
  options: {
    allPlatforms: { type: 'boolean', description: 'download every platform of a multi-platform image' },
    verifyKey: { type: 'repeatable', value: 'file', description: 'pull only if the manifest digest is signed with this public key (repeatable; env DHE_VERIFY_KEY)' },
  },
  async run(ctx, { ref: refText, ...opts }) {
    const { pullImage } = await import('../../transfer/pull.js');
    // NAME:TAG@DIGEST is pinned by its digest and the tag ignored, as docker does: one name, NAME@DIGEST
    const given = parseReference(refText);
    const ref = given.digest && given.tag ? parseReference(`${given.name}@${given.digest}`) : given;
    const store = await openStore(ctx);
    const client = await clientFor(ctx, ref.registry);
    const renderer = createRenderer(ctx.out);
    try {
      const verified = await verifyFirst(ctx, client, ref, [...(opts.verifyKey ?? []), ...verifyKeysFromEnv(ctx.settings.env)]);
      const result = await pullImage(ref, {
        store,
        client,
        allPlatforms: !!opts.allPlatforms,
        ...(verified ? { pinDigest: verified } : {}),
        ...transferSettings(ctx, renderer),
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
  },
});

/** DHE_VERIFY_KEY: public key files, comma-separated. */
function verifyKeysFromEnv(env: NodeJS.ProcessEnv): string[] {
  return (env.DHE_VERIFY_KEY ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/** With keys: REF's digest (an index's own) must be signed by one of them before anything is downloaded (exit 8); returns that digest. */
async function verifyFirst(ctx: CommandContext, client: RegistryClient, ref: Reference, keyFiles: string[]): Promise<string | undefined> {
  if (keyFiles.length === 0) return undefined;
  const { loadPublicKey } = await import('../../sign/keys.js');
  const { verifyImage } = await import('../../sign/verify.js');
  const keys = await Promise.all(keyFiles.map((f) => loadPublicKey(f)));
  const r = await verifyImage(ref, { client, keys, signal: ctx.signal });
  ctx.out.info(`Verified: ${ref.toString()}@${r.digest} (${r.verified} of ${r.total} signature${r.total === 1 ? '' : 's'})`);
  return r.digest; // the pull fetches this digest: a tag moved since cannot slip in an unverified manifest
}
