import { resolve } from 'node:path';
import { parsePlatform } from '../../oci/index.js';
import { defineCommand } from '../define.js';
import { findLocalImage } from '../local-image.js';
import { humanBytes } from '../progress.js';
import { openStore } from '../session.js';

export default defineCommand({
  meta: {
    name: 'save',
    description: 'write images to a tar archive that docker load understands, or an OCI layout',
    examples: ['dhe-cli save localhost:5000/app:1.0 -o app.tar', 'dhe-cli save --format oci app:1.0 -o app-oci.tar'],
  },
  args: { refs: { required: true, variadic: true, description: 'image names' } },
  options: {
    output: { type: 'string', short: 'o', value: 'file', required: true, description: 'archive to write ("-" for stdout)' },
    format: { type: 'string', choices: ['docker', 'oci'], default: 'docker', description: 'archive format' },
  },
  async run(ctx, { refs, ...opts }) {
    const { saveArchive } = await import('../../archive/index.js');
    const store = await openStore(ctx);
    const names: string[] = [];
    for (const text of refs) names.push((await findLocalImage(store, text)).names[0]!);
    const toStdout = opts.output === '-';
    const r = await saveArchive(store, names, toStdout ? process.stdout : resolve(opts.output), {
      format: opts.format ?? 'docker',
      platform: ctx.settings.platform ? parsePlatform(ctx.settings.platform) : undefined,
      end: !toStdout,
      signal: ctx.signal,
      trace: ctx.trace,
    });
    if (!toStdout) {
      ctx.out.info(`Saved ${r.images.length} image${r.images.length === 1 ? '' : 's'} (${humanBytes(r.bytes)}) to ${opts.output}`);
    }
    return 0;
  },
});
