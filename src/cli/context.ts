// What every command gets: settings resolved from flags + environment (once, here), output, trace, a cancel signal.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { defaultSettings, type Settings } from '../config.js';
import { DheError } from '../errors.js';
import { silentTrace, streamTrace, type Trace } from '../trace.js';
import type { Output } from './output.js';

export interface GlobalFlags {
  config?: string;
  store?: string;
  caCert?: string[];
  cert?: string;
  key?: string;
  certsDir?: string;
  insecureRegistry?: string[];
  platform?: string;
  concurrency?: string;
  debug?: boolean;
  quiet?: boolean;
  color?: boolean;
  [k: string]: unknown;
}

export interface CommandContext {
  settings: Settings;
  out: Output;
  trace: Trace;
  signal: AbortSignal;
}

export function settingsFromFlags(flags: GlobalFlags, env: NodeJS.ProcessEnv): Settings {
  const s = defaultSettings(env);
  if (flags.config) {
    s.configDir = resolve(flags.config);
    if (!env.DHE_STORE && !flags.store) s.storeDir = resolve(s.configDir, 'store');
    if (!env.DHE_CERTS_DIR && !flags.certsDir) s.tls.certsDirs[0] = resolve(s.configDir, 'certs.d');
  }
  if (flags.store) s.storeDir = resolve(flags.store);
  if (env.DHE_CONCURRENCY !== undefined && flags.concurrency === undefined) flags.concurrency = env.DHE_CONCURRENCY;
  if (flags.caCert?.length) s.tls.caCertFiles = [...s.tls.caCertFiles, ...flags.caCert.map((f) => resolve(f))];
  if (flags.cert || flags.key) {
    if (!flags.cert || !flags.key) {
      throw new DheError('USAGE', '--cert and --key go together', { hint: 'give both the client certificate and its key' });
    }
    s.tls.clientCertFile = resolve(flags.cert);
    s.tls.clientKeyFile = resolve(flags.key);
  }
  if (flags.certsDir) s.tls.certsDirs = [resolve(flags.certsDir)];
  if (flags.insecureRegistry?.length) s.tls.insecureRegistries = [...s.tls.insecureRegistries, ...flags.insecureRegistry];
  if (flags.platform) s.platform = flags.platform;
  if (flags.concurrency !== undefined) {
    const n = Number(flags.concurrency);
    if (!Number.isInteger(n) || n < 1 || n > 64) {
      throw new DheError('USAGE', `--concurrency (or DHE_CONCURRENCY) must be a whole number from 1 to 64, not "${flags.concurrency}"`);
    }
    s.concurrency = n;
  }
  for (const file of s.tls.caCertFiles) checkPem(file, '--ca-cert', 'CERTIFICATE');
  if (s.tls.clientCertFile) checkPem(s.tls.clientCertFile, '--cert', 'CERTIFICATE');
  if (s.tls.clientKeyFile) checkPem(s.tls.clientKeyFile, '--key', 'PRIVATE KEY');
  if (flags.debug) s.debug = true;
  if (flags.quiet) s.quiet = true;
  if (flags.color === false) s.color = false;
  return s;
}

export async function buildContext(
  flags: GlobalFlags,
  env: NodeJS.ProcessEnv,
  out: Output,
  signal: AbortSignal,
): Promise<CommandContext> {
  const settings = settingsFromFlags(flags, env);
  if (out.stdout !== process.stdout) settings.color = settings.color && !!out.stdout.isTTY;
  if (out.stderr !== process.stderr) settings.interactive = settings.interactive && !!out.stderr.isTTY;
  await out.configure(settings);
  const trace = settings.debug ? streamTrace((s) => out.stderr.write(s)) : silentTrace;
  return { settings, out, trace, signal };
}

/** A certificate or key file that is missing or not PEM is a usage error now, not a confusing TLS error later. */
function checkPem(file: string, flag: string, kind: 'CERTIFICATE' | 'PRIVATE KEY'): void {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new DheError('USAGE', `${flag} ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : 'cannot be read'}`, {
      hint: 'give the path of a PEM file',
    });
  }
  const ok = kind === 'CERTIFICATE' ? text.includes('-----BEGIN CERTIFICATE-----') : /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text);
  if (!ok) {
    throw new DheError('USAGE', `${flag} ${file} is not a PEM ${kind === 'CERTIFICATE' ? 'certificate' : 'private key'}`, {
      hint: kind === 'CERTIFICATE' ? 'convert a DER certificate with: openssl x509 -inform der -in FILE -out ca.crt' : 'give the PEM private key that goes with the certificate',
    });
  }
}
