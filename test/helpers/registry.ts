// Small helpers shared by the library-level registry tests: a RegistryClient factory trusting the harness CA (every
// client it makes is closed after the test file), random blobs, reading a stream, the DheError a promise rejects with.

import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { inject } from 'vitest';
import type { Credential } from '../../src/auth/types.js';
import type { TlsSettings } from '../../src/config.js';
import { DheError } from '../../src/errors.js';
import { RegistryClient, type RegistryClientOptions } from '../../src/registry/index.js';
import { onFileEnd } from './cleanup.js';

/** TLS settings trusting the harness CA (and nothing else beyond the system's), with `over` on top. */
export function harnessTls(over: Partial<TlsSettings> = {}): TlsSettings {
  const h = inject('harness');
  return { caCertFiles: h ? [h.caCert] : [], certsDirs: [], insecureRegistries: [], ...over };
}

const clients = new Set<RegistryClient>();
onFileEnd(async () => {
  const all = [...clients];
  clients.clear();
  await Promise.all(all.map((c) => c.close()));
});

/**
 * A RegistryClient for `registry` as the tests use it: trusts the harness CA, no proxy, quick retries (3 attempts,
 * 50–200 ms), `cred` as its credentials; `over` replaces any option. Closed after the test file.
 */
export function testClient(registry: string, opts: Partial<RegistryClientOptions> & { cred?: Credential } = {}): RegistryClient {
  const { cred, ...over } = opts;
  const c = new RegistryClient({
    registry,
    tls: harnessTls(),
    proxy: {},
    credentials: cred ? async () => cred : undefined,
    retry: { attempts: 3, baseDelayMs: 50, maxDelayMs: 200 },
    ...over,
  });
  clients.add(c);
  return c;
}

/** Random bytes with their digest, as a blob to upload. */
export function blob(size: number): { digest: string; size: number; bytes: Buffer } {
  const bytes = randomBytes(size);
  return { digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`, size, bytes };
}

export async function readAll(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** The DheError a promise rejects with (anything else, or success, fails the test). */
export async function caught(p: Promise<unknown>): Promise<DheError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof DheError) return e;
    throw e;
  }
  throw new Error('expected a DheError, got success');
}
