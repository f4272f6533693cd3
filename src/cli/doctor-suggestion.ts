// The `Run 'dhe-cli doctor …'` line under an auth, TLS or network error. It repeats the options of the failing
// command that change what doctor finds (trust, client certificate, config, insecure registries) and names the
// repository of the failing reference, so following it literally diagnoses the same situation.

import { parseReference, type Reference } from '../reference/index.js';
import type { GlobalFlags } from './globals.js';

export interface DoctorSuggestion {
  /** Global options to repeat, in command-line form. */
  options: string[];
  /** Registry → repository, from the references the command was given. */
  repositories: Map<string, string>;
}

export const NO_SUGGESTION: DoctorSuggestion = { options: [], repositories: new Map() };

/** What to repeat from a command's global flags and positional arguments. */
export function doctorSuggestion(flags: GlobalFlags, positionals: readonly unknown[]): DoctorSuggestion {
  const options: string[] = [];
  const add = (flag: string, value: string | undefined) => {
    if (value !== undefined) options.push(flag, shellQuote(value));
  };
  add('--config', flags.config);
  for (const f of flags.caCert ?? []) add('--ca-cert', f);
  add('--cert', flags.cert);
  add('--key', flags.key);
  add('--certs-dir', flags.certsDir);
  for (const r of flags.insecureRegistry ?? []) add('--insecure-registry', r);
  const repositories = new Map<string, string>();
  for (const p of positionals.flat()) {
    if (typeof p !== 'string') continue;
    const ref = tryParseReference(p);
    if (ref && !repositories.has(ref.registry)) repositories.set(ref.registry, ref.repository);
  }
  return { options, repositories };
}

/** The full command line to suggest for `host` (docker.io's API host is shown as docker.io). */
export function doctorCommand(host: string, s: DoctorSuggestion): string {
  const shown = host === 'registry-1.docker.io' ? 'docker.io' : host;
  const repo = s.repositories.get(host) ?? s.repositories.get(shown);
  return ['dhe-cli', ...s.options, 'doctor', shown, ...(repo ? ['--repo', repo] : [])].join(' ');
}

function tryParseReference(text: string): Reference | undefined {
  try {
    return parseReference(text);
  } catch {
    return undefined;
  }
}

function shellQuote(v: string): string {
  return /^[\w@%+=:,./~-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`;
}
