// The CA a registry offers for `doctor --trust`, found the way DTR and Harbor publish it: DTR's `GET /ca`, Harbor's
// `GET /api/v2.0/systeminfo/getcert`, else the top certificate of the chain the server sent (a self-signed leaf is
// its own CA). Everything here is fetched over a connection that does NOT trust the server (trust on first use):
// nothing found here is trusted until ca-verify.ts has checked it against the server's chain.

import { createHash, X509Certificate } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { HostTls } from '../transport/tls.js';
import { openSocket, type Target } from './net.js';
import { anchorIn, parseCerts } from './tls-trust.js';

/** Where a candidate came from. */
export type CandidateSource = 'dtr' | 'harbor' | 'chain';

export interface CaCandidate {
  source: CandidateSource;
  /** "https://HOST/ca", or "the chain HOST sent". */
  from: string;
  cert: X509Certificate;
  /** The certificate as written to ca.crt. */
  pem: string;
  /** "sha256:" + hex of the DER, lower case (as `openssl x509 -fingerprint -sha256`, without colons). */
  fingerprint: string;
}

/** The published places, in the order they are asked. */
const PUBLISHED: Array<{ source: CandidateSource; path: string }> = [
  { source: 'dtr', path: '/ca' },
  { source: 'harbor', path: '/api/v2.0/systeminfo/getcert' },
];

/** A CA file is a few KiB; a larger answer is not one. */
const MAX_CA_BYTES = 64 * 1024;

export interface CandidateContext {
  t: Target;
  /** The client certificate (if any) is sent, as a registry with mutual TLS needs; the CAs are not used. */
  material: HostTls;
  proxy?: string;
  timeoutMs: number;
  signal?: AbortSignal;
}

export function fingerprintOf(cert: X509Certificate): string {
  return `sha256:${createHash('sha256').update(cert.raw).digest('hex')}`;
}

function candidateOf(source: CandidateSource, from: string, cert: X509Certificate): CaCandidate {
  return { source, from, cert, pem: cert.toString().trim() + '\n', fingerprint: fingerprintOf(cert) };
}

/**
 * The candidate: the first published CA file that holds a certificate, else the top of `chain` (the server's chain,
 * leaf first). Of several certificates in one file, the one that anchors the chain (a self-signed one first).
 */
export async function findCaCandidate(ctx: CandidateContext, chain: X509Certificate[]): Promise<CaCandidate | undefined> {
  for (const { source, path } of PUBLISHED) {
    const body = await getUnverified(ctx, path);
    const certs = body ? certsIn(body) : [];
    if (!certs.length) continue;
    return candidateOf(source, `${originOf(ctx.t)}${path}`, pick(certs, chain));
  }
  const top = chain[chain.length - 1];
  return top ? candidateOf('chain', `the chain ${ctx.t.hostport} sent`, top) : undefined;
}

function pick(certs: X509Certificate[], chain: X509Certificate[]): X509Certificate {
  const roots = certs.filter((c) => c.subject === c.issuer);
  return anchorIn(chain, roots) ?? anchorIn(chain, certs) ?? certs[0]!;
}

/** PEM certificates in the body, or the body as one DER certificate. */
function certsIn(body: Buffer): X509Certificate[] {
  const pems = parseCerts([body.toString('latin1')]);
  if (pems.length) return pems;
  try {
    return [new X509Certificate(body)];
  } catch {
    return [];
  }
}

function originOf(t: Target): string {
  return `https://${t.hostport}`;
}

/** GET path over TLS without verifying the server: the body of a 200 (at most MAX_CA_BYTES), else undefined. */
async function getUnverified(ctx: CandidateContext, path: string): Promise<Buffer | undefined> {
  const { t, material } = ctx;
  let opened;
  try {
    opened = await openSocket(t, ctx.proxy, ctx.timeoutMs, ctx.signal);
  } catch {
    return undefined;
  }
  const socket = tlsConnect({
    socket: opened.socket,
    servername: isIP(t.host) ? undefined : t.host,
    ...(material.cert ? { cert: material.cert, key: material.key } : {}),
    rejectUnauthorized: false, // trust on first use: what comes back is checked against the chain before use
    checkServerIdentity: () => undefined,
    ALPNProtocols: ['http/1.1'],
  });
  try {
    return await readBody(ctx, path, socket);
  } finally {
    socket.destroy();
    opened.socket.destroy();
  }
}

function readBody(ctx: CandidateContext, path: string, socket: ReturnType<typeof tlsConnect>): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const req = httpRequest({
      createConnection: () => socket,
      path,
      method: 'GET',
      headers: { host: ctx.t.hostport, accept: '*/*', 'user-agent': 'dhe-cli-doctor', connection: 'close' },
      timeout: ctx.timeoutMs,
      signal: ctx.signal,
    });
    const done = (b: Buffer | undefined) => {
      req.destroy();
      resolve(b);
    };
    req.once('timeout', () => done(undefined));
    req.once('error', () => done(undefined));
    req.once('response', (res) => {
      if (res.statusCode !== 200) return done(undefined);
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_CA_BYTES) return done(undefined);
        chunks.push(c);
      });
      res.once('end', () => done(Buffer.concat(chunks)));
      res.once('error', () => done(undefined));
    });
    req.end();
  });
}
