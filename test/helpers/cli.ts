// Runs the built CLI (bin/dhe-cli.js → dist/) as a user would, in a child process, and captures what they see.
//
// Hermetic runs. The child's environment is built from an allow-list, never from all of this process's environment
// (an HTTPS_PROXY, DHE_*, FORCE_COLOR, CI, NODE_OPTIONS or NODE_EXTRA_CA_CERTS of the machine never leaks in):
//   - from this process, when set: PATH, LANG, LC_ALL, LC_CTYPE, LC_MESSAGES, TZ; on Windows also SYSTEMROOT,
//     WINDIR, COMSPEC, PATHEXT (a process cannot start without them there);
//   - HOME and TMPDIR: the test's (`opts.env.HOME`, e.g. `freshHome().env`); without one, a fresh temp folder made
//     for the run (never the real HOME), with TMPDIR inside it; with a HOME but no TMPDIR, this process's tmpdir();
//   - NO_COLOR=1, and DHE_KEYCHAIN=0 (no OS keychain: credentials go to the 0600 file, as on a machine without one;
//     on a desktop the login tests would otherwise write harness passwords into the user's real keychain) unless the
//     test asks for the keychain with `opts.keychain: true`;
//   - then everything in `opts.env` (NODE_OPTIONS, CI, proxies… only when the test sets them); `undefined` removes.
// `cliEnv(opts)` gives the same environment to a test that has to start the CLI some other way (through a shell).
//
// Secret guard. Every run is checked: when its stdout or stderr shows a harness password (or its Basic value) or any
// token the harness's token servers issued, the run rejects and the test fails (--debug runs included). A test that
// starts the CLI (or a child that may print secrets) itself checks its output with `guardOutput(streams, label)`.
// A private harness (`startHarness(...)` in a test) is added to the guard with `await registerHarness(own)`; other
// secrets with `registerSecrets([...])` (per file) or `opts.secrets` (per run).
//
// Temporary folders made here (`freshHome()`, the default HOME) are removed after each test file
// (onFileEnd of cleanup.ts, run by an afterAll of test/harness/log-on-failure.ts).

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';
import { issuedSecrets } from '../harness/index.js';
import { issuedTokens } from '../harness/harness.js';
import type { UserCredentials } from '../harness/types.js';
import { onFileEnd } from './cleanup.js';

export const BIN = fileURLToPath(new URL('../../bin/dhe-cli.js', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Added to the allow-listed environment (see the top of this file); `undefined` removes a variable. */
  env?: Record<string, string | undefined>;
  input?: string | Buffer;
  /** Leave standard input open (`child.stdin`) for the test to write and end, instead of sending `input`. */
  keepStdin?: boolean;
  timeoutMs?: number;
  cwd?: string;
  /** More secrets this run must never print (e.g. a private harness's or a fault proxy's passwords). */
  secrets?: string[];
  /** Let the CLI use the OS keychain (default: DHE_KEYCHAIN=0). */
  keychain?: boolean;
  /** Another dhe-cli executable (e.g. one installed from the packed tarball), run directly instead of node BIN. */
  bin?: string;
  /** A command the CLI is started through: `[...launcher, node, BIN, ...args]` (e.g. `sh -c 'umask 022; exec "$0" "$@"'`). */
  launcher?: string[];
}

// ---------------------------------------------------------------------------------------------------------------
// temporary folders

const tempDirs = new Set<string>();
onFileEnd(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  tempDirs.clear();
});

/** A new empty folder under tmpdir(), removed after the test file like freshHome()'s. */
export function tempDir(prefix = 'dhe-tmp-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

/** A fresh config + store folder for one test (HOME, TMPDIR and DOCKER_CONFIG inside it), with CI=true so output is plain. */
export function freshHome(): { dir: string; config: string; store: string; env: Record<string, string> } {
  const dir = tempDir('dhe-test-');
  const config = join(dir, 'config');
  const store = join(dir, 'store');
  const tmp = join(dir, 'tmp');
  mkdirSync(tmp, { mode: 0o700 });
  return {
    dir,
    config,
    store,
    env: { DHE_CONFIG: config, DHE_STORE: store, DOCKER_CONFIG: join(dir, 'docker'), HOME: dir, TMPDIR: tmp, CI: 'true' },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// the environment

const FROM_PARENT = ['PATH', 'LANG', 'LC_ALL', 'LC_CTYPE', 'LC_MESSAGES', 'TZ'];
const FROM_PARENT_WINDOWS = ['SYSTEMROOT', 'WINDIR', 'COMSPEC', 'PATHEXT'];

/** The environment of a CLI run (see the top of this file). */
export function cliEnv(opts: Pick<CliOptions, 'env' | 'keychain'> = {}): NodeJS.ProcessEnv {
  const env: Record<string, string | undefined> = {};
  for (const k of [...FROM_PARENT, ...(process.platform === 'win32' ? FROM_PARENT_WINDOWS : [])]) {
    if (process.env[k] !== undefined) env[k] = process.env[k];
  }
  const given = opts.env ?? {};
  if (given.HOME === undefined) {
    const home = tempDir('dhe-home-');
    mkdirSync(join(home, 'tmp'), { mode: 0o700 });
    env.HOME = home;
    env.TMPDIR = join(home, 'tmp');
  } else {
    env.TMPDIR = tmpdir();
  }
  env.NO_COLOR = '1';
  if (!opts.keychain) env.DHE_KEYCHAIN = '0';
  Object.assign(env, given);
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  return env as NodeJS.ProcessEnv;
}

// ---------------------------------------------------------------------------------------------------------------
// the secret guard

interface Secret {
  what: string;
  value: string;
}

const registered: Secret[] = [];
const sources = new Map<string, { ca?: string; next: number; tokens: Set<string> }>();

function asSecrets(values: string[], what: string): Secret[] {
  return values.filter((v) => v.length >= 6).map((value) => ({ what, value }));
}

function userSecrets(role: string, u: UserCredentials, whose = 'the'): Secret[] {
  return [
    { what: `${whose} ${role} user's password`, value: u.password },
    { what: `${whose} ${role} user's Basic credentials`, value: Buffer.from(`${u.username}:${u.password}`).toString('base64') },
  ];
}

function tokenSecrets(tokens: Iterable<string>, whose = 'an'): Secret[] {
  const out: Secret[] = [];
  for (const t of tokens) {
    const parts = t.split('.');
    if (parts.length === 3) {
      out.push({ what: `${whose} issued access token`, value: t });
      // the claims and the signature are unique to one token; a trace cut short must not show them either
      out.push({ what: `${whose} issued access token's claims`, value: parts[1]! });
      out.push({ what: `${whose} issued access token's signature`, value: parts[2]! });
    } else {
      out.push({ what: `${whose} issued refresh token`, value: t });
    }
  }
  return out;
}

/** Secrets every later run of this test file must not print (until the returned function is called). */
export function registerSecrets(values: string[], what = 'a secret registered by the test'): () => void {
  const added = asSecrets(values, what);
  registered.push(...added);
  return () => {
    for (const s of added) registered.splice(registered.indexOf(s), 1);
  };
}

async function fetchSource(url: string): Promise<void> {
  const src = sources.get(url);
  if (!src) return;
  const got = await issuedTokens(url, src.ca, src.next);
  for (const t of got.tokens) src.tokens.add(t);
  src.next = got.next;
}

/**
 * Adds a token server (its test-only `/_issued` log, as the harness's token servers keep it) to the guard: every token
 * it issued is a secret for the later runs of this test file. Fetched now and before every check; a source that refuses
 * connections at a check (paused, stopped) keeps the tokens already fetched.
 */
export async function registerSecretsSource(tokenServerUrl: string, caCertPath?: string): Promise<() => void> {
  if (!sources.has(tokenServerUrl)) sources.set(tokenServerUrl, { ca: caCertPath, next: 0, tokens: new Set() });
  await fetchSource(tokenServerUrl);
  return () => {
    sources.delete(tokenServerUrl);
  };
}

/** A private harness (`startHarness(...)` in a test): its users' passwords and Basic values, and its token servers' tokens. */
export async function registerHarness(own: {
  users: Record<string, UserCredentials>;
  caCert: string;
  token?: { tokenServerUrl: string };
  dhe?: { tokenServerUrl: string };
  flavours?: readonly string[];
}): Promise<() => void> {
  const users = Object.entries(own.users).flatMap(([role, u]) => userSecrets(role, u, "a private harness's"));
  registered.push(...users);
  const undo: Array<() => void> = [];
  for (const f of ['token', 'dhe'] as const) {
    const ep = own[f];
    if (ep && (!own.flavours || own.flavours.includes(f))) undo.push(await registerSecretsSource(ep.tokenServerUrl, own.caCert));
  }
  return () => {
    for (const s of users) registered.splice(registered.indexOf(s), 1);
    for (const u of undo) u();
  };
}

/** What no output may show: the harness users' passwords and Basic values, every token issued so far, and what the test registered. */
export async function knownSecrets(extra: string[] = []): Promise<Secret[]> {
  const out: Secret[] = [...asSecrets(extra, 'a secret given by the test'), ...registered];
  for (const url of sources.keys()) {
    try {
      await fetchSource(url);
    } catch (e) {
      if ((e as { cause?: { code?: string } }).cause?.code !== 'ECONNREFUSED') throw e;
    }
    out.push(...tokenSecrets(sources.get(url)!.tokens, "a private harness's"));
  }
  const h = inject('harness');
  if (!h) return out;
  for (const [role, u] of Object.entries(h.users)) out.push(...userSecrets(role, u));
  out.push(...tokenSecrets(await issuedSecrets()));
  return out;
}

/** Throws when `text` shows one of `secrets` (saying which, never the secret itself). */
export function assertNoSecrets(secrets: Secret[], streams: Record<string, string>, label: string): void {
  for (const [name, text] of Object.entries(streams)) {
    for (const s of secrets) {
      const at = text.indexOf(s.value);
      if (at >= 0) {
        const line = text.slice(text.lastIndexOf('\n', at) + 1, at);
        const safeLabel = secrets.reduce((l, x) => l.split(x.value).join('[secret]'), label);
        throw new Error(`secret leak: ${s.what} appeared on ${name} of \`${safeLabel}\`, after: ${JSON.stringify(line.slice(-120))}`);
      }
    }
  }
}

/** The guard for output a test captured itself (a CLI started through a shell, a script): rejects when it shows a secret. */
export async function guardOutput(streams: Record<string, string>, label: string, extraSecrets: string[] = []): Promise<void> {
  assertNoSecrets(await knownSecrets(extraSecrets), streams, label);
}

// ---------------------------------------------------------------------------------------------------------------
// running the CLI

export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return startCli(args, opts).result;
}

export interface StartedCli {
  child: ChildProcess;
  output: () => { stdout: string; stderr: string };
  /** When the process has exited (before its output is checked for secrets): for timing a signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Its result, once its output was checked for secrets like runCli's. */
  result: Promise<CliResult>;
}

/** Starts the CLI and hands back the child (to signal it) and its result (checked for secrets like runCli's). */
export function startCli(args: string[], opts: CliOptions = {}): StartedCli {
  let stdout = '';
  let stderr = '';
  const argv = opts.bin ? [opts.bin, ...args] : [process.execPath, BIN, ...args];
  const [cmd, ...rest] = [...(opts.launcher ?? []), ...argv];
  const child = spawn(cmd!, rest, { env: cliEnv(opts), cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
  const result = exited.then(async ({ code, signal }) => {
    await guardOutput({ stdout, stderr }, `dhe-cli ${args.join(' ')}`, opts.secrets);
    return { code, signal, stdout, stderr };
  });
  exited.catch(() => undefined); // the same rejection reaches the test through `result`
  child.stdin!.on('error', () => undefined); // EPIPE when the CLI is gone before it read everything
  if (!opts.keepStdin) child.stdin!.end(opts.input ?? '');
  return { child, output: () => ({ stdout, stderr }), exited, result };
}
