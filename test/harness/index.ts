// What tests import: the running harness (from the vitest global setup) and helpers bound to it.
import { inject } from 'vitest';
import { serverLog, tokenLog as tokenLogRaw } from './harness.js';
import type { HarnessInfo, TokenLogEntry } from './types.js';
import './provided.js';

export * from './types.js';
export { serverLog };

export function getHarness(): HarnessInfo {
  const h = inject('harness');
  if (!h) throw new Error('harness not provided: is test/harness/global-setup.ts in vitest globalSetup?');
  return h;
}

/** The token server's request log (no secrets); `since` = the last `seq` already seen. */
export function tokenLog(tokenServerUrl: string, since = 0): Promise<TokenLogEntry[]> {
  return tokenLogRaw(tokenServerUrl, getHarness().caCert, since);
}

// Outages (tokenServerDown, pause/start) are not offered on the shared servers: other test files use them at the
// same time. Start a private harness for that: `startHarness({ flavours: ['dhe'] })` from './harness.js'.
