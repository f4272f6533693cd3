// What tests import: the running harness (from the vitest global setup) and helpers bound to it.
import { inject } from 'vitest';
import { issuedTokens as issuedTokensRaw, serverLog, tokenLog as tokenLogRaw } from './harness.js';
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

const issuedSeen = new Map<string, { next: number; tokens: Set<string> }>();

/**
 * Test-only: every access and refresh token the shared token servers (token, dhe) issued so far. Fetched lazily and
 * incrementally (only what is new since the last call in this test process).
 */
export async function issuedSecrets(): Promise<string[]> {
  const h = getHarness();
  const out: string[] = [];
  for (const url of [h.token?.tokenServerUrl, h.dhe?.tokenServerUrl]) {
    if (!url) continue;
    let seen = issuedSeen.get(url);
    if (!seen) issuedSeen.set(url, (seen = { next: 0, tokens: new Set() }));
    const got = await issuedTokensRaw(url, h.caCert, seen.next);
    for (const t of got.tokens) seen.tokens.add(t);
    seen.next = got.next;
    out.push(...seen.tokens);
  }
  return out;
}

// Outages (tokenServerDown, pause/start) are not offered on the shared servers: other test files use them at the
// same time. Start a private harness for that: `startHarness({ flavours: ['dhe'] })` from './harness.js'.
