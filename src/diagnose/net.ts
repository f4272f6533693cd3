// Network probes: the target's host and port, name resolution, TCP connect time, the proxy that applies, and a raw
// socket to the target (directly or through an HTTP proxy's CONNECT tunnel) for the TLS probes.

import { lookup } from 'node:dns/promises';
import { request as httpRequest } from 'node:http';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import type { ProxySettings } from '../config.js';
import { allCodes } from '../transport/errors.js';
import { isLoopbackHost, splitHostPort } from '../transport/hosts.js';
import { proxyFor } from '../transport/proxy.js';
import { redactUrl } from '../trace.js';

export interface Target {
  /** "127.0.0.1:5000", "dhe.example.com" (no port when 443): the certs.d folder name and credential key. */
  hostport: string;
  /** Host name or IP, without brackets. */
  host: string;
  port: number;
  loopback: boolean;
}

/** "https://reg:5000/v2/" / "reg:5000" / "docker.io" → the host to connect to. */
export function parseTarget(registry: string): Target {
  let s = registry.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const slash = s.indexOf('/');
  if (slash >= 0) s = s.slice(0, slash);
  const lower = s.toLowerCase();
  if (lower === 'docker.io' || lower === 'index.docker.io' || lower === 'registry.hub.docker.com') s = 'registry-1.docker.io';
  const { host, port } = splitHostPort(s);
  const p = port ?? 443;
  const bracketed = isIP(host) === 6 ? `[${host}]` : host;
  return { hostport: p === 443 ? bracketed : `${bracketed}:${p}`, host, port: p, loopback: isLoopbackHost(host) };
}

export function errCode(e: unknown): string {
  return allCodes(e)[0] ?? (e instanceof Error ? e.message : String(e));
}

export interface DnsResult {
  addresses: string[];
  ms: number;
  error?: unknown;
}

export async function resolveHost(host: string): Promise<DnsResult> {
  const started = Date.now();
  if (isIP(host)) return { addresses: [host], ms: 0 };
  try {
    const all = await lookup(host, { all: true });
    return { addresses: all.map((a) => a.address), ms: Date.now() - started };
  } catch (e) {
    return { addresses: [], ms: Date.now() - started, error: e };
  }
}

/** The proxy URL used for https://hostport (or http:// for plain), and why. */
export function proxyInfo(settings: ProxySettings, t: Target, scheme: 'https' | 'http' = 'https'): { proxy?: string; bypassed: boolean } {
  const url = new URL(`${scheme}://${isIP(t.host) === 6 ? `[${t.host}]` : t.host}:${t.port}/`);
  const proxy = proxyFor(settings, url);
  const configured = scheme === 'https' ? settings.httpsProxy : settings.httpProxy;
  return { proxy, bypassed: !!configured && !proxy };
}

export function showProxy(p: string): string {
  return redactUrl(p).replace(/\/$/, '');
}

export interface OpenedSocket {
  socket: Socket;
  ms: number;
  /** The address connected to (direct) or the proxy. */
  remote: string;
}

/** A TCP connection to the target, directly or through the proxy's CONNECT tunnel. Rejects with the socket error. */
export function openSocket(t: Target, proxy: string | undefined, timeoutMs: number, signal?: AbortSignal): Promise<OpenedSocket> {
  const started = Date.now();
  if (!proxy) {
    return new Promise((resolve, reject) => {
      const sock = netConnect({ host: t.host, port: t.port, autoSelectFamily: true });
      const timer = setTimeout(() => {
        sock.destroy();
        reject(Object.assign(new Error(`timed out after ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
      }, timeoutMs);
      const onAbort = () => {
        sock.destroy();
        reject(Object.assign(new Error('cancelled'), { name: 'AbortError', code: 'ABORT_ERR' }));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      sock.once('connect', () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve({ socket: sock, ms: Date.now() - started, remote: `${sock.remoteAddress ?? t.host}:${sock.remotePort ?? t.port}` });
      });
      sock.once('error', (e) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        reject(e);
      });
    });
  }
  return new Promise((resolve, reject) => {
    let pu: URL;
    try {
      pu = new URL(proxy);
    } catch (e) {
      reject(e);
      return;
    }
    if (pu.protocol !== 'http:') {
      reject(Object.assign(new Error(`doctor can only probe through http:// proxies, not ${pu.protocol}`), { code: 'UNSUPPORTED_PROXY' }));
      return;
    }
    const headers: Record<string, string> = { host: `${t.hostport.includes(':') ? t.hostport : `${t.hostport}:${t.port}`}` };
    if (pu.username) {
      headers['proxy-authorization'] = `Basic ${Buffer.from(`${decodeURIComponent(pu.username)}:${decodeURIComponent(pu.password)}`).toString('base64')}`;
    }
    const req = httpRequest({
      host: pu.hostname.replace(/^\[|\]$/g, ''),
      port: pu.port ? Number(pu.port) : 80,
      method: 'CONNECT',
      path: headers.host,
      headers,
      timeout: timeoutMs,
      signal,
    });
    req.once('connect', (res, socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        reject(Object.assign(new Error(`the proxy answered ${res.statusCode} to CONNECT ${headers.host}`), { code: 'PROXY_CONNECT', status: res.statusCode }));
        return;
      }
      resolve({ socket, ms: Date.now() - started, remote: `${showProxy(proxy)} → ${headers.host}` });
    });
    req.once('timeout', () => req.destroy(Object.assign(new Error(`timed out after ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    req.once('error', reject);
    req.end();
  });
}
