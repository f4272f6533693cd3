// Host name helpers: loopback, insecure-registry matching, metadata addresses, origin comparison.

import { isIP } from 'node:net';

/** Splits "host:port", "[::1]:5000", "host" into parts (host without brackets). */
export function splitHostPort(hostport: string): { host: string; port?: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(hostport);
  if (m) return { host: m[1]!, port: m[2] ? Number(m[2]) : undefined };
  const idx = hostport.lastIndexOf(':');
  if (idx > 0 && hostport.indexOf(':') === idx && /^\d+$/.test(hostport.slice(idx + 1))) {
    return { host: hostport.slice(0, idx), port: Number(hostport.slice(idx + 1)) };
  }
  return { host: hostport };
}

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (h.startsWith('::ffff:127.')) return true;
  return false;
}

/** Link-local / cloud metadata addresses a token realm must never point at. */
export function isMetadataHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (isIP(h) === 4) return h.startsWith('169.254.');
  if (isIP(h) === 6) {
    if (h === 'fd00:ec2::254') return true;
    if (/^fe[89ab][0-9a-f]?:/.test(h)) return true; // fe80::/10 link-local
    if (h.startsWith('::ffff:169.254.')) return true;
  }
  return h === 'metadata.google.internal' || h === 'metadata';
}

/** "HOST[:PORT]" entries: an entry without a port matches every port of that host. */
export function matchesHostList(list: readonly string[], hostport: string): boolean {
  const { host, port } = splitHostPort(hostport.toLowerCase());
  for (const raw of list) {
    const e = raw.trim().toLowerCase().replace(/^https?:\/\//, '').replace(/\/.*$/, '');
    if (!e) continue;
    const p = splitHostPort(e);
    if (p.host !== host) continue;
    if (p.port === undefined || p.port === port) return true;
  }
  return false;
}

/** host:port of a URL as used for certs.d folders and pools ("example.com" for the default https port). */
export function urlHostPort(u: URL): string {
  return u.host; // URL.host omits default ports and keeps brackets for IPv6
}

export function sameOrigin(a: string | URL, b: string | URL): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}
