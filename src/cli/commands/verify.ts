import { parseReference } from '../../reference/index.js';
import { defineCommand } from '../define.js';
import { clientFor } from '../session.js';

export default defineCommand({
  meta: {
    name: 'verify',
    description: "check that an image's manifest digest is signed with a key (cosign's signatures); exit 8 if not",
    examples: ['dhe-cli verify dhe.yourdomain.com/team/app:1.0 --key cosign.pub'],
  },
  args: { ref: { required: true, description: 'the image to verify' } },
  options: {
    signingKey: { type: 'string', required: true, value: 'file', description: '(given as --key after the command) the public key (PEM, cosign.pub)' },
    format: { type: 'string', choices: ['text', 'json'], default: 'text', description: 'output format' },
  },
  async run(ctx, { ref: refText, ...opts }) {
    const { loadPublicKey } = await import('../../sign/keys.js');
    const { verifyImage } = await import('../../sign/verify.js');
    const ref = parseReference(refText);
    const key = await loadPublicKey(opts.signingKey);
    const client = await clientFor(ctx, ref.registry);
    try {
      const r = await verifyImage(ref, { client, keys: [key], signal: ctx.signal });
      if (opts.format === 'json') {
        ctx.out.json({ reference: ref.toString(), digest: r.digest, verified: r.verified, signatures: r.total, checks: r.checks });
        return 0;
      }
      ctx.out.result(`Verified: ${ref.toString()}@${r.digest} (${r.verified} of ${r.total} signature${r.total === 1 ? '' : 's'})`);
      return 0;
    } finally {
      await client.close();
    }
  },
});
