// HTTPS_PROXY / HTTP_PROXY / NO_PROXY as curl reads them.

import { isIP } from 'node:net';
import type { ProxySettings } from '../config.js';
import { splitHostPort } from './hosts.js';

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((a, b) => (a << 8) + Number(b), 0) >>> 0;
}

/** True when NO_PROXY says this host must be reached directly. */
export function bypassesProxy(noProxy: string | undefined, hostname: string, port: number): boolean {
  if (!noProxy) return false;
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  for (const raw of noProxy.split(/[,\s]+/)) {
    let e = raw.trim().toLowerCase();
    if (!e) continue;
    if (e === '*') return true;
    let ePort: number | undefined;
    const hp = splitHostPort(e);
    if (hp.port !== undefined && !e.includes('/')) {
      ePort = hp.port;
      e = hp.host;
    }
    e = e.replace(/^\[|\]$/g, '');
    if (ePort !== undefined && ePort !== port) continue;
    // CIDR
    const cidr = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(e);
    if (cidr && isIP(host) === 4) {
      const bits = Number(cidr[2]);
      const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
      if ((ipv4ToInt(host) & mask) === (ipv4ToInt(cidr[1]!) & mask)) return true;
      continue;
    }
    if (e.startsWith('*.')) e = e.slice(1);
    if (e.startsWith('.')) {
      if (host.endsWith(e) || host === e.slice(1)) return true;
    } else if (host === e || host.endsWith(`.${e}`)) return true;
  }
  return false;
}

/** The proxy URL to use for a target URL, or undefined for a direct connection. */
export function proxyFor(settings: ProxySettings, target: URL): string | undefined {
  const port = target.port ? Number(target.port) : target.protocol === 'https:' ? 443 : 80;
  if (bypassesProxy(settings.noProxy, target.hostname, port)) return undefined;
  const p = target.protocol === 'https:' ? settings.httpsProxy : settings.httpProxy;
  return p || undefined;
}
