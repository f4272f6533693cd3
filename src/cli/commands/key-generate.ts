import { DheError, fsError } from '../../errors.js';
import { defineCommand } from '../define.js';
import { keyPassword } from '../key-password.js';

export default defineCommand({
  meta: {
    name: 'generate',
    description: "make an ECDSA P-256 key pair: NAME.key (cosign's encrypted format, 0600) and NAME.pub",
    examples: ['COSIGN_PASSWORD=… dhe-cli key generate --output-key-prefix release'],
  },
  args: {},
  options: { outputKeyPrefix: { type: 'string', value: 'name', default: 'cosign', description: 'file name prefix (default cosign)' } },
  async run(ctx, opts) {
    const { promises: fsp } = await import('node:fs');
    const { generateCosignKeyPair } = await import('../../sign/keys.js');
    const name = opts.outputKeyPrefix ?? 'cosign';
    const keyPath = `${name}.key`;
    const pubPath = `${name}.pub`;
    for (const p of [keyPath, pubPath]) {
      if (await fsp.stat(p).then(() => true, () => false)) throw new DheError('USAGE', `${p} already exists`, { hint: 'remove it or choose another --output-key-prefix' });
    }
    const pair = await generateCosignKeyPair(await keyPassword(ctx, true)());
    try {
      await fsp.writeFile(keyPath, pair.privateKeyPem, { flag: 'wx', mode: 0o600 });
      await fsp.writeFile(pubPath, pair.publicKeyPem, { flag: 'wx', mode: 0o644 });
    } catch (e) {
      throw fsError(e, `writing ${keyPath}`);
    }
    ctx.out.info(`Private key written to ${keyPath}`);
    ctx.out.info(`Public key written to ${pubPath}`);
    return 0;
  },
});
