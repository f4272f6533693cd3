// Runs the built CLI (bin/dhe-cli.js → dist/) as a user would, in a child process, and captures what they see.
// Every run is also checked for secrets: when its stdout or stderr shows a harness password (or its Basic value)
// or any token the harness's token servers issued, the run rejects and the test fails (--debug runs included).

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';
import { issuedSecrets } from '../harness/index.js';

export const BIN = fileURLToPath(new URL('../../bin/dhe-cli.js', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  env?: Record<string, string | undefined>;
  input?: string;
  timeoutMs?: number;
  cwd?: string;
  /** More secrets this run must never print (e.g. a private harness's or a fault proxy's passwords). */
  secrets?: string[];
}

interface Secret {
  what: string;
  value: string;
}

/** What no output may show: the harness users' passwords and Basic values, and every token issued so far. */
export async function knownSecrets(extra: string[] = []): Promise<Secret[]> {
  const out: Secret[] = extra.filter((v) => v.length >= 6).map((value) => ({ what: 'a secret given by the test', value }));
  const h = inject('harness');
  if (!h) return out;
  for (const [role, u] of Object.entries(h.users)) {
    out.push({ what: `the ${role} user's password`, value: u.password });
    out.push({ what: `the ${role} user's Basic credentials`, value: Buffer.from(`${u.username}:${u.password}`).toString('base64') });
  }
  for (const t of await issuedSecrets()) {
    const parts = t.split('.');
    if (parts.length === 3) {
      out.push({ what: 'an issued access token', value: t });
      // the claims and the signature are unique to one token; a trace cut short must not show them either
      out.push({ what: "an issued access token's claims", value: parts[1]! });
      out.push({ what: "an issued access token's signature", value: parts[2]! });
    } else {
      out.push({ what: 'an issued refresh token', value: t });
    }
  }
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

/** A fresh config + store folder for one test, with CI=true so output is plain. */
export function freshHome(): { config: string; store: string; env: Record<string, string> } {
  const dir = mkdtempSync(join(tmpdir(), 'dhe-test-'));
  const config = join(dir, 'config');
  const store = join(dir, 'store');
  return {
    config,
    store,
    env: { DHE_CONFIG: config, DHE_STORE: store, DOCKER_CONFIG: join(dir, 'docker'), HOME: dir, CI: 'true' },
  };
}

export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return startCli(args, opts).result;
}

/** Starts the CLI and hands back the child (to signal it) and its result (checked for secrets like runCli's). */
export function startCli(args: string[], opts: CliOptions = {}): { child: ChildProcess; output: () => { stdout: string; stderr: string }; result: Promise<CliResult> } {
  let child!: ChildProcess;
  let stdout = '';
  let stderr = '';
  const result = new Promise<CliResult>((resolve, reject) => {
    const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1', ...opts.env };
    for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
    child = spawn(process.execPath, [BIN, ...args], {
      env: env as NodeJS.ProcessEnv,
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      knownSecrets(opts.secrets)
        .then((secrets) => {
          assertNoSecrets(secrets, { stdout, stderr }, `dhe-cli ${args.join(' ')}`);
          resolve({ code, signal, stdout, stderr });
        })
        .catch(reject);
    });
    child.stdin!.end(opts.input ?? '');
  });
  return { child, output: () => ({ stdout, stderr }), result };
}
