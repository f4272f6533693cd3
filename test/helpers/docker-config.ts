// docker's config.json with stored credentials, as `docker login` leaves it, for a test's private DOCKER_CONFIG.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';
import { freshHome } from './cli.js';

export interface UserPassword {
  username: string;
  password: string;
}

/** Writes DOCKER_CONFIG/config.json with `auths` (host → user and password, base64 as docker stores them). */
export function writeDockerConfig(home: { env: Record<string, string> }, auths: Record<string, UserPassword>): void {
  const dir = home.env.DOCKER_CONFIG;
  if (!dir) throw new Error('writeDockerConfig: the home has no DOCKER_CONFIG (use freshHome())');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const entries = Object.entries(auths).map(([host, u]) => [host, { auth: Buffer.from(`${u.username}:${u.password}`).toString('base64') }]);
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: Object.fromEntries(entries) }), { mode: 0o600 });
}

/** A freshHome() whose docker config holds `auths` (as after `docker login`), trusting the harness CA (DHE_CA_CERT). */
export function loggedInHome(auths: Record<string, UserPassword>): ReturnType<typeof freshHome> {
  const home = freshHome();
  writeDockerConfig(home, auths);
  const h = inject('harness');
  return h ? { ...home, env: { ...home.env, DHE_CA_CERT: h.caCert } } : home;
}
