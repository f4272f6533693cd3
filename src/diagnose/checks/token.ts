// The token flow of a Bearer registry: the realm (realm.ts), the token request with the stored credentials (or
// anonymously), what the token grants against what was asked, and its lifetime.

import type { Challenge } from '../../auth/challenge.js';
import type { Credential } from '../../auth/credentials/index.js';
import { fetchToken, type TokenResult } from '../../auth/token.js';
import { ERROR_CODES, ExitCode, isDheError } from '../../errors.js';
import { fromError, type DoctorRun } from '../run.js';
import { compareAccess, decodeJwt, type JwtClaims } from '../token.js';
import { loginFix } from './credentials.js';
import { realmChecks, type Realm } from './realm.js';

export type CheckedToken = TokenResult & { claims?: JwtClaims };

export async function bearerChecks(run: DoctorRun, ch: Challenge, cred: Credential | undefined, asked: string[]): Promise<{ ok: boolean; token?: CheckedToken }> {
  const realm = await realmChecks(run, ch, !!(cred?.password || cred?.identityToken));
  if (!realm) return { ok: false };
  if (cred?.registryToken) {
    run.add({ id: 'token.request', area: 'auth', status: 'skip', title: 'Token request', finding: 'skipped: the stored registry token is sent as is' });
    return { ok: true };
  }
  const who = cred?.username && cred.username !== '<token>' ? `user ${cred.username}` : cred?.identityToken ? 'the stored identity token' : 'anonymous';
  const tok = await tokenRequest(run, realm, cred, asked, who);
  if (!tok) return { ok: false };
  const claims = decodeJwt(tok.token);
  grantedAccessCheck(run, claims, asked, who);
  lifetimeCheck(run, tok, claims);
  return { ok: true, token: Object.assign(tok, { claims }) };
}

async function tokenRequest(run: DoctorRun, realm: Realm, cred: Credential | undefined, asked: string[], who: string): Promise<TokenResult | undefined> {
  const { hp } = run;
  const ru = realm.url;
  const title = 'Token request';
  let tok: TokenResult;
  try {
    tok = await fetchToken(run.transport, { realm: realm.raw, service: realm.service, scopes: asked, credential: cred, signal: run.opts.signal }, realm.policy);
  } catch (e) {
    const err = isDheError(e) ? e : undefined;
    if (err?.code === 'BAD_CREDENTIALS') {
      run.add({ id: 'token.request', area: 'auth', status: 'fail', title, finding: `${err.message}${cred?.source ? ` (from ${cred.source})` : ''}`, fix: loginFix(hp, cred), code: 'BAD_CREDENTIALS' });
    } else if (err?.code === 'UNAUTHORIZED') {
      run.add({ id: 'token.request', area: 'auth', status: 'fail', title, finding: err.message, fix: `log in: dhe-cli login ${hp}`, code: 'UNAUTHORIZED' });
    } else if (err && ERROR_CODES[err.code] === ExitCode.NETWORK) {
      run.add({ id: 'token.request', area: 'network', status: 'fail', title, finding: err.message.replace(/(answered \d{3}):.*$/, (_m, a: string) => `${a}${/\b50[234]\b/.test(a) ? ' (the token service is down or failing)' : ''}`), fix: `the token service (realm ${ru.href}) is down or failing: tell the registry's administrator; try again later`, code: err.code });
    } else {
      run.add(fromError('token.request', 'auth', title, e));
    }
    return undefined;
  }
  const service = realm.service;
  run.add({ id: 'token.request', area: 'auth', status: 'pass', title, finding: `token issued to ${who} by ${ru.origin}${service ? ` for service "${service}"` : ''}${asked.length ? ` for ${asked.join(' ')}` : ''}`, details: { realm: ru.href, service, user: cred?.username, scopesAsked: asked } });
  return tok;
}

/** What the token grants, read from its claims, against the scopes asked (--repo: pull and push). */
function grantedAccessCheck(run: DoctorRun, claims: JwtClaims | undefined, asked: string[], who: string): void {
  const { hp, repo } = run;
  const id = 'token.access';
  const title = 'Token: granted access';
  if (!claims) {
    run.add({ id, area: 'auth', status: 'skip', title, finding: 'skipped: the token is opaque (not a JWT), its grants cannot be read' });
    return;
  }
  const access = claims.access ?? [];
  if (!asked.length) {
    const granted = access.map((a) => `${a.type}:${a.name}:${a.actions.join(',')}`);
    run.add({ id, area: 'auth', status: 'pass', title, finding: `credentials accepted${claims.sub ? ` (subject "${claims.sub}")` : ''}; no repository asked (--repo NAME compares pull and push)${granted.length ? `; granted ${granted.join(' ')}` : ''}`, details: { access } });
    return;
  }
  const cmp = compareAccess(asked, access);
  const line = cmp.scopes.map((s) => `${s.resource}: asked ${s.asked.join(',')}, granted ${s.granted.length ? s.granted.join(',') : 'nothing'}`).join('; ');
  const details = { asked, access, comparison: cmp.scopes };
  if (cmp.complete) {
    run.add({ id, area: 'auth', status: 'pass', title, finding: line, details });
    return;
  }
  // the access checks below show the consequence; the token itself worked
  const missing = cmp.scopes.flatMap((s) => s.missing);
  const none = cmp.scopes.every((s) => s.granted.length === 0);
  const anon = who === 'anonymous';
  run.add({
    id, area: 'auth', status: 'fail', title,
    finding: `${line} — ${anon ? 'anonymous users' : who} may not ${missing.join(' or ')} on ${repo}`,
    fix: anon
      ? `log in as a user with access to ${repo}: dhe-cli login ${hp}`
      : `ask the registry's administrator to grant ${who} ${missing.join(' and ')} on ${repo}${none ? ' (or check the repository name)' : ''}, or log in as a user who has it: dhe-cli login ${hp}`,
    code: 'INSUFFICIENT_SCOPE',
    details,
  });
}

function lifetimeCheck(run: DoctorRun, tok: TokenResult, claims: JwtClaims | undefined): void {
  const life = Math.round((tok.expiresAt - tok.issuedAt) / 1000);
  const exp = claims?.exp;
  const expText = exp ? `; exp ${new Date(exp * 1000).toISOString()}` : '';
  run.add({
    id: 'token.expiry', area: 'auth', status: life < 60 ? 'warn' : 'pass', title: 'Token lifetime',
    finding: `expires_in ${life} s${expText}`,
    fix: life < 60 ? "tokens this short force frequent renewals; the token server's expiration setting may be too low" : undefined,
    details: { expiresIn: life, exp },
  });
}
