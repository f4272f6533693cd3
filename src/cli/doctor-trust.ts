// `dhe-cli doctor REGISTRY --trust [--fingerprint sha256:HEX] [--yes] [--replace]`, the command-line half: shows the
// CA the registry offers (subject, issuer, validity, SHA-256 fingerprint), gets the user's confirmation — a [y/N]
// prompt on a terminal, or a matching --fingerprint anywhere — and pins it. Without either it refuses (exit 4) with
// the fingerprint in the message, so a script can pin it. The library half is src/diagnose/trust.ts.

import type { CaCandidate, DoctorOptions, PinOutcome, TrustPlan } from '../diagnose/index.js';
import { DheError } from '../errors.js';
import type { CommandContext } from './context.js';
import { prompt } from './prompt.js';

export interface TrustFlags {
  fingerprint?: string;
  yes?: boolean;
  replace?: boolean;
  json: boolean;
}

/** What --trust did, for the JSON report. */
export interface TrustOutcome {
  from: string;
  subject: string;
  issuer: string;
  validFrom: string;
  validTo: string;
  fingerprint: string;
  path: string;
  pinned: PinOutcome;
}

/** "sha256:HEX" (also upper case, with colons, or openssl's "SHA256 Fingerprint=AB:CD:…") → "sha256:hex". */
export function normalizeFingerprint(text: string): string {
  const hex = text.trim().replace(/^sha256 fingerprint=/i, '').replace(/^sha256:/i, '').replace(/:/g, '').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new DheError('USAGE', `--fingerprint must be sha256: and 64 hex digits, not ${JSON.stringify(text.slice(0, 80))}`, {
      hint: 'copy it from what dhe-cli doctor REGISTRY --trust shows, or from: openssl x509 -in ca.crt -noout -fingerprint -sha256',
    });
  }
  return `sha256:${hex}`;
}

export function checkTrustFlags(trust: boolean | undefined, flags: TrustFlags): void {
  if (trust) return;
  const given = (['fingerprint', 'yes', 'replace'] as const).filter((f) => flags[f] !== undefined && flags[f] !== false);
  if (given.length) throw new DheError('USAGE', `--${given[0]} only goes with --trust`, { hint: 'dhe-cli doctor REGISTRY --trust [--fingerprint sha256:HEX] [--yes] [--replace]' });
}

/**
 * Runs the trust step. Returns an exit code when doctor is done (TLS already verified: 0), the outcome when a CA
 * was pinned (the report follows), or undefined when the registry is unreachable (the report says why).
 */
export async function trustStep(ctx: CommandContext, registry: string, dopts: DoctorOptions, flags: TrustFlags): Promise<number | TrustOutcome | undefined> {
  const { prepareTrust, pinCa, displayPath } = await import('../diagnose/index.js');
  const wanted = flags.fingerprint !== undefined ? normalizeFingerprint(flags.fingerprint) : undefined;
  const plan: TrustPlan = await prepareTrust(registry, dopts);
  const say = (line: string) => (flags.json ? undefined : ctx.out.result(line));
  if (plan.kind === 'unreachable') return undefined;
  if (plan.kind === 'verified') {
    say(`TLS of ${registry} already verifies (${plan.finding}): nothing to pin.`);
    return 0;
  }
  const { candidate: c, hostport } = plan;
  const shownPath = displayPath(plan.path, ctx.settings.env);
  for (const line of describe(c, hostport)) say(line);
  await confirm(ctx, c, hostport, shownPath, wanted, flags.yes === true);
  const pinned = await pinCa(plan.path, c.pem, c.fingerprint, flags.replace === true, shownPath);
  say(pinned === 'unchanged' ? `${shownPath} already holds this CA.` : `Pinned: ${shownPath}${pinned === 'replaced' ? ' (replaced the CA that was there)' : ''}`);
  say('');
  return { from: c.from, subject: c.cert.subject, issuer: c.cert.issuer, validFrom: iso(c.cert.validFrom), validTo: iso(c.cert.validTo), fingerprint: c.fingerprint, path: plan.path, pinned };
}

function iso(d: string): string {
  return new Date(d).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function oneLine(name: string): string {
  return name.split('\n').filter(Boolean).join(', ');
}

function describe(c: CaCandidate, hostport: string): string[] {
  const what = c.source === 'chain' ? (c.cert.subject === c.cert.issuer ? 'its self-signed certificate' : 'the top of its chain') : `its CA file ${c.from}`;
  return [
    `${hostport} is not trusted here. It offers ${what}:`,
    `  Subject:     ${oneLine(c.cert.subject)}`,
    `  Issuer:      ${oneLine(c.cert.issuer)}`,
    `  Valid:       ${iso(c.cert.validFrom)} to ${iso(c.cert.validTo)}`,
    `  Fingerprint: ${c.fingerprint}`,
    `  It verifies the certificate ${hostport} sent (signature, dates, name).`,
  ];
}

async function confirm(ctx: CommandContext, c: CaCandidate, hostport: string, shownPath: string, wanted: string | undefined, yes: boolean): Promise<void> {
  if (wanted !== undefined) {
    if (wanted === c.fingerprint) return;
    throw new DheError('TLS_UNKNOWN_AUTHORITY', `fingerprint mismatch: the CA ${hostport} offers is ${c.fingerprint}, not ${wanted}`, {
      hint: "check with the registry's administrator which CA is right (someone may be between you and the registry); nothing was written",
      details: { fingerprint: c.fingerprint, expected: wanted },
    });
  }
  const terminal = !!process.stdin.isTTY && !!ctx.out.stderr.isTTY;
  if (!terminal) {
    throw new DheError('TLS_UNKNOWN_AUTHORITY', `not pinned without confirmation: the CA ${hostport} offers has the fingerprint ${c.fingerprint}`, {
      hint: `compare it with the one the registry's administrator gives, then: dhe-cli doctor ${hostport} --trust --fingerprint ${c.fingerprint}`,
      details: { fingerprint: c.fingerprint },
    });
  }
  if (yes) return;
  const answer = await prompt(ctx.out, `Trust this CA for ${hostport} and save it as ${shownPath}? [y/N] `, false, ctx.signal);
  if (!/^y(es)?$/i.test(answer.trim())) {
    throw new DheError('TLS_UNKNOWN_AUTHORITY', `the CA of ${hostport} was not trusted (not confirmed)`, {
      hint: `nothing was written; to pin it later: dhe-cli doctor ${hostport} --trust --fingerprint ${c.fingerprint}`,
    });
  }
}
