import { CONFIG_MAX_BYTES } from '../../oci/limits.js';
import { hostPlatform, parseConfig, parseManifest, parsePlatform, selectManifest } from '../../oci/index.js';
import { parseReference } from '../../reference/index.js';
import { defineCommand } from '../define.js';
import { findLocalImage } from '../local-image.js';
import { clientFor, openStore } from '../session.js';

const CAP = CONFIG_MAX_BYTES;

export default defineCommand({
  meta: {
    name: 'inspect',
    description: 'show manifest, config and digest of a local or remote image',
    examples: ['dhe-cli inspect localhost:5000/app:1.0', 'dhe-cli inspect --remote dhe.yourdomain.com/team/app:1.0'],
  },
  args: { ref: { required: true, description: 'image reference' } },
  options: {
    remote: { type: 'boolean', description: 'read from the registry instead of the local store' },
    format: { type: 'string', choices: ['json'], default: 'json', description: 'output format' },
  },
  async run(ctx, { ref: refText, ...opts }) {
    const { pickLocalPlatform, presentChildren } = await import('../../transfer/local.js');
    const { readStoredManifest } = await import('../../transfer/pull.js');
    if (opts.remote) {
      const ref = parseReference(refText);
      const want = ctx.settings.platform ? parsePlatform(ctx.settings.platform) : hostPlatform();
      const client = await clientFor(ctx, ref.registry);
      try {
        const top = await client.getManifest(ref.repository, ref.identifier);
        const parsed = parseManifest(top.bytes, top.mediaType);
        const result: Record<string, unknown> = { reference: ref.toString(), digest: top.digest, mediaType: parsed.mediaType };
        let manifestDoc = parsed;
        if (parsed.kind === 'index') {
          result.index = JSON.parse(top.bytes.toString('utf8'));
          const child = selectManifest(parsed.index, want);
          const got = await client.getManifest(ref.repository, child.digest);
          manifestDoc = parseManifest(got.bytes, got.mediaType);
          result.platformDigest = got.digest;
        }
        if (manifestDoc.kind === 'image') {
          result.manifest = manifestDoc.manifest;
          const cfgStream = await client.getBlob(ref.repository, manifestDoc.manifest.config, { verify: true });
          const chunks: Buffer[] = [];
          let n = 0;
          for await (const c of cfgStream) {
            n += (c as Buffer).length;
            if (n > CAP) throw new Error('config blob larger than 8 MiB');
            chunks.push(c as Buffer);
          }
          result.config = parseConfig(Buffer.concat(chunks));
        }
        ctx.out.json(result);
      } finally {
        await client.close();
      }
      return 0;
    }
    const store = await openStore(ctx);
    const found = await findLocalImage(store, refText);
    const desc = found.descriptor;
    const top = await readStoredManifest(store, desc);
    // By IMAGE ID, the image's own name (the first of its names, as `images` lists them), never the ID read as a name.
    const reference = found.ref?.toString() ?? found.names[0];
    const result: Record<string, unknown> = { reference, digest: desc.digest, mediaType: top.parsed.mediaType };
    if (!found.ref) result.names = found.names;
    let doc = top;
    if (top.parsed.kind === 'index') {
      result.index = top.parsed.index;
      const present = await presentChildren(store, top.parsed.index);
      const child = pickLocalPlatform(top.parsed.index, present, ctx.settings.platform, desc);
      if (child) {
        doc = await readStoredManifest(store, child);
        result.platformDigest = child.digest;
      }
    }
    if (doc.parsed.kind === 'image') {
      result.manifest = doc.parsed.manifest;
      result.config = parseConfig(await store.readBlob(doc.parsed.manifest.config.digest, CAP));
    }
    ctx.out.json(result);
    return 0;
  },
});
