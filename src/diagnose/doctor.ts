// runDoctor: the checks of `dhe-cli doctor`, in order — network, TLS, the /v2/ endpoint, credentials, the token
// flow, and (with a repository) pull and push access — each with a one-line finding and, when it fails, the fix.
// Each check lives in checks/*.ts; this file only orders them. Later checks that cannot mean anything after a
// failure are reported as skipped, with the reason.

import type { Challenge } from '../auth/challenge.js';
import type { Credential } from '../auth/credentials/index.js';
import { accessChecks } from './checks/access.js';
import { clockCheck } from './checks/clock.js';
import { basicCheck, credentialsCheck } from './checks/credentials.js';
import { challengeCheck, pingCheck, type Ping } from './checks/http.js';
import { networkChecks } from './checks/network.js';
import { tlsChecks } from './checks/tls.js';
import { bearerChecks, type CheckedToken } from './checks/token.js';
import { createRun, reportOf, type DoctorRun } from './run.js';
import type { CheckArea, DoctorOptions, DoctorReport } from './types.js';

export { exitCodeOf } from './run.js';

export async function runDoctor(registry: string, opts: DoctorOptions): Promise<DoctorReport> {
  const run = createRun(registry, opts);
  try {
    return await runChecks(run);
  } finally {
    await run.transport.close();
  }
}

async function runChecks(run: DoctorRun): Promise<DoctorReport> {
  const net = await networkChecks(run);
  if (net.stop !== undefined) return finishEarly(run, net.stop);
  const tls = await tlsChecks(run, net.proxy);
  if (tls.stop !== undefined) return finishEarly(run, tls.stop);
  const ping = await pingCheck(run, tls.scheme);
  if (!ping) return finishEarly(run, 'the registry API did not answer');
  const challenge = challengeCheck(run, ping);
  const cred = await credentialsCheck(run, ping.status);
  const auth = await authChecks(run, ping, challenge, cred);
  clockCheck(run, ping.date, ping.localMs, auth.token);
  if (!run.repo) {
    run.skip('access', 'access', 'Repository access', 'no repository given (--repo NAME checks pull and push)');
  } else if (!auth.ok) {
    run.skip('access.tags', 'access', 'Pull: list tags', 'authentication failed above');
    run.skip('access.push', 'access', 'Push: start an upload', 'authentication failed above');
  } else {
    await accessChecks(run, run.repo);
  }
  return reportOf(run);
}

/** Authentication as the challenge asks for it: none, Basic, or the Bearer token flow. */
async function authChecks(run: DoctorRun, ping: Ping, challenge: Challenge | undefined, cred: Credential | undefined): Promise<{ ok: boolean; token?: CheckedToken }> {
  if (ping.status === 200) {
    run.skip('auth.login', 'auth', 'Authentication', 'the registry needs none');
    return { ok: true };
  }
  if (run.has((c) => c.id === 'auth.credentials' && c.status === 'fail')) {
    run.skip('auth.login', 'auth', 'Authentication', 'the credential store failed');
    return { ok: false };
  }
  if (challenge?.scheme === 'basic') return { ok: await basicCheck(run, ping.scheme, cred) };
  if (challenge?.scheme === 'bearer') return bearerChecks(run, challenge, cred, run.repo ? [`repository:${run.repo}:pull,push`] : []);
  return { ok: false };
}

/** After a failure that ends the run: the areas not reached are skipped, the (local) credentials still looked up. */
async function finishEarly(run: DoctorRun, why: string): Promise<DoctorReport> {
  const skipIfNone = (id: string, area: CheckArea, title: string) => {
    if (!run.has((c) => c.area === area && c.id !== 'auth.credentials')) run.skip(id, area, title, why);
  };
  skipIfNone('tls', 'tls', 'TLS');
  skipIfNone('http.ping', 'http', 'Registry API (/v2/)');
  await credentialsCheck(run, undefined); // local: where credentials would come from is worth knowing anyway
  skipIfNone('auth.login', 'auth', 'Authentication');
  skipIfNone('access', 'access', 'Repository access');
  return reportOf(run);
}
