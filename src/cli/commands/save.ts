import { resolve } from 'node:path';
import { saveArchive } from '../../archive/index.js';
import { parsePlatform } from '../../oci/index.js';
import type { CommandContext } from '../context.js';
import { findLocalImage } from '../local-image.js';
import { humanBytes } from '../progress.js';
import { openStore } from '../session.js';

export async function run(ctx: CommandContext, refs: string[], opts: { output: string; format?: 'docker' | 'oci' }): Promise<number> {
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
}
