// What every command gets: settings resolved from flags + environment (once, here), output, trace, a cancel signal.

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
      throw new DheError('USAGE', `--concurrency must be a whole number from 1 to 64, not "${flags.concurrency}"`);
    }
    s.concurrency = n;
  }
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
