// One doctor run: the target, the options, the transport every check shares, and the checks found so far. The check
// functions (checks/*.ts) add to it; doctor.ts orders them.

import { isIP } from 'node:net';
import type { CredentialOptions } from '../auth/credentials/index.js';
import { DheError, ERROR_CODES, ExitCode, isDheError, type ErrorCode } from '../errors.js';
import { silentTrace, type Trace } from '../trace.js';
import { matchesHostList } from '../transport/hosts.js';
import { Transport } from '../transport/http.js';
import { parseTarget, type Target } from './net.js';
import type { Check, CheckArea, DoctorOptions, DoctorReport } from './types.js';

export interface DoctorRun {
  /** As given on the command line. */
  registry: string;
  t: Target;
  /** host:port */
  hp: string;
  repo?: string;
  opts: DoctorOptions;
  trace: Trace;
  timeoutMs: number;
  startedAt: string;
  /** One attempt, short timeouts: a diagnosis reports what fails, it does not retry it away. */
  transport: Transport;
  /** The registry is an --insecure-registry. */
  insecure: boolean;
  credOpts: CredentialOptions;
  checks: Check[];
  add(c: Check): Check;
  skip(id: string, area: CheckArea, title: string, why: string): Check;
  /** Whether a check found so far matches. */
  has(pred: (c: Check) => boolean): boolean;
}

export function createRun(registry: string, opts: DoctorOptions): DoctorRun {
  const t = parseTarget(registry);
  const timeoutMs = opts.timeoutMs ?? 5000;
  const trace = opts.trace ?? silentTrace;
  const transport = new Transport({
    tls: opts.tls,
    proxy: opts.proxy,
    trace,
    userAgent: opts.userAgent ?? 'dhe-cli-doctor',
    retry: { attempts: 1 },
    timeouts: { connectMs: timeoutMs, headersMs: 15_000, bodyIdleMs: 15_000 },
  });
  const insecure = matchesHostList(opts.tls.insecureRegistries, t.hostport);
  if (insecure) transport.markInsecure(t.hostport);
  const checks: Check[] = [];
  const add = (c: Check): Check => {
    checks.push(c);
    opts.onCheck?.(c);
    return c;
  };
  return {
    registry,
    t,
    hp: t.hostport,
    repo: opts.repo?.replace(/^\/+|\/+$/g, ''),
    opts,
    trace,
    timeoutMs,
    startedAt: new Date().toISOString(),
    transport,
    insecure,
    credOpts: { configDir: opts.configDir, dockerConfigDir: opts.dockerConfigDir, env: opts.env, trace, keychain: opts.keychain },
    checks,
    add,
    skip: (id, area, title, why) => add({ id, area, status: 'skip', title, finding: `skipped: ${why}` }),
    has: (pred) => checks.some(pred),
  };
}

const AREA_EXIT: Record<CheckArea, number> = {
  network: ExitCode.NETWORK,
  tls: ExitCode.TLS,
  http: ExitCode.FAILURE,
  auth: ExitCode.AUTH,
  access: ExitCode.AUTH,
};

/** The exit code of a report: 0, or that of the first failing check (its error code, else its area). */
export function exitCodeOf(checks: Check[]): number {
  const first = checks.find((c) => c.status === 'fail');
  if (!first) return ExitCode.OK;
  return first.code ? ERROR_CODES[first.code] : AREA_EXIT[first.area];
}

export function reportOf(run: DoctorRun): DoctorReport {
  const { registry, t, repo, startedAt, checks } = run;
  return { registry, host: t.hostport, port: t.port, repo, startedAt, checks, ok: !checks.some((c) => c.status === 'fail'), exitCode: exitCodeOf(checks) };
}

function areaFor(code: ErrorCode, fallback: CheckArea): CheckArea {
  const exit = ERROR_CODES[code];
  if (exit === ExitCode.NETWORK) return 'network';
  if (exit === ExitCode.TLS) return 'tls';
  return fallback;
}

/** A failed check from a DheError (message → finding, hint → fix). */
export function fromError(id: string, area: CheckArea, title: string, e: unknown, fix?: string): Check {
  const err = isDheError(e) ? e : new DheError('FAILURE', e instanceof Error ? e.message : String(e), { cause: e });
  return { id, area: areaFor(err.code, area), status: 'fail', title, finding: err.message, fix: fix ?? err.hint, code: err.code };
}

export function urlOf(scheme: 'https' | 'http', t: Target, path: string): string {
  const host = isIP(t.host) === 6 ? `[${t.host}]` : t.host;
  return new URL(`${scheme}://${host}:${t.port}${path}`).href;
}
