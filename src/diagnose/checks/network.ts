// Network checks: DNS, a TCP connection (through the proxy when there is one), and which proxy applies.

import { isIP } from 'node:net';
import { errCode, openSocket, proxyInfo, resolveHost, showProxy } from '../net.js';
import type { DoctorRun } from '../run.js';

/** The checks' outcome: the proxy HTTPS goes through, or why the run cannot go on. */
export interface NetworkResult {
  proxy?: string;
  stop?: string;
}

export async function networkChecks(run: DoctorRun): Promise<NetworkResult> {
  const { proxy, bypassed } = proxyInfo(run.opts.proxy, run.t, 'https');
  if (!(await dnsCheck(run, proxy))) return { proxy, stop: "cannot resolve the registry's name" };
  await tcpCheck(run, proxy);
  proxyCheck(run, proxy, bypassed);
  if (run.has((c) => c.id === 'tcp' && c.status === 'fail')) return { proxy, stop: 'no connection to the registry' };
  return { proxy };
}

/** false: the name does not resolve and no proxy resolves it instead. */
async function dnsCheck(run: DoctorRun, proxy: string | undefined): Promise<boolean> {
  const { t } = run;
  const dns = await resolveHost(t.host);
  if (!dns.error) {
    run.add({ id: 'dns', area: 'network', status: 'pass', title: 'DNS', finding: isIP(t.host) ? `${t.host} is an IP address (no lookup)` : `${t.host} → ${dns.addresses.join(', ')} (${dns.ms} ms)`, details: { addresses: dns.addresses } });
    return true;
  }
  run.add({
    id: 'dns', area: 'network', status: proxy ? 'warn' : 'fail', title: 'DNS',
    finding: `cannot resolve ${t.host} (${errCode(dns.error)})${proxy ? '; the proxy resolves it instead' : ''}`,
    fix: `check the registry name for typos; this machine's resolver (/etc/hosts, /etc/resolv.conf, VPN) must know ${t.host}`,
    code: proxy ? undefined : 'DNS',
  });
  return !!proxy;
}

async function tcpCheck(run: DoctorRun, proxy: string | undefined): Promise<void> {
  const { t, hp } = run;
  try {
    const s = await openSocket(t, proxy, run.timeoutMs, run.opts.signal);
    s.socket.destroy();
    run.add({ id: 'tcp', area: 'network', status: 'pass', title: 'TCP connect', finding: `connected to ${s.remote} in ${s.ms} ms`, details: { ms: s.ms, remote: s.remote } });
  } catch (e) {
    const code = errCode(e);
    const refused = code === 'ECONNREFUSED';
    const viaProxy = proxy ? ` through the proxy ${showProxy(proxy)}` : '';
    run.add({
      id: 'tcp', area: 'network', status: 'fail', title: 'TCP connect',
      finding: refused ? `connection to ${t.host}:${t.port}${viaProxy} refused` : `cannot connect to ${t.host}:${t.port}${viaProxy}: ${code}`,
      fix: proxy
        ? `check the proxy (HTTPS_PROXY=${showProxy(proxy)}), or bypass it for this registry: NO_PROXY=${t.host}`
        : refused
          ? `nothing listens on ${t.host}:${t.port}: check that the registry is running and the port in "${run.registry}" (without a port, 443 is used)`
          : `a firewall, VPN or route blocks ${t.host}:${t.port}; check that this machine can reach it (try: curl -v https://${hp}/v2/)`,
      code: proxy ? 'PROXY' : refused ? 'CONNECTION_REFUSED' : code === 'ETIMEDOUT' ? 'TIMEOUT' : 'NETWORK',
    });
  }
}

function proxyCheck(run: DoctorRun, proxy: string | undefined, bypassed: boolean): void {
  const { t, opts } = run;
  run.add({
    id: 'proxy', area: 'network', status: 'pass', title: 'Proxy',
    finding: proxy ? `HTTPS goes through ${showProxy(proxy)} (HTTPS_PROXY; NO_PROXY does not match ${t.host})` : bypassed ? `direct: NO_PROXY (${opts.proxy.noProxy}) matches ${t.host}` : 'none: direct connection (no HTTPS_PROXY set)',
    details: { proxy: proxy ? showProxy(proxy) : undefined, noProxy: opts.proxy.noProxy },
  });
}
