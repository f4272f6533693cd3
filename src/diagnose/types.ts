// The shapes of a doctor run: a list of checks, each with a status, a one-line finding and, for failures, a fix.

import type { ProxySettings, TlsSettings } from '../config.js';
import type { ErrorCode } from '../errors.js';
import type { CredentialStore } from '../auth/credentials/types.js';
import type { Trace } from '../trace.js';

export type CheckArea = 'network' | 'tls' | 'http' | 'auth' | 'access';
export type CheckStatus = 'pass' | 'fail' | 'warn' | 'skip';

export interface Check {
  /** Stable identifier: "dns", "tcp", "tls.trust", "token.access", "realm.tls.trust", "access.push", ... */
  id: string;
  area: CheckArea;
  status: CheckStatus;
  /** Short name: "DNS", "TLS trust", "Token: granted access". */
  title: string;
  /** One line: what was found. */
  finding: string;
  /** For failures (and some warnings): the exact action, a command, a file path or a flag. */
  fix?: string;
  /** Extra lines shown under the check (paths searched, certificates of the chain, ...). */
  notes?: string[];
  /** The error code this failure corresponds to (decides the exit code). */
  code?: ErrorCode;
  /** Structured facts for --format json (never a secret). */
  details?: Record<string, unknown>;
}

export interface DoctorReport {
  /** As given on the command line. */
  registry: string;
  /** The host:port connected to. */
  host: string;
  port: number;
  repo?: string;
  /** ISO date of the run. */
  startedAt: string;
  checks: Check[];
  /** true when no check failed (warnings allowed). */
  ok: boolean;
  /** 0, or the exit code of the first failing check's area (3 auth/access, 4 tls, 6 network, 1 otherwise). */
  exitCode: number;
}

export interface DoctorOptions {
  tls: TlsSettings;
  proxy: ProxySettings;
  /** dhe-cli's config folder (credentials, certs.d). */
  configDir: string;
  /** docker's config folder. */
  dockerConfigDir: string;
  /** For credential helpers on PATH. */
  env: NodeJS.ProcessEnv;
  /** Also check pull and push access to this repository. */
  repo?: string;
  trace?: Trace;
  signal?: AbortSignal;
  userAgent?: string;
  /** Per connection attempt (default 5000 ms). */
  timeoutMs?: number;
  /** The OS keychain for credential lookups (default: probed). */
  keychain?: CredentialStore | null | 'auto';
  /** Called as each check completes (for live output). */
  onCheck?: (c: Check) => void;
}
