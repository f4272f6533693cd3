// digest: the manifest digest of REF on the registry, as `crane digest` prints it, for pinning
// (`docker pull img@$(dhe-cli digest img)`). One HEAD; with --platform (or DHE_PLATFORM) and an index, the index is
// read and the child the one platform policy picks is printed instead.

import { DheError } from '../../errors.js';
import { MediaType } from '../../oci/mediatypes.js';
import { parseReference } from '../../reference/index.js';
import { defineCommand } from '../define.js';
import { clientFor } from '../session.js';

export default defineCommand({
  meta: {
    name: 'digest',
    description: 'print the manifest digest of an image on the registry',
    examples: ['dhe-cli digest dhe.yourdomain.com/team/app:1.0', 'dhe-cli digest --platform linux/arm64 dhe.yourdomain.com/team/app:1.0'],
  },
  args: { ref: { required: true, description: 'REGISTRYHOST/NAME[:TAG|@DIGEST]' } },
  options: {},
  async run(ctx, { ref: refText }) {
    const ref = parseReference(refText);
    const client = await clientFor(ctx, ref.registry);
    try {
      const head = await client.headManifest(ref.repository, ref.identifier, { signal: ctx.signal });
      if (!head) {
        throw new DheError('MANIFEST_UNKNOWN', `manifest unknown: ${ref.familiar} is not in the registry`, {
          hint: `list the tags with 'dhe-cli tags ${ref.name}'`,
        });
      }
      const platform = ctx.settings.platform;
      if (!platform || !isIndexType(head.mediaType)) {
        ctx.out.result(head.digest);
        return 0;
      }
      const { parseManifest, parsePlatform, selectManifest } = await import('../../oci/index.js');
      const fetched = await client.getManifest(ref.repository, head.digest, { signal: ctx.signal });
      const parsed = parseManifest(fetched.bytes, fetched.mediaType);
      ctx.out.result(parsed.kind === 'index' ? selectManifest(parsed.index, parsePlatform(platform)).digest : fetched.digest);
      return 0;
    } finally {
      await client.close();
    }
  },
});

function isIndexType(mediaType: string): boolean {
  return mediaType === MediaType.ociIndex || mediaType === MediaType.dockerManifestList;
}
