// doctor's README promises that need a PKI or a server of their own: a name that does not resolve, a server that
// does not send its intermediate CA, a certificate expiring within 30 days, and a server clock far from ours. The PKI
// (root → intermediate → leaf for 127.0.0.1) is made here with openssl, the server is test/harness/mini-registry.ts.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startMiniRegistry, type MiniRegistry } from '../harness/mini-registry.js';
import { freshHome, runCli, type CliResult } from '../helpers/cli.js';
import { requireTool } from '../helpers/tools.js';

const run = promisify(execFile);
let dir: string;
let openssl: string;
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

async function ossl(args: string[]): Promise<void> {
  await run(openssl, args, { cwd: dir });
}

async function key(name: string): Promise<void> {
  await ossl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', `${name}.key`]);
}

/** A certificate for `name` signed by `ca` (its .crt/.key in dir), valid `days`, CA or 127.0.0.1 server leaf. */
async function signed(name: string, ca: string, subject: string, days: number, isCa: boolean): Promise<void> {
  await key(name);
  await ossl(['req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`]);
  writeFileSync(
    join(dir, `${name}.ext`),
    isCa
      ? 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n'
      : 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n',
  );
  await ossl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-set_serial', String(Date.now()), '-days', String(days), '-extfile', `${name}.ext`, '-out', `${name}.crt`]);
}

const pem = (name: string) => readFileSync(join(dir, `${name}.crt`), 'utf8');

beforeAll(async () => {
  openssl = requireTool('openssl', ['/usr/bin/openssl'], 'openssl');
  dir = mkdtempSync(join(tmpdir(), 'dhe-doctor-pki-'));
  await key('root');
  await ossl(['req', '-x509', '-key', 'root.key', '-subj', '/CN=dhe-test root CA', '-days', '365', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', 'root.crt']);
  await signed('inter', 'root', '/CN=dhe-test intermediate CA', 365, true);
  await signed('leaf', 'inter', '/CN=127.0.0.1', 200, false);
  await signed('short', 'inter', '/CN=127.0.0.1', 10, false);
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function server(leaf: string, withIntermediate: boolean, extra: Parameters<typeof startMiniRegistry>[0] = {}): Promise<MiniRegistry> {
  const reg = await startMiniRegistry({
    tls: { key: readFileSync(join(dir, `${leaf}.key`)), cert: pem(leaf) + (withIntermediate ? pem('inter') : '') },
    ...extra,
  });
  closers.push(() => reg.close());
  return reg;
}

function line(r: CliResult, title: string): string {
  const l = r.stdout.split('\n').find((x) => new RegExp(`^\\s+[✔✖!-] ${title}:`).test(x));
  expect(l, `no "${title}" line in:\n${r.stdout}`).toBeDefined();
  return l!.trim();
}

const doctor = (host: string, env: Record<string, string> = {}) =>
  runCli(['--ca-cert', join(dir, 'root.crt'), 'doctor', host], { env: { ...freshHome().env, ...env } });

describe('doctor: what the README promises it finds', () => {
  it('a name that does not resolve: ✖ DNS with the name and the resolver fix, the rest skipped (exit 6)', async () => {
    const r = await runCli(['doctor', 'dhe.invalid'], { env: freshHome().env });
    expect(r.code).toBe(6);
    expect(line(r, 'DNS')).toMatch(/^✖ DNS: cannot resolve dhe\.invalid \((ENOTFOUND|EAI_AGAIN)\)$/);
    expect(r.stdout).toMatch(/Fix: check the registry name for typos; .*dhe\.invalid/);
    expect(line(r, 'TLS')).toBe('- TLS: skipped: cannot resolve the registry\'s name');
    expect(r.stdout).toMatch(/1 problem found\. Start with: DNS/);
  });

  it('a server that does not send its intermediate CA: the chain warning names the missing issuer, trust fails (exit 4); sent, all passes', async () => {
    const missing = await server('leaf', false);
    const r = await doctor(missing.host);
    expect(r.code).toBe(4);
    expect(line(r, 'Certificate chain')).toBe(
      '! Certificate chain: CN=127.0.0.1 issued by CN=dhe-test intermediate CA; the chain stops at CN=127.0.0.1, whose issuer CN=dhe-test intermediate CA was not sent and is not trusted here',
    );
    expect(r.stdout).toContain('the registry must send it with its certificate (missing intermediate)');
    expect(line(r, 'Trust')).toMatch(/^✖ Trust: /);

    const whole = await server('leaf', true);
    const ok = await doctor(whole.host);
    expect(line(ok, 'Certificate chain')).toMatch(/^✔ Certificate chain: CN=127.0.0.1 issued by CN=dhe-test intermediate CA; 3 certificates up to a root$/);
    expect(line(ok, 'Trust')).toMatch(/^✔ Trust: verified: trusted by --ca-cert .*root\.crt/);
    expect(line(ok, 'Expiry')).toMatch(/^✔ Expiry: valid until .* \((199|200) days\)$/);
    expect(ok.code).toBe(0);
  });

  it('a certificate that expires within 30 days: a warning with the date and a renewal fix, exit 0', async () => {
    const reg = await server('short', true);
    const r = await doctor(reg.host);
    expect(line(r, 'Expiry')).toMatch(/^! Expiry: the certificate expires on \S+, in (9|10) days$/);
    expect(r.stdout).toContain('Fix: ask the registry\'s administrator to renew the certificate before it expires');
    expect(r.code).toBe(0);
  });

  it("a server whose Date is 3 hours ahead: ! Clock says this machine's clock is off, with the fix", async () => {
    const ahead = new Date(Date.now() + 3 * 3600_000).toUTCString();
    const reg = await server('leaf', true, { headers: { date: ahead } });
    const r = await doctor(reg.host);
    const clock = line(r, 'Clock');
    expect(clock).toMatch(/^! Clock: this machine's clock is off by about /);
    expect(clock).toMatch(/ahead of this machine/);
    expect(r.stdout).toContain('Fix: set the clock right (e.g. timedatectl set-ntp true)');
    expect(r.code).toBe(0);
    // in step: passes
    const inStep = await server('leaf', true);
    expect(line(await doctor(inStep.host), 'Clock')).toMatch(/^✔ Clock: in step with the server/);
  });
});
