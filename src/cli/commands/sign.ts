import { parseReference } from '../../reference/index.js';
import { defineCommand } from '../define.js';
import { clientFor } from '../session.js';
import { parseAnnotations } from './attach.js';
import { keyPassword } from '../key-password.js';

export default defineCommand({
  meta: {
    name: 'sign',
    description: "sign an image's manifest digest with a key, as cosign does (stored as sha256-<hex>.sig)",
    examples: ['COSIGN_PASSWORD=… dhe-cli sign dhe.yourdomain.com/team/app:1.0 --key cosign.key'],
  },
  args: { ref: { required: true, description: 'the image (pushed) to sign' } },
  options: {
    signingKey: { type: 'string', required: true, value: 'file', description: '(given as --key after the command) private key: PEM EC P-256 or cosign.key (password from COSIGN_PASSWORD)' },
    annotation: { type: 'repeatable', value: 'k=v', description: "added to the payload's optional claims, repeatable" },
  },
  async run(ctx, { ref: refText, ...opts }) {
    const { loadPrivateKey } = await import('../../sign/keys.js');
    const { signImage } = await import('../../sign/sign.js');
    const ref = parseReference(refText);
    const annotations = parseAnnotations(opts.annotation ?? []);
    const key = await loadPrivateKey(opts.signingKey, keyPassword(ctx, false));
    const client = await clientFor(ctx, ref.registry);
    try {
      const r = await signImage(ref, { client, key, annotations, signal: ctx.signal });
      ctx.out.info(`Pushing signature to: ${ref.registry}/${ref.repository}:${r.tag}`);
      ctx.out.result(`${ref.name}@${r.digest}`);
      return 0;
    } finally {
      await client.close();
    }
  },
});
