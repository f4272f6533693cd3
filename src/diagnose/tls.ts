// TLS probes: one handshake with the TLS material dhe-cli would use (verification recorded, not enforced), then a
// raw `GET /v2/` on the same connection (a server that wants a client certificate says so there). The chain is then
// checked offline against each trust source (system CAs, --ca-cert files, each certs.d folder) to say which one
// trusts it; host name and dates are checked on the leaf.

import { readdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve as resolvePath, sep } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { checkServerIdentity, connect as tlsConnect, rootCertificates, type DetailedPeerCertificate, type TLSSocket } from 'node:tls';
import { isIP } from 'node:net';
import type { TlsSettings } from '../config.js';
import { isClientCertError, looksLikePlainHttp } from '../transport/errors.js';
import type { HostTls } from '../transport/tls.js';
import { errCode, openSocket, type Target } from './net.js';
import type { Check } from './types.js';

export interface RawResponse {
  status: number;
  head: string;
  body: string;
}

export interface TlsProbe {
  /** The handshake failed (no chain then, unless the error carries one). */
  handshakeError?: unknown;
  protocol?: string;
  cipher?: string;
  /** Leaf first; the server's chain, completed from the trusted store where OpenSSL could. */
  chain: X509Certificate[];
  leaf?: DetailedPeerCertificate;
  /** OpenSSL's verdict against the CAs dhe-cli would use (host name not included). */
  authorizationError?: string;
  /** An error after the handshake (TLS 1.3 reports a missing client certificate only then). */
  postError?: unknown;
  response?: RawResponse;
  sentClientCert: boolean;
}

const TIME_ERRORS = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);

export function chainOf(peer: DetailedPeerCertificate | undefined): X509Certificate[] {
  const out: X509Certificate[] = [];
  const seen = new Set<string>();
  let c: DetailedPeerCertificate | undefined = peer;
  while (c && c.raw && !seen.has(c.fingerprint256) && out.length < 10) {
    seen.add(c.fingerprint256);
    try {
      out.push(new X509Certificate(c.raw));
    } catch {
      break;
    }
    c = c.issuerCertificate;
  }
  return out;
}

/** Handshake + raw GET /v2/ with the given material. Never rejects for TLS problems: they are in the result. */
export async function probeTls(t: Target, material: HostTls, proxy: string | undefined, timeoutMs: number, signal?: AbortSignal): Promise<TlsProbe> {
  const opened = await openSocket(t, proxy, timeoutMs, signal);
  return new Promise<TlsProbe>((resolve) => {
    const result: TlsProbe = { chain: [], sentClientCert: !!material.cert };
    let sock: TLSSocket;
    let done = false;
    let data = '';
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (data) {
        const idx = data.indexOf('\r\n\r\n');
        const head = idx >= 0 ? data.slice(0, idx) : data;
        const m = /^HTTP\/\d(?:\.\d)?\s+(\d{3})/.exec(head);
        if (m) result.response = { status: Number(m[1]), head, body: idx >= 0 ? data.slice(idx + 4, idx + 4 + 2000) : '' };
      }
      sock.destroy();
      opened.socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => {
      if (!result.protocol) result.handshakeError ??= Object.assign(new Error(`no TLS handshake within ${timeoutMs} ms`), { code: 'ETIMEDOUT' });
      finish();
    }, timeoutMs);
    sock = tlsConnect({
      socket: opened.socket,
      servername: isIP(t.host) ? undefined : t.host,
      ...(material.ca ? { ca: material.ca } : {}),
      ...(material.cert ? { cert: material.cert, key: material.key } : {}),
      rejectUnauthorized: false,
      checkServerIdentity: () => undefined,
      ALPNProtocols: ['http/1.1'],
    });
    sock.once('secureConnect', () => {
      result.protocol = sock.getProtocol() ?? undefined;
      const c = sock.getCipher();
      result.cipher = c?.standardName || c?.name;
      const peer = sock.getPeerCertificate(true);
      if (peer && peer.raw) {
        result.leaf = peer;
        result.chain = chainOf(peer);
      }
      const ae = sock.authorizationError as unknown;
      result.authorizationError = ae ? String((ae as { code?: string }).code ?? ae) : undefined;
      sock.write(`GET /v2/ HTTP/1.1\r\nHost: ${t.hostport}\r\nUser-Agent: dhe-cli-doctor\r\nAccept: */*\r\nConnection: close\r\n\r\n`);
    });
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      data += d;
      if (data.length > 16_384) finish();
    });
    sock.once('end', finish);
    sock.once('close', finish);
    sock.once('error', (e) => {
      if (result.protocol) result.postError = e;
      else result.handshakeError = e;
      finish();
    });
  });
}

// ---------------------------------------------------------------- trust sources

function pemBlocks(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

function parseCerts(pems: string[]): X509Certificate[] {
  const out: X509Certificate[] = [];
  for (const p of pems) {
    for (const b of pemBlocks(p)) {
      try {
        out.push(new X509Certificate(b));
      } catch {
        /* not a certificate */
      }
    }
  }
  return out;
}

let systemCas: X509Certificate[] | undefined;
function systemCAs(): X509Certificate[] {
  systemCas ??= parseCerts([...rootCertificates]);
  return systemCas;
}

/** The CA among `cas` that anchors the chain (a chain cert is the CA, or is signed by it). */
export function anchorIn(chain: X509Certificate[], cas: X509Certificate[]): X509Certificate | undefined {
  for (const c of chain) {
    for (const ca of cas) {
      if (c.fingerprint256 === ca.fingerprint256) return ca;
      try {
        if (c.checkIssued(ca) && c.verify(ca.publicKey)) return ca;
      } catch {
        /* unusable key */
      }
    }
  }
  return undefined;
}

export function dn(x509Name: string): string {
  return x509Name.split('\n').filter(Boolean).join(', ');
}

export function displayPath(path: string, env: NodeJS.ProcessEnv): string {
  const home = env.HOME || homedir();
  const abs = resolvePath(path);
  return home && (abs === home || abs.startsWith(home + sep)) ? '~' + abs.slice(home.length) : abs;
}

export interface CertsDirCandidate {
  base: string;
  dir: string;
  exists: boolean;
  files: string[];
  /** The folder dhe-cli reads in this base (HOST:PORT wins over HOST). */
  used: boolean;
}

/** Every certs.d folder looked at for the target, in the order docker looks (DIR/HOST:PORT, then DIR/HOST). */
export async function certsDirCandidates(settings: TlsSettings, t: Target): Promise<CertsDirCandidate[]> {
  const hostName = isIP(t.host) === 6 ? `[${t.host}]` : t.host;
  const names = t.hostport !== hostName ? [t.hostport, hostName] : [hostName];
  const out: CertsDirCandidate[] = [];
  for (const base of settings.certsDirs) {
    let usedOne = false;
    for (const name of names) {
      const dir = join(base, name);
      let files: string[] | undefined;
      try {
        files = (await readdir(dir)).sort();
      } catch {
        files = undefined;
      }
      const used = !!files && !usedOne;
      if (used) usedOne = true;
      out.push({ base, dir, exists: !!files, files: files ?? [], used });
    }
  }
  return out;
}

export interface TrustSource {
  label: string;
  certs: X509Certificate[];
  /** The CA of this source that anchors the chain. */
  anchor?: X509Certificate;
}

async function readCerts(files: string[]): Promise<X509Certificate[]> {
  const texts: string[] = [];
  for (const f of files) {
    try {
      texts.push(await readFile(f, 'utf8'));
    } catch {
      /* unreadable: ignored, as dhe-cli ignores it */
    }
  }
  return parseCerts(texts);
}

// ---------------------------------------------------------------- checks

export interface TlsCheckContext {
  t: Target;
  settings: TlsSettings;
  material: HostTls;
  env: NodeJS.ProcessEnv;
  /** Prefix for ids and titles ("realm." / "Token realm ") when checking the token server. */
  idPrefix: string;
  titlePrefix: string;
}

function fmtDate(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function sans(c: X509Certificate): string[] {
  return (c.subjectAltName ?? '')
    .split(',')
    .map((s) => s.trim().replace(/^(DNS|IP Address):/, ''))
    .filter(Boolean);
}

function certLine(c: X509Certificate, i: number): string {
  const names = sans(c);
  const self = c.subject === c.issuer ? ', self-signed' : '';
  return `[${i}] ${dn(c.subject)} (issuer: ${dn(c.issuer)}${self}${c.ca ? ', CA' : ''}; ${names.length ? `names: ${names.join(', ')}; ` : ''}valid ${fmtDate(new Date(c.validFrom))} to ${fmtDate(new Date(c.validTo))})`;
}

function trustFix(ctx: TlsCheckContext, issuer: string): string {
  const hp = ctx.t.hostport;
  const bases = ctx.settings.certsDirs.map((b) => `${displayPath(join(b, hp), ctx.env)}/ca.crt`);
  const where = bases.length ? `, or copy it to ${bases.slice(0, 2).join(' or ')}` : '';
  return `get the CA certificate of ${issuer} (from the registry's administrator) and pass it: dhe-cli --ca-cert ca.crt …${where}; as a last resort: dhe-cli --insecure-registry ${hp} …`;
}

/** Issued by itself and signed with its own key (a root CA, or a self-signed leaf). */
export function isSelfSigned(c: X509Certificate): boolean {
  if (c.subject !== c.issuer) return false;
  try {
    return c.checkIssued(c) || c.verify(c.publicKey);
  } catch {
    return false;
  }
}

/** The checks derived from a successful handshake (chain, trust, host name, expiry). */
export async function certificateChecks(ctx: TlsCheckContext, probe: TlsProbe): Promise<Check[]> {
  const { t, material } = ctx;
  const id = (s: string) => `${ctx.idPrefix}tls.${s}`;
  const title = (s: string) => `${ctx.titlePrefix}${s}`;
  const checks: Check[] = [];
  const chain = probe.chain;
  const leaf = chain[0];
  if (!leaf) {
    checks.push({ id: id('chain'), area: 'tls', status: 'fail', title: title('Certificate chain'), finding: 'the server sent no certificate', code: 'TLS_ERROR', fix: 'the registry\'s TLS configuration is broken; tell its administrator' });
    return checks;
  }
  const top = chain[chain.length - 1]!;
  // Self-signed: issued by its own subject and signed by its own key. checkIssued() alone also demands keyCertSign,
  // which a self-signed *leaf* (the usual self-signed registry) does not have: it is still the whole chain.
  const complete = isSelfSigned(top);
  const chainNotes = chain.map(certLine);
  const chainDetails = chain.map((c) => ({ subject: dn(c.subject), issuer: dn(c.issuer), names: sans(c), validFrom: new Date(c.validFrom).toISOString(), validTo: new Date(c.validTo).toISOString(), selfSigned: c.subject === c.issuer, ca: c.ca, fingerprint256: c.fingerprint256 }));
  const leafSelf = leaf.subject === leaf.issuer;
  if (complete) {
    checks.push({
      id: id('chain'), area: 'tls', status: 'pass', title: title('Certificate chain'),
      finding: `${dn(leaf.subject)} issued by ${dn(leaf.issuer)}${leafSelf ? ' (self-signed)' : ''}; ${chain.length} certificate${chain.length > 1 ? 's' : ''} up to a root`,
      notes: chainNotes, details: { chain: chainDetails },
    });
  } else {
    checks.push({
      id: id('chain'), area: 'tls', status: 'warn', title: title('Certificate chain'),
      finding: `${dn(leaf.subject)} issued by ${dn(leaf.issuer)}; the chain stops at ${dn(top.subject)}, whose issuer ${dn(top.issuer)} was not sent and is not trusted here`,
      fix: `if ${dn(top.issuer)} is an intermediate CA, the registry must send it with its certificate (missing intermediate); if it is the root CA, trust it (see the next check)`,
      notes: chainNotes, details: { chain: chainDetails, missingIssuer: dn(top.issuer) },
    });
  }

  // trust: the effective verdict from the handshake, then each source checked offline
  const sources: TrustSource[] = [{ label: `system CAs (${systemCAs().length})`, certs: systemCAs() }];
  for (const f of ctx.settings.caCertFiles) sources.push({ label: `--ca-cert ${displayPath(f, ctx.env)}`, certs: await readCerts([f]) });
  const cands = await certsDirCandidates(ctx.settings, t);
  const notes: string[] = [];
  const searched: Record<string, unknown>[] = [];
  for (const s of sources) {
    s.anchor = anchorIn(chain, s.certs);
    notes.push(`${s.label}: ${s.anchor ? `trusted (by ${dn(s.anchor.subject)})` : 'does not trust it'}`);
  }
  for (const c of cands) {
    const shown = displayPath(c.dir, ctx.env);
    if (!c.exists) {
      notes.push(`${shown}/: not there`);
      searched.push({ path: c.dir, exists: false });
      continue;
    }
    const crts = c.files.filter((f) => f.endsWith('.crt'));
    if (!c.used) {
      notes.push(`${shown}/: exists but not used (the HOST:PORT folder of the same base wins)`);
      searched.push({ path: c.dir, exists: true, used: false });
      continue;
    }
    const certs = await readCerts(crts.map((f) => join(c.dir, f)));
    const anchor = anchorIn(chain, certs);
    sources.push({ label: shown, certs, anchor });
    notes.push(`${shown}/: ${crts.length ? `${crts.join(', ')} — ${anchor ? `trusted (by ${dn(anchor.subject)})` : 'does not trust it'}` : 'no *.crt file'}`);
    searched.push({ path: c.dir, exists: true, used: true, caFiles: crts, trusts: !!anchor });
  }
  const ae = probe.authorizationError;
  const trustedBy = sources.filter((s) => s.anchor).map((s) => s.label);
  // OpenSSL reports only its last error: an expired certificate from an unknown CA says CERT_HAS_EXPIRED, so a
  // time error counts as trusted only when one of the sources anchors the chain.
  const verified = !ae || (TIME_ERRORS.has(ae) && trustedBy.length > 0);
  const details = { verifyError: ae, trustedBy, certsDirs: searched, insecure: material.insecure };
  if (verified) {
    checks.push({ id: id('trust'), area: 'tls', status: 'pass', title: title('Trust'), finding: `verified: trusted by ${trustedBy.join(', ') || 'the configured CAs'}`, notes, details });
  } else if (material.insecure) {
    checks.push({ id: id('trust'), area: 'tls', status: 'warn', title: title('Trust'), finding: `not trusted (issuer ${dn(top.issuer)}); verification is off because ${t.hostport} is an insecure registry`, fix: trustFix(ctx, dn(top.issuer)).replace(/; as a last resort.*$/, ', then drop --insecure-registry'), notes, details });
  } else {
    const what = ae === 'DEPTH_ZERO_SELF_SIGNED_CERT' || (chain.length === 1 && leafSelf) ? `the certificate is self-signed (${dn(leaf.subject)}) and not trusted` : `x509: certificate signed by unknown authority (issuer: ${dn(top.issuer)})`;
    checks.push({
      id: id('trust'), area: 'tls', status: 'fail', title: title('Trust'),
      finding: `${what}; searched: ${sources.map((s) => s.label.replace(/ \(\d+\)$/, '')).concat(cands.filter((c) => !c.used).map((c) => displayPath(c.dir, ctx.env))).join(', ')}`,
      fix: trustFix(ctx, dn(top.issuer)),
      code: 'TLS_UNKNOWN_AUTHORITY',
      notes: [...notes, `to see the certificates the server sends: openssl s_client -showcerts -connect ${t.host}:${t.port}${isIP(t.host) ? '' : ` -servername ${t.host}`} </dev/null`],
      details,
    });
  }

  // host name
  const leafPeer = probe.leaf;
  const names = sans(leaf);
  const shownNames = names.length ? names.join(', ') : dn(leaf.subject);
  const mismatch = leafPeer ? checkServerIdentity(t.host, leafPeer) : undefined;
  if (!mismatch) {
    checks.push({ id: id('hostname'), area: 'tls', status: 'pass', title: title('Host name'), finding: `${t.host} is covered by the certificate (names: ${shownNames})`, details: { names } });
  } else {
    const sev = material.insecure ? 'warn' : 'fail';
    checks.push({
      id: id('hostname'), area: 'tls', status: sev, title: title('Host name'),
      finding: `x509: certificate is valid for ${shownNames}, not ${t.host}`,
      fix: `use a name the certificate covers (${shownNames}) in the registry address, or have the certificate re-issued with ${isIP(t.host) ? 'IP' : 'DNS'}:${t.host} in its subjectAltName${material.insecure ? '' : `; as a last resort: dhe-cli --insecure-registry ${t.hostport} …`}`,
      code: sev === 'fail' ? 'TLS_HOSTNAME_MISMATCH' : undefined,
      details: { names, host: t.host },
    });
  }

  // expiry (every certificate of the chain)
  const now = Date.now();
  const expired = chain.find((c) => Date.parse(c.validTo) < now);
  const future = chain.find((c) => Date.parse(c.validFrom) > now);
  const leafTo = new Date(leaf.validTo);
  const days = Math.floor((leafTo.getTime() - now) / 86_400_000);
  const clock = `this machine's clock says ${fmtDate(new Date(now))}`;
  if (expired) {
    const to = fmtDate(new Date(expired.validTo));
    checks.push({
      id: id('expiry'), area: 'tls', status: material.insecure ? 'warn' : 'fail', title: title('Expiry'),
      finding: `x509: certificate ${dn(expired.subject)} expired on ${to} (${Math.floor((now - Date.parse(expired.validTo)) / 86_400_000)} days ago)`,
      fix: `the registry's certificate must be renewed by its administrator; ${clock} — if that is wrong, fix the clock${material.insecure ? '' : `; as a last resort: dhe-cli --insecure-registry ${t.hostport} …`}`,
      code: material.insecure ? undefined : 'TLS_EXPIRED',
      details: { validTo: new Date(expired.validTo).toISOString(), subject: dn(expired.subject) },
    });
  } else if (future) {
    const from = fmtDate(new Date(future.validFrom));
    checks.push({
      id: id('expiry'), area: 'tls', status: material.insecure ? 'warn' : 'fail', title: title('Expiry'),
      finding: `x509: certificate ${dn(future.subject)} is not valid before ${from}`,
      fix: `${clock}: set the clock right (e.g. enable NTP), or have the certificate re-issued with a valid start date`,
      code: material.insecure ? undefined : 'TLS_NOT_YET_VALID',
      details: { validFrom: new Date(future.validFrom).toISOString() },
    });
  } else if (days < 30) {
    checks.push({
      id: id('expiry'), area: 'tls', status: 'warn', title: title('Expiry'),
      finding: `the certificate expires on ${fmtDate(leafTo)}, in ${days} day${days === 1 ? '' : 's'}`,
      fix: 'ask the registry\'s administrator to renew the certificate before it expires',
      details: { validTo: leafTo.toISOString(), days },
    });
  } else {
    checks.push({ id: id('expiry'), area: 'tls', status: 'pass', title: title('Expiry'), finding: `valid until ${fmtDate(leafTo)} (${days} days)`, details: { validTo: leafTo.toISOString(), days } });
  }
  return checks;
}

/** What a certs.d folder holds of a client certificate, as a note: found, incomplete, or under docker's wrong name. */
function clientCertState(c: { exists: boolean; files: string[] }): string {
  if (!c.exists) return '';
  if (c.files.includes('client.cert')) return c.files.includes('client.key') ? ' (found)' : ' (found, but no client.key beside it)';
  // docker reads *.cert as the client certificate and *.crt as a CA: client.crt is a CA there, never sent
  if (c.files.includes('client.crt')) return ' (not found; there is a client.crt: rename it to client.cert, since *.crt files are read as CAs)';
  return '';
}

/** Whether the server asked for a client certificate, and whether dhe-cli has one for it. */
export async function clientCertCheck(ctx: TlsCheckContext, probe: TlsProbe): Promise<Check> {
  const { t, material } = ctx;
  const hp = t.hostport;
  const cands = await certsDirCandidates(ctx.settings, t);
  const lookedAt = cands.map((c) => `${displayPath(join(c.dir, 'client.cert'), ctx.env)}${clientCertState(c)}`);
  if (ctx.settings.clientCertFile) lookedAt.push(`--cert ${displayPath(ctx.settings.clientCertFile, ctx.env)}`);
  const used = material.sources.find((s) => s.startsWith('client cert '))?.slice('client cert '.length);
  const bodyAsks = probe.response?.status === 400 && /no required ssl certificate|ssl certificate error/i.test(probe.response.body);
  const required = isClientCertError(probe.postError) || isClientCertError(probe.handshakeError) || bodyAsks;
  const base = ctx.settings.certsDirs[0];
  const placeFix = `put client.cert and client.key (PEM, issued by the CA the registry trusts for clients) in ${base ? `${displayPath(join(base, hp), ctx.env)}/` : `certs.d/${hp}/`}${ctx.settings.certsDirs.includes('/etc/docker/certs.d') ? ` (or /etc/docker/certs.d/${hp}/)` : ''}, or pass dhe-cli --cert client.cert --key client.key …`;
  const id = `${ctx.idPrefix}tls.client-cert`;
  const title = `${ctx.titlePrefix}Client certificate`;
  if (required && !probe.sentClientCert) {
    return {
      id, area: 'tls', status: 'fail', title,
      finding: `${hp} requires a TLS client certificate and none was found (${errCode(probe.postError ?? probe.handshakeError ?? 'HTTP 400')})`,
      fix: placeFix, code: 'TLS_CLIENT_CERT_REQUIRED', notes: [`looked at: ${lookedAt.join(', ')}`], details: { required: true, sent: false, lookedAt },
    };
  }
  if (required) {
    return {
      id, area: 'tls', status: 'fail', title,
      finding: `${hp} rejected the client certificate ${used ? displayPath(used, ctx.env) : ''} (${errCode(probe.postError ?? probe.handshakeError ?? 'HTTP 400')})`,
      fix: `the certificate is not issued by a CA the registry accepts, or has expired: get a new one from the registry's administrator and ${placeFix.replace(/^put/, 'put it as')}`,
      code: 'TLS_CLIENT_CERT_REQUIRED', details: { required: true, sent: true, file: used },
    };
  }
  if (probe.sentClientCert) {
    return { id, area: 'tls', status: 'pass', title, finding: `sent ${used ? displayPath(used, ctx.env) : 'the configured client certificate'} and the server accepted the connection`, details: { sent: true, file: used } };
  }
  return { id, area: 'tls', status: 'pass', title, finding: 'not required by the server (none sent)', details: { required: false, sent: false } };
}

export function handshakeFailure(ctx: TlsCheckContext, err: unknown): Check {
  const hp = ctx.t.hostport;
  const id = `${ctx.idPrefix}tls.handshake`;
  const title = `${ctx.titlePrefix}TLS handshake`;
  if (looksLikePlainHttp(err)) {
    return { id, area: 'tls', status: 'fail', title, finding: `${hp} does not speak TLS (${errCode(err)})`, code: 'TLS_ERROR', fix: `check the port; if the registry really serves plain HTTP: dhe-cli --insecure-registry ${hp} …` };
  }
  return {
    id, area: 'tls', status: 'fail', title,
    finding: `TLS handshake with ${hp} failed: ${errCode(err)}${err instanceof Error && err.message && err.message !== errCode(err) ? ` (${err.message.slice(0, 200)})` : ''}`,
    fix: `check that ${hp} serves HTTPS (try: openssl s_client -connect ${ctx.t.host}:${ctx.t.port}); if a proxy or firewall intercepts TLS, add its CA with --ca-cert`,
    code: 'TLS_ERROR',
  };
}
