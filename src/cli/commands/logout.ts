// dhe-cli logout [SERVER]: forgets the credentials dhe-cli stored for SERVER (docker's own config is left alone).

import { eraseCredentials, registryHost, registryKey } from '../../auth/credentials/index.js';
import { warnIfShared } from '../../fs/private.js';
import { defineCommand } from '../define.js';

export default defineCommand({
  meta: {
    name: 'logout',
    description: 'forget the stored credentials for a registry',
    examples: ['dhe-cli logout dhe.yourdomain.com'],
  },
  args: { server: { description: 'registry host[:port] (default docker.io)' } },
  async run(ctx, { server }) {
    const { settings, out } = ctx;
    const registry = registryHost(server?.trim() || 'docker.io');
    const key = registryKey(registry);
    warnIfShared(settings.configDir, (l) => out.warn(l));
    const result = await eraseCredentials(registry, {
      configDir: settings.configDir,
      dockerConfigDir: settings.dockerConfigDir,
      env: settings.env,
      trace: ctx.trace,
    });
    if (result.erased.length === 0) {
      out.info(`Not logged in to ${key}`);
    } else {
      out.info(`Removing login credentials for ${key}`);
      ctx.trace.log(`logout: erased from ${result.erased.join(', ')}`);
    }
    if (result.stillFrom) {
      const cmd = server ? `docker logout ${server}` : 'docker logout';
      const fix = result.stillFrom.includes('docker config') ? `; run '${cmd}' to forget them there` : '';
      out.warn(`credentials for ${key} still come from ${result.stillFrom}, which dhe-cli does not change${fix}`);
    }
    return 0;
  },
});
