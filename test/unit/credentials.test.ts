import { mkdtemp, readFile, rm, stat, writeFile, mkdir, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DOCKER_HUB_KEY,
  credentialProvider,
  eraseCredentials,
  fileStore,
  helperStore,
  keychainStore,
  registryHost,
  registryKey,
  resolveCredentials,
  storeCredentials,
  type CredentialOptions,
  type CredentialStore,
  type Credential,
} from '../../src/auth/credentials/index.js';
import { DheError } from '../../src/errors.js';
import { startSecretService } from '../harness/secret-service.js';

const HELPERS = fileURLToPath(new URL('../../fixtures/credential-helpers', import.meta.url));
const b64 = (s: string) => Buffer.from(s).toString('base64');

let dir: string;
let configDir: string;
let dockerConfigDir: string;
let helperData: string;
let helperLog: string;
let env: NodeJS.ProcessEnv;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dhe-creds-'));
  configDir = join(dir, 'dhe', 'nested');
  dockerConfigDir = join(dir, 'docker');
  helperData = join(dir, 'helper.json');
  helperLog = join(dir, 'helper.log');
  env = {
    PATH: `${HELPERS}${delimiter}${process.env.PATH ?? ''}`,
    HOME: dir,
    DHE_TEST_CREDS_FILE: helperData,
    DHE_TEST_CREDS_LOG: helperLog,
  };
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function opts(extra: Partial<CredentialOptions> = {}): CredentialOptions {
  return { configDir, dockerConfigDir, env, keychain: null, ...extra };
}

async function writeJson(path: string, value: unknown) {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, JSON.stringify(value));
}

async function readJson(path: string): Promise<any> {
  return JSON.parse(await readFile(path, 'utf8'));
}

/** An in-memory stand-in for an OS keychain (the real one is absent on this headless machine). */
function memoryKeychain(): CredentialStore & { data: Map<string, Credential> } {
  const data = new Map<string, Credential>();
  return {
    name: 'keychain',
    data,
    async get(s) {
      const c = data.get(registryKey(s));
      return c && { ...c };
    },
    async store(s, c) {
      data.set(registryKey(s), { ...c });
    },
    async erase(s) {
      return data.delete(registryKey(s));
    },
    async list() {
      return Object.fromEntries([...data].map(([k, v]) => [k, v.username ?? '']));
    },
  };
}

describe('host keys', () => {
  it('match as docker does', () => {
    expect(registryKey('docker.io')).toBe(DOCKER_HUB_KEY);
    expect(registryKey('index.docker.io')).toBe(DOCKER_HUB_KEY);
    expect(registryKey('registry-1.docker.io')).toBe(DOCKER_HUB_KEY);
    expect(registryHost('https://index.docker.io/v1/')).toBe('docker.io');
    expect(registryHost('https://reg.example.com:5000/v2/')).toBe('reg.example.com:5000');
    expect(registryHost('http://Reg.Example.com')).toBe('reg.example.com');
    expect(registryKey('reg.example.com:5000')).toBe('reg.example.com:5000');
    expect(registryHost('reg.example.com:5000')).not.toBe(registryHost('reg.example.com'));
  });

  it('find auths stored under any form of the name', async () => {
    const file = join(dockerConfigDir, 'config.json');
    await writeJson(file, {
      auths: {
        'https://reg.example.com/v2/': { auth: b64('alice:s3cret') },
        'https://index.docker.io/v1/': { auth: b64('hubuser:hubpass') },
        'http://other:5000': { auth: b64('bob:pw2') },
      },
    });
    expect(await resolveCredentials('reg.example.com', opts())).toMatchObject({ username: 'alice', password: 's3cret' });
    expect(await resolveCredentials('docker.io', opts())).toMatchObject({ username: 'hubuser', password: 'hubpass' });
    expect(await resolveCredentials('other:5000', opts())).toMatchObject({ username: 'bob', password: 'pw2' });
    expect(await resolveCredentials('other:5001', opts())).toBeUndefined();
    expect(await resolveCredentials('other', opts())).toBeUndefined();
  });
});

describe('file store', () => {
  it('round trips, writes 0600 in a 0700 folder and keeps other keys', async () => {
    const store = fileStore(configDir);
    expect(await store.get('reg.example.com')).toBeUndefined();
    await store.store('reg.example.com', { username: 'alice', password: 'pw1' });
    const st = await stat(join(configDir, 'config.json'));
    expect(st.mode & 0o777).toBe(0o600);
    expect((await stat(configDir)).mode & 0o777).toBe(0o700);
    expect(await store.get('https://reg.example.com/v2/')).toMatchObject({ username: 'alice', password: 'pw1' });

    // other keys of an existing config survive, and a world-readable file becomes 0600
    const cfg = await readJson(join(configDir, 'config.json'));
    cfg.psFormat = 'table {{.ID}}';
    cfg.proxies = { default: { httpProxy: 'http://p:3128' } };
    await writeFile(join(configDir, 'config.json'), JSON.stringify(cfg));
    await chmod(join(configDir, 'config.json'), 0o644);
    await store.store('docker.io', { username: 'hub', password: 'pw2' });
    const after = await readJson(join(configDir, 'config.json'));
    expect(after.psFormat).toBe('table {{.ID}}');
    expect(after.proxies).toEqual({ default: { httpProxy: 'http://p:3128' } });
    expect(after.auths[DOCKER_HUB_KEY].auth).toBe(b64('hub:pw2'));
    expect(after.auths['reg.example.com'].auth).toBe(b64('alice:pw1'));
    expect((await stat(join(configDir, 'config.json'))).mode & 0o777).toBe(0o600);
    expect(await store.list()).toEqual({ 'reg.example.com': 'alice', [DOCKER_HUB_KEY]: 'hub' });

    expect(await store.erase('reg.example.com')).toBe(true);
    expect(await store.erase('reg.example.com')).toBe(false);
    expect(await store.get('reg.example.com')).toBeUndefined();
    expect(await store.get('docker.io')).toMatchObject({ username: 'hub' });
  });

  it('stores an identity token instead of the password', async () => {
    const store = fileStore(configDir);
    await store.store('reg.example.com', { username: 'alice', password: 'never-on-disk', identityToken: 'refresh-abc' });
    const text = await readFile(join(configDir, 'config.json'), 'utf8');
    expect(text).not.toContain('never-on-disk');
    expect(text).not.toContain(b64('alice:never-on-disk'));
    const cfg = JSON.parse(text);
    expect(cfg.auths['reg.example.com']).toEqual({ auth: b64('alice:'), identitytoken: 'refresh-abc' });
    expect(await store.get('reg.example.com')).toEqual({ username: 'alice', identityToken: 'refresh-abc' });
  });

  it('replaces an entry stored under another form of the name', async () => {
    await writeJson(join(configDir, 'config.json'), { auths: { 'https://reg.example.com': { auth: b64('old:oldpw') } } });
    await fileStore(configDir).store('reg.example.com', { username: 'new', password: 'newpw' });
    const cfg = await readJson(join(configDir, 'config.json'));
    expect(Object.keys(cfg.auths)).toEqual(['reg.example.com']);
    expect(JSON.stringify(cfg)).not.toContain(b64('old:oldpw'));
  });

  it('names a broken config.json', async () => {
    await mkdir(configDir, { recursive: true });
    await writeFile(join(configDir, 'config.json'), '{ not json');
    const err = await fileStore(configDir).get('x').catch((e) => e);
    expect(err).toBeInstanceOf(DheError);
    expect(err.message).toContain(join(configDir, 'config.json'));
  });
});

describe('credential helper protocol', () => {
  it('get/store/erase/list through docker-credential-test on PATH', async () => {
    const h = helperStore('test', env);
    expect(h.name).toBe('helper docker-credential-test');
    expect(await h.get('reg.example.com')).toBeUndefined();
    await h.store('reg.example.com', { username: 'alice', password: 'pw-helper' });
    await h.store('docker.io', { username: 'hub', identityToken: 'tok-1' });
    expect(await readJson(helperData)).toEqual({
      'reg.example.com': { Username: 'alice', Secret: 'pw-helper' },
      [DOCKER_HUB_KEY]: { Username: '<token>', Secret: 'tok-1' },
    });
    expect(await h.get('reg.example.com')).toMatchObject({ username: 'alice', password: 'pw-helper' });
    expect(await h.get('index.docker.io')).toMatchObject({ identityToken: 'tok-1' });
    expect(await h.list()).toEqual({ 'reg.example.com': 'alice', [DOCKER_HUB_KEY]: '<token>' });
    expect(await h.erase('reg.example.com')).toBe(true);
    expect(await h.erase('reg.example.com')).toBe(false);
    expect(await h.get('reg.example.com')).toBeUndefined();
    const log = await readFile(helperLog, 'utf8');
    expect(log).toContain('store reg.example.com');
    expect(log).toContain('erase reg.example.com');
    expect(log).not.toContain('pw-helper');
  });

  it('finds a helper entry stored with a scheme', async () => {
    await writeFile(helperData, JSON.stringify({ 'https://reg.example.com': { Username: 'u', Secret: 'p' } }));
    expect(await helperStore('test', env).get('reg.example.com')).toMatchObject({ username: 'u', password: 'p' });
  });

  it('a failing helper gives CREDENTIAL_HELPER naming it, without the secret', async () => {
    const h = helperStore('broken', env);
    const err = await h.store('reg.example.com', { username: 'alice', password: 'TopSecret-123' }).catch((e) => e);
    expect(err).toBeInstanceOf(DheError);
    expect(err.code).toBe('CREDENTIAL_HELPER');
    expect(err.exitCode).toBe(3);
    expect(err.message).toContain('docker-credential-broken');
    expect(err.message).toContain('backend unavailable');
    expect(`${err.message} ${err.hint}`).not.toContain('TopSecret-123');
    const get = await h.get('reg.example.com').catch((e) => e);
    expect(get.code).toBe('CREDENTIAL_HELPER');
  });

  it('a missing helper says it is not on PATH', async () => {
    const err = await helperStore('nosuchhelper', env).get('x').catch((e) => e);
    expect(err.code).toBe('CREDENTIAL_HELPER');
    expect(err.message).toContain('docker-credential-nosuchhelper not found on PATH');
  });
});

describe('lookup order', () => {
  it('honours docker config auths without a dhe-cli login', async () => {
    await writeJson(join(dockerConfigDir, 'config.json'), { auths: { 'reg.example.com': { auth: b64('dock:dockpw') } } });
    const c = await resolveCredentials('reg.example.com', opts());
    expect(c).toMatchObject({ username: 'dock', password: 'dockpw' });
    expect(c?.source).toBe('docker config ~/docker/config.json');
  });

  it('dhe-cli config wins over docker config; credHelpers over credsStore over auths', async () => {
    await writeJson(join(dockerConfigDir, 'config.json'), { auths: { 'reg.example.com': { auth: b64('dock:dockpw') } } });
    await writeJson(join(configDir, 'config.json'), { auths: { 'reg.example.com': { auth: b64('mine:minepw') } } });
    expect(await resolveCredentials('reg.example.com', opts())).toMatchObject({ username: 'mine', source: expect.stringMatching(/^dhe-cli config /) });

    await writeFile(helperData, JSON.stringify({ 'reg.example.com': { Username: 'fromhelper', Secret: 'hpw' } }));
    await writeJson(join(configDir, 'config.json'), {
      credsStore: 'nosuchhelper',
      credHelpers: { 'https://reg.example.com': 'test' },
      auths: { 'reg.example.com': { auth: b64('mine:minepw') } },
    });
    const c = await resolveCredentials('reg.example.com', opts());
    expect(c).toMatchObject({ username: 'fromhelper', password: 'hpw' });
    expect(c?.source).toContain('helper docker-credential-test');

    await writeJson(join(configDir, 'config.json'), { credsStore: 'test', auths: { 'reg.example.com': { auth: b64('mine:minepw') } } });
    expect(await resolveCredentials('reg.example.com', opts())).toMatchObject({ username: 'fromhelper' });
    // credsStore has nothing for this one: auths answers
    await writeJson(join(configDir, 'config.json'), { credsStore: 'test', auths: { 'other.example.com': { auth: b64('o:opw') } } });
    expect(await resolveCredentials('other.example.com', opts())).toMatchObject({ username: 'o', password: 'opw' });
  });

  it("skips a helper of docker's config that is not installed here, but not one of dhe-cli's", async () => {
    await writeJson(join(dockerConfigDir, 'config.json'), { credsStore: 'desktop-not-here', auths: { 'r.example': { auth: b64('a:b') } } });
    expect(await resolveCredentials('r.example', opts())).toMatchObject({ username: 'a' });
    await writeJson(join(configDir, 'config.json'), { credsStore: 'desktop-not-here' });
    const err = await resolveCredentials('r.example', opts()).catch((e) => e);
    expect(err.code).toBe('CREDENTIAL_HELPER');
  });

  it('traces the source, never the secret', async () => {
    await writeJson(join(dockerConfigDir, 'config.json'), { auths: { 'reg.example.com': { auth: b64('dock:VerySecretPw') } } });
    const lines: string[] = [];
    const provider = credentialProvider(opts({ trace: { enabled: true, log: (l) => lines.push(l) } }));
    expect(await provider('reg.example.com')).toMatchObject({ password: 'VerySecretPw' });
    expect(await provider('https://reg.example.com')).toMatchObject({ password: 'VerySecretPw' });
    expect(lines).toHaveLength(1); // cached per host
    expect(lines[0]).toContain('docker config');
    expect(lines[0]).toContain('dock');
    expect(lines.join('\n')).not.toContain('VerySecretPw');
    expect(lines.join('\n')).not.toContain(b64('dock:VerySecretPw'));
  });
});

describe('storing and erasing (what login and logout do)', () => {
  it('falls back to the file with a warning when no keychain works', async () => {
    const r = await storeCredentials('reg.example.com', { username: 'alice', password: 'pw' }, opts());
    expect(r.store).toBe(`file ${join(configDir, 'config.json')}`);
    expect(r.warning).toMatch(/stored unencrypted in '.*config\.json'/);
    expect(await resolveCredentials('reg.example.com', opts())).toMatchObject({ username: 'alice', password: 'pw' });
    expect((await stat(join(configDir, 'config.json'))).mode & 0o777).toBe(0o600);
  });

  it('the real OS keychain (Secret Service on a private D-Bus): login stores there, nothing secret in the file; logout erases it', async () => {
    // gnome-keyring on a bus of its own (test/harness/secret-service.ts): never the user's keyring
    const kcs = await startSecretService();
    const saved = { DBUS_SESSION_BUS_ADDRESS: process.env.DBUS_SESSION_BUS_ADDRESS, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR };
    Object.assign(process.env, { DBUS_SESSION_BUS_ADDRESS: kcs.env.DBUS_SESSION_BUS_ADDRESS, XDG_RUNTIME_DIR: kcs.env.XDG_RUNTIME_DIR });
    try {
      const kc = await keychainStore('dhe-cli-test');
      expect(kc, 'keychainStore() found no working keychain on the private Secret Service').toBeDefined();
      await kc!.store('reg.example.com', { username: 'a', password: 'kc-secret-1' });
      expect(JSON.parse((await kcs.lookup({ service: 'dhe-cli-test', username: 'reg.example.com' }))!)).toMatchObject({ username: 'a', secret: 'kc-secret-1' });
      expect(await kc!.get('reg.example.com')).toMatchObject({ username: 'a', password: 'kc-secret-1', source: 'keychain' });
      expect(await kc!.erase('reg.example.com')).toBe(true);
      expect(await kcs.lookup({ service: 'dhe-cli-test', username: 'reg.example.com' })).toBeUndefined();

      // what login and logout do with the automatic choice: the keychain, since one works
      const r = await storeCredentials('reg.example.com', { username: 'alice', password: 'kc-secret-2' }, opts({ keychain: 'auto' }));
      expect(r).toEqual({ store: 'keychain' });
      const file = await readFile(join(configDir, 'config.json'), 'utf8');
      expect(file).not.toContain('kc-secret-2');
      expect(JSON.parse(file).auths).toEqual({ 'reg.example.com': {} });
      expect(JSON.parse((await kcs.lookup({ service: 'dhe-cli', username: 'reg.example.com' }))!)).toMatchObject({ username: 'alice', secret: 'kc-secret-2' });
      expect(await resolveCredentials('reg.example.com', opts({ keychain: 'auto' }))).toMatchObject({ username: 'alice', password: 'kc-secret-2', source: 'keychain' });
      expect((await eraseCredentials('reg.example.com', opts({ keychain: 'auto' }))).erased).toEqual(['keychain']);
      expect(await kcs.lookup({ service: 'dhe-cli', username: 'reg.example.com' })).toBeUndefined();
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      await kcs.stop();
    }
  });

  it('uses a working keychain: nothing secret in the file, an empty auths entry marks it', async () => {
    const kc = memoryKeychain();
    const r = await storeCredentials('reg.example.com', { username: 'alice', password: 'kc-pw' }, opts({ keychain: kc }));
    expect(r).toEqual({ store: 'keychain' });
    const cfg = await readJson(join(configDir, 'config.json'));
    expect(cfg.auths).toEqual({ 'reg.example.com': {} });
    const c = await resolveCredentials('reg.example.com', opts({ keychain: kc }));
    expect(c).toMatchObject({ username: 'alice', password: 'kc-pw', source: 'keychain' });
    const e = await eraseCredentials('reg.example.com', opts({ keychain: kc }));
    expect(e.erased).toEqual(['keychain']);
    expect(kc.data.size).toBe(0);
    expect((await readJson(join(configDir, 'config.json'))).auths).toEqual({});
  });

  it('writes to the configured helper and erases from it', async () => {
    await writeJson(join(configDir, 'config.json'), { credsStore: 'test', auths: { 'reg.example.com': { auth: b64('stale:stalepw') } } });
    const r = await storeCredentials('reg.example.com', { username: 'alice', password: 'hp' }, opts({ keychain: memoryKeychain() }));
    expect(r).toEqual({ store: 'helper docker-credential-test' });
    expect(await readJson(helperData)).toEqual({ 'reg.example.com': { Username: 'alice', Secret: 'hp' } });
    const cfg = await readJson(join(configDir, 'config.json'));
    expect(cfg.credsStore).toBe('test');
    expect(JSON.stringify(cfg)).not.toContain(b64('stale:stalepw'));
    const e = await eraseCredentials('reg.example.com', opts());
    expect(e.erased).toEqual(['helper docker-credential-test']);
    expect(await readJson(helperData)).toEqual({});
  });

  it('stores an identity token, never the password', async () => {
    await storeCredentials('reg.example.com', { username: 'alice', password: 'PwNotOnDisk', identityToken: 'rt-1' }, opts());
    const text = await readFile(join(configDir, 'config.json'), 'utf8');
    expect(text).not.toContain('PwNotOnDisk');
    expect(Buffer.from(JSON.parse(text).auths['reg.example.com'].auth, 'base64').toString()).toBe('alice:');
    expect(await resolveCredentials('reg.example.com', opts())).toEqual({
      username: 'alice',
      identityToken: 'rt-1',
      source: expect.stringContaining('dhe-cli config'),
    });
  });

  it('erase says when nothing was stored, and when docker config still supplies credentials', async () => {
    expect(await eraseCredentials('reg.example.com', opts())).toEqual({ erased: [] });
    await writeJson(join(dockerConfigDir, 'config.json'), { auths: { 'reg.example.com': { auth: b64('d:dp') } } });
    await storeCredentials('reg.example.com', { username: 'alice', password: 'pw' }, opts());
    const e = await eraseCredentials('https://reg.example.com/v2/', opts());
    expect(e.erased).toHaveLength(1);
    expect(e.stillFrom).toMatch(/^docker config /);
    // docker's file is left alone
    expect((await readJson(join(dockerConfigDir, 'config.json'))).auths['reg.example.com'].auth).toBe(b64('d:dp'));
  });
});
