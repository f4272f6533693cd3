import { parseReference } from '../../reference/index.js';
import { mutateImage } from '../../transfer/mutate.js';
import { parseCommandList } from '../command-list.js';
import type { CommandContext } from '../context.js';
import { openStore } from '../session.js';

interface MutateFlags {
  tag: string;
  env?: string[];
  label?: string[];
  entrypoint?: string;
  cmd?: string;
  workdir?: string;
  user?: string;
  expose?: string[];
}

export async function run(ctx: CommandContext, refText: string, opts: MutateFlags): Promise<number> {
  const source = parseReference(refText);
  const target = parseReference(opts.tag);
  const changes = {
    env: opts.env,
    labels: opts.label,
    entrypoint: opts.entrypoint !== undefined ? parseCommandList(opts.entrypoint, '--entrypoint') : undefined,
    cmd: opts.cmd !== undefined ? parseCommandList(opts.cmd) : undefined,
    workdir: opts.workdir,
    user: opts.user,
    expose: opts.expose,
  };
  const store = await openStore(ctx);
  const r = await mutateImage(store, source, target, changes, ctx.settings.platform);
  if (r.fromPlatform) ctx.out.info(`${source.familiar} is a multi-platform image: the new image is its ${r.fromPlatform} image only (choose another with --platform)`);
  ctx.out.info(`Image ID: ${r.configDigest}`);
  ctx.out.result(target.toString());
  return 0;
}
