// Node/undici failures → DheError with a message naming the host and a hint saying what to do.

import { connect as tlsConnect, type ConnectionOptions, type PeerCertificate, type TLSSocket } from 'node:tls';
import { isIP } from 'node:net';
import { homedir } from 'node:os';
import { sep } from 'node:path';
import { DheError, type ErrorCode } from '../errors.js';
import { splitHostPort } from './hosts.js';
import type { HostTls } from './tls.js';

const UNKNOWN_AUTHORITY = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);
const HOSTNAME = new Set(['ERR_TLS_CERT_ALTNAME_INVALID', 'HOSTNAME_MISMATCH']);
const CLIENT_CERT = new Set([
  'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
  'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN',
  'ERR_SSL_TLSV1_ALERT_ACCESS_DENIED',
  'ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR',
]);
/** Errors that say "the port speaks plain HTTP, not TLS". */
const NOT_TLS = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_HTTP_REQUEST']);

const RETRYABLE_NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'EAI_AGAIN',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
  'UND_ERR_REQ_RETRY',
]);

/** All codes along the cause chain. */
export function allCodes(err: unknown): string[] {
  const out: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e && depth < 6; depth++) {
    const c = (e as { code?: unknown }).code;
    if (typeof c === 'string') out.push(c);
    e = (e as { cause?: unknown }).cause;
  }
  return out;
}

function isTlsVerificationError(err: unknown): boolean {
  return allCodes(err).some((c) => UNKNOWN_AUTHORITY.has(c) || HOSTNAME.has(c) || c === 'CERT_HAS_EXPIRED' || c === 'CERT_NOT_YET_VALID');
}

export function isClientCertError(err: unknown): boolean {
  return allCodes(err).some((c) => CLIENT_CERT.has(c));
}

/** True when the failure shows the port answered TLS with plain HTTP. */
export function looksLikePlainHttp(err: unknown): boolean {
  const codes = allCodes(err);
  if (codes.some((c) => NOT_TLS.has(c))) return true;
  const msg = chainMessage(err);
  return /wrong version number|packet length too long|http request/i.test(msg);
}

/** Codes of a DheError from mapNetworkError: the host (or the proxy to it) could not be reached or stopped answering. */
const UNREACHABLE_CODES: ReadonlySet<string> = new Set<ErrorCode>(['NETWORK', 'CONNECTION_REFUSED', 'DNS', 'TIMEOUT', 'PROXY']);

/** A request that failed on the way (no HTTP answer): classified by DheError.code. */
export function isUnreachable(err: unknown): err is DheError {
  return err instanceof DheError && UNREACHABLE_CODES.has(err.code);
}

export function isRetryableNetworkError(err: unknown): boolean {
  if (isTlsVerificationError(err) || isClientCertError(err)) return false;
  return allCodes(err).some((c) => RETRYABLE_NETWORK_CODES.has(c));
}

function chainMessage(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e && depth < 6; depth++) {
    if (e instanceof Error) parts.push(e.message);
    e = (e as { cause?: unknown }).cause;
  }
  return parts.join(': ');
}

const DOCKER_CERTS_D = '/etc/docker/certs.d';

/** A path as the user types it: the home folder as `~`. */
function tildify(p: string): string {
  const home = homedir();
  if (home.length > 1 && (p === home || p.startsWith(home.endsWith(sep) ? home : home + sep))) return `~${p.slice(home.length)}`;
  return p;
}

/**
 * Where to put a file for hostport, named after the certs.d folders actually searched (TlsSettings.certsDirs):
 * the first one, plus /etc/docker/certs.d when it is searched too.
 * `file` is "ca.crt" or "" (the folder itself, for client.cert and client.key).
 */
function certsDPlaces(hostport: string, file: string, certsDirs?: readonly string[]): string {
  // No list (or an empty one, from a library caller): docker's default places.
  const dirs = certsDirs?.length ? certsDirs : ['~/.dhe-cli/certs.d', DOCKER_CERTS_D];
  const at = (base: string) => `${tildify(base).replace(/\/+$/, '')}/${hostport}/${file}`;
  const first = dirs[0];
  if (first === undefined) return '';
  const docker = dirs.slice(1).find((d) => d.replace(/\/+$/, '') === DOCKER_CERTS_D);
  return docker !== undefined ? `${at(first)} (or ${at(docker)})` : at(first);
}

function tlsHint(hostport: string, certsDirs?: readonly string[]): string {
  const place = certsDPlaces(hostport, 'ca.crt', certsDirs);
  return `trust the registry's CA: pass it with --ca-cert FILE${place ? `, or put it at ${place}` : ''}, or let dhe-cli fetch and pin it: dhe-cli doctor ${hostport} --trust; as a last resort --insecure-registry ${hostport}`;
}

/** The hint for a registry asking for a TLS client certificate. */
export function clientCertHint(hostport: string, certsDirs?: readonly string[]): string {
  const place = certsDPlaces(hostport, '', certsDirs);
  return `${place ? `put client.cert and client.key in ${place}, or ` : ''}pass --cert FILE --key FILE`;
}

export interface PeerCertInfo {
  subject?: string;
  issuer?: string;
  names: string[];
  validFrom?: string;
  validTo?: string;
  fingerprint256?: string;
}

function dn(x: Record<string, unknown> | undefined): string | undefined {
  if (!x) return undefined;
  const parts: string[] = [];
  for (const k of ['CN', 'O', 'OU']) {
    const v = x[k];
    if (v !== undefined) parts.push(`${k}=${Array.isArray(v) ? v.join('+') : String(v)}`);
  }
  return parts.length ? parts.join(', ') : undefined;
}

function certInfo(c: PeerCertificate | undefined): PeerCertInfo | undefined {
  if (!c || !c.subject) return undefined;
  const names = (c.subjectaltname ?? '')
    .split(',')
    .map((s) => s.trim().replace(/^(DNS|IP Address):/, ''))
    .filter(Boolean);
  return {
    subject: dn(c.subject as unknown as Record<string, unknown>),
    issuer: dn(c.issuer as unknown as Record<string, unknown>),
    names,
    validFrom: c.valid_from,
    validTo: c.valid_to,
    fingerprint256: c.fingerprint256,
  };
}

/**
 * A TLS connection to hostport without verification (`extra`: CAs, a client certificate), handed to `watch` with
 * `finish`, which closes it and resolves; undefined after `timeoutMs` or on a connection error `watch` leaves alone.
 */
function tlsProbe<T>(hostport: string, extra: ConnectionOptions, timeoutMs: number, watch: (sock: TLSSocket, finish: (v: T | undefined) => void) => void): Promise<T | undefined> {
  const { host, port } = splitHostPort(hostport);
  return new Promise((resolve) => {
    let done = false;
    const finish = (v: T | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const sock = tlsConnect({ host, port: port ?? 443, servername: isIP(host) ? undefined : host, rejectUnauthorized: false, ...extra });
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    watch(sock, finish);
    sock.once('error', () => finish(undefined));
  });
}

/** Connects without verification and returns the server's certificate facts (undefined on failure). */
function probePeerCertificate(hostport: string, timeoutMs = 5000): Promise<PeerCertInfo | undefined> {
  return tlsProbe<PeerCertInfo>(hostport, {}, timeoutMs, (sock, finish) => {
    sock.once('secureConnect', () => finish(certInfo(sock.getPeerCertificate(false))));
  });
}

function isoDate(d: string | undefined): string | undefined {
  if (!d) return undefined;
  const t = Date.parse(d);
  return Number.isNaN(t) ? d : new Date(t).toISOString();
}

/**
 * Explains a TLS failure against hostport as a typed DheError (unknown authority, host name mismatch, expired,
 * not yet valid, client certificate required), probing the server's certificate for the facts. Returns undefined
 * when err is not a TLS failure. doctor reuses this.
 */
export async function explainTlsError(
  err: unknown,
  hostport: string,
  opts: { tls?: HostTls; probe?: boolean } = {},
): Promise<DheError | undefined> {
  const codes = allCodes(err);
  const code = codes.find((c) => UNKNOWN_AUTHORITY.has(c) || HOSTNAME.has(c) || CLIENT_CERT.has(c) || c === 'CERT_HAS_EXPIRED' || c === 'CERT_NOT_YET_VALID');
  const notTls = looksLikePlainHttp(err);
  const genericTls = !code && !notTls && (codes.some((c) => c.startsWith('ERR_SSL_') || c.startsWith('ERR_TLS_') || c === 'EPROTO'));
  if (!code && !notTls && !genericTls) return undefined;
  const details: Record<string, unknown> = { host: hostport, code: code ?? codes[0] };
  const errCert = (err as { cert?: PeerCertificate }).cert;
  let info = certInfo(errCert);
  if (!info && opts.probe !== false && code && !CLIENT_CERT.has(code)) info = await probePeerCertificate(hostport);
  if (info) details.certificate = info;

  if (notTls) {
    return new DheError('TLS_ERROR', `${hostport} does not speak TLS (it answered plain HTTP)`, {
      hint: `if the registry really serves plain HTTP, mark it with --insecure-registry ${hostport}`,
      cause: err,
      details,
    });
  }
  if (code && UNKNOWN_AUTHORITY.has(code)) {
    const issuer = info?.issuer ? ` (issuer: ${info.issuer})` : '';
    const self = code === 'DEPTH_ZERO_SELF_SIGNED_CERT' ? ' (self-signed certificate)' : '';
    return new DheError('TLS_UNKNOWN_AUTHORITY', `x509: certificate signed by unknown authority${issuer || self} for ${hostport}`, {
      hint: tlsHint(hostport, opts.tls?.certsDirs),
      cause: err,
      details,
    });
  }
  if (code && HOSTNAME.has(code)) {
    const names = info?.names.length ? info.names.join(', ') : info?.subject ?? 'other names';
    const { host } = splitHostPort(hostport);
    return new DheError(
      'TLS_HOSTNAME_MISMATCH',
      `x509: certificate is valid for ${names}, not ${host}`,
      {
        hint: `use a registry name the certificate covers (${names}), or have the certificate re-issued with ${host} in its subjectAltName; as a last resort --insecure-registry ${hostport}`,
        cause: err,
        details,
      },
    );
  }
  if (code === 'CERT_HAS_EXPIRED') {
    const to = isoDate(info?.validTo);
    return new DheError('TLS_EXPIRED', `x509: certificate of ${hostport} has expired${to ? ` (not valid after ${to})` : ''}`, {
      hint: `the registry's certificate must be renewed; check also this machine's clock (now ${new Date().toISOString()}); as a last resort --insecure-registry ${hostport}`,
      cause: err,
      details,
    });
  }
  if (code === 'CERT_NOT_YET_VALID') {
    const from = isoDate(info?.validFrom);
    return new DheError('TLS_NOT_YET_VALID', `x509: certificate of ${hostport} is not yet valid${from ? ` (valid from ${from})` : ''}`, {
      hint: `check this machine's clock (now ${new Date().toISOString()}) and the certificate's dates`,
      cause: err,
      details,
    });
  }
  if (code && CLIENT_CERT.has(code)) {
    const have = opts.tls?.cert ? 'the client certificate sent was rejected' : 'no client certificate was sent';
    return new DheError('TLS_CLIENT_CERT_REQUIRED', `${hostport} requires a TLS client certificate (${have})`, {
      hint: clientCertHint(hostport, opts.tls?.certsDirs),
      cause: err,
      details,
    });
  }
  return new DheError('TLS_ERROR', `TLS handshake with ${hostport} failed: ${chainMessage(err)}`, {
    hint: tlsHint(hostport, opts.tls?.certsDirs),
    cause: err,
    details,
  });
}

/** Maps a non-HTTP failure (socket, DNS, timeout, TLS) to a DheError. TLS errors get the facts from err only. */
export function mapNetworkError(err: unknown, ctx: { host: string; proxy?: string; timeouts?: { connectMs?: number; headersMs?: number; bodyIdleMs?: number } }): DheError {
  if (err instanceof DheError) return err;
  const codes = allCodes(err);
  const has = (...c: string[]) => codes.some((x) => c.includes(x));
  const host = ctx.host;
  const name = (err as { name?: string }).name;
  if (name === 'AbortError' || has('ABORT_ERR', 'UND_ERR_ABORTED')) {
    return new DheError('INTERRUPTED', `request to ${host} was cancelled`, { cause: err });
  }
  if (ctx.proxy && has('ECONNREFUSED', 'ENOTFOUND', 'UND_ERR_PRX_TLS') ) {
    return new DheError('PROXY', `cannot reach the proxy ${redactProxy(ctx.proxy)} for ${host}: ${codes[0]}`, {
      hint: 'check HTTPS_PROXY / HTTP_PROXY, or add the registry to NO_PROXY',
      cause: err,
    });
  }
  if (has('ECONNREFUSED')) {
    return new DheError('CONNECTION_REFUSED', `connection refused by ${host}`, {
      hint: `is the registry running and listening on ${host}? check the host name and port`,
      cause: err,
      details: { host },
    });
  }
  if (has('ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME')) {
    return new DheError('DNS', `cannot resolve host ${splitHostPort(host).host}`, {
      hint: 'check the registry name for typos and this machine\'s DNS settings',
      cause: err,
      details: { host },
    });
  }
  if (has('UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT')) {
    return new DheError('TIMEOUT', `timed out connecting to ${host}`, {
      hint: 'check that the host is reachable from here (firewall, VPN, proxy settings)',
      cause: err,
      details: { host },
    });
  }
  if (has('UND_ERR_HEADERS_TIMEOUT')) {
    return new DheError('TIMEOUT', `${host} did not answer in time`, { hint: 'the registry may be overloaded; try again later', cause: err, details: { host } });
  }
  if (has('UND_ERR_BODY_TIMEOUT')) {
    return new DheError('TIMEOUT', `${host} stopped sending data (read timeout)`, { hint: 'the connection stalled; try again', cause: err, details: { host } });
  }
  if (isTlsVerificationError(err) || isClientCertError(err) || codes.some((c) => c.startsWith('ERR_SSL_') || c.startsWith('ERR_TLS_') || c === 'EPROTO')) {
    return new DheError('TLS_ERROR', `TLS with ${host} failed: ${chainMessage(err)}`, { hint: tlsHint(host), cause: err, details: { host } });
  }
  if (has('ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'ECONNABORTED')) {
    return new DheError('NETWORK', `connection to ${host} was closed unexpectedly`, { hint: 'a network problem or a proxy cut the connection; try again', cause: err, details: { host } });
  }
  if (has('ENETUNREACH', 'EHOSTUNREACH')) {
    return new DheError('NETWORK', `${host} is unreachable`, { hint: 'check the network route to the registry', cause: err, details: { host } });
  }
  return new DheError('NETWORK', `request to ${host} failed: ${chainMessage(err) || String(err)}`, { hint: 'check the network and try again', cause: err, details: { host } });
}

function redactProxy(p: string): string {
  try {
    const u = new URL(p);
    u.username = u.username ? 'REDACTED' : '';
    u.password = '';
    return u.toString();
  } catch {
    return p;
  }
}

/**
 * After a TLS connection that the server closed without a word: connects again (same trust, same client
 * certificate if any), sends a request and reports the TLS alert code if the server refused for want of an
 * acceptable client certificate (TLS 1.3 servers only say so after the handshake). undefined otherwise.
 */
export function probeClientCertRefusal(hostport: string, tls?: HostTls, timeoutMs = 5000): Promise<string | undefined> {
  const extra: ConnectionOptions = { ...(tls?.ca ? { ca: tls.ca } : {}), ...(tls?.cert ? { cert: tls.cert, key: tls.key } : {}) };
  return tlsProbe<string>(hostport, extra, timeoutMs, (sock, finish) => {
    sock.once('secureConnect', () => {
      sock.write(`GET /v2/ HTTP/1.1\r\nHost: ${hostport}\r\nConnection: close\r\n\r\n`);
    });
    sock.once('data', () => finish(undefined));
    // before tlsProbe's own 'error' listener: the alert code is the answer
    sock.once('error', (e: NodeJS.ErrnoException) => finish(e.code && CLIENT_CERT.has(e.code) ? e.code : undefined));
    sock.once('close', () => finish(undefined));
  });
}
