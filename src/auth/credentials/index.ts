// Where credentials live and in which order they are looked up.
//
// Lookup for a registry: dhe-cli's config.json (credHelpers[host], then credsStore, then auths — an empty auths
// entry meaning "in the OS keychain"), then docker's config.json (same order), first hit wins.
// login writes to dhe-cli's credHelpers[host] or credsStore when set; else to the OS keychain when one works;
// else to the file, with docker's warning that it is unencrypted. With an identity token, no password is stored.

import { homedir } from 'node:os';
import { resolve as resolvePath, sep } from 'node:path';
import { DheError, isDheError } from '../../errors.js';
import { silentTrace, type Trace } from '../../trace.js';
import { configPath, decodeAuthEntry, fileStore, readConfigFile, updateConfigFile, type DockerConfigFile } from './file.js';
import { helperStore } from './helper.js';
import { findByHost, registryHost, registryKey, sameRegistry } from './hosts.js';
import { keychainStore } from './keychain.js';
import type { Credential, CredentialStore } from './types.js';

export type { Credential, CredentialStore } from './types.js';
export { TOKEN_USERNAME } from './types.js';
export { DOCKER_HUB_KEY, findByHost, registryHost, registryKey, sameRegistry } from './hosts.js';
export {
  configPath,
  decodeAuthEntry,
  encodeAuthEntry,
  fileStore,
  readConfigFile,
  updateConfigFile,
  type AuthEntry,
  type DockerConfigFile,
} from './file.js';
export { helperStore, type HelperOptions } from './helper.js';
export { KEYCHAIN_SERVICE, keychainAvailable, keychainStore } from './keychain.js';

export interface CredentialOptions {
  /** dhe-cli's config folder (--config / DHE_CONFIG). */
  configDir: string;
  /** docker's config folder (DOCKER_CONFIG or ~/.docker). */
  dockerConfigDir: string;
  /** For PATH lookups of docker-credential-* helpers (and HOME, to shorten paths in messages). */
  env: NodeJS.ProcessEnv;
  /** --debug lines: which store supplied the credentials, never the secret. */
  trace?: Trace;
  /** The OS keychain: probed when 'auto' (default) or undefined, unless env.DHE_KEYCHAIN is "0"; null: none; a store: that one. */
  keychain?: CredentialStore | null | 'auto';
}

export interface StoreResult {
  /** The store that now holds the credentials ("keychain", "helper docker-credential-pass", "file …"). */
  store: string;
  /** Set when the credentials sit unencrypted in a file (docker's words). */
  warning?: string;
}

export interface EraseResult {
  /** Names of the stores something was erased from (empty: there was nothing to forget). */
  erased: string[];
  /** Where credentials for the registry still come from after the erase (docker's config, say), if anywhere. */
  stillFrom?: string;
}

function displayPath(path: string, env: NodeJS.ProcessEnv): string {
  const home = env.HOME || homedir();
  const abs = resolvePath(path);
  return home && (abs === home || abs.startsWith(home + sep)) ? '~' + abs.slice(home.length) : abs;
}

async function keychainFor(opts: CredentialOptions): Promise<CredentialStore | undefined> {
  if (opts.keychain === null) return undefined;
  // DHE_KEYCHAIN=0: no OS keychain, exactly as on a machine where none is reachable (the 0600 file, with its warning)
  if (opts.keychain === undefined || opts.keychain === 'auto') return opts.env.DHE_KEYCHAIN === '0' ? undefined : keychainStore();
  return opts.keychain;
}

/** The helper configured for REGISTRY in a config: credHelpers[host] first, then credsStore. */
function helperFor(cfg: DockerConfigFile, registry: string): string | undefined {
  const h = findByHost(cfg.credHelpers, registry);
  if (h && typeof h[1] === 'string' && h[1] !== '') return h[1];
  if (typeof cfg.credsStore === 'string' && cfg.credsStore !== '') return cfg.credsStore;
  return undefined;
}

function isMissingHelper(e: unknown): boolean {
  return isDheError(e) && e.code === 'CREDENTIAL_HELPER' && /not found on PATH/.test(e.message);
}

interface ConfigSource {
  dir: string;
  label: string;
  own: boolean;
}

function sources(opts: CredentialOptions): ConfigSource[] {
  const list: ConfigSource[] = [
    { dir: opts.configDir, label: `dhe-cli config ${displayPath(configPath(opts.configDir), opts.env)}`, own: true },
  ];
  if (resolvePath(opts.dockerConfigDir) !== resolvePath(opts.configDir)) {
    list.push({
      dir: opts.dockerConfigDir,
      label: `docker config ${displayPath(configPath(opts.dockerConfigDir), opts.env)}`,
      own: false,
    });
  }
  return list;
}

async function lookupIn(src: ConfigSource, registry: string, opts: CredentialOptions): Promise<Credential | undefined> {
  const trace = opts.trace ?? silentTrace;
  let cfg: DockerConfigFile;
  try {
    cfg = await readConfigFile(src.dir);
  } catch (e) {
    if (src.own) throw e;
    trace.log(`credentials: ignoring ${src.label}: ${(e as Error).message}`);
    return undefined;
  }
  const helper = helperFor(cfg, registry);
  if (helper) {
    try {
      const c = await helperStore(helper, opts.env).get(registry);
      if (c) return { ...c, source: `helper docker-credential-${helper} (${src.label})` };
    } catch (e) {
      // docker's config often names a helper of another machine (docker-credential-desktop): not our failure.
      if (src.own || !isMissingHelper(e)) throw e;
      trace.log(`credentials: ${(e as Error).message}; skipping ${src.label}`);
    }
  }
  const entry = findByHost(cfg.auths, registry);
  if (!entry) return undefined;
  const c = decodeAuthEntry(entry[1]);
  if (c) return { ...c, source: src.label };
  if (src.own && !helper) {
    // An empty entry in dhe-cli's own config: login put the secret in the OS keychain.
    const kc = await keychainFor(opts);
    const k = kc ? await kc.get(registry) : undefined;
    if (k) return { ...k, source: 'keychain' };
  }
  return undefined;
}

/** The credentials for REGISTRY, or undefined (anonymous). `source` says where they came from. */
export async function resolveCredentials(registry: string, opts: CredentialOptions): Promise<Credential | undefined> {
  const trace = opts.trace ?? silentTrace;
  for (const src of sources(opts)) {
    const c = await lookupIn(src, registry, opts);
    if (c) {
      const what = c.identityToken ? 'identity token' : c.registryToken ? 'registry token' : 'password';
      trace.log(
        `credentials for ${registryHost(registry)}: ${what}${c.username ? ` of user ${c.username}` : ''} from ${c.source}`,
      );
      return c;
    }
  }
  trace.log(`credentials for ${registryHost(registry)}: none stored, anonymous`);
  return undefined;
}

/** What login stores: with an identity token, never the password. */
function toStore(cred: Credential): Credential {
  if (cred.identityToken) {
    return cred.username ? { username: cred.username, identityToken: cred.identityToken } : { identityToken: cred.identityToken };
  }
  const out: Credential = {};
  if (cred.username !== undefined) out.username = cred.username;
  if (cred.password !== undefined) out.password = cred.password;
  if (cred.registryToken !== undefined) out.registryToken = cred.registryToken;
  return out;
}

/** Leaves an empty `auths` entry for REGISTRY (docker's habit for helper-held logins), no secret in the file. */
async function markInFile(configDir: string, registry: string): Promise<void> {
  await updateConfigFile(configDir, (cfg) => {
    const auths = (cfg.auths && typeof cfg.auths === 'object' ? cfg.auths : {}) as NonNullable<DockerConfigFile['auths']>;
    for (const k of Object.keys(auths)) if (sameRegistry(k, registry)) delete auths[k];
    auths[registryKey(registry)] = {};
    cfg.auths = auths;
  });
}

/** Stores credentials where login should: a configured helper, else the OS keychain, else the file (with a warning). */
export async function storeCredentials(
  registry: string,
  cred: Credential,
  opts: CredentialOptions,
): Promise<StoreResult> {
  const trace = opts.trace ?? silentTrace;
  const data = toStore(cred);
  if (!data.password && !data.identityToken && !data.registryToken) {
    throw new DheError('USAGE', 'no password or token to store');
  }
  const cfg = await readConfigFile(opts.configDir);
  const helper = helperFor(cfg, registry);
  if (helper) {
    const store = helperStore(helper, opts.env);
    await store.store(registry, data);
    await markInFile(opts.configDir, registry);
    trace.log(`credentials for ${registryHost(registry)} stored in ${store.name}`);
    return { store: store.name };
  }
  const kc = await keychainFor(opts);
  if (kc) {
    await kc.store(registry, data);
    await markInFile(opts.configDir, registry);
    trace.log(`credentials for ${registryHost(registry)} stored in ${kc.name}`);
    return { store: kc.name };
  }
  const file = fileStore(opts.configDir);
  await file.store(registry, data);
  const path = resolvePath(configPath(opts.configDir));
  trace.log(`credentials for ${registryHost(registry)} stored in ${file.name}`);
  return {
    store: file.name,
    warning:
      `Your credentials are stored unencrypted in '${path}'.\n` +
      'Configure a credential helper ("credsStore" in that file) to remove this warning. See\n' +
      'https://docs.docker.com/go/credential-store/',
  };
}

/** Forgets the credentials for REGISTRY in every dhe-cli store that held them (docker's own config is left alone). */
export async function eraseCredentials(registry: string, opts: CredentialOptions): Promise<EraseResult> {
  const erased: string[] = [];
  const cfg = await readConfigFile(opts.configDir);
  const helper = helperFor(cfg, registry);
  if (helper) {
    const store = helperStore(helper, opts.env);
    if (await store.erase(registry)) erased.push(store.name);
  }
  const entry = findByHost(cfg.auths, registry);
  if (entry && !decodeAuthEntry(entry[1]) && !helper) {
    const kc = await keychainFor(opts);
    if (kc && (await kc.erase(registry))) erased.push(kc.name);
  }
  const file = fileStore(opts.configDir);
  if (await file.erase(registry)) erased.push(file.name);
  let stillFrom: string | undefined;
  try {
    stillFrom = (await resolveCredentials(registry, { ...opts, trace: silentTrace }))?.source;
  } catch {
    stillFrom = undefined;
  }
  return stillFrom ? { erased, stillFrom } : { erased };
}

/** Credentials for the registry client: resolved once per registry host per provider. */
export function credentialProvider(opts: CredentialOptions): (registry: string) => Promise<Credential | undefined> {
  const cache = new Map<string, Promise<Credential | undefined>>();
  return (registry: string) => {
    const host = registryHost(registry);
    let p = cache.get(host);
    if (!p) {
      p = resolveCredentials(registry, opts);
      cache.set(host, p);
      p.catch(() => cache.delete(host));
    }
    return p;
  };
}
