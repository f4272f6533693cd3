// doctor REGISTRY --trust: the CA is found where DTR (/ca) and Harbor (/api/v2.0/systeminfo/getcert) publish it, or is
// the registry's own self-signed certificate; it is pinned only after a matching --fingerprint (no TTY) or a "y" at
// the [y/N] prompt (a real pseudo-terminal), after which pull works with no flag. Every refusal exits 4 and writes
// nothing. Fingerprints are cross-checked with openssl. The registries behind the HTTPS fronts are the harness's
// real distribution (plain flavour), so the pulls are real pulls.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getHarness } from '../harness/index.js';
import { freshHome, runCli, type CliResult } from '../helpers/cli.js';
import { buildImage, seedImage, uniqueRepo } from '../helpers/images.js';
import { runInTerminal } from '../helpers/pty.js';
import { startSelfSignedRegistry } from '../helpers/self-signed.js';
import { startTlsFront, TestPki, type Issued, type TlsFront } from '../helpers/tls-front.js';
import { requireTool } from '../helpers/tools.js';

const h = getHarness();
const HARBOR = '/api/v2.0/systeminfo/getcert';
let pki: TestPki;
let dtrCa: Issued;
let dtrLeaf: Issued;
let selfLeaf: Issued;
let otherCa: Issued;
let notCa: Issued;
let expiredCa: Issued;
let expiredCaLeaf: Issued;
const repo = uniqueRepo('trust');
const fronts: TlsFront[] = [];

beforeAll(async () => {
  pki = new TestPki(requireTool('openssl', ['/usr/bin/openssl'], 'openssl'));
  dtrCa = await pki.selfSigned('dtr-ca', 'DTR test CA', true);
  otherCa = await pki.selfSigned('other-ca', 'Unrelated CA', true);
  selfLeaf = await pki.selfSigned('self', 'selfsigned registry', false);
  dtrLeaf = await pki.leaf('dtr-leaf', 'dtr-ca');
  notCa = await pki.leaf('not-ca', 'other-ca', 'not a CA');
  expiredCa = await pki.expiredCa('old-ca', 'Expired CA');
  expiredCaLeaf = await pki.leaf('old-leaf', 'old-ca');
  await seedImage({ url: h.plain.url }, repo, 'v1', await buildImage({ layers: 1, salt: repo }));
});
afterAll(async () => {
  for (const f of fronts) await f.close();
});

async function front(cert: Issued, answers: Record<string, string> = {}): Promise<TlsFront> {
  const f = await startTlsFront({ key: cert.key, cert: cert.cert, answers, upstream: h.plain.url });
  fronts.push(f);
  return f;
}

const pinned = (home: ReturnType<typeof freshHome>, host: string) => join(home.config, 'certs.d', host, 'ca.crt');

function expectNothingWritten(home: ReturnType<typeof freshHome>): void {
  expect(existsSync(join(home.config, 'certs.d')), 'a certs.d folder was created').toBe(false);
}

function expectRefused(r: CliResult, message: RegExp): void {
  expect(r.code, r.stderr).toBe(4);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
}

/** `doctor HOST --trust --fingerprint FP` without a TTY: pinned, the report shows the new trust, pull then works. */
async function pinAndPull(host: string, fp: string, expectedPem: string): Promise<void> {
  const home = freshHome();
  const before = await runCli(['pull', `${host}/${repo}:v1`], { env: home.env });
  expect(before.code).toBe(4);
  expect(before.stderr).toMatch(/^Error: x509: certificate signed by unknown authority/m);
  expect(before.stderr).toContain(`or let dhe-cli fetch and pin it: dhe-cli doctor ${host} --trust`);

  const r = await runCli(['doctor', host, '--trust', '--fingerprint', fp], { env: home.env });
  expect(r.code, r.stdout + r.stderr).toBe(0);
  expect(r.stdout).toContain(`  Fingerprint: ${fp}`);
  expect(r.stdout).toContain(`Pinned: ~/config/certs.d/${host}/ca.crt`);
  expect(r.stdout).toMatch(new RegExp(`✔ Trust: verified: trusted by ~/config/certs\\.d/${host.replace(/\./g, '\\.')}$`, 'm'));
  const file = pinned(home, host);
  expect(readFileSync(file, 'utf8').trim()).toBe(expectedPem.trim());
  expect(statSync(file).mode & 0o777).toBe(0o600);
  expect(statSync(join(home.config, 'certs.d', host)).mode & 0o777).toBe(0o700);
  expect(statSync(join(home.config, 'certs.d')).mode & 0o777).toBe(0o700);

  const after = await runCli(['pull', `${host}/${repo}:v1`], { env: home.env });
  expect(after.code, after.stderr).toBe(0);
  expect(after.stdout).toContain(`Status: Downloaded newer image for ${host}/${repo}:v1`);
}

describe('doctor --trust: a self-signed registry', () => {
  it('without a TTY and without --fingerprint: exit 4 with the fingerprint openssl shows, nothing written', async () => {
    const reg = await startSelfSignedRegistry();
    try {
      const home = freshHome();
      const fp = await pki.fingerprint(reg.certPath);
      const r = await runCli(['doctor', reg.host, '--trust'], { env: home.env });
      expectRefused(r, new RegExp(`^Error: not pinned without confirmation: the CA ${reg.host} offers has the fingerprint ${fp}$`, 'm'));
      expect(r.stderr).toContain(`Hint: compare it with the one the registry's administrator gives, then: dhe-cli doctor ${reg.host} --trust --fingerprint ${fp}`);
      expect(r.stdout).toContain(`${reg.host} is not trusted here. It offers its self-signed certificate:`);
      expect(r.stdout).toContain('  Subject:     CN=selfsigned.test');
      expect(r.stdout).toMatch(/^ {2}Valid: {7}\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ to \d{4}-/m);
      expectNothingWritten(home);
      const yes = await runCli(['doctor', reg.host, '--trust', '--yes'], { env: home.env }); // --yes alone is no confirmation
      expectRefused(yes, new RegExp(`^Error: not pinned without confirmation: .* ${fp}$`, 'm'));
      expectNothingWritten(home);
      const ok = await runCli(['doctor', reg.host, '--trust', '--fingerprint', fp.toUpperCase().replace('SHA256', 'sha256')], { env: home.env });
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stdout).toMatch(/✔ Trust: verified: trusted by ~\/config\/certs\.d\/127\.0\.0\.1:\d+$/m);
    } finally {
      await reg.close();
    }
  });

  it('--fingerprint pins the self-signed certificate, then pull works with no flag', async () => {
    const f = await front(selfLeaf);
    await pinAndPull(f.host, await pki.fingerprint(selfLeaf.certPath), selfLeaf.cert);
    expect(f.paths).toContain('/ca'); // asked where DTR publishes it, then Harbor, then took the chain
    expect(f.paths).toContain(HARBOR);
  });

  it('a second --trust once pinned: nothing to do, exit 0', async () => {
    const f = await front(selfLeaf);
    const home = freshHome();
    const fp = await pki.fingerprint(selfLeaf.certPath);
    expect((await runCli(['doctor', f.host, '--trust', '--fingerprint', fp], { env: home.env })).code).toBe(0);
    const again = await runCli(['doctor', f.host, '--trust'], { env: home.env });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`TLS of ${f.host} already verifies (verified: trusted by ~/config/certs.d/${f.host}): nothing to pin.`);
  });
});

describe('doctor --trust: a DTR-like front (a private CA, published at /ca)', () => {
  it('pins the CA from /ca (not the leaf), then pull works with no flag', async () => {
    const f = await front(dtrLeaf, { '/ca': dtrCa.cert });
    const fp = await pki.fingerprint(dtrCa.certPath);
    const home = freshHome();
    const shown = await runCli(['doctor', f.host, '--trust'], { env: home.env });
    expect(shown.code).toBe(4);
    expect(shown.stdout).toContain(`It offers its CA file https://${f.host}/ca:`);
    expect(shown.stdout).toContain('  Subject:     CN=DTR test CA');
    expect(shown.stderr).toContain(fp);
    await pinAndPull(f.host, fp, dtrCa.cert);
  });

  it('the TTY prompt: "y" pins it and the report follows; "n" writes nothing and exits 4', async () => {
    const f = await front(dtrLeaf, { '/ca': dtrCa.cert });
    const no = freshHome();
    const refused = await runInTerminal(['doctor', f.host, '--trust'], { env: no.env, answers: { '[y/N] ': 'n\r' } });
    expect(refused.code, refused.out).toBe(4);
    expect(refused.out).toContain(`Trust this CA for ${f.host} and save it as ~/config/certs.d/${f.host}/ca.crt? [y/N] `);
    expect(refused.out).toContain(`Error: the CA of ${f.host} was not trusted (not confirmed)`);
    expectNothingWritten(no);

    const yes = freshHome();
    const r = await runInTerminal(['doctor', f.host, '--trust'], { env: yes.env, answers: { '[y/N] ': 'y\r' } });
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain(`Fingerprint: ${await pki.fingerprint(dtrCa.certPath)}`);
    expect(r.out).toMatch(/✔ Trust: verified: trusted by ~\/config\/certs\.d\/127\.0\.0\.1:\d+/);
    expect(readFileSync(pinned(yes, f.host), 'utf8').trim()).toBe(dtrCa.cert.trim());
    const pull = await runCli(['pull', `${f.host}/${repo}:v1`], { env: yes.env });
    expect(pull.code, pull.stderr).toBe(0);
  });

  it('--yes on a terminal pins without asking (the CA is still shown)', async () => {
    const f = await front(dtrLeaf, { '/ca': dtrCa.cert });
    const home = freshHome();
    const r = await runInTerminal(['doctor', f.host, '--trust', '--yes'], { env: home.env });
    expect(r.code, r.out).toBe(0);
    expect(r.out).not.toContain('[y/N]');
    expect(r.out).toContain(`Fingerprint: ${await pki.fingerprint(dtrCa.certPath)}`);
    expect(readFileSync(pinned(home, f.host), 'utf8').trim()).toBe(dtrCa.cert.trim());
  });

  it('an existing different ca.crt is kept and the new one refused (exit 4) unless --replace', async () => {
    const f = await front(dtrLeaf, { '/ca': dtrCa.cert });
    const home = freshHome();
    const file = pinned(home, f.host);
    mkdirSync(join(home.config, 'certs.d', f.host), { recursive: true, mode: 0o700 });
    writeFileSync(file, otherCa.cert, { mode: 0o600 });
    const fp = await pki.fingerprint(dtrCa.certPath);
    const r = await runCli(['doctor', f.host, '--trust', '--fingerprint', fp], { env: home.env });
    expectRefused(r, new RegExp(`^Error: ~/config/certs\\.d/${f.host.replace(/\./g, '\\.')}/ca\\.crt already holds another CA \\(CN=Unrelated CA, sha256:[0-9a-f]{64}\\); it is kept`, 'm'));
    expect(r.stderr).toContain('Hint: to replace it with the CA shown: add --replace');
    expect(readFileSync(file, 'utf8')).toBe(otherCa.cert);
    const replaced = await runCli(['doctor', f.host, '--trust', '--fingerprint', fp, '--replace'], { env: home.env });
    expect(replaced.code, replaced.stderr).toBe(0);
    expect(replaced.stdout).toContain('(replaced the CA that was there)');
    expect(readFileSync(file, 'utf8').trim()).toBe(dtrCa.cert.trim());
  });
});

describe('doctor --trust --format json', () => {
  it('pins with --fingerprint and prints one JSON document: the report after pinning, with what was pinned', async () => {
    const f = await front(dtrLeaf, { '/ca': dtrCa.cert });
    const fp = await pki.fingerprint(dtrCa.certPath);
    const home = freshHome();
    const r = await runCli(['doctor', f.host, '--trust', '--fingerprint', fp, '--format', 'json'], { env: home.env });
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { ok: boolean; trust: { fingerprint: string; path: string; pinned: string; from: string }; checks: { id: string; status: string; finding: string }[] };
    expect(doc.ok).toBe(true);
    expect(doc.trust).toMatchObject({ fingerprint: fp, path: pinned(home, f.host), pinned: 'written', from: `https://${f.host}/ca` });
    expect(doc.checks.find((c) => c.id === 'tls.trust')).toMatchObject({ status: 'pass', finding: `verified: trusted by ~/config/certs.d/${f.host}` });
  });
});

describe('doctor --trust: a Harbor-like endpoint', () => {
  it('takes the CA from /api/v2.0/systeminfo/getcert when /ca has none', async () => {
    const f = await front(dtrLeaf, { [HARBOR]: dtrCa.cert });
    const fp = await pki.fingerprint(dtrCa.certPath);
    const home = freshHome();
    const r = await runCli(['doctor', f.host, '--trust', '--fingerprint', fp], { env: home.env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`It offers its CA file https://${f.host}${HARBOR}:`);
    expect(readFileSync(pinned(home, f.host), 'utf8').trim()).toBe(dtrCa.cert.trim());
  });
});

describe('doctor --trust refuses, exit 4, nothing written', () => {
  it('a hostile /ca serving an unrelated CA, even with that CA\'s own fingerprint', async () => {
    const f = await front(dtrLeaf, { '/ca': otherCa.cert });
    const home = freshHome();
    const r = await runCli(['doctor', f.host, '--trust', '--fingerprint', await pki.fingerprint(otherCa.certPath)], { env: home.env });
    expectRefused(r, new RegExp(`^Error: the CA from https://${f.host}/ca \\(CN=Unrelated CA\\) does not verify ${f.host}'s certificate \\(UNABLE_TO_VERIFY_LEAF_SIGNATURE\\)$`, 'm'));
    expect(r.stderr).toMatch(/^Hint: .*nothing was written$/m);
    expectNothingWritten(home);
  });

  it('a /ca serving a certificate that is not a CA', async () => {
    const f = await front(dtrLeaf, { '/ca': notCa.cert });
    const home = freshHome();
    const r = await runCli(['doctor', f.host, '--trust'], { env: home.env });
    expectRefused(r, /^Error: the certificate from https:\/\/127\.0\.0\.1:\d+\/ca \(CN=not a CA\) is not a CA certificate$/m);
    expectNothingWritten(home);
  });

  it('a /ca serving an expired CA (the one that signed the registry\'s certificate)', async () => {
    const f = await front(expiredCaLeaf, { '/ca': expiredCa.cert });
    const home = freshHome();
    const r = await runCli(['doctor', f.host, '--trust', '--fingerprint', await pki.fingerprint(expiredCa.certPath)], { env: home.env });
    expectRefused(r, /^Error: the CA from https:\/\/127\.0\.0\.1:\d+\/ca \(CN=Expired CA\) expired on 2021-01-01T00:00:00\.000Z$/m);
    expectNothingWritten(home);
  });

  it('a --fingerprint that is not the candidate\'s', async () => {
    const f = await front(dtrLeaf, { '/ca': dtrCa.cert });
    const home = freshHome();
    const wrong = await pki.fingerprint(otherCa.certPath);
    const r = await runCli(['doctor', f.host, '--trust', '--fingerprint', wrong], { env: home.env });
    expectRefused(r, new RegExp(`^Error: fingerprint mismatch: the CA ${f.host} offers is ${await pki.fingerprint(dtrCa.certPath)}, not ${wrong}$`, 'm'));
    expectNothingWritten(home);
  });

  it('a chain from a private CA that publishes nothing (the chain stops at a certificate whose issuer was not sent)', async () => {
    const f = await front(dtrLeaf);
    const home = freshHome();
    const r = await runCli(['doctor', f.host, '--trust'], { env: home.env });
    expectRefused(r, /^Error: the chain 127\.0\.0\.1:\d+ sent stops at CN=127\.0\.0\.1, whose issuer CN=DTR test CA was not sent$/m);
    expectNothingWritten(home);
  });

  it('a plain-HTTP registry', async () => {
    const home = freshHome();
    const r = await runCli(['doctor', h.plain.host, '--trust'], { env: home.env });
    expectRefused(r, new RegExp(`^Error: ${h.plain.host} speaks plain HTTP: it has no certificate to trust$`, 'm'));
    expectNothingWritten(home);
  });

  it('a registry whose TLS already verifies: nothing to do, exit 0, nothing written', async () => {
    const home = freshHome();
    const r = await runCli(['--ca-cert', h.caCert, 'doctor', h.basic.host, '--trust'], { env: home.env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^TLS of ${h.basic.host} already verifies \\(verified: trusted by --ca-cert .*\\): nothing to pin\\.$`, 'm'));
    expectNothingWritten(home);
  });

  it('--fingerprint without --trust is a usage error (exit 2)', async () => {
    const r = await runCli(['doctor', h.basic.host, '--fingerprint', 'sha256:00'], { env: freshHome().env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^Error: --fingerprint only goes with --trust$/m);
  });
});
