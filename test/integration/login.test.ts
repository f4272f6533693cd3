// login / logout through the built CLI against the harness's Basic and token registries: what a user sees, what
// lands on disk (and what never does), and which grant the token server receives.

import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runInTerminal } from '../helpers/pty.js';
import { getHarness } from '../harness/index.js';
import { startHarness } from '../harness/harness.js';
import { freshHome, runCli, type CliResult } from '../helpers/cli.js';

const h = getHarness();
const { full, pullonly } = h.users;
const HELPERS = fileURLToPath(new URL('../../fixtures/credential-helpers', import.meta.url));

/** Everything any command printed in this file: checked at the end for secrets. */
const printed: string[] = [];
const secrets = new Set<string>([full.password, pullonly.password]);

function home(): { config: string; store: string; env: Record<string, string> } {
  const hm = freshHome();
  const env: Record<string, string> = { ...hm.env, DHE_CA_CERT: h.caCert };
  return { ...hm, env };
}

async function cli(args: string[], env: Record<string, string>, input?: string): Promise<CliResult> {
  const r = await runCli(args, { env, input, timeoutMs: 30_000 });
  printed.push(r.stdout, r.stderr);
  return r;
}

function readConfig(dir: string): any {
  return JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
}

afterAll(() => {
  const all = printed.join('\n');
  expect(all.length).toBeGreaterThan(0);
  for (const s of secrets) expect(all).not.toContain(s);
});

describe('login against the Basic registry', () => {
  it('--password-stdin: checks, stores 0600 with the unencrypted warning, prints Login Succeeded', async () => {
    const hm = home();
    const r = await cli(['login', h.basic.host, '-u', full.username, '--password-stdin'], hm.env, `${full.password}\n`);
    expect(r.stderr).toContain('stored unencrypted');
    expect(r.stdout.trim()).toBe('Login Succeeded');
    expect(r.code).toBe(0);
    const file = join(hm.config, 'config.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(hm.config).mode & 0o777).toBe(0o700);
    const auth = readConfig(hm.config).auths[h.basic.host].auth;
    expect(Buffer.from(auth, 'base64').toString()).toBe(`${full.username}:${full.password}`);

    // the stored credentials are what a later command uses, and --debug names the store, never the secret
    const again = await cli(['--debug', 'login', h.basic.host], hm.env);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`Authenticating with existing credentials... [Username: ${full.username}]`);
    expect(again.stdout).toContain('Login Succeeded');
    expect(again.stderr).toMatch(/from dhe-cli config .*config\.json/);
    expect(again.stderr).not.toContain(auth);
  });

  it('a wrong password: exit 3, the registry says unauthorized, nothing stored', async () => {
    const hm = home();
    const r = await cli(['login', h.basic.host, '-u', full.username, '--password-stdin'], hm.env, 'wrong-password\n');
    expect(r.code).toBe(3);
    expect(r.stdout).not.toContain('Login Succeeded');
    expect(r.stderr).toMatch(new RegExp(`^Error: login to ${h.basic.host} as ${full.username} failed: unauthorized: \\S`, 'm'));
    expect(r.stderr).not.toContain('wrong-password');
    expect(existsSync(join(hm.config, 'config.json'))).toBe(false);
  });

  it('-p works with docker\'s warning', async () => {
    const hm = home();
    const r = await cli(['login', h.basic.host, '-u', pullonly.username, '-p', pullonly.password], hm.env);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('Using --password via the CLI is insecure. Use --password-stdin.');
    expect(r.stdout).toContain('Login Succeeded');
  });

  it('usage errors instead of a hang without a TTY', async () => {
    const hm = home();
    const noPass = await cli(['login', h.basic.host, '-u', full.username], hm.env);
    expect(noPass.code).toBe(2);
    expect(noPass.stderr).toContain('Error: Cannot perform an interactive login from a non TTY device');
    expect(noPass.stderr).toContain('Hint:');
    const noUser = await cli(['login', h.basic.host, '--password-stdin'], hm.env, 'x\n');
    expect(noUser.code).toBe(2);
    expect(noUser.stderr).toContain('Must provide --username with --password-stdin');
    const both = await cli(['login', h.basic.host, '-u', 'a', '-p', 'b', '--password-stdin'], hm.env, 'x\n');
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('mutually exclusive');
    const nothing = await cli(['login', h.basic.host], hm.env);
    expect(nothing.code).toBe(2);
  });

  it('prompts on a terminal, without echoing the password', async () => {
    const hm = home();
    // a pseudo-terminal; answers are typed when the prompts appear
    const r = await runInTerminal(['login', h.basic.host], {
      env: { ...hm.env, NO_COLOR: '1' },
      answers: { 'Username: ': `${full.username}\r`, 'Password: ': `${full.password}\r` },
      timeoutMs: 30_000,
    });
    const code = r.code;
    let seen = r.out;
    printed.push(seen);
    seen = seen.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
    expect(seen).toContain('Login Succeeded');
    expect(code).toBe(0);
    expect(seen).toContain(`Username: ${full.username}`);
    expect(seen).not.toContain(full.password);
    const auth = readConfig(hm.config).auths[h.basic.host].auth;
    expect(Buffer.from(auth, 'base64').toString()).toBe(`${full.username}:${full.password}`);
  });

  it('logout forgets the credentials; a second logout says it was not logged in', async () => {
    const hm = home();
    expect((await cli(['login', h.basic.host, '-u', full.username, '--password-stdin'], hm.env, full.password)).code).toBe(0);
    const out = await cli(['logout', h.basic.host], hm.env);
    expect(out.code).toBe(0);
    expect(out.stdout.trim()).toBe(`Removing login credentials for ${h.basic.host}`);
    const text = readFileSync(join(hm.config, 'config.json'), 'utf8');
    expect(text).not.toContain(Buffer.from(`${full.username}:${full.password}`).toString('base64'));
    const again = await cli(['logout', h.basic.host], hm.env);
    expect(again.code).toBe(0);
    expect(again.stdout.trim()).toBe(`Not logged in to ${h.basic.host}`);
    // and the registry is now asked anonymously: stored-credential login has nothing to offer
    const check = await cli(['login', h.basic.host], hm.env);
    expect(check.code).toBe(2);
  });

  it("uses docker's config.json auths without a dhe-cli login, and logout leaves docker's file alone", async () => {
    const hm = home();
    const dockerDir = hm.env.DOCKER_CONFIG!;
    mkdirSync(dockerDir, { recursive: true });
    const auth = Buffer.from(`${full.username}:${full.password}`).toString('base64');
    writeFileSync(join(dockerDir, 'config.json'), JSON.stringify({ auths: { [`https://${h.basic.host}`]: { auth } } }));
    const r = await cli(['--debug', 'login', h.basic.host], hm.env);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Login Succeeded');
    expect(r.stderr).toMatch(/from docker config .*config\.json/);
    expect(r.stderr).not.toContain(auth);
    const out = await cli(['logout', h.basic.host], hm.env);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain(`Not logged in to ${h.basic.host}`);
    expect(out.stderr).toContain('docker logout');
    expect(readConfig(dockerDir).auths[`https://${h.basic.host}`].auth).toBe(auth);
  });

  it('stores through a docker-credential-* helper named by credsStore, and logout erases it there', async () => {
    const hm = home();
    const data = join(hm.config, '..', 'helper-data.json');
    const env = {
      ...hm.env,
      PATH: `${HELPERS}${delimiter}${process.env.PATH ?? ''}`,
      DHE_TEST_CREDS_FILE: data,
    };
    mkdirSync(hm.config, { recursive: true, mode: 0o700 });
    writeFileSync(join(hm.config, 'config.json'), JSON.stringify({ credsStore: 'test', psFormat: 'keep-me' }));
    chmodSync(join(hm.config, 'config.json'), 0o600);
    const r = await cli(['login', h.basic.host, '-u', full.username, '--password-stdin'], env, full.password);
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain('unencrypted');
    expect(JSON.parse(readFileSync(data, 'utf8'))[h.basic.host]).toEqual({ Username: full.username, Secret: full.password });
    const cfgText = readFileSync(join(hm.config, 'config.json'), 'utf8');
    expect(cfgText).not.toContain(full.password);
    expect(JSON.parse(cfgText)).toMatchObject({ credsStore: 'test', psFormat: 'keep-me' });

    const used = await cli(['--debug', 'login', h.basic.host], env);
    expect(used.code).toBe(0);
    expect(used.stderr).toContain('helper docker-credential-test');

    const out = await cli(['logout', h.basic.host], env);
    expect(out.stderr).toBe('');
    expect(out.stdout.trim()).toBe(`Removing login credentials for ${h.basic.host}`);
    expect(JSON.parse(readFileSync(data, 'utf8'))).toEqual({});
  });
});

describe('login against the token registry', () => {
  it('stores the refresh token instead of the password, and uses it with a refresh_token grant', async () => {
    // A private token registry: every request in its token log is this test's (the shared one serves other files
    // at the same time, whose logins as the same user would satisfy or spoil these counts).
    const own = await startHarness({ flavours: ['token'] });
    try {
      const ts = own.tokenServers.token!;
      const user = own.users.full;
      secrets.add(user.password);
      secrets.add(Buffer.from(`${user.username}:${user.password}`).toString('base64'));
      const hm = home();
      const env = { ...hm.env, DHE_CA_CERT: own.caCert };
      const r = await cli(['login', own.token.host, '-u', user.username, '--password-stdin'], env, `${user.password}\n`);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('Login Succeeded');
      const first = ts.log();
      expect(first.length).toBeGreaterThanOrEqual(1);
      expect(first.every((e) => e.user === user.username)).toBe(true);
      // the login asked for a refresh token with the password, and got it
      expect(first.some((e) => (e.grant === 'password' || e.grant === 'basic') && e.offline && e.status === 200)).toBe(true);

      const text = readFileSync(join(hm.config, 'config.json'), 'utf8');
      expect(text).not.toContain(user.password);
      expect(text).not.toContain(Buffer.from(`${user.username}:${user.password}`).toString('base64'));
      const entry = JSON.parse(text).auths[own.token.host];
      expect(typeof entry.identitytoken).toBe('string');
      expect(entry.identitytoken.length).toBeGreaterThan(8);
      expect(ts.issued()).toContain(entry.identitytoken);
      secrets.add(entry.identitytoken);
      expect(statSync(join(hm.config, 'config.json')).mode & 0o777).toBe(0o600);

      const mid = ts.log().at(-1)?.seq ?? 0;
      const again = await cli(['--debug', 'login', own.token.host], env);
      expect(again.code).toBe(0);
      expect(again.stderr).toContain('identity token');
      const used = ts.log().filter((e) => e.seq > mid);
      expect(used.length).toBeGreaterThanOrEqual(1);
      // the second login used the stored refresh token, and never the password again
      expect(used.some((e) => e.grant === 'refresh_token' && e.status === 200)).toBe(true);
      expect(used.filter((e) => e.grant !== 'refresh_token')).toEqual([]);
      // none of what this token server issued was printed
      for (const t of ts.issued()) for (const out of [r.stdout, r.stderr, again.stdout, again.stderr]) expect(out.includes(t)).toBe(false);
    } finally {
      await own.stop();
    }
  });

  it('a wrong password: exit 3 with the token server\'s words, nothing stored', async () => {
    const hm = home();
    const r = await cli(['login', h.token.host, '-u', full.username, '--password-stdin'], hm.env, 'not-the-password');
    expect(r.stderr).toMatch(/^Error: /);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^Error: login to .* failed: unauthorized: incorrect username or password$/m);
    expect(r.stderr).toContain('Hint: ');
    expect(r.stderr).not.toContain('not-the-password');
    expect(existsSync(join(hm.config, 'config.json'))).toBe(false);
  });
});
