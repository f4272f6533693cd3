// TLS against the harness: each failure mapped to its typed error with the certificate's facts and a hint;
// --ca-cert, certs.d (CA and mTLS client certificate), an insecure registry; the DHE flavour's 4 MiB body limit.
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { explainTlsError, type RegistryClient, type RegistryClientOptions } from '../../src/registry/index.js';
import type { Credential } from '../../src/auth/types.js';
import type { TlsSettings } from '../../src/config.js';
import { getHarness, tokenLog } from '../harness/index.js';
import { uniqueRepo } from '../helpers/images.js';
import { caught, testClient } from '../helpers/registry.js';

const h = getHarness();

/** The shared test client, trusting only what `tls` names (not the harness CA: these tests are about trust). */
function client(registry: string, tls: Partial<TlsSettings> = {}, cred?: Credential, over: Partial<RegistryClientOptions> = {}): RegistryClient {
  return testClient(registry, {
    tls: { caCertFiles: [], certsDirs: [], insecureRegistries: [], ...tls },
    retry: { attempts: 2, baseDelayMs: 50, maxDelayMs: 100 },
    ...(cred ? { cred } : {}),
    ...over,
  });
}


function certsDir(host: string, files: Record<string, string>): string {
  const base = mkdtempSync(join(tmpdir(), 'dhe-certsd-'));
  const dir = join(base, host);
  mkdirSync(dir, { recursive: true });
  for (const [name, src] of Object.entries(files)) copyFileSync(src, join(dir, name));
  return base;
}

describe('TLS failures are typed, explained and hinted', () => {
  it('unknown authority: names the issuer, hints --ca-cert / certs.d / --insecure-registry, exit 4', async () => {
    const e = await caught(client(h.untrusted.host).ping());
    expect(e.code).toBe('TLS_UNKNOWN_AUTHORITY');
    expect(e.exitCode).toBe(4);
    expect(e.message).toMatch(/^x509: certificate signed by unknown authority \(issuer: CN=/);
    expect(e.hint).toContain('--ca-cert FILE');
    expect(e.hint).toContain(`~/.dhe-cli/certs.d/${h.untrusted.host}/ca.crt`);
    expect(e.hint).toContain(`/etc/docker/certs.d/${h.untrusted.host}/ca.crt`);
    expect(e.hint).toContain(`--insecure-registry ${h.untrusted.host}`);
  });

  it('a loopback registry with an untrusted certificate never falls back to plain HTTP', async () => {
    const e = await caught(client(h.untrusted.host).baseUrl());
    expect(e.code).toBe('TLS_UNKNOWN_AUTHORITY');
  });

  it('the same registry works with --ca-cert, and with a certs.d folder', async () => {
    expect((await client(h.untrusted.host, { caCertFiles: [h.untrustedCaCert] }).ping()).status).toBe(200);
    const dir = certsDir(h.untrusted.host, { 'ca.crt': h.untrustedCaCert });
    expect((await client(h.untrusted.host, { certsDirs: [dir] }).ping()).status).toBe(200);
  });

  it('host name mismatch names the certificate\'s names', async () => {
    const e = await caught(client(h.mismatch.host, { caCertFiles: [h.caCert] }).ping());
    expect(e.code).toBe('TLS_HOSTNAME_MISMATCH');
    expect(e.exitCode).toBe(4);
    for (const n of h.mismatch.certNames) expect(e.message).toContain(n);
    expect(e.message).toContain('not 127.0.0.1');
  });

  it('expired certificate gives the date', async () => {
    const e = await caught(client(h.expired.host, { caCertFiles: [h.caCert] }).ping());
    expect(e.code).toBe('TLS_EXPIRED');
    expect(e.exitCode).toBe(4);
    expect(e.message).toContain(h.expired.notAfter.slice(0, 10));
  });

  it('mTLS: no client certificate → TLS_CLIENT_CERT_REQUIRED; with certs.d client.cert/client.key it works', async () => {
    const e = await caught(client(h.mtls.host, { caCertFiles: [h.caCert] }).ping());
    expect(e.code).toBe('TLS_CLIENT_CERT_REQUIRED');
    expect(e.exitCode).toBe(4);
    expect(e.hint).toContain('client.cert');
    const dir = certsDir(h.mtls.host, { 'ca.crt': h.caCert, 'client.cert': h.clientCert, 'client.key': h.clientKey });
    const c = client(h.mtls.host, { certsDirs: [dir] });
    expect((await c.ping()).status).toBe(200);
    expect(await c.headManifest(uniqueRepo('mtls'), 'latest')).toBeNull();
  });

  it('certs.d: HOST:PORT folder is used before HOST', async () => {
    const base = mkdtempSync(join(tmpdir(), 'dhe-certsd-'));
    mkdirSync(join(base, h.mtls.host), { recursive: true });
    mkdirSync(join(base, '127.0.0.1'), { recursive: true });
    copyFileSync(h.caCert, join(base, h.mtls.host, 'ca.crt'));
    copyFileSync(h.clientCert, join(base, h.mtls.host, 'client.cert'));
    copyFileSync(h.clientKey, join(base, h.mtls.host, 'client.key'));
    copyFileSync(h.untrustedCaCert, join(base, '127.0.0.1', 'ca.crt')); // would not help
    expect((await client(h.mtls.host, { certsDirs: [base] }).ping()).status).toBe(200);
  });

  it('--insecure-registry: no verification for that host only', async () => {
    const c = client(h.untrusted.host, { insecureRegistries: [h.untrusted.host] });
    expect((await c.ping()).scheme).toBe('https');
    const other = await caught(client(h.mismatch.host, { insecureRegistries: [h.untrusted.host] }).ping());
    expect(other.code).toBe('TLS_UNKNOWN_AUTHORITY');
  });

  it('explainTlsError is reusable by doctor (undefined for non-TLS errors)', async () => {
    expect(await explainTlsError(new Error('boom'), 'x:1')).toBeUndefined();
    const err = Object.assign(new Error('unable to verify the first certificate'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    const e = await explainTlsError(err, h.untrusted.host);
    expect(e?.code).toBe('TLS_UNKNOWN_AUTHORITY');
    expect((e?.details?.certificate as { issuer?: string }).issuer).toMatch(/CN=/);
  });
});

describe('dhe flavour (nginx front, token realm on the same host, 4 MiB body limit)', () => {
  it('a ~20 MiB blob uploads through the body limit (413 → chunks), and downloads intact', async () => {
    const size = 20 * 1024 * 1024 + 12345;
    const bytes = randomBytes(size);
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const c = client(h.dhe.host, { caCertFiles: [h.caCert] }, h.users.full);
    const repo = uniqueRepo('dhe');
    c.intendPush(repo);
    const since = (await tokenLog(h.dhe.tokenServerUrl)).at(-1)?.seq ?? 0;
    // nginx's access log is shared with every file running now: read only what it gained, and only this repository
    const logFrom = statSync(h.dhe.logFile).size;
    const chunkOf = (buf: Buffer) => {
      const parts: Buffer[] = [];
      for (let i = 0; i < buf.length; i += 256 * 1024) parts.push(buf.subarray(i, i + 256 * 1024));
      return Readable.from(parts);
    };
    await c.uploadBlob(repo, { digest, size }, () => chunkOf(bytes));
    expect(await c.headBlob(repo, digest)).toEqual({ size });
    const mine = readFileSync(h.dhe.logFile).subarray(logFrom).toString('utf8').split('\n').filter((l) => l.includes(`/v2/${repo}/blobs/uploads/`));
    // nginx refused the upload as one body (413), then the chunks went through (202) and the upload was closed (201)
    expect(mine.filter((l) => /" 413 /.test(l)).length, mine.join('\n')).toBeGreaterThanOrEqual(1);
    expect(mine.filter((l) => /"PATCH [^"]*" 202 /.test(l)).length, mine.join("\n")).toBeGreaterThanOrEqual(2);
    const chunks: Buffer[] = [];
    for await (const ch of await c.getBlob(repo, { digest, size })) chunks.push(ch as Buffer);
    expect(Buffer.concat(chunks).equals(bytes)).toBe(true);
    // the token server was asked once for this repository's scope set
    const asked = (await tokenLog(h.dhe.tokenServerUrl, since)).filter((e) => e.scopesAsked.some((s) => s.includes(repo)));
    expect(asked).toHaveLength(1);
  });
});
