// dhe-cli login [SERVER] [-u USER] [-p PASS | --password-stdin]: checks the credentials against the registry, then
// stores them (a credential helper, the OS keychain, or the config file). With a token server that hands out
// refresh tokens, the refresh token is stored instead of the password, as docker does with identity tokens.

import {
  registryHost,
  resolveCredentials,
  storeCredentials,
  type Credential,
  type CredentialOptions,
} from '../../auth/credentials/index.js';
import { DheError, isDheError } from '../../errors.js';
import { warnIfShared } from '../../fs/private.js';
import type { RegistryClient } from '../../registry/index.js';
import type { CommandContext } from '../context.js';
import { defineCommand, type OptionSpecs, type OptionValues } from '../define.js';
import type { Output } from '../output.js';
import { prompt } from '../prompt.js';
import { spinner } from '../spinner.js';
import { userAgent } from '../../version.js';

const OPTIONS = {
  username: { type: 'string', short: 'u', value: 'user', description: 'user name' },
  password: { type: 'string', short: 'p', value: 'password', description: 'password or token (insecure: prefer --password-stdin)' },
  passwordStdin: { type: 'boolean', description: 'read the password from standard input' },
} as const satisfies OptionSpecs;

type LoginFlags = OptionValues<typeof OPTIONS>;

const MAX_STDIN = 64 * 1024;

/** The password from standard input, without its trailing newline (as docker reads it); a signal stops the wait. */
async function readPasswordStdin(stdin: NodeJS.ReadableStream = process.stdin, signal?: AbortSignal): Promise<string> {
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    let size = 0;
    const done = (e?: unknown) => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.off('error', onError);
      signal?.removeEventListener('abort', onAbort);
      stdin.pause();
      if (e === undefined) resolve();
      else reject(e);
    };
    const onData = (chunk: Buffer | string) => {
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      size += b.length;
      if (size > MAX_STDIN) done(new DheError('USAGE', 'the password on standard input is too long'));
      else chunks.push(b);
    };
    const onEnd = () => done();
    const onError = (e: unknown) => done(e);
    const onAbort = () => done(signal?.reason ?? new DheError('INTERRUPTED', 'interrupted'));
    if (signal?.aborted) return onAbort();
    stdin.on('data', onData);
    stdin.once('end', onEnd);
    stdin.once('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  let s = Buffer.concat(chunks).toString('utf8');
  if (s.endsWith('\n')) s = s.slice(0, -1);
  if (s.endsWith('\r')) s = s.slice(0, -1);
  return s;
}

function nonTtyError(): DheError {
  return new DheError('USAGE', 'Cannot perform an interactive login from a non TTY device', {
    hint: 'give the user with -u and the password on standard input: echo "$PASSWORD" | dhe-cli login -u USER --password-stdin SERVER',
  });
}

/**
 * Wrong credentials, said as docker says them: `login to HOST as USER failed: unauthorized: <the registry's words>`.
 * Other failures (TLS, network, a missing token server) pass through unchanged.
 */
function loginRefused(e: unknown, registry: string, username: string): unknown {
  if (!isDheError(e) || (e.code !== 'BAD_CREDENTIALS' && e.code !== 'UNAUTHORIZED')) return e;
  const m = /\b(unauthorized|denied)\s*:\s*(.+)$/i.exec(e.message);
  const words = m ? `${m[1]!.toLowerCase()}: ${m[2]!.trim()}` : 'unauthorized: incorrect username or password';
  return new DheError('BAD_CREDENTIALS', `login to ${registry} as ${username} failed: ${words}`, {
    hint: `check the user name and password (or access token) for ${registry}; nothing was stored`,
    cause: e,
    details: e.details,
  });
}

/**
 * `-p PASSWORD` out of the process title, as soon as it is read: `ps` shows the rewritten title from then on. (On
 * Linux, Node rewrites the argv area itself, so /proc/PID/cmdline changes too; before this line runs — node's
 * start-up, ~0.1 s — and in shell history the password is visible: --password-stdin is the safe way.)
 */
function hidePasswordFromTitle(password: string, argv: string[] = process.argv): string {
  const shown = argv.map((a, i) => {
    const prev = argv[i - 1];
    if (a === password && (prev === '-p' || prev === '--password')) return '***';
    if (a === `--password=${password}`) return '--password=***';
    if (a === `-p${password}`) return '-p***';
    return a;
  });
  const title = ['dhe-cli', ...shown.slice(2)].join(' ');
  try {
    process.title = title;
  } catch {
    /* some platforms refuse; nothing more can be done from Node */
  }
  return title;
}

/** Flags that cannot go together, or need another; -p is taken out of the process title at once. */
function checkFlags(flags: LoginFlags, out: Output): void {
  if (flags.password !== undefined && flags.passwordStdin) {
    throw new DheError('USAGE', '--password and --password-stdin are mutually exclusive', {
      hint: 'use --password-stdin and leave out -p',
    });
  }
  if (flags.passwordStdin && !flags.username) {
    throw new DheError('USAGE', 'Must provide --username with --password-stdin', {
      hint: 'echo "$PASSWORD" | dhe-cli login -u USER --password-stdin SERVER',
    });
  }
  if (flags.password !== undefined) {
    hidePasswordFromTitle(flags.password);
    out.warn('Using --password via the CLI is insecure. Use --password-stdin.');
  }
}

/** The stored credentials, when there are some and the registry still takes them (refused on a TTY: ask anew). */
async function storedStillWork(ctx: CommandContext, client: RegistryClient, registry: string, credOpts: CredentialOptions, ttyIn: boolean): Promise<boolean> {
  const existing = await resolveCredentials(registry, credOpts);
  if (!existing) return false;
  try {
    await client.checkLogin(existing, { offlineToken: false });
    ctx.out.info(`Authenticating with existing credentials...${existing.username ? ` [Username: ${existing.username}]` : ''}`);
    return true;
  } catch (e) {
    if (!isDheError(e) || e.exitCode !== 3 || !ttyIn) throw e;
    ctx.trace.log(`login: stored credentials from ${existing.source} were refused; asking for new ones`);
    return false;
  }
}

/** User and password from the flags, standard input, or the terminal's prompts. */
async function askCredentials(ctx: CommandContext, flags: LoginFlags, ttyIn: boolean): Promise<{ username: string; password: string }> {
  let username = flags.username;
  if (username === undefined || username === '') {
    if (!ttyIn) throw nonTtyError();
    username = (await prompt(ctx.out, 'Username: ', false, ctx.signal)).trim();
    if (!username) throw new DheError('USAGE', 'Username is required', { hint: 'give the user with -u USER' });
  }
  let password = flags.password;
  if (flags.passwordStdin) password = await readPasswordStdin(process.stdin, ctx.signal);
  if (password === undefined) {
    if (!ttyIn) throw nonTtyError();
    password = await prompt(ctx.out, 'Password: ', true, ctx.signal);
  }
  if (password === '') {
    throw new DheError('USAGE', 'Password is required', {
      hint: flags.passwordStdin ? 'nothing came on standard input' : 'give a password or token',
    });
  }
  return { username, password };
}

export default defineCommand({
  meta: {
    name: 'login',
    description: 'check credentials against a registry, then store them',
    examples: ['dhe-cli login dhe.yourdomain.com', 'echo "$TOKEN" | dhe-cli login -u ci-bot --password-stdin dhe.yourdomain.com'],
  },
  args: { server: { description: 'registry host[:port] (default docker.io)' } },
  options: OPTIONS,
  async run(ctx, { server, ...flags }) {
    const { RegistryClient } = await import('../../registry/index.js');
    const { settings, out } = ctx;
    const registry = registryHost(server?.trim() || 'docker.io');
    const credOpts: CredentialOptions = {
      configDir: settings.configDir,
      dockerConfigDir: settings.dockerConfigDir,
      env: settings.env,
      trace: ctx.trace,
    };
    checkFlags(flags, out);
    warnIfShared(settings.configDir, (l) => out.warn(l));
    const client = new RegistryClient({
      registry,
      tls: settings.tls,
      proxy: settings.proxy,
      trace: ctx.trace,
      userAgent: userAgent(),
      timeouts: settings.timeouts,
    });
    try {
      const ttyIn = !!process.stdin.isTTY;
      // No user and no password given: try what is stored first, as docker does.
      const nothingGiven = flags.username === undefined && flags.password === undefined && !flags.passwordStdin;
      if (nothingGiven && (await storedStillWork(ctx, client, registry, credOpts, ttyIn))) {
        out.result('Login Succeeded');
        return 0;
      }
      const cred = await askCredentials(ctx, flags, ttyIn);
      let checked: { identityToken?: string };
      const spin = await spinner(out);
      spin.start(`Checking the credentials of ${cred.username} with ${registry}`);
      try {
        checked = await client.checkLogin(cred, { offlineToken: true });
      } catch (e) {
        throw loginRefused(e, registry, cred.username);
      } finally {
        spin.stop();
      }
      const toStore: Credential = checked.identityToken ? { username: cred.username, identityToken: checked.identityToken } : cred;
      const stored = await storeCredentials(registry, toStore, credOpts);
      if (stored.warning) out.warn(stored.warning);
      ctx.trace.log(`login: ${checked.identityToken ? 'refresh token' : 'password'} of ${cred.username} stored in ${stored.store}`);
      out.result('Login Succeeded');
      return 0;
    } finally {
      await client.close().catch(() => {});
    }
  },
});
