// DHE_KEYCHAIN=0: the credential store behaves as on a machine without an OS keychain (the 0600 file, with docker's
// warning), without even probing one. The keychain module is replaced by one that always "works", so that the
// variable, not this headless machine, is what keeps the keychain out.
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Credential, CredentialStore } from '../../src/auth/credentials/types.js';

const kc = vi.hoisted(() => ({ probes: 0, entries: new Map<string, Credential>() }));
vi.mock('../../src/auth/credentials/keychain.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/auth/credentials/keychain.js')>();
  const store: CredentialStore = {
    name: 'keychain',
    get: async (server) => kc.entries.get(server),
    store: async (server, cred) => void kc.entries.set(server, { ...cred, source: 'keychain' }),
    erase: async (server) => kc.entries.delete(server),
    list: async () => Object.fromEntries([...kc.entries].map(([k, v]) => [k, v.username ?? ''])),
  };
  return {
    ...real,
    keychainStore: async () => {
      kc.probes++;
      return store;
    },
  };
});

const { resolveCredentials, storeCredentials } = await import('../../src/auth/credentials/index.js');

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dhe-kcenv-'));
  kc.probes = 0;
  kc.entries.clear();
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const opts = (env: NodeJS.ProcessEnv) => ({ configDir: join(dir, 'config'), dockerConfigDir: join(dir, 'docker'), env: { HOME: dir, ...env } });

describe('DHE_KEYCHAIN', () => {
  it('unset: a working keychain gets the password and the file holds none', async () => {
    const r = await storeCredentials('reg.example.com', { username: 'alice', password: 'kc-pw-123' }, opts({}));
    expect(r).toEqual({ store: 'keychain' });
    expect(kc.entries.get('reg.example.com')).toMatchObject({ username: 'alice', password: 'kc-pw-123' });
    expect(await readFile(join(dir, 'config', 'config.json'), 'utf8')).not.toContain(Buffer.from('alice:kc-pw-123').toString('base64'));
  });

  it('=0: no keychain is probed; the password goes to the 0600 file with the unencrypted warning, and is read back from it', async () => {
    const r = await storeCredentials('reg.example.com', { username: 'alice', password: 'file-pw-123' }, opts({ DHE_KEYCHAIN: '0' }));
    expect(r.store).toBe(`file ${join(dir, 'config', 'config.json')}`);
    expect(r.warning).toMatch(/stored unencrypted/);
    expect(kc.probes).toBe(0);
    expect(kc.entries.size).toBe(0);
    expect((await stat(join(dir, 'config', 'config.json'))).mode & 0o777).toBe(0o600);
    expect(await resolveCredentials('reg.example.com', opts({ DHE_KEYCHAIN: '0' }))).toMatchObject({ username: 'alice', password: 'file-pw-123' });
    expect(kc.probes).toBe(0);
  });

  it('any other value leaves the keychain on', async () => {
    const r = await storeCredentials('reg.example.com', { username: 'bob', password: 'kc-pw-456' }, opts({ DHE_KEYCHAIN: '1' }));
    expect(r).toEqual({ store: 'keychain' });
  });
});
