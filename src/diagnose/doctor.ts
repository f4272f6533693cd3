// runDoctor: the checks of `dhe-cli doctor`, in order — network, TLS, the /v2/ endpoint, credentials, the token
// flow, and (with a repository) pull and push access — each with a one-line finding and, when it fails, the fix.
// Later checks that cannot mean anything after a failure are reported as skipped, with the reason.

import { isIP } from 'node:net';
import { findChallenge, parseWwwAuthenticate, type Challenge } from '../auth/challenge.js';
import { credentialProvider, resolveCredentials, type Credential } from '../auth/credentials/index.js';
import { checkRealm, fetchToken, type RealmPolicy, type TokenResult } from '../auth/token.js';
import { DheError, ERROR_CODES, ExitCode, isDheError, type ErrorCode } from '../errors.js';
import { RegistryClient } from '../registry/client.js';
import { ERROR_BODY_LIMIT, parseErrorBody, registryError } from '../registry/errors.js';
import { silentTrace } from '../trace.js';
import { looksLikePlainHttp, isClientCertError } from '../transport/errors.js';
import { matchesHostList } from '../transport/hosts.js';
import { Transport, type HttpResponse } from '../transport/http.js';
import { resolveTarget } from '../transport/origin-guard.js';
import { loadHostTls, type HostTls } from '../transport/tls.js';
import { errCode, openSocket, parseTarget, proxyInfo, resolveHost, showProxy, type Target } from './net.js';
import { certificateChecks, clientCertCheck, displayPath, handshakeFailure, probeTls, type TlsCheckContext } from './tls.js';
import { compareAccess, decodeJwt } from './token.js';
import type { Check, CheckArea, DoctorOptions, DoctorReport } from './types.js';

const AREA_EXIT: Record<CheckArea, number> = {
  network: ExitCode.NETWORK,
  tls: ExitCode.TLS,
  http: ExitCode.FAILURE,
  auth: ExitCode.AUTH,
  access: ExitCode.AUTH,
};

/** The exit code of a report: 0, or that of the first failing check (its error code, else its area). */
export function exitCodeOf(checks: Check[]): number {
  const first = checks.find((c) => c.status === 'fail');
  if (!first) return ExitCode.OK;
  return first.code ? ERROR_CODES[first.code] : AREA_EXIT[first.area];
}

function areaFor(code: ErrorCode, fallback: CheckArea): CheckArea {
  const exit = ERROR_CODES[code];
  if (exit === ExitCode.NETWORK) return 'network';
  if (exit === ExitCode.TLS) return 'tls';
  return fallback;
}

/** A failed check from a DheError (message → finding, hint → fix). */
function fromError(id: string, area: CheckArea, title: string, e: unknown, fix?: string): Check {
  const err = isDheError(e) ? e : new DheError('FAILURE', e instanceof Error ? e.message : String(e), { cause: e });
  return { id, area: areaFor(err.code, area), status: 'fail', title, finding: err.message, fix: fix ?? err.hint, code: err.code };
}

function headerOf(res: HttpResponse, name: string): string | undefined {
  return res.header(name);
}

function describeChallenge(c: Challenge): string {
  const p = Object.entries(c.params)
    .filter(([k]) => ['realm', 'service', 'scope', 'error'].includes(k))
    .map(([k, v]) => `${k}="${v}"`);
  // "Bearer (realm=…)": no space right after the scheme, so the output's secret scrubber leaves it alone
  return `${c.scheme === 'bearer' ? 'Bearer' : c.scheme === 'basic' ? 'Basic' : c.scheme}${p.length ? ` (${p.join(', ')})` : ''}`;
}

function credKind(c: Credential): string {
  if (c.identityToken) return `an identity (refresh) token${c.username && c.username !== '<token>' ? ` of user ${c.username}` : ''}`;
  if (c.registryToken) return 'a registry token';
  return `the password of user ${c.username ?? '(none)'}`;
}

function urlOf(scheme: 'https' | 'http', t: Target, path: string): string {
  const host = isIP(t.host) === 6 ? `[${t.host}]` : t.host;
  return new URL(`${scheme}://${host}:${t.port}${path}`).href;
}

function fmtSkew(s: number): string {
  const a = Math.abs(s);
  return a < 120 ? `${Math.round(a)} s` : a < 7200 ? `${Math.round(a / 60)} min` : `${(a / 3600).toFixed(1)} h`;
}

export async function runDoctor(registry: string, opts: DoctorOptions): Promise<DoctorReport> {
  const t = parseTarget(registry);
  const startedAt = new Date().toISOString();
  const checks: Check[] = [];
  const add = (c: Check): Check => {
    checks.push(c);
    opts.onCheck?.(c);
    return c;
  };
  const skip = (id: string, area: CheckArea, title: string, why: string) => add({ id, area, status: 'skip', title, finding: `skipped: ${why}` });
  const timeoutMs = opts.timeoutMs ?? 5000;
  const trace = opts.trace ?? silentTrace;
  const repo = opts.repo?.replace(/^\/+|\/+$/g, '');
  const report = (): DoctorReport => ({ registry, host: t.hostport, port: t.port, repo, startedAt, checks, ok: !checks.some((c) => c.status === 'fail'), exitCode: exitCodeOf(checks) });
  const transport = new Transport({
    tls: opts.tls,
    proxy: opts.proxy,
    trace,
    userAgent: opts.userAgent ?? 'dhe-cli-doctor',
    retry: { attempts: 1 },
    timeouts: { connectMs: timeoutMs, headersMs: 15_000, bodyIdleMs: 15_000 },
  });
  const insecure = matchesHostList(opts.tls.insecureRegistries, t.hostport);
  if (insecure) transport.markInsecure(t.hostport);
  const credOpts = { configDir: opts.configDir, dockerConfigDir: opts.dockerConfigDir, env: opts.env, trace, keychain: opts.keychain };
  const hp = t.hostport;

  try {
    // ------------------------------------------------------------ network
    const { proxy, bypassed } = proxyInfo(opts.proxy, t, 'https');
    const dns = await resolveHost(t.host);
    if (dns.error) {
      const c: Check = {
        id: 'dns', area: 'network', status: proxy ? 'warn' : 'fail', title: 'DNS',
        finding: `cannot resolve ${t.host} (${errCode(dns.error)})${proxy ? '; the proxy resolves it instead' : ''}`,
        fix: `check the registry name for typos; this machine's resolver (/etc/hosts, /etc/resolv.conf, VPN) must know ${t.host}`,
        code: proxy ? undefined : 'DNS',
      };
      add(c);
      if (!proxy) return await finishEarly('cannot resolve the registry\'s name');
    } else {
      add({ id: 'dns', area: 'network', status: 'pass', title: 'DNS', finding: isIP(t.host) ? `${t.host} is an IP address (no lookup)` : `${t.host} → ${dns.addresses.join(', ')} (${dns.ms} ms)`, details: { addresses: dns.addresses } });
    }
    try {
      const s = await openSocket(t, proxy, timeoutMs, opts.signal);
      s.socket.destroy();
      add({ id: 'tcp', area: 'network', status: 'pass', title: 'TCP connect', finding: `connected to ${s.remote} in ${s.ms} ms`, details: { ms: s.ms, remote: s.remote } });
    } catch (e) {
      const code = errCode(e);
      const refused = code === 'ECONNREFUSED';
      const viaProxy = proxy ? ` through the proxy ${showProxy(proxy)}` : '';
      add({
        id: 'tcp', area: 'network', status: 'fail', title: 'TCP connect',
        finding: refused ? `connection to ${t.host}:${t.port}${viaProxy} refused` : `cannot connect to ${t.host}:${t.port}${viaProxy}: ${code}`,
        fix: proxy
          ? `check the proxy (HTTPS_PROXY=${showProxy(proxy)}), or bypass it for this registry: NO_PROXY=${t.host}`
          : refused
            ? `nothing listens on ${t.host}:${t.port}: check that the registry is running and the port in "${registry}" (without a port, 443 is used)`
            : `a firewall, VPN or route blocks ${t.host}:${t.port}; check that this machine can reach it (try: curl -v https://${hp}/v2/)`,
        code: proxy ? 'PROXY' : refused ? 'CONNECTION_REFUSED' : code === 'ETIMEDOUT' ? 'TIMEOUT' : 'NETWORK',
      });
    }
    add({
      id: 'proxy', area: 'network', status: 'pass', title: 'Proxy',
      finding: proxy ? `HTTPS goes through ${showProxy(proxy)} (HTTPS_PROXY; NO_PROXY does not match ${t.host})` : bypassed ? `direct: NO_PROXY (${opts.proxy.noProxy}) matches ${t.host}` : 'none: direct connection (no HTTPS_PROXY set)',
      details: { proxy: proxy ? showProxy(proxy) : undefined, noProxy: opts.proxy.noProxy },
    });
    if (checks.some((c) => c.id === 'tcp' && c.status === 'fail')) return await finishEarly('no connection to the registry');

    // ------------------------------------------------------------ TLS
    let material: HostTls;
    try {
      material = await loadHostTls(opts.tls, hp);
    } catch (e) {
      add(fromError('tls.material', 'tls', 'TLS files', e));
      return await finishEarly('a TLS file could not be read');
    }
    if (insecure) material = { ...material, insecure: true };
    const ctx: TlsCheckContext = { t, settings: opts.tls, material, env: opts.env, idPrefix: '', titlePrefix: '' };
    let scheme: 'https' | 'http' = 'https';
    const probe = await probeTls(t, material, proxy, timeoutMs, opts.signal);
    if (probe.handshakeError) {
      const err = probe.handshakeError;
      if (looksLikePlainHttp(err)) {
        let plainStatus: number | undefined;
        try {
          const res = await transport.request({ method: 'GET', url: urlOf('http', t, '/v2/') });
          plainStatus = res.status;
          await res.dump();
        } catch {
          plainStatus = undefined;
        }
        if (plainStatus === undefined) {
          add(handshakeFailure(ctx, err));
        } else if (insecure || t.loopback) {
          scheme = 'http';
          add({
            id: 'tls.handshake', area: 'tls', status: 'warn', title: 'TLS handshake',
            finding: `${hp} speaks plain HTTP, not TLS (GET http://${hp}/v2/ → ${plainStatus}); dhe-cli uses plain HTTP for it because ${insecure ? 'it is an --insecure-registry' : 'it is a loopback address'}`,
            fix: `nothing to do for a local test registry; everything (passwords included) travels unencrypted, so serve TLS before using it from another machine`,
            details: { plainHttp: true, status: plainStatus },
          });
        } else {
          add({
            id: 'tls.handshake', area: 'tls', status: 'fail', title: 'TLS handshake',
            finding: `${hp} speaks plain HTTP, not TLS (GET http://${hp}/v2/ → ${plainStatus}), and dhe-cli expects TLS for a registry that is not on this machine`,
            fix: `if that registry really serves plain HTTP: dhe-cli --insecure-registry ${hp} … (passwords then travel unencrypted); otherwise use its HTTPS port (usually 443)`,
            code: 'TLS_ERROR', details: { plainHttp: true, status: plainStatus },
          });
        }
      } else if (isClientCertError(err)) {
        add({ id: 'tls.handshake', area: 'tls', status: 'fail', title: 'TLS handshake', finding: `${hp} ended the handshake: it wants a client certificate (${errCode(err)})`, code: 'TLS_CLIENT_CERT_REQUIRED', fix: 'see the client certificate check below' });
        add(await clientCertCheck(ctx, probe));
      } else {
        add(handshakeFailure(ctx, err));
      }
    } else {
      add({ id: 'tls.handshake', area: 'tls', status: 'pass', title: 'TLS handshake', finding: `${probe.protocol ?? 'TLS'}, ${probe.cipher ?? 'unknown cipher'}`, details: { protocol: probe.protocol, cipher: probe.cipher } });
      for (const c of await certificateChecks(ctx, probe)) add(c);
      add(await clientCertCheck(ctx, probe));
    }
    if (checks.some((c) => c.area === 'tls' && c.status === 'fail')) {
      return await finishEarly('fix the TLS failure above first');
    }

    // ------------------------------------------------------------ /v2/
    let ping: { status: number; challenges: Challenge[]; date?: string; localMs: number } | undefined;
    try {
      const before = Date.now();
      const res = await transport.request({ method: 'GET', url: urlOf(scheme, t, '/v2/') });
      const after = Date.now();
      const body = await res.text(ERROR_BODY_LIMIT).catch(() => '');
      const api = headerOf(res, 'docker-distribution-api-version');
      ping = { status: res.status, challenges: parseWwwAuthenticate(res.headers['www-authenticate']), date: headerOf(res, 'date'), localMs: Math.round((before + after) / 2) };
      const apiText = api ? `Docker-Distribution-API-Version: ${api}` : 'no Docker-Distribution-API-Version header';
      if (res.status === 200 || res.status === 401) {
        add({ id: 'http.ping', area: 'http', status: 'pass', title: 'Registry API (/v2/)', finding: `GET ${scheme}://${hp}/v2/ → ${res.status}${res.status === 200 ? ' (no authentication needed)' : ' (authentication required)'}; ${apiText}`, details: { status: res.status, apiVersion: api, url: urlOf(scheme, t, '/v2/') } });
      } else if (res.status === 404) {
        add({ id: 'http.ping', area: 'http', status: 'fail', title: 'Registry API (/v2/)', finding: `GET ${scheme}://${hp}/v2/ → 404: this is not a registry`, fix: `check the host and port: "${registry}" must serve the Docker Registry HTTP API v2 (docker's registry, DHE, Harbor answer 200 or 401 there)`, code: 'PROTOCOL', details: { status: 404 } });
      } else {
        const e = registryError(res.status, body, { registry: hp, what: 'the API check (GET /v2/)' });
        add({ ...fromError('http.ping', 'http', 'Registry API (/v2/)', e), details: { status: res.status, apiVersion: api } });
      }
    } catch (e) {
      add(fromError('http.ping', 'http', 'Registry API (/v2/)', e));
    }
    if (!ping || (ping.status !== 200 && ping.status !== 401)) {
      return await finishEarly('the registry API did not answer');
    }
    const bearer = findChallenge(ping.challenges, 'bearer');
    const basicCh = findChallenge(ping.challenges, 'basic');
    const challenge = bearer ?? basicCh;
    if (ping.status === 200) {
      add({ id: 'http.challenge', area: 'http', status: 'pass', title: 'Auth challenge', finding: 'none: the registry lets anyone call /v2/', details: { challenges: [] } });
    } else if (!challenge) {
      add({ id: 'http.challenge', area: 'http', status: 'fail', title: 'Auth challenge', finding: `401 without a usable WWW-Authenticate challenge${ping.challenges.length ? ` (${ping.challenges.map(describeChallenge).join('; ')})` : ''}`, fix: 'the registry (or a proxy in front of it) must answer 401 with WWW-Authenticate: Bearer realm=… or Basic realm=…; tell its administrator', code: 'PROTOCOL' });
    } else {
      add({ id: 'http.challenge', area: 'http', status: 'pass', title: 'Auth challenge', finding: describeChallenge(challenge), details: { scheme: challenge.scheme, realm: challenge.params.realm, service: challenge.params.service } });
    }

    // ------------------------------------------------------------ credentials and auth
    const cred = await credentialsCheck(ping.status);
    const credFailed = checks.some((c) => c.id === 'auth.credentials' && c.status === 'fail');
    const asked = repo ? [`repository:${repo}:pull,push`] : [];
    let token: TokenResult | undefined;
    let authOk = ping.status === 200;
    if (ping.status === 200) {
      skip('auth.login', 'auth', 'Authentication', 'the registry needs none');
    } else if (credFailed) {
      skip('auth.login', 'auth', 'Authentication', 'the credential store failed');
    } else if (challenge?.scheme === 'basic') {
      authOk = await basicCheck(cred);
    } else if (challenge?.scheme === 'bearer') {
      const r = await bearerChecks(challenge, cred, asked);
      authOk = r.ok;
      token = r.token;
    }
    clockCheck(ping.date, ping.localMs, token);

    // ------------------------------------------------------------ repository access
    if (repo) {
      if (!authOk) {
        skip('access.tags', 'access', 'Pull: list tags', 'authentication failed above');
        skip('access.push', 'access', 'Push: start an upload', 'authentication failed above');
      } else {
        await accessChecks(repo);
      }
    } else {
      skip('access', 'access', 'Repository access', 'no repository given (--repo NAME checks pull and push)');
    }
    return report();
  } finally {
    await transport.close();
  }

  // ---------------------------------------------------------------- helpers (hoisted)

  async function finishEarly(why: string): Promise<DoctorReport> {
    const skipIfNone = (id: string, area: CheckArea, title: string) => {
      if (!checks.some((c) => c.area === area && c.id !== 'auth.credentials')) skip(id, area, title, why);
    };
    skipIfNone('tls', 'tls', 'TLS');
    skipIfNone('http.ping', 'http', 'Registry API (/v2/)');
    await credentialsCheck(undefined); // local: where credentials would come from is worth knowing anyway
    skipIfNone('auth.login', 'auth', 'Authentication');
    skipIfNone('access', 'access', 'Repository access');
    return report();
  }

  async function credentialsCheck(pingStatus: number | undefined): Promise<Credential | undefined> {
    if (checks.some((c) => c.id === 'auth.credentials')) return undefined;
    try {
      const c = await resolveCredentials(registry, credOpts);
      if (c) {
        add({ id: 'auth.credentials', area: 'auth', status: 'pass', title: 'Credentials', finding: `${credKind(c)} from ${c.source ?? 'a credential store'}`, details: { source: c.source, username: c.username, kind: c.identityToken ? 'identity token' : c.registryToken ? 'registry token' : 'password' } });
        return c;
      }
      const needed = pingStatus === 401;
      add({
        id: 'auth.credentials', area: 'auth', status: needed ? 'warn' : 'pass', title: 'Credentials',
        finding: `none stored for ${hp} (looked in ${displayPath(`${opts.configDir}/config.json`, opts.env)} and ${displayPath(`${opts.dockerConfigDir}/config.json`, opts.env)}): requests are anonymous`,
        fix: needed ? `log in: dhe-cli login ${hp}` : undefined,
        details: { source: null },
      });
      return undefined;
    } catch (e) {
      add(fromError('auth.credentials', 'auth', 'Credentials', e));
      return undefined;
    }
  }

  function loginFix(cred: Credential | undefined): string {
    const user = cred?.username && cred.username !== '<token>' ? ` -u ${cred.username}` : '';
    const fromDocker = cred?.source?.startsWith('docker config');
    return `store the right password: dhe-cli login ${hp}${user}${fromDocker ? ` (it came from docker's config: docker login ${hp} fixes it there)` : ''}`;
  }

  async function basicCheck(cred: Credential | undefined): Promise<boolean> {
    if (!cred?.username || cred.password === undefined) {
      add({ id: 'auth.login', area: 'auth', status: 'fail', title: 'Authentication', finding: `${hp} requires a user name and password (Basic) and none is stored`, fix: `log in: dhe-cli login ${hp}`, code: 'UNAUTHORIZED' });
      return false;
    }
    try {
      const res = await transport.request({ method: 'GET', url: urlOf(currentScheme(), t, '/v2/'), headers: { authorization: `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}` } });
      const body = await res.text(ERROR_BODY_LIMIT).catch(() => '');
      if (res.status === 200) {
        add({ id: 'auth.login', area: 'auth', status: 'pass', title: 'Authentication', finding: `user ${cred.username} accepted (Basic, GET /v2/ → 200)` });
        return true;
      }
      const e = registryError(res.status, body, { registry: hp, what: 'the login check', sentAuth: true });
      add({
        id: 'auth.login', area: 'auth', status: 'fail', title: 'Authentication',
        finding: res.status === 401 ? `${hp} rejected the password of user ${cred.username} (from ${cred.source ?? 'the credential store'}): ${e.message.replace(/^.*?: /, '')}` : e.message,
        fix: res.status === 401 ? loginFix(cred) : e.hint,
        code: res.status === 401 ? 'BAD_CREDENTIALS' : e.code,
      });
    } catch (e) {
      add(fromError('auth.login', 'auth', 'Authentication', e));
    }
    return false;
  }

  function currentScheme(): 'https' | 'http' {
    return checks.some((c) => c.id === 'tls.handshake' && (c.details as { plainHttp?: boolean } | undefined)?.plainHttp) ? 'http' : 'https';
  }

  async function bearerChecks(ch: Challenge, cred: Credential | undefined, asked: string[]): Promise<{ ok: boolean; token?: TokenResult }> {
    const realm = ch.params.realm;
    const service = ch.params.service;
    const policy: RealmPolicy = { insecureHosts: insecure ? [...opts.tls.insecureRegistries, hp] : opts.tls.insecureRegistries };
    if (!realm) {
      add({ id: 'token.realm', area: 'auth', status: 'fail', title: 'Token realm', finding: `${hp} asks for a Bearer token without naming a realm`, fix: 'the registry\'s auth configuration is broken (auth.token.realm); tell its administrator', code: 'TOKEN_ERROR' });
      return { ok: false };
    }
    const withSecrets = !!(cred?.password || cred?.identityToken);
    let ru: URL;
    try {
      ru = checkRealm(realm, policy, withSecrets);
    } catch (e) {
      add(fromError('token.realm', 'auth', 'Token realm', e));
      return { ok: false };
    }
    // The realm's own network and TLS checks when it is another server.
    const rt: Target = { ...parseTarget(ru.host), port: ru.port ? Number(ru.port) : ru.protocol === 'https:' ? 443 : 80 };
    const sameServer = rt.host === t.host && rt.port === t.port;
    if (sameServer) {
      add({ id: 'token.realm', area: 'auth', status: 'pass', title: 'Token realm', finding: `${ru.href} (the registry's own server: checked above)`, details: { realm: ru.href, service } });
    } else {
      const rproxy = proxyInfo(opts.proxy, rt, ru.protocol === 'https:' ? 'https' : 'http').proxy;
      try {
        const s = await openSocket(rt, rproxy, timeoutMs, opts.signal);
        s.socket.destroy();
        add({ id: 'token.realm', area: 'auth', status: 'pass', title: 'Token realm', finding: `${ru.href} reachable (connected to ${s.remote} in ${s.ms} ms)`, details: { realm: ru.href, service } });
      } catch (e) {
        const code = errCode(e);
        add({
          id: 'token.realm', area: 'network', status: 'fail', title: 'Token realm',
          finding: `the token server ${ru.origin} (realm ${ru.href}) is not reachable: ${code === 'ECONNREFUSED' ? 'connection refused' : code}`,
          fix: `the registry sends clients to ${ru.origin} for tokens: it must be running and reachable from here${rproxy ? ` (through ${showProxy(rproxy)}, or add ${rt.host} to NO_PROXY)` : ''}; if it is down, tell the registry's administrator`,
          code: code === 'ECONNREFUSED' ? 'CONNECTION_REFUSED' : 'NETWORK',
        });
        return { ok: false };
      }
      if (ru.protocol === 'https:') {
        let rmat: HostTls;
        try {
          rmat = await loadHostTls(opts.tls, rt.hostport);
        } catch (e) {
          add(fromError('realm.tls.material', 'tls', 'Token realm TLS files', e));
          return { ok: false };
        }
        const rctx: TlsCheckContext = { t: rt, settings: opts.tls, material: rmat, env: opts.env, idPrefix: 'realm.', titlePrefix: 'Token realm ' };
        const rp = await probeTls(rt, rmat, rproxy, timeoutMs, opts.signal);
        if (rp.handshakeError) add(handshakeFailure(rctx, rp.handshakeError));
        else {
          add({ id: 'realm.tls.handshake', area: 'tls', status: 'pass', title: 'Token realm TLS handshake', finding: `${rp.protocol ?? 'TLS'}, ${rp.cipher ?? 'unknown cipher'}` });
          for (const c of await certificateChecks(rctx, rp)) add(c);
          if (isClientCertError(rp.postError)) add(await clientCertCheck(rctx, rp));
        }
        if (checks.some((c) => c.id.startsWith('realm.tls') && c.status === 'fail')) return { ok: false };
      }
    }

    // the token request, with the stored credentials (or anonymously)
    const who = cred?.username && cred.username !== '<token>' ? `user ${cred.username}` : cred?.identityToken ? 'the stored identity token' : 'anonymous';
    let tok: TokenResult;
    if (cred?.registryToken) {
      add({ id: 'token.request', area: 'auth', status: 'skip', title: 'Token request', finding: 'skipped: the stored registry token is sent as is' });
      return { ok: true };
    }
    try {
      tok = await fetchToken(transport, { realm, service, scopes: asked, credential: cred, signal: opts.signal }, policy);
    } catch (e) {
      const err = isDheError(e) ? e : undefined;
      if (err?.code === 'BAD_CREDENTIALS') {
        add({ id: 'token.request', area: 'auth', status: 'fail', title: 'Token request', finding: `${err.message}${cred?.source ? ` (from ${cred.source})` : ''}`, fix: loginFix(cred), code: 'BAD_CREDENTIALS' });
      } else if (err?.code === 'UNAUTHORIZED') {
        add({ id: 'token.request', area: 'auth', status: 'fail', title: 'Token request', finding: err.message, fix: `log in: dhe-cli login ${hp}`, code: 'UNAUTHORIZED' });
      } else if (err && (ERROR_CODES[err.code] === ExitCode.NETWORK)) {
        add({ id: 'token.request', area: 'network', status: 'fail', title: 'Token request', finding: err.message.replace(/(answered \d{3}):.*$/, (_m, a: string) => `${a}${/\b50[234]\b/.test(a) ? ' (the token service is down or failing)' : ''}`), fix: `the token service (realm ${ru.href}) is down or failing: tell the registry's administrator; try again later`, code: err.code });
      } else {
        add(fromError('token.request', 'auth', 'Token request', e));
      }
      return { ok: false };
    }
    const life = Math.round((tok.expiresAt - tok.issuedAt) / 1000);
    add({ id: 'token.request', area: 'auth', status: 'pass', title: 'Token request', finding: `token issued to ${who} by ${ru.origin}${service ? ` for service "${service}"` : ''}${asked.length ? ` for ${asked.join(' ')}` : ''}`, details: { realm: ru.href, service, user: cred?.username, scopesAsked: asked } });

    // what the token grants
    const claims = decodeJwt(tok.token);
    let ok = true;
    if (!claims) {
      add({ id: 'token.access', area: 'auth', status: 'skip', title: 'Token: granted access', finding: 'skipped: the token is opaque (not a JWT), its grants cannot be read' });
    } else if (!asked.length) {
      const granted = (claims.access ?? []).map((a) => `${a.type}:${a.name}:${a.actions.join(',')}`);
      add({ id: 'token.access', area: 'auth', status: 'pass', title: 'Token: granted access', finding: `credentials accepted${claims.sub ? ` (subject "${claims.sub}")` : ''}; no repository asked (--repo NAME compares pull and push)${granted.length ? `; granted ${granted.join(' ')}` : ''}`, details: { access: claims.access ?? [] } });
    } else {
      const cmp = compareAccess(asked, claims.access ?? []);
      const line = cmp.scopes.map((s) => `${s.resource}: asked ${s.asked.join(',')}, granted ${s.granted.length ? s.granted.join(',') : 'nothing'}`).join('; ');
      if (cmp.complete) {
        add({ id: 'token.access', area: 'auth', status: 'pass', title: 'Token: granted access', finding: line, details: { asked, access: claims.access ?? [], comparison: cmp.scopes } });
      } else {
        ok = true; // the access checks below show the consequence; the token itself worked
        const missing = cmp.scopes.flatMap((s) => s.missing);
        const none = cmp.scopes.every((s) => s.granted.length === 0);
        const anon = who === 'anonymous';
        add({
          id: 'token.access', area: 'auth', status: 'fail', title: 'Token: granted access',
          finding: `${line} — ${anon ? 'anonymous users' : who} may not ${missing.join(' or ')} on ${repo}`,
          fix: anon
            ? `log in as a user with access to ${repo}: dhe-cli login ${hp}`
            : `ask the registry's administrator to grant ${who} ${missing.join(' and ')} on ${repo}${none ? ' (or check the repository name)' : ''}, or log in as a user who has it: dhe-cli login ${hp}`,
          code: 'INSUFFICIENT_SCOPE',
          details: { asked, access: claims.access ?? [], comparison: cmp.scopes },
        });
      }
    }
    // lifetime
    const exp = claims?.exp;
    const expText = exp ? `; exp ${new Date(exp * 1000).toISOString()}` : '';
    add({
      id: 'token.expiry', area: 'auth', status: life < 60 ? 'warn' : 'pass', title: 'Token lifetime',
      finding: `expires_in ${life} s${expText}`,
      fix: life < 60 ? 'tokens this short force frequent renewals; the token server\'s expiration setting may be too low' : undefined,
      details: { expiresIn: life, exp },
    });
    return { ok, token: Object.assign(tok, { claims }) };
  }

  function clockCheck(date: string | undefined, localMs: number, tok: (TokenResult & { claims?: ReturnType<typeof decodeJwt> }) | undefined): void {
    const notes: string[] = [];
    let worst = 0;
    let serverSkew: number | undefined;
    const server = date ? Date.parse(date) : NaN;
    if (!Number.isNaN(server)) {
      serverSkew = (server - localMs) / 1000; // >0: the server is ahead
      worst = Math.max(worst, Math.abs(serverSkew) - 1);
      notes.push(`server Date ${new Date(server).toISOString()}: ${Math.abs(serverSkew) < 2 ? 'in step with this machine' : `${fmtSkew(serverSkew)} ${serverSkew > 0 ? 'ahead of' : 'behind'} this machine`}`);
    }
    const c = tok?.claims;
    if (c?.iat !== undefined) {
      const s = c.iat - tok!.issuedAt / 1000;
      worst = Math.max(worst, Math.abs(s) - 2);
      notes.push(`token iat ${new Date(c.iat * 1000).toISOString()}: ${Math.abs(s) < 3 ? 'in step with this machine' : `${fmtSkew(s)} ${s > 0 ? 'ahead of' : 'behind'} this machine`}`);
    }
    if (c?.nbf !== undefined && c.nbf * 1000 > Date.now() + 60_000) {
      worst = Math.max(worst, (c.nbf * 1000 - Date.now()) / 1000);
      notes.push(`token nbf ${new Date(c.nbf * 1000).toISOString()} is in this machine's future`);
    }
    if (!notes.length) {
      add({ id: 'clock', area: 'auth', status: 'skip', title: 'Clock', finding: 'skipped: the server sent no Date header' });
      return;
    }
    const bad = worst > 60;
    add({
      id: 'clock', area: 'auth', status: bad ? 'warn' : 'pass', title: 'Clock',
      finding: bad ? `this machine's clock is off by about ${fmtSkew(worst)} (${notes.join('; ')})` : `in step with the server (${notes.join('; ')})`,
      fix: bad ? 'set the clock right (e.g. timedatectl set-ntp true): certificate dates and token times are checked against it' : undefined,
      details: { serverSkewSeconds: serverSkew, iat: c?.iat, nbf: c?.nbf },
    });
  }

  async function accessChecks(r: string): Promise<void> {
    const client = new RegistryClient({
      registry,
      tls: opts.tls,
      proxy: opts.proxy,
      credentials: credentialProvider(credOpts),
      trace,
      userAgent: opts.userAgent ?? 'dhe-cli-doctor',
      retry: { attempts: 1 },
      timeouts: { connectMs: timeoutMs },
    });
    client.intendPush(r); // one token for pull and push, as push asks for it
    try {
      try {
        const tags = await client.listTags(r);
        add({ id: 'access.tags', area: 'access', status: 'pass', title: 'Pull: list tags', finding: `${r}: ${tags.length} tag${tags.length === 1 ? '' : 's'}${tags.length ? ` (${tags.slice(0, 5).join(', ')}${tags.length > 5 ? ', …' : ''})` : ''}`, details: { count: tags.length } });
      } catch (e) {
        if (isDheError(e) && (e.code === 'NAME_UNKNOWN' || e.code === 'NOT_FOUND')) {
          add({ id: 'access.tags', area: 'access', status: 'warn', title: 'Pull: list tags', finding: `${r} does not exist on ${hp} yet (a push creates it)`, fix: `check the repository name if you expected it there: dhe-cli catalog ${hp}` });
        } else {
          add(fromError('access.tags', 'access', 'Pull: list tags', e));
        }
      }
      // push: start an upload session and cancel it; nothing is written
      const scopes = [`repository:${r}:pull,push`];
      try {
        const base = await client.baseUrl();
        const url = new URL(`/v2/${r}/blobs/uploads/`, base);
        let authz = await client.auth.header(scopes, url, opts.signal);
        let res = await client.transport.request({ method: 'POST', url, headers: { authorization: authz, 'content-length': '0' }, retry: false, followRedirects: false });
        if (res.status === 401) {
          const d = await client.auth.onUnauthorized(parseWwwAuthenticate(res.headers['www-authenticate']), scopes, authz);
          if (d.retry) {
            await res.dump();
            authz = await client.auth.header(d.scopes, url, opts.signal);
            res = await client.transport.request({ method: 'POST', url, headers: { authorization: authz, 'content-length': '0' }, retry: false, followRedirects: false });
          }
        }
        if (res.status === 202) {
          await res.dump();
          const loc = res.header('location');
          let cancelled = 'no Location to cancel';
          if (loc) {
            // distribution wants the `delete` action to cancel an upload: ask for it when the 401 says so. The
            // Location is guarded like every one the client follows; on another origin it gets no credentials, and
            // its challenge is not taken (credentials go only to the registry and its realm).
            const delUrl = resolveTarget(loc, res.url, 'an upload Location');
            const home = delUrl.origin === new URL(res.url).origin;
            let del = await client.transport.request({ method: 'DELETE', url: delUrl, headers: home ? { authorization: authz } : {}, retry: false });
            if (del.status === 401 && home) {
              const d = await client.auth.onUnauthorized(parseWwwAuthenticate(del.headers['www-authenticate']), scopes, authz).catch(() => ({ retry: false, scopes }));
              if (d.retry) {
                await del.dump();
                const again = await client.auth.header(d.scopes, delUrl, opts.signal).catch(() => undefined);
                if (again) del = await client.transport.request({ method: 'DELETE', url: delUrl, headers: { authorization: again }, retry: false });
              }
            }
            await del.dump();
            cancelled = del.status < 300
              ? `cancelled with DELETE → ${del.status}`
              : `the empty session could not be cancelled (DELETE → ${del.status}; the registry purges stale uploads itself)`;
          }
          add({ id: 'access.push', area: 'access', status: 'pass', title: 'Push: start an upload', finding: `push allowed: POST /v2/${r}/blobs/uploads/ → 202, ${cancelled}; no content written` });
        } else {
          const text = await res.text(ERROR_BODY_LIMIT).catch(() => '');
          const bearerErr = findChallenge(parseWwwAuthenticate(res.headers['www-authenticate']), 'bearer')?.params.error;
          const e = registryError(res.status, text, { registry: hp, what: `starting an upload to ${r}`, repo: r, sentAuth: !!authz, challengeError: bearerErr, scopes });
          const denied = res.status === 401 || res.status === 403;
          const said = parseErrorBody(text).map((x) => `${x.code}${x.message ? ` (${x.message})` : ''}`).join('; ');
          add({
            id: 'access.push', area: 'access', status: 'fail', title: 'Push: start an upload',
            finding: `push denied: POST /v2/${r}/blobs/uploads/ → ${res.status}${bearerErr ? ` (${bearerErr})` : ''}${said ? `: ${said}` : ''}`,
            fix: denied ? (authz ? `the account lacks push on ${r}: ask the registry's administrator, or log in as a user who has it: dhe-cli login ${hp}` : `log in first: dhe-cli login ${hp}`) : e.hint,
            code: denied ? (bearerErr === 'insufficient_scope' || res.status === 403 ? 'INSUFFICIENT_SCOPE' : 'UNAUTHORIZED') : e.code,
            details: { status: res.status },
          });
        }
      } catch (e) {
        add(fromError('access.push', 'access', 'Push: start an upload', e));
      }
    } finally {
      await client.close();
    }
  }
}
