// One error class for everything a user can cause. The CLI prints `Error: <message>` and, when present,
// `Hint: <hint>`; the exit code comes from the code's category (../shared/CLI.md "Exit codes").

export const ExitCode = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  AUTH: 3,
  TLS: 4,
  NOT_FOUND: 5,
  NETWORK: 6,
  INTEGRITY: 7,
  VERIFICATION: 8,
  INTERRUPTED: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** Every code a DheError may carry, with the exit code it maps to. */
export const ERROR_CODES = {
  // usage (2)
  USAGE: ExitCode.USAGE,
  INVALID_REFERENCE: ExitCode.USAGE,
  INVALID_PLATFORM: ExitCode.USAGE,
  NOT_IMPLEMENTED: ExitCode.FAILURE,
  // auth (3)
  UNAUTHORIZED: ExitCode.AUTH,
  DENIED: ExitCode.AUTH,
  INSUFFICIENT_SCOPE: ExitCode.AUTH,
  BAD_CREDENTIALS: ExitCode.AUTH,
  TOKEN_ERROR: ExitCode.AUTH,
  CREDENTIAL_HELPER: ExitCode.AUTH,
  INSECURE_AUTH: ExitCode.AUTH,
  // tls (4)
  TLS_UNKNOWN_AUTHORITY: ExitCode.TLS,
  TLS_HOSTNAME_MISMATCH: ExitCode.TLS,
  TLS_EXPIRED: ExitCode.TLS,
  TLS_NOT_YET_VALID: ExitCode.TLS,
  TLS_CLIENT_CERT_REQUIRED: ExitCode.TLS,
  TLS_ERROR: ExitCode.TLS,
  // not found (5)
  NOT_FOUND: ExitCode.NOT_FOUND,
  NAME_UNKNOWN: ExitCode.NOT_FOUND,
  MANIFEST_UNKNOWN: ExitCode.NOT_FOUND,
  BLOB_UNKNOWN: ExitCode.NOT_FOUND,
  IMAGE_NOT_LOCAL: ExitCode.NOT_FOUND,
  PLATFORM_NOT_FOUND: ExitCode.NOT_FOUND,
  // network (6)
  NETWORK: ExitCode.NETWORK,
  CONNECTION_REFUSED: ExitCode.NETWORK,
  DNS: ExitCode.NETWORK,
  TIMEOUT: ExitCode.NETWORK,
  PROXY: ExitCode.NETWORK,
  RATE_LIMITED: ExitCode.NETWORK,
  SERVER_ERROR: ExitCode.NETWORK,
  // integrity (7)
  DIGEST_MISMATCH: ExitCode.INTEGRITY,
  SIZE_MISMATCH: ExitCode.INTEGRITY,
  CORRUPT_STORE: ExitCode.INTEGRITY,
  BAD_ARCHIVE: ExitCode.INTEGRITY,
  MALFORMED_MANIFEST: ExitCode.INTEGRITY,
  // verification (8): a signature check that did not pass
  VERIFICATION: ExitCode.VERIFICATION,
  // other failures (1)
  PROTOCOL: ExitCode.FAILURE,
  UNSUPPORTED: ExitCode.FAILURE,
  DISK_FULL: ExitCode.FAILURE,
  IO: ExitCode.FAILURE,
  UNSUPPORTED_BY_REGISTRY: ExitCode.FAILURE,
  FAILURE: ExitCode.FAILURE,
  // interrupted (130)
  INTERRUPTED: ExitCode.INTERRUPTED,
} as const satisfies Record<string, ExitCodeValue>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface DheErrorOptions {
  /** What to do about it, one line. */
  hint?: string;
  cause?: unknown;
  /** Structured facts for --format json and doctor (never secrets). */
  details?: Record<string, unknown>;
  /** Override the exit code derived from the code. */
  exitCode?: ExitCodeValue;
}

export class DheError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;
  readonly exitCode: ExitCodeValue;

  constructor(code: ErrorCode, message: string, options: DheErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DheError';
    this.code = code;
    this.hint = options.hint;
    this.details = options.details;
    this.exitCode = options.exitCode ?? ERROR_CODES[code];
  }

  /** A copy with another hint (callers up the stack know more about what the user should do). */
  withHint(hint: string): DheError {
    const e = new DheError(this.code, this.message, {
      hint,
      cause: this.cause,
      details: this.details,
      exitCode: this.exitCode,
    });
    e.stack = this.stack;
    return e;
  }
}

export function isDheError(e: unknown): e is DheError {
  return e instanceof DheError;
}

/** Turns a Node.js filesystem error into a DheError where the user can act on it (disk full, permissions). */
export function fsError(e: unknown, what: string): DheError {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new DheError('DISK_FULL', `no space left on device while ${what}`, {
      hint: 'free some disk space (dhe-cli prune removes unused blobs) or point --store at a larger disk',
      cause: e,
    });
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new DheError('IO', `permission denied while ${what}`, {
      hint: 'check the permissions of the folder, or choose another with --store / --config',
      cause: e,
    });
  }
  if (isDheError(e)) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new DheError('IO', `${what}: ${msg}`, { cause: e });
}
