// Ping and scheme discovery: GET /v2/ over HTTPS; over plain HTTP only for an --insecure-registry, or for a loopback
// registry whose port answered TLS with plain HTTP. Done once per client (a failure is forgotten: the next call
// tries again); the ping's challenges become the authenticator's.

import { DheError, isDheError } from '../errors.js';
import type { Trace } from '../trace.js';
import type { Authenticator } from '../auth/authenticator.js';
import { parseWwwAuthenticate, type Challenge } from '../auth/challenge.js';
import type { Transport } from '../transport/http.js';
import { looksLikePlainHttp } from '../transport/errors.js';
import { isLoopbackHost, splitHostPort } from '../transport/hosts.js';
import { foreignError } from '../transport/origin-guard.js';
import { registryError, ERROR_BODY_LIMIT } from './errors.js';

export interface PingResult {
  status: number;
  apiVersion?: string;
  challenges: Challenge[];
  scheme: 'https' | 'http';
}

interface Discovered {
  /** "https://host:port" or "http://host:port". */
  base: string;
  ping: PingResult;
  /** The ping's body (bounded), for the error of a ping that is no registry's. */
  body: string;
}

/** Failures of the HTTPS try after which plain HTTP is not tried: nothing listens, the name does not resolve, Ctrl-C. */
const NO_FALLBACK = new Set(['CONNECTION_REFUSED', 'DNS', 'INTERRUPTED']);

/** The host the API is served from: Docker Hub's names → registry-1.docker.io; any other as written. */
export function apiHost(registry: string): string {
  const r = registry.toLowerCase();
  if (r === 'docker.io' || r === 'index.docker.io' || r === 'registry.hub.docker.com') return 'registry-1.docker.io';
  return registry;
}

export interface EndpointOptions {
  /** The registry as the user names it, for messages. */
  registry: string;
  /** apiHost(registry). */
  host: string;
  /** Marked --insecure-registry: plain HTTP allowed whatever the HTTPS try said. */
  insecure: boolean;
  transport: Transport;
  auth: Authenticator;
  trace: Trace;
  certsDirs: readonly string[];
}

export class Endpoint {
  private found: Promise<Discovered> | undefined;

  constructor(private readonly o: EndpointOptions) {}

  discover(): Promise<Discovered> {
    if (!this.found) {
      this.found = this.discoverOnce();
      this.found.catch(() => {
        this.found = undefined;
      });
    }
    return this.found;
  }

  /** The base URL, after checking that the ping shows a usable registry (not 404, 400 for a client certificate, 5xx). */
  async ensureRegistry(): Promise<string> {
    const { base, ping, body } = await this.discover();
    if (ping.status === 200 || ping.status === 401) return base;
    if (ping.status === 404) {
      throw new DheError('PROTOCOL', `${this.o.registry} is not a registry: GET /v2/ answered 404`, {
        hint: 'check the host and port: it must serve the Docker Registry HTTP API v2',
      });
    }
    throw registryError(ping.status, body, { registry: this.o.registry, what: 'the API check (GET /v2/)', certsDirs: this.o.certsDirs });
  }

  private async pingAt(scheme: 'https' | 'http'): Promise<Discovered> {
    const { host } = this.o;
    const res = await this.o.transport.request({ method: 'GET', url: `${scheme}://${host}/v2/`, followRedirects: true });
    const final = new URL(res.url);
    if (final.origin !== `${scheme}://${host}` && res.status !== 200) {
      // A redirected ping answered elsewhere: that host's challenge never becomes this registry's realm.
      await res.dump();
      throw foreignError(res.status, final.host, { registry: this.o.registry, what: 'the API check (GET /v2/)' });
    }
    const body = await res.text(ERROR_BODY_LIMIT).catch(() => '');
    const challenges = parseWwwAuthenticate(res.headers['www-authenticate']);
    const ping: PingResult = { status: res.status, apiVersion: res.header('docker-distribution-api-version'), challenges, scheme };
    return { base: `${scheme}://${host}`, ping, body };
  }

  private plainAllowed(e: unknown): boolean {
    if (isDheError(e) && NO_FALLBACK.has(e.code)) return false;
    if (this.o.insecure) return true;
    return isLoopbackHost(splitHostPort(this.o.host).host) && isDheError(e) && (looksLikePlainHttp(e) || e.code === 'NETWORK');
  }

  private async discoverOnce(): Promise<Discovered> {
    let found: Discovered;
    try {
      found = await this.pingAt('https');
    } catch (e) {
      if (!this.plainAllowed(e)) throw e;
      this.o.trace.log(`${this.o.host} does not speak TLS${this.o.insecure ? ' (insecure registry)' : ' (loopback)'}: trying plain HTTP`);
      try {
        found = await this.pingAt('http');
      } catch (plainErr) {
        // The plain-HTTP try may take another route than the HTTPS one (HTTP_PROXY, not HTTPS_PROXY): when that
        // route is what failed, it is the error to report; otherwise the first try's says more.
        throw isDheError(plainErr) && plainErr.code === 'PROXY' ? plainErr : e;
      }
      if (found.ping.status === 400 && /HTTP request to an HTTPS server/i.test(found.body)) throw e;
    }
    if (found.ping.status === 401) this.o.auth.setChallenges(found.ping.challenges);
    return found;
  }
}
