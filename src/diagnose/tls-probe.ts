// TLS probes: one handshake with the TLS material dhe-cli would use (verification recorded, not enforced), then a
// raw `GET /v2/` on the same connection (a server that wants a client certificate says so there).

import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { connect as tlsConnect, type DetailedPeerCertificate, type TLSSocket } from 'node:tls';
import type { HostTls } from '../transport/tls.js';
import { openSocket, type Target } from './net.js';

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


function chainOf(peer: DetailedPeerCertificate | undefined): X509Certificate[] {
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
