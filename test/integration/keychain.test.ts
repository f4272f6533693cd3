// The real OS keychain, end to end: gnome-keyring's Secret Service on a private D-Bus (test/harness/secret-service.ts),
// reached by the CLI through DBUS_SESSION_BUS_ADDRESS. login stores the secret there and nothing secret in
// config.json, pull uses it, logout removes it. The keychain is checked with secret-tool, an independent client.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getHarness } from '../harness/index.js';
import { startSecretService, type SecretService } from '../harness/secret-service.js';
import { freshHome, runCli } from '../helpers/cli.js';
import { buildImage, seedImage, uniqueRepo } from '../helpers/images.js';

const h = getHarness();
let kc: SecretService;

beforeAll(async () => {
  kc = await startSecretService();
});
afterAll(async () => {
  await kc?.stop();
});

describe('the OS keychain (Secret Service)', () => {
  it('login stores the password in the keychain and nothing secret in config.json; pull uses it; logout removes it', async () => {
    const { full } = h.users;
    const repo = uniqueRepo('keychain');
    const img = await buildImage({ layers: 1, salt: repo });
    const basic = Buffer.from(`${full.username}:${full.password}`).toString('base64');
    await seedImage({ url: h.basic.url, ca: readFileSync(h.caCert, 'utf8'), headers: { authorization: `Basic ${basic}` } }, repo, 'v1', img);
    const home = freshHome();
    // DHE_KEYCHAIN=1: this run may use a keychain (test runs stay off the user's by default)
    const env = { ...home.env, ...kc.env, HOME: home.env.HOME!, DHE_CA_CERT: h.caCert, DHE_KEYCHAIN: '1' };

    const login = await runCli(['login', h.basic.host, '-u', full.username, '--password-stdin'], { env, input: full.password });
    expect(login.stderr).toBe('');
    expect(login.stdout.trim()).toBe('Login Succeeded');
    expect(login.code).toBe(0);

    const stored = await kc.lookup({ service: 'dhe-cli', username: h.basic.host });
    expect(stored, 'no keychain entry for the registry after login').toBeDefined();
    expect(JSON.parse(stored!)).toMatchObject({ username: full.username, secret: full.password });
    const configText = readFileSync(join(home.config, 'config.json'), 'utf8');
    expect(configText).not.toContain(full.password);
    expect(configText).not.toContain(basic);
    expect(JSON.parse(configText).auths).toEqual({ [h.basic.host]: {} });

    const pull = await runCli(['pull', `${h.basic.host}/${repo}:v1`], { env });
    expect(pull.stderr).toBe('');
    expect(pull.stdout).toContain(`Digest: ${img.manifest.digest}`);
    expect(pull.code).toBe(0);

    const logout = await runCli(['logout', h.basic.host], { env });
    expect(logout.code).toBe(0);
    expect(logout.stdout).toContain(`Removing login credentials for ${h.basic.host}`);
    expect(await kc.lookup({ service: 'dhe-cli', username: h.basic.host })).toBeUndefined();
    const after = existsSync(join(home.config, 'config.json')) ? JSON.parse(readFileSync(join(home.config, 'config.json'), 'utf8')) : {};
    expect(after.auths?.[h.basic.host]).toBeUndefined();

    // logged out for real: the registry now wants credentials again
    const again = await runCli(['pull', `${h.basic.host}/${repo}:v1`], { env: { ...env, DHE_STORE: join(home.env.HOME!, 'store2') } });
    expect(again.code).toBe(3);
  });
});
