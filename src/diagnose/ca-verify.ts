// Whether a CA candidate (ca-candidate.ts) may be pinned: it is within its dates, it is a CA (unless it is the
// server's own self-signed certificate), and a fresh handshake that trusts it ALONE verifies the server's chain —
// signature and dates by OpenSSL, the host name as dhe-cli checks it — for the same certificate the server sent
// before. Any "no" is a DheError (exit 4); nothing is written then.

import type { X509Certificate } from 'node:crypto';
import { checkServerIdentity } from 'node:tls';
import { DheError } from '../errors.js';
import type { HostTls } from '../transport/tls.js';
import { errCode } from './net.js';
import type { CaCandidate, CandidateContext } from './ca-candidate.js';
import { probeTls } from './tls-probe.js';
import { dn } from './tls-trust.js';

const NOTHING_WRITTEN = 'nothing was written';

function refuse(code: 'TLS_UNKNOWN_AUTHORITY' | 'TLS_EXPIRED' | 'TLS_NOT_YET_VALID', message: string, hint: string, cand: CaCandidate): DheError {
  return new DheError(code, message, { hint: `${hint}; ${NOTHING_WRITTEN}`, details: { fingerprint: cand.fingerprint, from: cand.from } });
}

/** Throws unless `cand` verifies the chain whose leaf is `leaf` (the certificate the server sent first). */
export async function verifyCandidate(ctx: CandidateContext, cand: CaCandidate, leaf: X509Certificate): Promise<void> {
  checkDates(cand);
  const isLeaf = leaf.fingerprint256 === cand.cert.fingerprint256;
  if (!isLeaf && !cand.cert.ca) {
    throw refuse('TLS_UNKNOWN_AUTHORITY', `the certificate from ${cand.from} (${dn(cand.cert.subject)}) is not a CA certificate`, "a CA file must hold the CA that issued the registry's certificate (basicConstraints CA:TRUE); ask the registry's administrator for it", cand);
  }
  if (cand.source === 'chain' && cand.cert.subject !== cand.cert.issuer) {
    throw refuse('TLS_UNKNOWN_AUTHORITY', `the chain ${ctx.t.hostport} sent stops at ${dn(cand.cert.subject)}, whose issuer ${dn(cand.cert.issuer)} was not sent`, `the root CA ${dn(cand.cert.issuer)} is needed: ask the registry's administrator for it, then pass it with --ca-cert`, cand);
  }
  await verifyByHandshake(ctx, cand, leaf);
}

function checkDates(cand: CaCandidate): void {
  const now = Date.now();
  const { cert } = cand;
  if (Date.parse(cert.validTo) < now) {
    throw refuse('TLS_EXPIRED', `the CA from ${cand.from} (${dn(cert.subject)}) expired on ${new Date(cert.validTo).toISOString()}`, "an expired CA verifies nothing: the registry's administrator must renew it", cand);
  }
  if (Date.parse(cert.validFrom) > now) {
    throw refuse('TLS_NOT_YET_VALID', `the CA from ${cand.from} (${dn(cert.subject)}) is not valid before ${new Date(cert.validFrom).toISOString()}`, "check this machine's clock, or ask the registry's administrator", cand);
  }
}

async function verifyByHandshake(ctx: CandidateContext, cand: CaCandidate, leaf: X509Certificate): Promise<void> {
  const { t } = ctx;
  const material: HostTls = { ca: [cand.pem], cert: ctx.material.cert, key: ctx.material.key, insecure: false, sources: [] };
  const probe = await probeTls(t, material, ctx.proxy, ctx.timeoutMs, ctx.signal);
  const hint = `the CA offered does not belong to ${t.hostport}'s certificate; get the right CA from the registry's administrator`;
  if (probe.handshakeError || !probe.leaf) {
    throw refuse('TLS_UNKNOWN_AUTHORITY', `could not check the CA from ${cand.from} against ${t.hostport}: ${errCode(probe.handshakeError ?? 'no certificate')}`, 'try again', cand);
  }
  const now = probe.chain[0];
  if (!now || now.fingerprint256 !== leaf.fingerprint256) {
    throw refuse('TLS_UNKNOWN_AUTHORITY', `${t.hostport} sent another certificate on the second connection (${now ? dn(now.subject) : 'none'})`, 'the server (or something between) changes its certificate; try again, and compare the fingerprint with the administrator\'s', cand);
  }
  if (probe.authorizationError) {
    throw refuse('TLS_UNKNOWN_AUTHORITY', `the CA from ${cand.from} (${dn(cand.cert.subject)}) does not verify ${t.hostport}'s certificate (${probe.authorizationError})`, hint, cand);
  }
  const mismatch = checkServerIdentity(t.host, probe.leaf);
  if (mismatch) {
    throw refuse('TLS_UNKNOWN_AUTHORITY', `${t.hostport}'s certificate is not valid for ${t.host} (${mismatch.message})`, 'use a name the certificate covers in the registry address', cand);
  }
}
