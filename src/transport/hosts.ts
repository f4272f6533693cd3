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

/** The 16 bytes of an IPv6 address (any spelling: "::", embedded dotted IPv4), or undefined. */
function ipv6Bytes(addr: string): number[] | undefined {
  const h = addr.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  if (isIP(h) !== 6) return undefined;
  let text = h;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted[1]!.split('.').map(Number) as [number, number, number, number];
    text = text.slice(0, -dotted[1]!.length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const parse = (s: string) => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const hi = parse(head);
  const lo = tail === undefined ? [] : parse(tail);
  const groups = tail === undefined ? hi : [...hi, ...Array<number>(8 - hi.length - lo.length).fill(0), ...lo];
  if (groups.length !== 8 || groups.some((g) => !Number.isInteger(g) || g < 0 || g > 0xffff)) return undefined;
  return groups.flatMap((g) => [g >> 8, g & 0xff]);
}

/** The IPv4 address inside an IPv4-mapped (::ffff:0:0/96), IPv4-compatible (::/96) or NAT64 (64:ff9b::/96) one. */
function embeddedIpv4(b: number[]): string | undefined {
  const zero = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  const mapped = zero(0, 10) && b[10] === 0xff && b[11] === 0xff;
  const compatible = zero(0, 12) && !zero(12, 16);
  const nat64 = b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zero(4, 12);
  return mapped || compatible || nat64 ? b.slice(12).join('.') : undefined;
}

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  const b = ipv6Bytes(h);
  if (!b) return false;
  if (b.slice(0, 15).every((x) => x === 0) && b[15] === 1) return true; // ::1
  const v4 = embeddedIpv4(b);
  return v4 !== undefined && b[10] === 0xff && v4.startsWith('127.');
}

/** IPv4 addresses of cloud metadata services outside 169.254.0.0/16 (Alibaba Cloud: 100.100.100.200). */
const METADATA_V4 = new Set(['100.100.100.200']);
/** Names of cloud metadata services (GCP: metadata.google.internal, metadata.goog; a bare "metadata"). */
const METADATA_NAMES = new Set(['metadata.google.internal', 'metadata.goog', 'metadata']);

function isMetadataV4(v4: string): boolean {
  return v4.startsWith('169.254.') || METADATA_V4.has(v4);
}

/**
 * Link-local / cloud metadata addresses that a token realm, a redirect, an upload Location or a Link never point at:
 * 169.254.0.0/16, 100.100.100.200, fe80::/10, fd00:ec2::254, metadata.google.internal, metadata.goog, in every
 * spelling a URL parser accepts (URL.hostname normalises hex, octal and decimal IPv4; IPv4-mapped, -compatible and
 * NAT64 IPv6 are unwrapped here).
 */
export function isMetadataHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase().replace(/\.$/, '');
  if (isIP(h) === 4) return isMetadataV4(h);
  const b = ipv6Bytes(h);
  if (b) {
    // fd00:ec2::254 (AWS over IPv6)
    if (b[0] === 0xfd && b[1] === 0x00 && b[2] === 0x0e && b[3] === 0xc2 && b.slice(4, 14).every((x) => x === 0) && b[14] === 0x02 && b[15] === 0x54) return true;
    if (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) return true; // fe80::/10 link-local
    const v4 = embeddedIpv4(b);
    return v4 !== undefined && isMetadataV4(v4);
  }
  return METADATA_NAMES.has(h);
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
