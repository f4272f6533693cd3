// `dhe-cli doctor` through the built CLI against every harness flavour: the findings and the fixes a user reads,
// the exit codes (0 / 3 auth / 4 TLS / 6 network), and --format json as one document.

import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { getHarness } from '../harness/index.js';
import { startHarness } from '../harness/harness.js';
import { freshHome, registerHarness, runCli, type CliResult } from '../helpers/cli.js';
import { writeDockerConfig } from '../helpers/docker-config.js';
import { uniqueRepo } from '../helpers/images.js';
import { startSelfSignedRegistry } from '../helpers/self-signed.js';

const h = getHarness();
const { full, pullonly } = h.users;
const printed: string[] = [];

afterAll(() => {
  const all = printed.join('\n');
  expect(all).toContain('dhe-cli doctor');
  for (const s of [full.password, pullonly.password]) expect(all).not.toContain(s);
});

type Home = ReturnType<typeof freshHome>;

async function doctor(args: string[], hm: Home, env: Record<string, string> = {}): Promise<CliResult> {
  const r = await runCli(['doctor', ...args], { env: { ...hm.env, ...env }, timeoutMs: 45_000 });
  printed.push(r.stdout, r.stderr);
  return r;
}

/** The line of a check: "  ✖ Trust: …". */
function line(out: string, mark: '✔' | '✖' | '!' | '-', title: string): string {
  const l = out.split('\n').find((x) => x.startsWith(`  ${mark} ${title}: `));
  if (!l) throw new Error(`no "${mark} ${title}" line in:\n${out}`);
  return l;
}

/** The Fix: line right under a check's line (after its notes). */
function fixOf(out: string, mark: '✖' | '!', title: string): string {
  const lines = out.split('\n');
  const i = lines.findIndex((x) => x.startsWith(`  ${mark} ${title}: `));
  for (let j = i + 1; j < lines.length && !/^ {2}\S/.test(lines[j]!); j++) {
    if (lines[j]!.startsWith('    Fix: ')) return lines[j]!;
  }
  throw new Error(`no Fix under "${mark} ${title}" in:\n${out}`);
}

function certsD(hm: Home, host: string, files: Record<string, string>): string {
  const dir = join(hm.config, 'certs.d', host);
  mkdirSync(dir, { recursive: true });
  for (const [name, src] of Object.entries(files)) copyFileSync(src, join(dir, name));
  return dir;
}

const subject = (pem: string) => new X509Certificate(readFileSync(pem)).subject.split('\n').join(', ');

describe('doctor: TLS failures name the cause and the fix (exit 4)', () => {
  it('unknown authority: names the issuer and every certs.d folder searched; passes once the CA is in certs.d', async () => {
    const hm = freshHome();
    const host = h.untrusted.host;
    const r = await doctor([host], hm);
    expect(r.code).toBe(4);
    const trust = line(r.stdout, '✖', 'Trust');
    expect(trust).toContain(`x509: certificate signed by unknown authority (issuer: ${subject(h.untrustedCaCert)})`);
    for (const p of [`~/config/certs.d/${host}/: not there`, `/etc/docker/certs.d/${host}/: not there`, `/etc/containers/certs.d/${host}/: not there`, 'system CAs']) {
      expect(r.stdout).toContain(p);
    }
    const fix = fixOf(r.stdout, '✖', 'Trust');
    expect(fix).toContain('dhe-cli --ca-cert ca.crt');
    expect(fix).toContain(`~/config/certs.d/${host}/ca.crt`);
    expect(fix).toContain(`/etc/docker/certs.d/${host}/ca.crt`);
    expect(fix).toContain(`--insecure-registry ${host}`);
    expect(line(r.stdout, '-', 'Registry API (/v2/)')).toContain('fix the TLS failure above first');

    certsD(hm, host, { 'ca.crt': h.untrustedCaCert });
    const ok = await doctor([host], hm);
    expect(line(ok.stdout, '✔', 'Trust')).toContain(`trusted by ~/config/certs.d/${host}`);
    expect(ok.code).toBe(0);
  });

  it('host name mismatch names the certificate\'s names', async () => {
    const hm = freshHome();
    const r = await doctor([h.mismatch.host], hm, { DHE_CA_CERT: h.caCert });
    expect(r.code).toBe(4);
    expect(line(r.stdout, '✔', 'Trust')).toContain(`--ca-cert ${h.caCert}`);
    expect(line(r.stdout, '✖', 'Host name')).toBe(`  ✖ Host name: x509: certificate is valid for ${h.mismatch.certNames.join(', ')}, not 127.0.0.1`);
    const fix = fixOf(r.stdout, '✖', 'Host name');
    expect(fix).toContain(`use a name the certificate covers (${h.mismatch.certNames.join(', ')})`);
    expect(fix).toContain('IP:127.0.0.1');
  });

  it('expired certificate: names the date', async () => {
    const hm = freshHome();
    const r = await doctor([h.expired.host], hm, { DHE_CA_CERT: h.caCert });
    expect(r.code).toBe(4);
    const date = h.expired.notAfter.replace(/\.\d{3}Z$/, 'Z');
    expect(line(r.stdout, '✖', 'Expiry')).toContain(`expired on ${date}`);
    expect(fixOf(r.stdout, '✖', 'Expiry')).toContain('must be renewed');
    // OpenSSL reports CERT_HAS_EXPIRED even when the CA is unknown too: both are said
    const noCa = await doctor([h.expired.host], hm);
    expect(noCa.code).toBe(4);
    expect(line(noCa.stdout, '✖', 'Trust')).toContain('unknown authority');
    expect(line(noCa.stdout, '✖', 'Expiry')).toContain(`expired on ${date}`);
  });

  it('--insecure-registry: an untrusted certificate is a warning, and the rest is checked', async () => {
    const hm = freshHome();
    const host = h.untrusted.host;
    const r = await doctor([host], hm, { DHE_INSECURE_REGISTRIES: host });
    expect(line(r.stdout, '!', 'Trust')).toContain(`verification is off because ${host} is an insecure registry`);
    expect(fixOf(r.stdout, '!', 'Trust')).toContain('then drop --insecure-registry');
    expect(line(r.stdout, '✔', 'Registry API (/v2/)')).toContain('→ 200');
    expect(r.code).toBe(0);
  });

  it('client certificate required: says where it looked; passes with client.cert/client.key in certs.d', async () => {
    const hm = freshHome();
    const host = h.mtls.host;
    const r = await doctor([host], hm, { DHE_CA_CERT: h.caCert });
    expect(r.code).toBe(4);
    expect(line(r.stdout, '✖', 'Client certificate')).toContain(`${host} requires a TLS client certificate and none was found`);
    expect(r.stdout).toContain(`looked at: ~/config/certs.d/${host}/client.cert`);
    const fix = fixOf(r.stdout, '✖', 'Client certificate');
    expect(fix).toContain(`~/config/certs.d/${host}/`);
    expect(fix).toContain('--cert client.cert --key client.key');

    certsD(hm, host, { 'ca.crt': h.caCert, 'client.cert': h.clientCert, 'client.key': h.clientKey });
    const ok = await doctor([host], hm);
    expect(line(ok.stdout, '✔', 'Client certificate')).toContain(`sent ~/config/certs.d/${host}/client.cert`);
    expect(line(ok.stdout, '✔', 'Registry API (/v2/)')).toContain('→ 200');
    expect(ok.stdout).not.toContain('✖');
    expect(ok.code).toBe(0);
  });

  it('plain HTTP on the port: a warning for a loopback registry (dhe-cli falls back to HTTP there), with the API checked', async () => {
    const hm = freshHome();
    const r = await doctor([h.plain.host], hm);
    const w = line(r.stdout, '!', 'TLS handshake');
    expect(w).toContain(`${h.plain.host} speaks plain HTTP, not TLS (GET http://${h.plain.host}/v2/ → 200)`);
    expect(w).toContain('loopback');
    expect(fixOf(r.stdout, '!', 'TLS handshake')).toContain('unencrypted');
    expect(line(r.stdout, '✔', 'Registry API (/v2/)')).toContain(`GET http://${h.plain.host}/v2/ → 200`);
    expect(r.code).toBe(0);
  });
});

describe('doctor: authentication and access (exit 3)', () => {
  it('wrong password in docker\'s config: names the user and where the password came from, never the password', async () => {
    const hm = freshHome();
    writeDockerConfig(hm, { [h.basic.host]: { username: full.username, password: 'not-the-password' } });
    const r = await doctor([h.basic.host], hm, { DHE_CA_CERT: h.caCert });
    expect(r.code).toBe(3);
    expect(line(r.stdout, '✔', 'Auth challenge')).toContain('Basic (realm=');
    expect(line(r.stdout, '✔', 'Credentials')).toBe(`  ✔ Credentials: the password of user ${full.username} from docker config ~/docker/config.json`);
    expect(line(r.stdout, '✖', 'Authentication')).toContain(`rejected the password of user ${full.username} (from docker config ~/docker/config.json)`);
    expect(fixOf(r.stdout, '✖', 'Authentication')).toContain(`dhe-cli login ${h.basic.host} -u ${full.username}`);
    expect(r.stdout).not.toContain('not-the-password');
  });

  it('wrong password at a token server: the token request is refused', async () => {
    const hm = freshHome();
    writeDockerConfig(hm, { [h.dhe.host]: { username: pullonly.username, password: 'not-the-password' } });
    const r = await doctor([h.dhe.host], hm, { DHE_CA_CERT: h.caCert });
    expect(r.code).toBe(3);
    expect(line(r.stdout, '✖', 'Token request')).toMatch(/rejected the credentials for pullonly: .*incorrect username or password/);
    expect(fixOf(r.stdout, '✖', 'Token request')).toContain(`dhe-cli login ${h.dhe.host} -u pullonly`);
  });

  it('pull-only user asked for push on --repo: the token grants pull only, the upload is refused', async () => {
    const hm = freshHome();
    const repo = uniqueRepo('doctor');
    writeDockerConfig(hm, { [h.token.host]: { username: pullonly.username, password: pullonly.password } });
    const r = await doctor([h.token.host, '--repo', repo], hm, { DHE_CA_CERT: h.caCert });
    expect(r.code).toBe(3);
    expect(line(r.stdout, '✔', 'Token request')).toContain(`token issued to user pullonly by ${h.token.tokenServerUrl}`);
    expect(line(r.stdout, '✖', 'Token: granted access')).toBe(
      `  ✖ Token: granted access: repository:${repo}: asked pull,push, granted pull — user pullonly may not push on ${repo}`,
    );
    expect(fixOf(r.stdout, '✖', 'Token: granted access')).toContain(`grant user pullonly push on ${repo}`);
    expect(line(r.stdout, '✖', 'Push: start an upload')).toContain(`push denied: POST /v2/${repo}/blobs/uploads/ → 401 (insufficient_scope)`);
    // the realm is another server: its own TLS checks ran
    expect(line(r.stdout, '✔', 'Token realm')).toContain(`${h.token.realm} reachable`);
    expect(line(r.stdout, '✔', 'Token realm Trust')).toContain('verified');
  });

  it('HOST/REPO:TAG copied from a failing command checks that repository, as --repo does; -q prints only what needs attention', async () => {
    const hm = freshHome();
    const repo = uniqueRepo('doctor');
    writeDockerConfig(hm, { [h.token.host]: { username: pullonly.username, password: pullonly.password } });
    const r = await doctor([`${h.token.host}/${repo}:v1`], hm, { DHE_CA_CERT: h.caCert });
    expect(r.code).toBe(3);
    expect(r.stdout.split('\n')[0]).toBe(`dhe-cli doctor ${h.token.host} --repo ${repo}`);
    expect(line(r.stdout, '✖', 'Token: granted access')).toContain(`repository:${repo}: asked pull,push, granted pull`);

    const q = await doctor(['-q', `${h.token.host}/${repo}`], hm, { DHE_CA_CERT: h.caCert });
    expect(q.code).toBe(3);
    const lines = q.stdout.trimEnd().split('\n');
    expect(lines.some((l) => l.startsWith('  ✔ '))).toBe(false);
    expect(lines).toContain(`  ✖ Token: granted access: repository:${repo}: asked pull,push, granted pull — user pullonly may not push on ${repo}`);
    expect(lines.at(-1)).toMatch(/^\d+ problems? found/);

    const both = await doctor([`${h.token.host}/${repo}`, '--repo', 'other/repo'], hm);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/^Error: two repositories given/m);
  });

  it('anonymous user on a private repository: nothing granted, log in', async () => {
    const hm = freshHome();
    const repo = uniqueRepo('private');
    const r = await doctor([h.dhe.host, '--repo', repo], hm, { DHE_CA_CERT: h.caCert });
    expect(r.code).toBe(3);
    expect(fixOf(r.stdout, '!', 'Credentials')).toContain(`dhe-cli login ${h.dhe.host}`);
    expect(line(r.stdout, '✖', 'Token: granted access')).toContain(`asked pull,push, granted nothing — anonymous users may not pull or push on ${repo}`);
    expect(fixOf(r.stdout, '✖', 'Token: granted access')).toBe(`    Fix: log in as a user with access to ${repo}: dhe-cli login ${h.dhe.host}`);
    expect(line(r.stdout, '✖', 'Pull: list tags')).toContain('(no credentials)');
  });
});

describe('doctor: a token server that is down (exit 6)', () => {
  it('behind nginx (502) and on its own port (connection refused)', async () => {
    const own = await startHarness({ flavours: ['dhe', 'token'] });
    const unguard = await registerHarness(own);
    try {
      await own.tokenServers.dhe!.pause();
      await own.tokenServers.token!.pause();
      const hm = freshHome();
      const env = { DHE_CA_CERT: own.caCert };
      const r = await doctor([own.dhe.host], hm, env);
      expect(r.code).toBe(6);
      expect(line(r.stdout, '✖', 'Token request')).toContain(`the token server at ${own.dhe.host} answered 502 (the token service is down or failing)`);
      expect(fixOf(r.stdout, '✖', 'Token request')).toContain(`realm ${own.dhe.realm}`);

      const t = await doctor([own.token.host], hm, env);
      expect(t.code).toBe(6);
      expect(line(t.stdout, '✖', 'Token realm')).toContain(`(realm ${own.token.realm}) is not reachable: connection refused`);
      expect(line(t.stdout, '!', 'Credentials')).toContain('none stored');
    } finally {
      unguard();
      await own.stop();
    }
  });
});

describe('doctor: a healthy registry is all green (exit 0)', () => {
  it('Basic with the full user', async () => {
    const hm = freshHome();
    writeDockerConfig(hm, { [h.basic.host]: { username: full.username, password: full.password } });
    const r = await doctor([h.basic.host], hm, { DHE_CA_CERT: h.caCert });
    expect(r.stdout).not.toContain('✖');
    expect(line(r.stdout, '✔', 'Authentication')).toContain(`user ${full.username} accepted`);
    expect(r.stdout).toContain(`No problems found with ${h.basic.host}`);
    expect(r.code).toBe(0);
  });

  it('token auth with the full user and --repo: pull and push granted, an upload started and cancelled; --format json is one document', async () => {
    const hm = freshHome();
    const repo = uniqueRepo('doctor');
    writeDockerConfig(hm, { [h.dhe.host]: { username: full.username, password: full.password } });
    const r = await doctor([h.dhe.host, '--repo', repo], hm, { DHE_CA_CERT: h.caCert });
    expect(r.stdout).not.toContain('✖');
    expect(line(r.stdout, '✔', 'Token: granted access')).toBe(`  ✔ Token: granted access: repository:${repo}: asked pull,push, granted pull,push`);
    expect(line(r.stdout, '✔', 'Push: start an upload')).toMatch(/→ 202, cancelled with DELETE → 204; no content written/);
    expect(line(r.stdout, '✔', 'Clock')).toContain('in step');
    expect(r.code).toBe(0);

    const j = await doctor([h.dhe.host, '--repo', repo, '--format', 'json'], hm, { DHE_CA_CERT: h.caCert });
    expect(j.code).toBe(0);
    const doc = JSON.parse(j.stdout) as { ok: boolean; exitCode: number; host: string; checks: { id: string; area: string; status: string; title: string; finding: string }[] };
    expect(doc.ok).toBe(true);
    expect(doc.exitCode).toBe(0);
    expect(doc.host).toBe(h.dhe.host);
    const ids = doc.checks.map((c) => c.id);
    for (const id of ['dns', 'tcp', 'proxy', 'tls.handshake', 'tls.chain', 'tls.trust', 'tls.hostname', 'tls.expiry', 'tls.client-cert', 'http.ping', 'http.challenge', 'auth.credentials', 'token.realm', 'token.request', 'token.access', 'token.expiry', 'clock', 'access.tags', 'access.push']) {
      expect(ids).toContain(id);
    }
    for (const c of doc.checks) {
      expect(['network', 'tls', 'http', 'auth', 'access']).toContain(c.area);
      expect(['pass', 'warn', 'skip']).toContain(c.status);
      expect(c.finding.length).toBeGreaterThan(0);
    }
  });

  it('--format json on a failure carries the fix and the same exit code', async () => {
    const hm = freshHome();
    const j = await doctor([h.untrusted.host, '--format', 'json'], hm);
    expect(j.code).toBe(4);
    const doc = JSON.parse(j.stdout) as { ok: boolean; exitCode: number; checks: { id: string; status: string; fix?: string; code?: string }[] };
    expect(doc.ok).toBe(false);
    expect(doc.exitCode).toBe(4);
    const trust = doc.checks.find((c) => c.id === 'tls.trust')!;
    expect(trust.status).toBe('fail');
    expect(trust.code).toBe('TLS_UNKNOWN_AUTHORITY');
    expect(trust.fix).toContain(`--insecure-registry ${h.untrusted.host}`);
  });
});

describe('doctor on a registry with a self-signed leaf certificate', () => {
  it('calls the chain complete and self-signed once the certificate is trusted, not a missing intermediate', async () => {
    const reg = await startSelfSignedRegistry();
    try {
      const hm = freshHome();
      const r = await doctor([reg.host, '--ca-cert', reg.certPath], hm);
      expect(r.code).toBe(0);
      expect(line(r.stdout, '✔', 'Certificate chain')).toMatch(/CN=selfsigned\.test issued by CN=selfsigned\.test \(self-signed\); 1 certificate up to a root/);
      expect(r.stdout).not.toContain('missing intermediate');
      expect(line(r.stdout, '✔', 'Trust')).toContain('trusted by --ca-cert');
    } finally {
      await reg.close();
    }
  });
});
