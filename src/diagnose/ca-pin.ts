// Pinning a verified CA: CONFIG/certs.d/<the folder name dhe-cli reads for the registry>/ca.crt, a 0600 file in
// 0700 folders, written atomically; never a system path. An existing ca.crt holding another CA is kept (the new one
// refused) unless the caller says replace.

import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { DheError } from '../errors.js';
import { atomicWrite, errnoCode } from '../fs/atomic.js';
import { mkdirPrivate } from '../fs/private.js';
import { certsDirNames } from '../transport/tls.js';
import { fingerprintOf } from './ca-candidate.js';
import { dn, parseCerts } from './tls-trust.js';

/** Where the CA for hostport is pinned: the first certs.d folder name dhe-cli reads for it (HOST:PORT, or HOST on 443). */
export function pinPath(configDir: string, hostport: string): string {
  return join(configDir, 'certs.d', certsDirNames(hostport)[0]!, 'ca.crt');
}

export type PinOutcome = 'written' | 'replaced' | 'unchanged';

/** Writes `pem` to `path` (see the top of this file). */
export async function pinCa(path: string, pem: string, fingerprint: string, replace: boolean, shownPath: string): Promise<PinOutcome> {
  const existing = await readExisting(path);
  if (existing !== undefined) {
    const certs = parseCerts([existing]);
    if (certs.some((c) => fingerprintOf(c) === fingerprint)) return 'unchanged';
    if (!replace) {
      const held = certs[0] ? `${dn(certs[0].subject)}, ${fingerprintOf(certs[0])}` : 'no certificate';
      throw new DheError('TLS_UNKNOWN_AUTHORITY', `${shownPath} already holds another CA (${held}); it is kept and the new one was not written`, {
        hint: 'to replace it with the CA shown: add --replace',
        details: { path, fingerprint },
      });
    }
  }
  const dir = dirname(path);
  await mkdirPrivate(dir);
  await atomicWrite(dir, path, pem);
  return existing === undefined ? 'written' : 'replaced';
}

async function readExisting(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw new DheError('IO', `cannot read ${path}: ${errnoCode(e) ?? String(e)}`, { cause: e });
  }
}
