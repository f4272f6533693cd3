// Credentials: where dhe-cli would take them from for this registry (checked even when the registry cannot be
// reached: it is local), and Basic authentication with them.

import { resolveCredentials, type Credential } from '../../auth/credentials/index.js';
import { ERROR_BODY_LIMIT, registryError } from '../../registry/errors.js';
import { fromError, urlOf, type DoctorRun } from '../run.js';
import { displayPath } from '../tls-trust.js';

function credKind(c: Credential): string {
  if (c.identityToken) return `an identity (refresh) token${c.username && c.username !== '<token>' ? ` of user ${c.username}` : ''}`;
  if (c.registryToken) return 'a registry token';
  return `the password of user ${c.username ?? '(none)'}`;
}

/** The stored credentials (once per run: a second call finds the check there and returns nothing). */
export async function credentialsCheck(run: DoctorRun, pingStatus: number | undefined): Promise<Credential | undefined> {
  if (run.has((c) => c.id === 'auth.credentials')) return undefined;
  const { opts, hp } = run;
  try {
    const c = await resolveCredentials(run.registry, run.credOpts);
    if (c) {
      run.add({ id: 'auth.credentials', area: 'auth', status: 'pass', title: 'Credentials', finding: `${credKind(c)} from ${c.source ?? 'a credential store'}`, details: { source: c.source, username: c.username, kind: c.identityToken ? 'identity token' : c.registryToken ? 'registry token' : 'password' } });
      return c;
    }
    const needed = pingStatus === 401;
    run.add({
      id: 'auth.credentials', area: 'auth', status: needed ? 'warn' : 'pass', title: 'Credentials',
      finding: `none stored for ${hp} (looked in ${displayPath(`${opts.configDir}/config.json`, opts.env)} and ${displayPath(`${opts.dockerConfigDir}/config.json`, opts.env)}): requests are anonymous`,
      fix: needed ? `log in: dhe-cli login ${hp}` : undefined,
      details: { source: null },
    });
    return undefined;
  } catch (e) {
    run.add(fromError('auth.credentials', 'auth', 'Credentials', e));
    return undefined;
  }
}

/** The fix for a refused password: log in again (in docker's config too when it came from there). */
export function loginFix(hp: string, cred: Credential | undefined): string {
  const user = cred?.username && cred.username !== '<token>' ? ` -u ${cred.username}` : '';
  const fromDocker = cred?.source?.startsWith('docker config');
  return `store the right password: dhe-cli login ${hp}${user}${fromDocker ? ` (it came from docker's config: docker login ${hp} fixes it there)` : ''}`;
}

/** Basic: GET /v2/ with the stored user and password. */
export async function basicCheck(run: DoctorRun, scheme: 'https' | 'http', cred: Credential | undefined): Promise<boolean> {
  const { hp } = run;
  if (!cred?.username || cred.password === undefined) {
    run.add({ id: 'auth.login', area: 'auth', status: 'fail', title: 'Authentication', finding: `${hp} requires a user name and password (Basic) and none is stored`, fix: `log in: dhe-cli login ${hp}`, code: 'UNAUTHORIZED' });
    return false;
  }
  try {
    const res = await run.transport.request({ method: 'GET', url: urlOf(scheme, run.t, '/v2/'), headers: { authorization: `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}` } });
    const body = await res.text(ERROR_BODY_LIMIT).catch(() => '');
    if (res.status === 200) {
      run.add({ id: 'auth.login', area: 'auth', status: 'pass', title: 'Authentication', finding: `user ${cred.username} accepted (Basic, GET /v2/ → 200)` });
      return true;
    }
    const e = registryError(res.status, body, { registry: hp, what: 'the login check', sentAuth: true });
    run.add({
      id: 'auth.login', area: 'auth', status: 'fail', title: 'Authentication',
      finding: res.status === 401 ? `${hp} rejected the password of user ${cred.username} (from ${cred.source ?? 'the credential store'}): ${e.message.replace(/^.*?: /, '')}` : e.message,
      fix: res.status === 401 ? loginFix(hp, cred) : e.hint,
      code: res.status === 401 ? 'BAD_CREDENTIALS' : e.code,
    });
  } catch (e) {
    run.add(fromError('auth.login', 'auth', 'Authentication', e));
  }
  return false;
}
