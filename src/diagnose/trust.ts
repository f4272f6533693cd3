// `doctor REGISTRY --trust`, the library half: the network and TLS checks run silently to see whether there is an
// unknown authority to fix at all; then the CA candidate is found (ca-candidate.ts) and verified (ca-verify.ts).
// The caller shows it, gets the user's confirmation, and pins it with pinCa (ca-pin.ts). Refusals are DheErrors
// with exit 4, before anything is written.

import type { X509Certificate } from 'node:crypto';
import { DheError } from '../errors.js';
import { loadHostTls } from '../transport/tls.js';
import { findCaCandidate, type CaCandidate, type CandidateContext } from './ca-candidate.js';
import { pinPath } from './ca-pin.js';
import { verifyCandidate } from './ca-verify.js';
import { networkChecks } from './checks/network.js';
import { tlsChecks } from './checks/tls.js';
import { createRun, type DoctorRun } from './run.js';
import { probeTls } from './tls-probe.js';
import type { Check, DoctorOptions } from './types.js';

export type TrustPlan =
  /** TLS already verifies: nothing to pin (exit 0). */
  | { kind: 'verified'; finding: string }
  /** The registry cannot be reached: the normal report says why. */
  | { kind: 'unreachable' }
  /** A CA that verifies the server's chain, not trusted yet, and where it would be pinned. */
  | { kind: 'candidate'; candidate: CaCandidate; leaf: X509Certificate; path: string; hostport: string };

export async function prepareTrust(registry: string, opts: DoctorOptions): Promise<TrustPlan> {
  const run = createRun(registry, { ...opts, onCheck: undefined });
  try {
    const net = await networkChecks(run);
    if (net.stop !== undefined) return { kind: 'unreachable' };
    await tlsChecks(run, net.proxy);
    const verdict = tlsVerdict(run);
    if (verdict) return verdict;
    return await candidatePlan(run, net.proxy);
  } finally {
    await run.transport.close();
  }
}

function refusal(message: string, hint: string): DheError {
  return new DheError('TLS_ERROR', message, { hint: `${hint}; nothing was written` });
}

/** What the TLS checks say: already verified, a refusal, or undefined when the authority is unknown (go on). */
function tlsVerdict(run: DoctorRun): TrustPlan | undefined {
  const find = (id: string) => run.checks.find((c) => c.id === id);
  const handshake = find('tls.handshake');
  if (handshake?.details?.plainHttp) {
    throw refusal(`${run.hp} speaks plain HTTP: it has no certificate to trust`, 'serve the registry over HTTPS first (--trust pins the CA of an HTTPS registry)');
  }
  const trust = find('tls.trust');
  const firstFail = run.checks.find((c) => c.area === 'tls' && c.status === 'fail');
  if (!trust) {
    const why: Check | undefined = firstFail ?? handshake;
    throw refusal(`no certificate to check from ${run.hp}: ${why?.finding ?? 'the TLS handshake failed'}`, why?.fix ?? `run: dhe-cli doctor ${run.hp}`);
  }
  const untrusted = trust.status === 'fail' || (trust.status === 'warn' && run.insecure);
  if (untrusted) return undefined;
  if (firstFail) {
    throw refusal(`${run.hp}'s CA is already trusted (${trust.finding}), and pinning a CA cannot fix what fails: ${firstFail.finding}`, firstFail.fix ?? `run: dhe-cli doctor ${run.hp}`);
  }
  return { kind: 'verified', finding: trust.finding };
}

async function candidatePlan(run: DoctorRun, proxy: string | undefined): Promise<TrustPlan> {
  const { t, opts } = run;
  const material = await loadHostTls(opts.tls, run.hp);
  const ctx: CandidateContext = { t, material, proxy, timeoutMs: run.timeoutMs, signal: opts.signal };
  const probe = await probeTls(t, material, proxy, run.timeoutMs, opts.signal);
  const leaf = probe.chain[0];
  if (!leaf) throw refusal(`${run.hp} sent no certificate`, `run: dhe-cli doctor ${run.hp}`);
  const candidate = await findCaCandidate(ctx, probe.chain);
  if (!candidate) throw refusal(`${run.hp} offers no CA certificate`, "ask the registry's administrator for its CA");
  await verifyCandidate(ctx, candidate, leaf);
  return { kind: 'candidate', candidate, leaf, path: pinPath(opts.configDir, run.hp), hostport: run.hp };
}
