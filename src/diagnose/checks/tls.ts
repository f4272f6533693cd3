// The registry's TLS: its files (CA, client certificate), one handshake, and what that handshake says — the
// certificate checks (chain, trust, host name, expiry), the client certificate, or a server that speaks plain HTTP.

import { isClientCertError, looksLikePlainHttp } from '../../transport/errors.js';
import { loadHostTls, type HostTls } from '../../transport/tls.js';
import { errCode } from '../net.js';
import { fromError, urlOf, type DoctorRun } from '../run.js';
import { certificateChecks, clientCertCheck, handshakeFailure, type TlsCheckContext } from '../tls.js';
import { probeTls } from '../tls-probe.js';

/** The scheme the registry is spoken to with from here on, or why the run cannot go on. */
export type TlsResult = { scheme: 'https' | 'http'; stop?: undefined } | { stop: string };

export async function tlsChecks(run: DoctorRun, proxy: string | undefined): Promise<TlsResult> {
  const { opts, t } = run;
  let material: HostTls;
  try {
    material = await loadHostTls(opts.tls, run.hp);
  } catch (e) {
    run.add(fromError('tls.material', 'tls', 'TLS files', e));
    return { stop: 'a TLS file could not be read' };
  }
  if (run.insecure) material = { ...material, insecure: true };
  const ctx: TlsCheckContext = { t, settings: opts.tls, material, env: opts.env, idPrefix: '', titlePrefix: '' };
  let scheme: 'https' | 'http' = 'https';
  const probe = await probeTls(t, material, proxy, run.timeoutMs, opts.signal);
  const err = probe.handshakeError;
  if (!err) {
    run.add({ id: 'tls.handshake', area: 'tls', status: 'pass', title: 'TLS handshake', finding: `${probe.protocol ?? 'TLS'}, ${probe.cipher ?? 'unknown cipher'}`, details: { protocol: probe.protocol, cipher: probe.cipher } });
    for (const c of await certificateChecks(ctx, probe)) run.add(c);
    run.add(await clientCertCheck(ctx, probe));
  } else if (looksLikePlainHttp(err)) {
    scheme = await plainHttpCheck(run, ctx, err);
  } else if (isClientCertError(err)) {
    run.add({ id: 'tls.handshake', area: 'tls', status: 'fail', title: 'TLS handshake', finding: `${run.hp} ended the handshake: it wants a client certificate (${errCode(err)})`, code: 'TLS_CLIENT_CERT_REQUIRED', fix: 'see the client certificate check below' });
    run.add(await clientCertCheck(ctx, probe));
  } else {
    run.add(handshakeFailure(ctx, err));
  }
  if (run.has((c) => c.area === 'tls' && c.status === 'fail')) return { stop: 'fix the TLS failure above first' };
  return { scheme };
}

/** A handshake that looks like plain HTTP: whether it is, and whether dhe-cli would speak it to this registry. */
async function plainHttpCheck(run: DoctorRun, ctx: TlsCheckContext, err: unknown): Promise<'https' | 'http'> {
  const { hp } = run;
  let plainStatus: number | undefined;
  try {
    const res = await run.transport.request({ method: 'GET', url: urlOf('http', run.t, '/v2/') });
    plainStatus = res.status;
    await res.dump();
  } catch {
    plainStatus = undefined;
  }
  if (plainStatus === undefined) {
    run.add(handshakeFailure(ctx, err));
    return 'https';
  }
  if (run.insecure || run.t.loopback) {
    run.add({
      id: 'tls.handshake', area: 'tls', status: 'warn', title: 'TLS handshake',
      finding: `${hp} speaks plain HTTP, not TLS (GET http://${hp}/v2/ → ${plainStatus}); dhe-cli uses plain HTTP for it because ${run.insecure ? 'it is an --insecure-registry' : 'it is a loopback address'}`,
      fix: `nothing to do for a local test registry; everything (passwords included) travels unencrypted, so serve TLS before using it from another machine`,
      details: { plainHttp: true, status: plainStatus },
    });
    return 'http';
  }
  run.add({
    id: 'tls.handshake', area: 'tls', status: 'fail', title: 'TLS handshake',
    finding: `${hp} speaks plain HTTP, not TLS (GET http://${hp}/v2/ → ${plainStatus}), and dhe-cli expects TLS for a registry that is not on this machine`,
    fix: `if that registry really serves plain HTTP: dhe-cli --insecure-registry ${hp} … (passwords then travel unencrypted); otherwise use its HTTPS port (usually 443)`,
    code: 'TLS_ERROR', details: { plainHttp: true, status: plainStatus },
  });
  return 'https';
}
