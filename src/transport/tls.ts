// TLS material per host: system CAs + --ca-cert files + certs.d/*.crt, a client certificate from certs.d or
// --cert/--key, and whether verification is skipped (--insecure-registry).

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import type { TlsSettings } from '../config.js';
import { DheError } from '../errors.js';
import { matchesHostList, splitHostPort } from './hosts.js';

export interface HostTls {
  /** Trusted CAs (PEM): undefined means Node's defaults. */
  ca?: string[];
  cert?: string;
  key?: string;
  /** Skip verification (an insecure registry). */
  insecure: boolean;
  /** Where the material came from, for --debug and doctor. */
  sources: string[];
  /** The certs.d folders searched (TlsSettings.certsDirs), for hints naming where to put a file. */
  certsDirs?: string[];
}

async function readPem(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    throw new DheError('USAGE', `cannot read ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, {
      hint: `check the path given to ${what === 'CA certificate' ? '--ca-cert' : '--cert/--key'}`,
      cause: e,
    });
  }
}

async function listDir(dir: string): Promise<string[] | undefined> {
  try {
    return await readdir(dir);
  } catch {
    return undefined;
  }
}

/** The certs.d folder names read for hostport, first wins: HOST:PORT then HOST ("dhe.example.com" alone on 443). */
export function certsDirNames(hostport: string): string[] {
  const { host, port } = splitHostPort(hostport);
  return port !== undefined ? [`${host}:${port}`, host] : [host];
}

/** The certs.d folders that apply to hostport, in docker's order: DIR/HOST:PORT/ then DIR/HOST/. */
export async function certsDirsFor(settings: TlsSettings, hostport: string): Promise<string[]> {
  const out: string[] = [];
  for (const base of settings.certsDirs) {
    for (const name of certsDirNames(hostport)) {
      const dir = join(base, name);
      if ((await listDir(dir)) !== undefined) {
        out.push(dir);
        break; // HOST:PORT wins over HOST within one base folder
      }
    }
  }
  return out;
}

/** Loads the TLS material for one host ("127.0.0.1:5000", "registry.example.com"). */
export async function loadHostTls(settings: TlsSettings, hostport: string): Promise<HostTls> {
  const sources: string[] = [];
  const extra: string[] = [];
  for (const f of settings.caCertFiles) {
    extra.push(await readPem(f, 'CA certificate'));
    sources.push(`ca ${f}`);
  }
  let cert: string | undefined;
  let key: string | undefined;
  for (const dir of await certsDirsFor(settings, hostport)) {
    const files = ((await listDir(dir)) ?? []).sort();
    for (const f of files) {
      if (f.endsWith('.crt')) {
        try {
          extra.push(await readFile(join(dir, f), 'utf8'));
          sources.push(`ca ${join(dir, f)}`);
        } catch {
          /* unreadable: ignored like docker does */
        }
      }
    }
    if (!cert && files.includes('client.cert') && files.includes('client.key')) {
      cert = await readPem(join(dir, 'client.cert'), 'client certificate');
      key = await readPem(join(dir, 'client.key'), 'client key');
      sources.push(`client cert ${join(dir, 'client.cert')}`);
    }
  }
  if (!cert && settings.clientCertFile && settings.clientKeyFile) {
    cert = await readPem(settings.clientCertFile, 'client certificate');
    key = await readPem(settings.clientKeyFile, 'client key');
    sources.push(`client cert ${settings.clientCertFile}`);
  }
  const insecure = matchesHostList(settings.insecureRegistries, hostport);
  if (insecure) sources.push('insecure (no verification)');
  return {
    ca: extra.length ? [...rootCertificates, ...extra] : undefined,
    cert,
    key,
    insecure,
    sources,
    certsDirs: settings.certsDirs,
  };
}
