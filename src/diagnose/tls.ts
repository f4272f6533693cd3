// TLS checks from a probe (tls-probe.ts): the chain, its trust (tls-trust.ts), host name and dates on the leaf, the
// client certificate, and a failed handshake said plainly.

import { X509Certificate } from 'node:crypto';
import { checkServerIdentity } from 'node:tls';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { TlsSettings } from '../config.js';
import { isClientCertError, looksLikePlainHttp } from '../transport/errors.js';
import type { HostTls } from '../transport/tls.js';
import { errCode, type Target } from './net.js';
import type { TlsProbe } from './tls-probe.js';
import { certsDirCandidates, displayPath, dn, trustCheck } from './tls-trust.js';
import type { Check } from './types.js';

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

/** Issued by itself and signed with its own key (a root CA, or a self-signed leaf). */
function isSelfSigned(c: X509Certificate): boolean {
  if (c.subject !== c.issuer) return false;
  try {
    return c.checkIssued(c) || c.verify(c.publicKey);
  } catch {
    return false;
  }
}

/** The checks derived from a successful handshake (chain, trust, host name, expiry). */
export async function certificateChecks(ctx: TlsCheckContext, probe: TlsProbe): Promise<Check[]> {
  const leaf = probe.chain[0];
  if (!leaf) {
    return [{ id: `${ctx.idPrefix}tls.chain`, area: 'tls', status: 'fail', title: `${ctx.titlePrefix}Certificate chain`, finding: 'the server sent no certificate', code: 'TLS_ERROR', fix: 'the registry\'s TLS configuration is broken; tell its administrator' }];
  }
  return [chainCheck(ctx, probe.chain, leaf), await trustCheck(ctx, probe, leaf), hostnameCheck(ctx, probe, leaf), expiryCheck(ctx, probe.chain, leaf)];
}

function chainCheck(ctx: TlsCheckContext, chain: X509Certificate[], leaf: X509Certificate): Check {
  const id = `${ctx.idPrefix}tls.chain`;
  const title = `${ctx.titlePrefix}Certificate chain`;
  const top = chain[chain.length - 1]!;
  // Self-signed: issued by its own subject and signed by its own key. checkIssued() alone also demands keyCertSign,
  // which a self-signed *leaf* (the usual self-signed registry) does not have: it is still the whole chain.
  const complete = isSelfSigned(top);
  const notes = chain.map(certLine);
  const chainDetails = chain.map((c) => ({ subject: dn(c.subject), issuer: dn(c.issuer), names: sans(c), validFrom: new Date(c.validFrom).toISOString(), validTo: new Date(c.validTo).toISOString(), selfSigned: c.subject === c.issuer, ca: c.ca, fingerprint256: c.fingerprint256 }));
  const leafSelf = leaf.subject === leaf.issuer;
  if (complete) {
    return {
      id, area: 'tls', status: 'pass', title,
      finding: `${dn(leaf.subject)} issued by ${dn(leaf.issuer)}${leafSelf ? ' (self-signed)' : ''}; ${chain.length} certificate${chain.length > 1 ? 's' : ''} up to a root`,
      notes, details: { chain: chainDetails },
    };
  }
  return {
    id, area: 'tls', status: 'warn', title,
    finding: `${dn(leaf.subject)} issued by ${dn(leaf.issuer)}; the chain stops at ${dn(top.subject)}, whose issuer ${dn(top.issuer)} was not sent and is not trusted here`,
    fix: `if ${dn(top.issuer)} is an intermediate CA, the registry must send it with its certificate (missing intermediate); if it is the root CA, trust it (see the next check)`,
    notes, details: { chain: chainDetails, missingIssuer: dn(top.issuer) },
  };
}

function hostnameCheck(ctx: TlsCheckContext, probe: TlsProbe, leaf: X509Certificate): Check {
  const { t, material } = ctx;
  const id = `${ctx.idPrefix}tls.hostname`;
  const title = `${ctx.titlePrefix}Host name`;
  const names = sans(leaf);
  const shownNames = names.length ? names.join(', ') : dn(leaf.subject);
  const mismatch = probe.leaf ? checkServerIdentity(t.host, probe.leaf) : undefined;
  if (!mismatch) return { id, area: 'tls', status: 'pass', title, finding: `${t.host} is covered by the certificate (names: ${shownNames})`, details: { names } };
  const sev = material.insecure ? 'warn' : 'fail';
  return {
    id, area: 'tls', status: sev, title,
    finding: `x509: certificate is valid for ${shownNames}, not ${t.host}`,
    fix: `use a name the certificate covers (${shownNames}) in the registry address, or have the certificate re-issued with ${isIP(t.host) ? 'IP' : 'DNS'}:${t.host} in its subjectAltName${material.insecure ? '' : `; as a last resort: dhe-cli --insecure-registry ${t.hostport} …`}`,
    code: sev === 'fail' ? 'TLS_HOSTNAME_MISMATCH' : undefined,
    details: { names, host: t.host },
  };
}

/** Expiry of every certificate of the chain (and the leaf's remaining days). */
function expiryCheck(ctx: TlsCheckContext, chain: X509Certificate[], leaf: X509Certificate): Check {
  const { t, material } = ctx;
  const id = `${ctx.idPrefix}tls.expiry`;
  const title = `${ctx.titlePrefix}Expiry`;
  const now = Date.now();
  const expired = chain.find((c) => Date.parse(c.validTo) < now);
  const future = chain.find((c) => Date.parse(c.validFrom) > now);
  const leafTo = new Date(leaf.validTo);
  const days = Math.floor((leafTo.getTime() - now) / 86_400_000);
  const clock = `this machine's clock says ${fmtDate(new Date(now))}`;
  if (expired) {
    const to = fmtDate(new Date(expired.validTo));
    return {
      id, area: 'tls', status: material.insecure ? 'warn' : 'fail', title,
      finding: `x509: certificate ${dn(expired.subject)} expired on ${to} (${Math.floor((now - Date.parse(expired.validTo)) / 86_400_000)} days ago)`,
      fix: `the registry's certificate must be renewed by its administrator; ${clock} — if that is wrong, fix the clock${material.insecure ? '' : `; as a last resort: dhe-cli --insecure-registry ${t.hostport} …`}`,
      code: material.insecure ? undefined : 'TLS_EXPIRED',
      details: { validTo: new Date(expired.validTo).toISOString(), subject: dn(expired.subject) },
    };
  }
  if (future) {
    const from = fmtDate(new Date(future.validFrom));
    return {
      id, area: 'tls', status: material.insecure ? 'warn' : 'fail', title,
      finding: `x509: certificate ${dn(future.subject)} is not valid before ${from}`,
      fix: `${clock}: set the clock right (e.g. enable NTP), or have the certificate re-issued with a valid start date`,
      code: material.insecure ? undefined : 'TLS_NOT_YET_VALID',
      details: { validFrom: new Date(future.validFrom).toISOString() },
    };
  }
  if (days < 30) {
    return {
      id, area: 'tls', status: 'warn', title,
      finding: `the certificate expires on ${fmtDate(leafTo)}, in ${days} day${days === 1 ? '' : 's'}`,
      fix: 'ask the registry\'s administrator to renew the certificate before it expires',
      details: { validTo: leafTo.toISOString(), days },
    };
  }
  return { id, area: 'tls', status: 'pass', title, finding: `valid until ${fmtDate(leafTo)} (${days} days)`, details: { validTo: leafTo.toISOString(), days } };
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
