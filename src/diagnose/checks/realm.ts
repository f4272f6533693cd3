// The token realm a Bearer challenge names: allowed (scheme, host), and, when it is another server, reachable with
// its own network and TLS checks.

import type { Challenge } from '../../auth/challenge.js';
import { checkRealm, type RealmPolicy } from '../../auth/token.js';
import { isClientCertError } from '../../transport/errors.js';
import { loadHostTls, type HostTls } from '../../transport/tls.js';
import { errCode, openSocket, parseTarget, proxyInfo, showProxy, type Target } from '../net.js';
import { fromError, type DoctorRun } from '../run.js';
import { certificateChecks, clientCertCheck, handshakeFailure, type TlsCheckContext } from '../tls.js';
import { probeTls } from '../tls-probe.js';

/** A realm the token request may go to. */
export interface Realm {
  /** As the challenge names it (what the token request is sent to). */
  raw: string;
  url: URL;
  service?: string;
  policy: RealmPolicy;
}

/** The realm checks; the realm when the token request can go ahead. */
export async function realmChecks(run: DoctorRun, ch: Challenge, withSecrets: boolean): Promise<Realm | undefined> {
  const { hp, opts } = run;
  const realm = ch.params.realm;
  const service = ch.params.service;
  const policy: RealmPolicy = { insecureHosts: run.insecure ? [...opts.tls.insecureRegistries, hp] : opts.tls.insecureRegistries };
  if (!realm) {
    run.add({ id: 'token.realm', area: 'auth', status: 'fail', title: 'Token realm', finding: `${hp} asks for a Bearer token without naming a realm`, fix: "the registry's auth configuration is broken (auth.token.realm); tell its administrator", code: 'TOKEN_ERROR' });
    return undefined;
  }
  let ru: URL;
  try {
    ru = checkRealm(realm, policy, withSecrets);
  } catch (e) {
    run.add(fromError('token.realm', 'auth', 'Token realm', e));
    return undefined;
  }
  const rt: Target = { ...parseTarget(ru.host), port: ru.port ? Number(ru.port) : ru.protocol === 'https:' ? 443 : 80 };
  if (rt.host === run.t.host && rt.port === run.t.port) {
    run.add({ id: 'token.realm', area: 'auth', status: 'pass', title: 'Token realm', finding: `${ru.href} (the registry's own server: checked above)`, details: { realm: ru.href, service } });
    return { raw: realm, url: ru, service, policy };
  }
  const ok = (await realmReachable(run, ru, rt, service)) && (ru.protocol !== 'https:' || (await realmTlsChecks(run, rt)));
  return ok ? { raw: realm, url: ru, service, policy } : undefined;
}

async function realmReachable(run: DoctorRun, ru: URL, rt: Target, service: string | undefined): Promise<boolean> {
  const rproxy = proxyInfo(run.opts.proxy, rt, ru.protocol === 'https:' ? 'https' : 'http').proxy;
  try {
    const s = await openSocket(rt, rproxy, run.timeoutMs, run.opts.signal);
    s.socket.destroy();
    run.add({ id: 'token.realm', area: 'auth', status: 'pass', title: 'Token realm', finding: `${ru.href} reachable (connected to ${s.remote} in ${s.ms} ms)`, details: { realm: ru.href, service } });
    return true;
  } catch (e) {
    const code = errCode(e);
    run.add({
      id: 'token.realm', area: 'network', status: 'fail', title: 'Token realm',
      finding: `the token server ${ru.origin} (realm ${ru.href}) is not reachable: ${code === 'ECONNREFUSED' ? 'connection refused' : code}`,
      fix: `the registry sends clients to ${ru.origin} for tokens: it must be running and reachable from here${rproxy ? ` (through ${showProxy(rproxy)}, or add ${rt.host} to NO_PROXY)` : ''}; if it is down, tell the registry's administrator`,
      code: code === 'ECONNREFUSED' ? 'CONNECTION_REFUSED' : 'NETWORK',
    });
    return false;
  }
}

/** The token server's TLS, checked as the registry's is (ids `realm.tls.*`). */
async function realmTlsChecks(run: DoctorRun, rt: Target): Promise<boolean> {
  const { opts } = run;
  let rmat: HostTls;
  try {
    rmat = await loadHostTls(opts.tls, rt.hostport);
  } catch (e) {
    run.add(fromError('realm.tls.material', 'tls', 'Token realm TLS files', e));
    return false;
  }
  const rctx: TlsCheckContext = { t: rt, settings: opts.tls, material: rmat, env: opts.env, idPrefix: 'realm.', titlePrefix: 'Token realm ' };
  const rproxy = proxyInfo(opts.proxy, rt, 'https').proxy;
  const rp = await probeTls(rt, rmat, rproxy, run.timeoutMs, opts.signal);
  if (rp.handshakeError) run.add(handshakeFailure(rctx, rp.handshakeError));
  else {
    run.add({ id: 'realm.tls.handshake', area: 'tls', status: 'pass', title: 'Token realm TLS handshake', finding: `${rp.protocol ?? 'TLS'}, ${rp.cipher ?? 'unknown cipher'}` });
    for (const c of await certificateChecks(rctx, rp)) run.add(c);
    if (isClientCertError(rp.postError)) run.add(await clientCertCheck(rctx, rp));
  }
  return !run.has((c) => c.id.startsWith('realm.tls') && c.status === 'fail');
}
