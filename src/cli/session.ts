// Builds the library objects a command needs from its context: the local store, a registry client per registry
// (with credentials from the configured stores). Both are imported when first asked for: a command's module (loaded
// to declare it, also for its help) stays free of undici and the store.

import { credentialProvider } from '../auth/credentials/index.js';
import { warnIfShared } from '../fs/private.js';
import type { RegistryClient } from '../registry/index.js';
import type { ImageStore } from '../store/index.js';
import { userAgent } from '../version.js';
import type { TransferEvent } from '../transfer/events.js';
import type { CommandContext } from './context.js';
import type { ProgressRenderer } from './progress.js';

export async function openStore(ctx: CommandContext): Promise<ImageStore> {
  warnIfShared(ctx.settings.configDir, (l) => ctx.out.warn(l));
  const { ImageStore } = await import('../store/index.js');
  return ImageStore.open(ctx.settings.storeDir, { trace: ctx.trace });
}

export async function clientFor(ctx: CommandContext, registry: string): Promise<RegistryClient> {
  const { settings } = ctx;
  const { RegistryClient } = await import('../registry/index.js');
  warnIfShared(settings.configDir, (l) => ctx.out.warn(l)); // once per run: it holds the credentials
  return new RegistryClient({
    registry,
    tls: settings.tls,
    proxy: settings.proxy,
    credentials: credentialProvider({
      configDir: settings.configDir,
      dockerConfigDir: settings.dockerConfigDir,
      env: settings.env,
      trace: ctx.trace,
    }),
    trace: ctx.trace,
    userAgent: userAgent(),
    timeouts: settings.timeouts,
  });
}

/** What every transfer (pull, push, copy) takes from the command: platform, parallelism, progress, cancel signal. */
export function transferSettings(ctx: CommandContext, renderer: ProgressRenderer) {
  return {
    platform: ctx.settings.platform,
    concurrency: ctx.settings.concurrency,
    resume: ctx.settings.resume,
    onEvent: (e: TransferEvent) => renderer.onEvent(e),
    signal: ctx.signal,
  };
}
