// What every command gets: settings resolved from flags + environment (once, here), output, trace, a cancel signal.

import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { defaultSettings, withDefaultCertsDirs, type Settings } from '../config.js';
import { DheError } from '../errors.js';
import { silentTrace, streamTrace, type Trace } from '../trace.js';
import type { GlobalFlags } from './globals.js';
import type { Output } from './output.js';

export interface CommandContext {
  settings: Settings;
  out: Output;
  trace: Trace;
  signal: AbortSignal;
}

function settingsFromFlags(flags: GlobalFlags, env: NodeJS.ProcessEnv): Settings {
  const s = defaultSettings(env);
  if (flags.config) {
    s.configDir = resolve(flags.config);
    if (!env.DHE_STORE && !flags.store) s.storeDir = resolve(s.configDir, 'store');
    s.tls.certsDirs = withDefaultCertsDirs(env.DHE_CERTS_DIR ? [resolve(env.DHE_CERTS_DIR)] : [], s.configDir);
  }
  if (flags.store) s.storeDir = resolve(flags.store);
  const concurrency = flags.concurrency ?? env.DHE_CONCURRENCY;
  if (flags.caCert?.length) s.tls.caCertFiles = [...s.tls.caCertFiles, ...flags.caCert.map((f) => resolve(f))];
  if (flags.cert || flags.key) {
    if (!flags.cert || !flags.key) {
      throw new DheError('USAGE', '--cert and --key go together', { hint: 'give both the client certificate and its key' });
    }
    s.tls.clientCertFile = resolve(flags.cert);
    s.tls.clientKeyFile = resolve(flags.key);
  }
  if (flags.certsDir) s.tls.certsDirs = withDefaultCertsDirs([resolve(flags.certsDir)], s.configDir);
  if (flags.insecureRegistry?.length) s.tls.insecureRegistries = [...s.tls.insecureRegistries, ...flags.insecureRegistry];
  if (flags.platform) s.platform = flags.platform;
  if (concurrency !== undefined) {
    const n = Number(concurrency);
    if (!Number.isInteger(n) || n < 1 || n > 64) {
      throw new DheError('USAGE', `--concurrency (or DHE_CONCURRENCY) must be a whole number from 1 to 64, not "${concurrency}"`);
    }
    s.concurrency = n;
  }
  const fromEnv = s.tls.caCertFiles.length - (flags.caCert?.length ?? 0);
  s.tls.caCertFiles.forEach((file, i) => checkPem(file, i < fromEnv ? 'DHE_CA_CERT' : '--ca-cert', 'CERTIFICATE'));
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
  const given = flags.certsDir ?? env.DHE_CERTS_DIR;
  if (given) warnAboutLooseCertFiles(resolve(given), out);
  const trace = settings.debug ? streamTrace((s) => out.stderr.write(s)) : silentTrace;
  return { settings, out, trace, signal };
}

/** certs.d files belong in DIR/HOST:PORT/; one at the top of DIR is never read, so say so instead of ignoring it. */
function warnAboutLooseCertFiles(dir: string, out: Output): void {
  let loose: string[];
  try {
    loose = readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isFile() && /\.(crt|cert|key|pem)$/.test(e.name))
      .map((e) => e.name);
  } catch {
    return;
  }
  if (loose.length === 0) return;
  out.warn(`${join(dir, loose[0]!)}${loose.length > 1 ? ` (and ${loose.length - 1} more)` : ''} is not used: certs.d files go in a folder per registry, e.g. ${join(dir, 'HOST:PORT', loose[0]!)}`);
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
