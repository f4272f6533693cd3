// The docker-credential-<name> protocol: `get` (server on stdin → {ServerURL, Username, Secret}), `store`
// ({ServerURL, Username, Secret} on stdin), `erase` (server on stdin), `list` (→ {server: username}).
// Failures become DheError CREDENTIAL_HELPER naming the helper; the secret never appears in a message.

import { spawn } from 'node:child_process';
import { DheError } from '../../errors.js';
import { redactText } from '../../trace.js';
import { findByHost, registryKey } from './hosts.js';
import { TOKEN_USERNAME, type Credential, type CredentialStore } from './types.js';

const NOT_FOUND = /credentials not found|not found in native keychain|no credentials|item not found|could not be found/i;
const DEFAULT_TIMEOUT_MS = 60_000;
const MAX_OUTPUT = 1 << 20;

export interface HelperOptions {
  timeoutMs?: number;
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function scrub(text: string, secrets: (string | undefined)[]): string {
  let out = text;
  for (const s of secrets) {
    if (s && s.length >= 1) out = out.split(s).join('[REDACTED]');
  }
  out = redactText(out).replace(/\s+/g, ' ').trim();
  return out.length > 300 ? out.slice(0, 300) + '…' : out;
}

/** One configured helper: its program and the environment it runs in. */
interface Helper {
  helperName: string;
  program: string;
  /** The store name credentials carry as their source. */
  name: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
}

export function helperStore(helperName: string, env: NodeJS.ProcessEnv, options: HelperOptions = {}): CredentialStore {
  const program = `docker-credential-${helperName}`;
  const h: Helper = { helperName, program, name: `helper ${program}`, env, timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS };
  return {
    name: h.name,
    get: (server) => getCredential(h, server),
    store: (server, cred) => storeCredential(h, server, cred),
    erase: (server) => eraseCredential(h, server),
    list: () => listServers(h),
  };
}

function fail(h: Helper, action: string, detail: string, cause?: unknown): DheError {
  return new DheError('CREDENTIAL_HELPER', `credential helper ${h.program} failed to ${action}: ${detail}`, {
    hint: `check that ${h.program} works (try: echo <server> | ${h.program} get), or change credsStore/credHelpers in your config.json`,
    cause,
    details: { helper: h.program, action },
  });
}

function notOnPath(h: Helper, action: string, e: Error): DheError {
  return new DheError('CREDENTIAL_HELPER', `credential helper ${h.program} not found on PATH`, {
    hint: `install ${h.program}, or remove "${h.helperName}" from credsStore/credHelpers in your config.json`,
    cause: e,
    details: { helper: h.program, action },
  });
}

function failure(h: Helper, action: string, r: RunResult, secrets: (string | undefined)[] = []): DheError {
  const msg = scrub(r.stdout.trim() || r.stderr.trim() || `exit status ${r.code}`, secrets);
  return fail(h, action, msg);
}

function isNotFound(r: RunResult): boolean {
  return NOT_FOUND.test(r.stdout) || NOT_FOUND.test(r.stderr);
}

/** Runs `<program> <action>` with `input` on stdin: its exit status and output (capped, and killed after the timeout). */
function run(h: Helper, action: string, input: string, secrets: (string | undefined)[] = []): Promise<RunResult> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(h.helperName)) {
    return Promise.reject(
      new DheError('CREDENTIAL_HELPER', `invalid credential helper name "${h.helperName}"`, {
        hint: 'credsStore/credHelpers values name a program docker-credential-<name> on PATH',
      }),
    );
  }
  return new Promise((resolve, reject) => {
    let child;
    try {
      child = spawn(h.program, [action], { env: h.env, stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (e) {
      reject(fail(h, action, (e as Error).message, e));
      return;
    }
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    let settled = false;
    const done = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      done(() => reject(fail(h, action, `no answer within ${Math.round(h.timeoutMs / 1000)}s`)));
    }, h.timeoutMs);
    const collect = (buf: Buffer[]) => (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_OUTPUT) {
        child.kill('SIGKILL');
        done(() => reject(fail(h, action, 'too much output')));
        return;
      }
      buf.push(chunk);
    };
    child.stdout.on('data', collect(out));
    child.stderr.on('data', collect(err));
    child.on('error', (e: NodeJS.ErrnoException) => {
      done(() => reject(e.code === 'ENOENT' ? notOnPath(h, action, e) : fail(h, action, scrub(e.message, secrets), e)));
    });
    child.on('close', (code) => {
      done(() => resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
    });
    child.stdin.on('error', () => {}); // a helper that exits before reading: the exit status tells
    child.stdin.end(input);
  });
}

/** `get` of exactly this server key; undefined when the helper has none (or an empty secret). */
async function getExact(h: Helper, server: string): Promise<Credential | undefined> {
  const r = await run(h, 'get', server);
  if (r.code !== 0) {
    if (isNotFound(r)) return undefined;
    throw failure(h, 'get', r);
  }
  let parsed: { Username?: unknown; Secret?: unknown };
  try {
    parsed = JSON.parse(r.stdout) as typeof parsed;
  } catch {
    throw fail(h, 'get', 'its answer is not JSON');
  }
  const username = typeof parsed.Username === 'string' ? parsed.Username : '';
  const secret = typeof parsed.Secret === 'string' ? parsed.Secret : '';
  if (secret === '') return undefined;
  if (username === TOKEN_USERNAME) return { identityToken: secret, source: h.name };
  return { username, password: secret, source: h.name };
}

async function listServers(h: Helper): Promise<Record<string, string>> {
  const r = await run(h, 'list', '');
  if (r.code !== 0) throw failure(h, 'list', r);
  try {
    const parsed = JSON.parse(r.stdout || '{}') as unknown;
    if (typeof parsed !== 'object' || parsed === null) throw new Error('not an object');
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(parsed)) out[k] = typeof v === 'string' ? v : '';
    return out;
  } catch {
    throw fail(h, 'list', 'its answer is not a JSON object');
  }
}

async function getCredential(h: Helper, server: string): Promise<Credential | undefined> {
  const key = registryKey(server);
  const hit = await getExact(h, key);
  if (hit) return hit;
  // Stored under another form of the name (with a scheme, a /v1/ path…)? Find it through list.
  let keys: Record<string, string>;
  try {
    keys = await listServers(h);
  } catch {
    return undefined;
  }
  const other = findByHost(keys, server);
  if (!other || other[0] === key) return undefined;
  return getExact(h, other[0]);
}

async function storeCredential(h: Helper, server: string, cred: Credential): Promise<void> {
  const secret = cred.identityToken || cred.password || '';
  const payload = {
    ServerURL: registryKey(server),
    Username: cred.identityToken ? TOKEN_USERNAME : (cred.username ?? ''),
    Secret: secret,
  };
  const r = await run(h, 'store', JSON.stringify(payload), [cred.password, cred.identityToken]);
  if (r.code !== 0) throw failure(h, 'store', r, [cred.password, cred.identityToken]);
}

async function eraseCredential(h: Helper, server: string): Promise<boolean> {
  let keys: string[];
  try {
    const all = await listServers(h);
    keys = Object.keys(all).filter((k) => findByHost({ [k]: true }, server));
  } catch {
    keys = [registryKey(server)]; // a helper without list: erase the key login uses
  }
  let erased = false;
  for (const k of keys) {
    const r = await run(h, 'erase', k);
    if (r.code === 0) erased = true;
    else if (!isNotFound(r)) throw failure(h, 'erase', r);
  }
  return erased;
}
