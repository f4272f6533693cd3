// Registry host keys, matched as docker matches them: Docker Hub is stored under `https://index.docker.io/v1/`,
// every other registry under its HOST[:PORT]; keys with a scheme or a `/v1/` / `/v2/` path match the bare host.

/** The key docker uses for Docker Hub in config.json and with credential helpers. */
export const DOCKER_HUB_KEY = 'https://index.docker.io/v1/';

const HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

/**
 * The host a server name or config key refers to: scheme and path removed, lower-cased, Docker Hub's aliases
 * folded into `docker.io`. `https://index.docker.io/v1/` → `docker.io`; `http://reg:5000/v2/` → `reg:5000`.
 */
export function registryHost(server: string): string {
  let s = server.trim();
  s = s.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const slash = s.indexOf('/');
  if (slash >= 0) s = s.slice(0, slash);
  s = s.toLowerCase();
  if (s.endsWith('.')) s = s.slice(0, -1);
  if (HUB_ALIASES.has(s) || s === '') return 'docker.io';
  return s;
}

/** The key under which login stores credentials for SERVER (docker's choice). */
export function registryKey(server: string): string {
  const host = registryHost(server);
  return host === 'docker.io' ? DOCKER_HUB_KEY : host;
}

/** Whether a config key (any form) names the same registry as SERVER. */
export function sameRegistry(key: string, server: string): boolean {
  return registryHost(key) === registryHost(server);
}

/** Finds the entry of a `{ key: value }` map (auths, credHelpers, a helper's list) that names SERVER. */
export function findByHost<T>(map: Record<string, T> | undefined, server: string): [string, T] | undefined {
  if (!map) return undefined;
  const exact = registryKey(server);
  if (Object.prototype.hasOwnProperty.call(map, exact)) return [exact, map[exact] as T];
  if (Object.prototype.hasOwnProperty.call(map, server)) return [server, map[server] as T];
  for (const [k, v] of Object.entries(map)) {
    if (sameRegistry(k, server)) return [k, v];
  }
  return undefined;
}
