import { parseReference } from '../../reference/index.js';
import { defineCommand } from '../define.js';
import { findLocalImage } from '../local-image.js';
import { checkTemplate, formatDocument, isTemplate } from '../format.js';
import { clientFor, openStore } from '../session.js';

export default defineCommand({
  meta: {
    name: 'inspect',
    description: 'show manifest, config and digest of a local or remote image',
    examples: ['dhe-cli inspect localhost:5000/app:1.0', 'dhe-cli inspect --remote dhe.yourdomain.com/team/app:1.0'],
  },
  args: { ref: { required: true, description: 'image reference' } },
  options: {
    remote: { type: 'boolean', description: 'read from the registry instead of the local store' },
    format: { type: 'string', default: 'json', description: "json, or a Go template over the JSON document ('{{.digest}}', '{{json .config.config.Env}}')" },
  },
  async run(ctx, { ref: refText, ...opts }) {
    const template = isTemplate(opts.format, ['json']) ? checkTemplate(opts.format) : undefined;
    const print = (doc: Record<string, unknown>) => (template ? ctx.out.result(formatDocument(template, doc).replace(/\n$/, '')) : ctx.out.json(doc));
    if (opts.remote) {
      const { RemoteSource } = await import('../../image/remote.js');
      const { parseDoc, walkImage } = await import('../../image/walk.js');
      const { readConfig } = await import('../../image/config.js');
      const { registryChooser } = await import('../../transfer/pull.js');
      const ref = parseReference(refText);
      const client = await clientFor(ctx, ref.registry);
      try {
        const source = new RemoteSource(client, ref.repository, ref.identifier);
        const root = await source.root();
        // the one platform policy: the child that best fits --platform (default the host's), as pull picks it
        const graph = await walkImage(source, parseDoc(root), { choose: registryChooser(ctx.settings.platform ? { platform: ctx.settings.platform } : {}) });
        const top = graph.top;
        const result: Record<string, unknown> = { reference: ref.toString(), digest: top.desc.digest, mediaType: top.parsed.mediaType };
        const image = graph.images[0];
        if (top.parsed.kind === 'index') {
          result.index = JSON.parse(root.bytes.toString('utf8'));
          if (image) result.platformDigest = image.desc.digest;
        }
        if (image) {
          result.manifest = image.manifest;
          result.config = await readConfig(source, image.manifest.config);
        }
        print(result);
      } finally {
        await client.close();
      }
      return 0;
    }
    const { readLocalImage } = await import('../../image/local.js');
    const store = await openStore(ctx);
    const found = await findLocalImage(store, refText);
    const desc = found.descriptor;
    const local = await readLocalImage(store, desc, ctx.settings.platform);
    // By IMAGE ID, the image's own name (the first of its names, as `images` lists them), never the ID read as a name.
    const reference = found.ref?.toString() ?? found.names[0];
    const result: Record<string, unknown> = { reference, digest: desc.digest, mediaType: local.top.parsed.mediaType };
    if (!found.ref) result.names = found.names;
    if (local.top.parsed.kind === 'index') {
      result.index = local.top.parsed.index;
      if (local.image) result.platformDigest = local.image.desc.digest;
    }
    if (local.image) {
      result.manifest = local.image.manifest;
      const { readStoredConfig } = await import('../../image/config.js');
      result.config = await readStoredConfig(store, local.image.manifest.config);
    }
    print(result);
    return 0;
  },
});
