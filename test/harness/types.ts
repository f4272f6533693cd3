// Plain, JSON-serialisable description of the running test servers. Other helpers code against these names.

export type FlavourName = 'plain' | 'basic' | 'token' | 'untrusted' | 'mismatch' | 'expired' | 'mtls' | 'dhe';

export const ALL_FLAVOURS: readonly FlavourName[] = [
  'plain',
  'basic',
  'token',
  'untrusted',
  'mismatch',
  'expired',
  'mtls',
  'dhe',
];

export interface Endpoint {
  /** "127.0.0.1:PORT" — what a user writes in an image reference. */
  host: string;
  /** "https://127.0.0.1:PORT" (or "http://…" for the plain flavour). */
  url: string;
  /** The server's log file (registry stderr/stdout, or nginx access + error log for `dhe`). */
  logFile: string;
}

export interface UserCredentials {
  username: string;
  password: string;
}

export interface HarnessInfo {
  workDir: string;
  /** Path to the test CA PEM (trusts basic/token/dhe/mismatch/expired/mtls servers and the token server). */
  caCert: string;
  /** Path to the CA that signed the untrusted server's certificate. */
  untrustedCaCert: string;
  /** mTLS client certificate and key (signed by the client CA). */
  clientCert: string;
  clientKey: string;
  /** The same users exist in htpasswd (basic flavour) and in the token servers. */
  users: { full: UserCredentials; pullonly: UserCredentials };
  /** Flavours that were actually started (all of them under vitest). */
  flavours: FlavourName[];
  plain: Endpoint;
  basic: Endpoint;
  token: Endpoint & { realm: string; service: string; issuer: string; tokenServerUrl: string };
  untrusted: Endpoint;
  mismatch: Endpoint & { certNames: string[] };
  /** notAfter is an ISO-8601 date in the past. */
  expired: Endpoint & { notAfter: string };
  mtls: Endpoint;
  dhe: Endpoint & {
    realm: string;
    service: string;
    issuer: string;
    /** nginx `client_max_body_size`, in bytes. */
    bodyLimitBytes: number;
    /** Direct (plain HTTP, loopback) URL of the token server behind nginx: `/_log` and `/_control` live here. */
    tokenServerUrl: string;
    /** The token-auth registry behind nginx, plain HTTP on loopback (bypasses the proxy). */
    upstream: Endpoint;
  };
}

/** One request to a token server. Never holds a secret. */
export interface TokenLogEntry {
  seq: number;
  time: string;
  method: string;
  path: string;
  /** How the client authenticated. */
  grant: 'basic' | 'anonymous' | 'password' | 'refresh_token' | 'invalid';
  user: string | null;
  service: string | null;
  scopesAsked: string[];
  scopesGranted: string[];
  /** HTTP status answered. */
  status: number;
  offline: boolean;
}
