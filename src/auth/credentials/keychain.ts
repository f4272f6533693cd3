// The OS keychain (macOS Keychain, Windows Credential Manager, Secret Service on Linux) via @napi-rs/keyring.
// One entry per registry: service "dhe-cli", account = the registry key, password = JSON {username, secret, token}.
// Whether a keychain works is probed once per process (headless Linux usually has none), with a timeout, so a
// locked or absent keyring never hangs a command.

import { DheError } from '../../errors.js';
import { registryKey } from './hosts.js';
import type { Credential, CredentialStore } from './types.js';

export const KEYCHAIN_SERVICE = 'dhe-cli';
const PROBE_ACCOUNT = '__dhe-cli-probe__';
const TIMEOUT_MS = 5_000;

type KeyringModule = typeof import('@napi-rs/keyring');

interface Stored {
  username?: string;
  secret: string;
  token?: boolean;
}

let probed: Promise<KeyringModule | undefined> | undefined;

async function loadKeyring(): Promise<KeyringModule | undefined> {
  try {
    return await import('@napi-rs/keyring');
  } catch {
    return undefined;
  }
}

async function probe(): Promise<KeyringModule | undefined> {
  const mod = await loadKeyring();
  if (!mod) return undefined;
  try {
    const entry = new mod.AsyncEntry(KEYCHAIN_SERVICE, PROBE_ACCOUNT);
    const value = `probe-${process.pid}`;
    await entry.setPassword(value, AbortSignal.timeout(TIMEOUT_MS));
    const back = await entry.getPassword(AbortSignal.timeout(TIMEOUT_MS));
    await entry.deleteCredential(AbortSignal.timeout(TIMEOUT_MS)).catch(() => false);
    return back === value ? mod : undefined;
  } catch {
    return undefined;
  }
}

/** Whether an OS keychain works here (probed once per process). */
export async function keychainAvailable(): Promise<boolean> {
  probed ??= probe();
  return (await probed) !== undefined;
}

function keychainError(action: string, e: unknown): DheError {
  const msg = (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '';
  return new DheError('CREDENTIAL_HELPER', `the OS keychain failed to ${action}: ${msg}`, {
    hint: 'unlock your keychain, or set "credsStore" in the dhe-cli config.json to use a credential helper',
    cause: e,
  });
}

/** A store in the OS keychain, or undefined when no keychain works here. */
export async function keychainStore(service: string = KEYCHAIN_SERVICE): Promise<CredentialStore | undefined> {
  probed ??= probe();
  const mod = await probed;
  if (!mod) return undefined;
  const entry = (server: string) => new mod.AsyncEntry(service, registryKey(server));
  return {
    name: 'keychain',
    async get(server) {
      let raw: string | undefined;
      try {
        raw = await entry(server).getPassword(AbortSignal.timeout(TIMEOUT_MS));
      } catch (e) {
        if (/no ?entry|not found/i.test(String((e as Error)?.message))) return undefined;
        throw keychainError('read credentials', e);
      }
      if (!raw) return undefined;
      let s: Stored;
      try {
        s = JSON.parse(raw) as Stored;
      } catch {
        return undefined;
      }
      if (typeof s.secret !== 'string' || s.secret === '') return undefined;
      const cred: Credential = { source: 'keychain' };
      if (s.username) cred.username = s.username;
      if (s.token) cred.identityToken = s.secret;
      else cred.password = s.secret;
      return cred;
    },
    async store(server, cred) {
      const s: Stored = cred.identityToken
        ? { username: cred.username, secret: cred.identityToken, token: true }
        : { username: cred.username, secret: cred.password ?? '' };
      try {
        await entry(server).setPassword(JSON.stringify(s), AbortSignal.timeout(TIMEOUT_MS));
      } catch (e) {
        throw keychainError('store credentials', e);
      }
    },
    async erase(server) {
      try {
        return await entry(server).deleteCredential(AbortSignal.timeout(TIMEOUT_MS));
      } catch (e) {
        if (/no ?entry|not found/i.test(String((e as Error)?.message))) return false;
        throw keychainError('erase credentials', e);
      }
    },
    async list() {
      try {
        const all = await mod.findCredentialsAsync(service, undefined, AbortSignal.timeout(TIMEOUT_MS));
        const out: Record<string, string> = {};
        for (const c of all) {
          if (c.account === PROBE_ACCOUNT) continue;
          try {
            out[c.account] = (JSON.parse(c.password) as Stored).username ?? '';
          } catch {
            out[c.account] = '';
          }
        }
        return out;
      } catch (e) {
        throw keychainError('list credentials', e);
      }
    },
  };
}

