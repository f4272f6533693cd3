// Trust sources: the system CAs, --ca-cert files and each certs.d folder, each checked offline against the chain
// the server sent, to say which one trusts it (and where a CA would have to go when none does).

import { readdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve as resolvePath, sep } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { isIP } from 'node:net';
import type { TlsSettings } from '../config.js';
import type { Target } from './net.js';
import type { TlsCheckContext } from './tls.js';
import type { TlsProbe } from './tls-probe.js';
import type { Check } from './types.js';

function pemBlocks(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

export function parseCerts(pems: string[]): X509Certificate[] {
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

function trustFix(ctx: TlsCheckContext, issuer: string): string {
  const hp = ctx.t.hostport;
  const bases = ctx.settings.certsDirs.map((b) => `${displayPath(join(b, hp), ctx.env)}/ca.crt`);
  const where = bases.length ? `, or copy it to ${bases.slice(0, 2).join(' or ')}` : '';
  return `get the CA certificate of ${issuer} (from the registry's administrator) and pass it: dhe-cli --ca-cert ca.crt …${where}; or let dhe-cli fetch and pin it: dhe-cli doctor ${hp} --trust; as a last resort: dhe-cli --insecure-registry ${hp} …`;
}

const TIME_ERRORS = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);

/** The trust sources looked at, each with the CA that anchors the chain (if any), and a note per source or folder. */
async function trustSources(ctx: TlsCheckContext, chain: X509Certificate[]) {
  const sources: TrustSource[] = [{ label: `system CAs (${systemCAs().length})`, certs: systemCAs() }];
  for (const f of ctx.settings.caCertFiles) sources.push({ label: `--ca-cert ${displayPath(f, ctx.env)}`, certs: await readCerts([f]) });
  const cands = await certsDirCandidates(ctx.settings, ctx.t);
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
  return { sources, cands, notes, searched };
}

/** Trust: the effective verdict from the handshake, then each source checked offline. */
export async function trustCheck(ctx: TlsCheckContext, probe: TlsProbe, leaf: X509Certificate): Promise<Check> {
  const { t, material } = ctx;
  const id = `${ctx.idPrefix}tls.trust`;
  const title = `${ctx.titlePrefix}Trust`;
  const chain = probe.chain;
  const top = chain[chain.length - 1]!;
  const { sources, cands, notes, searched } = await trustSources(ctx, chain);
  const ae = probe.authorizationError;
  const trustedBy = sources.filter((s) => s.anchor).map((s) => s.label);
  // OpenSSL reports only its last error: an expired certificate from an unknown CA says CERT_HAS_EXPIRED, so a
  // time error counts as trusted only when one of the sources anchors the chain.
  const verified = !ae || (TIME_ERRORS.has(ae) && trustedBy.length > 0);
  const details = { verifyError: ae, trustedBy, certsDirs: searched, insecure: material.insecure };
  if (verified) return { id, area: 'tls', status: 'pass', title, finding: `verified: trusted by ${trustedBy.join(', ') || 'the configured CAs'}`, notes, details };
  if (material.insecure) {
    return { id, area: 'tls', status: 'warn', title, finding: `not trusted (issuer ${dn(top.issuer)}); verification is off because ${t.hostport} is an insecure registry`, fix: trustFix(ctx, dn(top.issuer)).replace(/; as a last resort.*$/, ', then drop --insecure-registry'), notes, details };
  }
  const what = ae === 'DEPTH_ZERO_SELF_SIGNED_CERT' || (chain.length === 1 && leaf.subject === leaf.issuer) ? `the certificate is self-signed (${dn(leaf.subject)}) and not trusted` : `x509: certificate signed by unknown authority (issuer: ${dn(top.issuer)})`;
  return {
    id, area: 'tls', status: 'fail', title,
    finding: `${what}; searched: ${sources.map((s) => s.label.replace(/ \(\d+\)$/, '')).concat(cands.filter((c) => !c.used).map((c) => displayPath(c.dir, ctx.env))).join(', ')}`,
    fix: trustFix(ctx, dn(top.issuer)),
    code: 'TLS_UNKNOWN_AUTHORITY',
    notes: [...notes, `to see the certificates the server sends: openssl s_client -showcerts -connect ${t.host}:${t.port}${isIP(t.host) ? '' : ` -servername ${t.host}`} </dev/null`],
    details,
  };
}
