// docker's config.json: `auths` (base64 "user:password" + identitytoken), `credsStore`, `credHelpers`.
// Writes are atomic (a temp file created exclusively, then renamed), 0600 in a 0700 folder whatever the umask, keep
// every other key of the file, and run under a lock (DIR/config.json.lock, the store's O_EXCL lock with stale-lock
// breaking) so two logins at once both end up in the file.

import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DheError, fsError } from '../../errors.js';
import { trackTemp } from '../../fs/cleanup.js';
import { mkdirPrivate, PRIVATE_FILE_MODE } from '../../fs/private.js';
import { withFileLock } from '../../store/lock.js';
import { findByHost, registryKey, sameRegistry } from './hosts.js';
import type { Credential, CredentialStore } from './types.js';

export interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
  email?: string;
  [key: string]: unknown;
}

export interface DockerConfigFile {
  auths?: Record<string, AuthEntry>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [key: string]: unknown;
}

export function configPath(configDir: string): string {
  return join(configDir, 'config.json');
}

/** Reads DIR/config.json; a missing file is an empty config, a broken one an error naming the file. */
export async function readConfigFile(configDir: string): Promise<DockerConfigFile> {
  const path = configPath(configDir);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return {};
    throw fsError(e, `reading ${path}`);
  }
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new DheError('IO', `${path} is not valid JSON: ${(e as Error).message}`, {
      hint: `fix or remove ${path}`,
      cause: e,
    });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new DheError('IO', `${path} is not a JSON object`, { hint: `fix or remove ${path}` });
  }
  return parsed as DockerConfigFile;
}

/** Read-modify-write of DIR/config.json, atomically; `mutate` returns false to skip writing. */
export async function updateConfigFile(
  configDir: string,
  mutate: (cfg: DockerConfigFile) => boolean | void,
): Promise<void> {
  const path = configPath(configDir);
  try {
    await mkdirPrivate(configDir);
  } catch (e) {
    throw fsError(e, `creating ${configDir}`);
  }
  await withFileLock(
    `${path}.lock`,
    async () => {
      const cfg = await readConfigFile(configDir);
      if (mutate(cfg) === false) return;
      const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
      const untrack = trackTemp(tmp);
      try {
        // 'wx': never through a file or link someone else put there; 0600 from the start (umask only narrows it)
        await writeFile(tmp, JSON.stringify(cfg, null, '\t') + '\n', { mode: PRIVATE_FILE_MODE, flag: 'wx' });
        await rename(tmp, path);
      } catch (e) {
        await rm(tmp, { force: true }).catch(() => {});
        throw fsError(e, `writing ${path}`);
      } finally {
        untrack();
      }
    },
    { timeoutMs: 30_000, staleMs: 60_000, what: path },
  );
}

/** An `auths` entry as a Credential (undefined for an empty entry, as docker writes for helper-held logins). */
export function decodeAuthEntry(entry: AuthEntry | undefined): Credential | undefined {
  if (!entry || typeof entry !== 'object') return undefined;
  const cred: Credential = {};
  if (typeof entry.auth === 'string' && entry.auth !== '') {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) {
      throw new DheError('IO', 'an "auth" entry of a config.json is not base64 of "user:password"', {
        hint: 'run dhe-cli login again for that registry',
      });
    }
    cred.username = decoded.slice(0, colon);
    const pw = decoded.slice(colon + 1);
    if (pw !== '') cred.password = pw;
  } else {
    if (typeof entry.username === 'string' && entry.username !== '') cred.username = entry.username;
    if (typeof entry.password === 'string' && entry.password !== '') cred.password = entry.password;
  }
  if (typeof entry.identitytoken === 'string' && entry.identitytoken !== '') cred.identityToken = entry.identitytoken;
  if (typeof entry.registrytoken === 'string' && entry.registrytoken !== '') cred.registryToken = entry.registrytoken;
  if (!cred.password && !cred.identityToken && !cred.registryToken) return undefined;
  return cred;
}

/** A Credential as an `auths` entry: with an identity token, the password is left out. */
export function encodeAuthEntry(cred: Credential): AuthEntry {
  const entry: AuthEntry = {};
  const password = cred.identityToken ? '' : (cred.password ?? '');
  if (cred.username !== undefined || password !== '') {
    entry.auth = Buffer.from(`${cred.username ?? ''}:${password}`, 'utf8').toString('base64');
  }
  if (cred.identityToken) entry.identitytoken = cred.identityToken;
  if (cred.registryToken) entry.registrytoken = cred.registryToken;
  return entry;
}

/** Credentials in the `auths` of DIR/config.json (unencrypted). */
export function fileStore(configDir: string): CredentialStore {
  const path = configPath(configDir);
  return {
    name: `file ${path}`,
    async get(server) {
      const cfg = await readConfigFile(configDir);
      const hit = findByHost(cfg.auths, server);
      return hit ? decodeAuthEntry(hit[1]) : undefined;
    },
    async store(server, cred) {
      await updateConfigFile(configDir, (cfg) => {
        const auths = (cfg.auths && typeof cfg.auths === 'object' ? cfg.auths : {}) as Record<string, AuthEntry>;
        for (const k of Object.keys(auths)) if (sameRegistry(k, server)) delete auths[k];
        auths[registryKey(server)] = encodeAuthEntry(cred);
        cfg.auths = auths;
      });
    },
    async erase(server) {
      let erased = false;
      await updateConfigFile(configDir, (cfg) => {
        if (!cfg.auths) return false;
        let changed = false;
        for (const k of Object.keys(cfg.auths)) {
          if (sameRegistry(k, server)) {
            if (decodeAuthEntry(cfg.auths[k])) erased = true;
            delete cfg.auths[k];
            changed = true;
          }
        }
        return changed;
      });
      return erased;
    },
    async list() {
      const cfg = await readConfigFile(configDir);
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(cfg.auths ?? {})) {
        const c = decodeAuthEntry(v);
        if (c) out[k] = c.username ?? '';
      }
      return out;
    },
  };
}
