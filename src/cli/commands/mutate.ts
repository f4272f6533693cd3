import { parseReference } from '../../reference/index.js';
import { parseCommandList } from '../command-list.js';
import { defineCommand } from '../define.js';
import { openStore } from '../session.js';

export default defineCommand({
  meta: {
    name: 'mutate',
    description: 'write a new image with changed config (env, labels, entrypoint, ...) into the local store',
    examples: ['dhe-cli mutate app:1.0 -t app:1.0-debug --env DEBUG=1 --label team=web'],
  },
  args: { ref: { required: true, description: 'image in the local store' } },
  options: {
    tag: { type: 'string', short: 't', value: 'new', required: true, description: 'name of the new image' },
    env: { type: 'repeatable', value: 'K=V', description: 'set an environment variable, repeatable' },
    label: { type: 'repeatable', value: 'K=V', description: 'set a label, repeatable' },
    entrypoint: { type: 'string', value: 'json|string', description: 'entrypoint (JSON array or a string split on spaces)' },
    cmd: { type: 'string', value: 'json|string', description: 'default command (JSON array or a string split on spaces)' },
    workdir: { type: 'string', value: 'dir', description: 'working directory' },
    user: { type: 'string', value: 'user', description: 'user' },
    expose: { type: 'repeatable', value: 'port[/proto]', description: 'exposed port, repeatable' },
  },
  async run(ctx, { ref: refText, ...opts }) {
    const { mutateImage } = await import('../../transfer/mutate.js');
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
  },
});
