// Settings resolved once at the edge (CLI flags + environment) and passed down as values.
// Nothing below src/cli reads process.env directly; it receives a Settings (or the part it needs).

import { homedir } from 'node:os';
import { join } from 'node:path';

export interface TlsSettings {
  /** Extra CA certificate files (PEM), added to the system's. */
  caCertFiles: string[];
  /** A client certificate for every registry (per-host ones come from certs.d). */
  clientCertFile?: string;
  clientKeyFile?: string;
  /** certs.d-style folders searched in order: DIR/HOST:PORT/ then DIR/HOST/ ({*.crt, client.cert, client.key}). */
  certsDirs: string[];
  /** HOST or HOST:PORT entries: TLS without verification, falling back to plain HTTP. */
  insecureRegistries: string[];
}

export interface ProxySettings {
  httpsProxy?: string;
  httpProxy?: string;
  noProxy?: string;
}

export interface Settings {
  configDir: string;
  storeDir: string;
  /** docker's config folder ($DOCKER_CONFIG or ~/.docker), read for credentials. */
  dockerConfigDir: string;
  tls: TlsSettings;
  proxy: ProxySettings;
  /** "os/arch[/variant]" or undefined for the host's. */
  platform?: string;
  concurrency: number;
  /** Keep interrupted transfers for the next run (off with DHE_NO_RESUME=1). */
  resume: boolean;
  debug: boolean;
  quiet: boolean;
  color: boolean;
  /** CI=true or not a TTY: plain lines, no spinners. */
  interactive: boolean;
  /** Network timeouts (DHE_READ_TIMEOUT=SECONDS sets how long a response may send nothing, headers or body). */
  timeouts: { headersMs?: number; bodyIdleMs?: number };
  /** The environment, for things like PATH lookups of credential helpers. */
  env: NodeJS.ProcessEnv;
}

export const DEFAULT_CONCURRENCY = 4;

export function defaultConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.DHE_CONFIG || join(env.HOME || homedir(), '.dhe-cli');
}

/** `first` (given folders), then CONFIG/certs.d, /etc/docker/certs.d and /etc/containers/certs.d, each once. */
export function withDefaultCertsDirs(first: readonly string[], configDir: string): string[] {
  const all = [...first, join(configDir, 'certs.d'), '/etc/docker/certs.d', '/etc/containers/certs.d'];
  return all.filter((d, i) => all.indexOf(d) === i);
}

export function defaultSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const configDir = defaultConfigDir(env);
  const home = env.HOME || homedir();
  const splitList = (v: string | undefined) =>
    (v ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  // A folder given with DHE_CERTS_DIR (or --certs-dir) is searched first, then the usual ones, as docker users expect
  // (a CA in /etc/docker/certs.d keeps working when a job adds its own folder).
  const certsDirs = withDefaultCertsDirs(env.DHE_CERTS_DIR ? [env.DHE_CERTS_DIR] : [], configDir);
  const conc = Number.parseInt(env.DHE_CONCURRENCY ?? '', 10);
  const noColor = env.NO_COLOR !== undefined && env.NO_COLOR !== '';
  const readTimeout = Number(env.DHE_READ_TIMEOUT);
  const ci = !!env.CI && env.CI !== 'false' && env.CI !== '0';
  return {
    configDir,
    storeDir: env.DHE_STORE || join(configDir, 'store'),
    dockerConfigDir: env.DOCKER_CONFIG || join(home, '.docker'),
    tls: {
      caCertFiles: env.DHE_CA_CERT ? splitList(env.DHE_CA_CERT) : [],
      certsDirs,
      insecureRegistries: splitList(env.DHE_INSECURE_REGISTRIES),
    },
    proxy: {
      httpsProxy: env.HTTPS_PROXY || env.https_proxy || undefined,
      httpProxy: env.HTTP_PROXY || env.http_proxy || undefined,
      noProxy: env.NO_PROXY || env.no_proxy || undefined,
    },
    platform: env.DHE_PLATFORM || undefined,
    concurrency: Number.isFinite(conc) && conc > 0 ? conc : DEFAULT_CONCURRENCY,
    resume: !(env.DHE_NO_RESUME === '1' || env.DHE_NO_RESUME === 'true'),
    debug: env.DHE_DEBUG === '1' || env.DHE_DEBUG === 'true',
    quiet: false,
    color: !noColor && !ci && !!process.stdout.isTTY,
    interactive: !ci && !!process.stderr.isTTY,
    timeouts: Number.isFinite(readTimeout) && readTimeout > 0 ? { headersMs: readTimeout * 1000, bodyIdleMs: readTimeout * 1000 } : {},
    env,
  };
}
