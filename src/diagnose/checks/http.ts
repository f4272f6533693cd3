// The registry API: GET /v2/ (is this a registry, does it want authentication) and the challenge it answers with.

import { findChallenge, parseWwwAuthenticate, type Challenge } from '../../auth/challenge.js';
import { ERROR_BODY_LIMIT, registryError } from '../../registry/errors.js';
import { fromError, urlOf, type DoctorRun } from '../run.js';

export interface Ping {
  status: number;
  scheme: 'https' | 'http';
  challenges: Challenge[];
  /** The server's Date header. */
  date?: string;
  /** This machine's time in the middle of the request. */
  localMs: number;
}

/** GET /v2/; the ping when it answered 200 or 401 (anything else fails the check). */
export async function pingCheck(run: DoctorRun, scheme: 'https' | 'http'): Promise<Ping | undefined> {
  const { hp, t } = run;
  const title = 'Registry API (/v2/)';
  try {
    const before = Date.now();
    const res = await run.transport.request({ method: 'GET', url: urlOf(scheme, t, '/v2/') });
    const after = Date.now();
    const body = await res.text(ERROR_BODY_LIMIT).catch(() => '');
    const api = res.header('docker-distribution-api-version');
    const ping: Ping = { status: res.status, scheme, challenges: parseWwwAuthenticate(res.headers['www-authenticate']), date: res.header('date'), localMs: Math.round((before + after) / 2) };
    const apiText = api ? `Docker-Distribution-API-Version: ${api}` : 'no Docker-Distribution-API-Version header';
    if (res.status === 200 || res.status === 401) {
      run.add({ id: 'http.ping', area: 'http', status: 'pass', title, finding: `GET ${scheme}://${hp}/v2/ → ${res.status}${res.status === 200 ? ' (no authentication needed)' : ' (authentication required)'}; ${apiText}`, details: { status: res.status, apiVersion: api, url: urlOf(scheme, t, '/v2/') } });
      return ping;
    }
    if (res.status === 404) {
      run.add({ id: 'http.ping', area: 'http', status: 'fail', title, finding: `GET ${scheme}://${hp}/v2/ → 404: this is not a registry`, fix: `check the host and port: "${run.registry}" must serve the Docker Registry HTTP API v2 (docker's registry, DHE, Harbor answer 200 or 401 there)`, code: 'PROTOCOL', details: { status: 404 } });
    } else {
      const e = registryError(res.status, body, { registry: hp, what: 'the API check (GET /v2/)' });
      run.add({ ...fromError('http.ping', 'http', title, e), details: { status: res.status, apiVersion: api } });
    }
  } catch (e) {
    run.add(fromError('http.ping', 'http', title, e));
  }
  return undefined;
}

function describeChallenge(c: Challenge): string {
  const p = Object.entries(c.params)
    .filter(([k]) => ['realm', 'service', 'scope', 'error'].includes(k))
    .map(([k, v]) => `${k}="${v}"`);
  // "Bearer (realm=…)": no space right after the scheme, so the output's secret scrubber leaves it alone
  return `${c.scheme === 'bearer' ? 'Bearer' : c.scheme === 'basic' ? 'Basic' : c.scheme}${p.length ? ` (${p.join(', ')})` : ''}`;
}

/** The challenge of a 401 (Bearer preferred), checked for being one dhe-cli can answer. */
export function challengeCheck(run: DoctorRun, ping: Ping): Challenge | undefined {
  const challenge = findChallenge(ping.challenges, 'bearer') ?? findChallenge(ping.challenges, 'basic');
  if (ping.status === 200) {
    run.add({ id: 'http.challenge', area: 'http', status: 'pass', title: 'Auth challenge', finding: 'none: the registry lets anyone call /v2/', details: { challenges: [] } });
  } else if (!challenge) {
    run.add({ id: 'http.challenge', area: 'http', status: 'fail', title: 'Auth challenge', finding: `401 without a usable WWW-Authenticate challenge${ping.challenges.length ? ` (${ping.challenges.map(describeChallenge).join('; ')})` : ''}`, fix: 'the registry (or a proxy in front of it) must answer 401 with WWW-Authenticate: Bearer realm=… or Basic realm=…; tell its administrator', code: 'PROTOCOL' });
  } else {
    run.add({ id: 'http.challenge', area: 'http', status: 'pass', title: 'Auth challenge', finding: describeChallenge(challenge), details: { scheme: challenge.scheme, realm: challenge.params.realm, service: challenge.params.service } });
  }
  return challenge;
}
