// Fixes from the user review: save to a missing folder, corrupt blobs on save and push, the "not logged in"
// message of a token registry, and TLS hints naming the certs.d folder actually searched.

import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { getHarness } from '../harness/index.js';
import { freshHome, runCli } from '../helpers/cli.js';
import { buildImage, seedImage, uniqueRepo } from '../helpers/images.js';

const h = getHarness();

/** A fresh home with one image pulled from the plain registry. */
async function pulled(prefix: string) {
  const repo = uniqueRepo(prefix);
  const img = await buildImage({ layers: 2 });
  await seedImage({ url: h.plain.url }, repo, 'v1', img);
  const home = freshHome();
  const ref = `${h.plain.host}/${repo}:v1`;
  const r = await runCli(['pull', ref], { env: home.env });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const layerFile = join(home.store, 'blobs', 'sha256', img.layers[1]!.digest.slice('sha256:'.length));
  expect(existsSync(layerFile)).toBe(true);
  return { repo, img, home, ref, layerFile };
}

describe('save', () => {
  it('to a folder that does not exist: one Error line and a Hint, exit 1, no crash, no temp file', async () => {
    const { home, ref } = await pulled('rf-save-enoent');
    const dir = mkdtempSync(join(tmpdir(), 'dhe-rf-'));
    const out = join(dir, 'missing', 'x.tar');
    const r = await runCli(['save', ref, '-o', out], { env: home.env });
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^Error: .*does not exist/);
    expect(lines[0]).toContain(join(dir, 'missing'));
    expect(lines[1]).toMatch(/^Hint: /);
    expect(r.stderr).not.toMatch(/Unhandled|node:events|\bat /);
    expect(r.code).toBe(1);
    expect(readdirSync(dir)).toEqual([]);
  });

  for (const damage of ['bytes appended', 'a byte flipped'] as const) {
    it(`refuses a blob of the store with ${damage}: CORRUPT_STORE, exit 7, no archive left`, async () => {
      const { home, ref, layerFile } = await pulled('rf-save-corrupt');
      if (damage === 'bytes appended') appendFileSync(layerFile, 'garbage');
      else {
        const b = readFileSync(layerFile);
        b[b.length >> 1] = b[b.length >> 1]! ^ 0xff;
        writeFileSync(layerFile, b);
      }
      const dir = mkdtempSync(join(tmpdir(), 'dhe-rf-'));
      const out = join(dir, 'x.tar');
      const r = await runCli(['save', ref, '-o', out], { env: home.env });
      expect(r.stderr).toMatch(/^Error: .*blob sha256:[0-9a-f]{64}.*local store/m);
      expect(r.stderr).toContain('Hint: run `dhe-cli store verify --repair`');
      expect(r.code).toBe(7);
      expect(readdirSync(dir)).toEqual([]);
    });
  }
});

describe('push of a corrupt blob', () => {
  for (const damage of ['bytes appended', 'a byte flipped'] as const) {
    it(`with ${damage}: an integrity error of the local blob, exit 7, not retried as a network error`, async () => {
      const { home, ref, repo, layerFile, img } = await pulled('rf-push-corrupt');
      if (damage === 'bytes appended') appendFileSync(layerFile, 'garbage');
      else {
        const b = readFileSync(layerFile);
        b[b.length >> 1] = b[b.length >> 1]! ^ 0xff;
        writeFileSync(layerFile, b);
      }
      // another registry: no cross-repository mount, the layer is uploaded from the store
      const env = { ...home.env, DHE_CA_CERT: h.caCert };
      const { username, password } = h.users.full;
      expect((await runCli(['login', h.basic.host, '-u', username, '--password-stdin'], { env, input: password })).code).toBe(0);
      const target = `${h.basic.host}/${repo}:v1`;
      expect((await runCli(['tag', ref, target], { env })).code).toBe(0);
      const r = await runCli(['push', target], { env });
      expect(r.stderr).toContain(`the local blob ${img.layers[1]!.digest} does not match its`);
      expect(r.stderr).toContain("Hint: run 'dhe-cli store verify --repair', then pull or load the image again");
      expect(r.stderr).not.toMatch(/network|content-length/i);
      expect(r.code).toBe(7);
      // not retried: the --debug trace of the same push shows no retry and no upload started again
      const traced = await runCli(['--debug', 'push', target], { env });
      expect(traced.code).toBe(7);
      expect(traced.stderr).toContain(`the local blob ${img.layers[1]!.digest} does not match its`);
      expect(traced.stderr).toMatch(/HTTP (PATCH|PUT) /);
      expect(traced.stderr).not.toMatch(/starting it again|\bretry \d+\//);
    });
  }
});

describe('not logged in on a token registry', () => {
  for (const flavour of ['token', 'dhe'] as const) {
    it(`${flavour}: pull of a private repository says "log in first", without raw JSON`, async () => {
      const home = freshHome();
      const host = h[flavour].host;
      const repo = `private/${uniqueRepo('rf-anon')}`;
      const r = await runCli(['pull', `${host}/${repo}:v1`], { env: { ...home.env, DHE_CA_CERT: h.caCert } });
      const lines = r.stderr.split('\n');
      expect(lines[0]).toBe(`Error: authentication required by ${host} for repository:${repo}:pull (no credentials)`);
      expect(lines[1]).toBe(`Hint: log in first: dhe-cli login ${host}`);
      expect(r.stderr).not.toMatch(/\[\{|"Type"|insufficient scope|lacks/);
      expect(r.code).toBe(3);
    });
  }

  it("a logged-in user lacking the permission still gets 'insufficient scope', without the registry's misleading words", async () => {
    const home = freshHome();
    const env = { ...home.env, DHE_CA_CERT: h.caCert };
    const { username, password } = h.users.pullonly;
    expect((await runCli(['login', h.token.host, '-u', username, '--password-stdin'], { env, input: password })).code).toBe(0);
    const repo = uniqueRepo('rf-scope');
    const r = await runCli(['delete', `${h.token.host}/${repo}@sha256:${'0'.repeat(64)}`], { env });
    expect(r.stderr).toMatch(/^Error: insufficient scope: /m);
    expect(r.stderr).not.toMatch(/\[\{|"Type"/);
    expect(r.stderr).toMatch(/^Hint: the account lacks this permission/m);
    expect(r.stderr).not.toContain('authentication required');
    expect(r.code).toBe(3);
  });
});

describe('TLS hints name the certs.d folder actually searched', () => {
  const pullFrom = (host: string, env: Record<string, string | undefined>) => runCli(['pull', `${host}/${uniqueRepo('rf-tls')}:v1`], { env });
  const hintOf = (stderr: string) => stderr.split('\n').find((l) => l.startsWith('Hint: ')) ?? '';

  it('DHE_CONFIG set: <configDir>/certs.d/HOST:PORT/ca.crt (and /etc/docker/certs.d)', async () => {
    const home = freshHome();
    const cfg = mkdtempSync(join(tmpdir(), 'dhe-rf-cfg-'));
    const host = h.untrusted.host;
    const r = await pullFrom(host, { ...home.env, DHE_CONFIG: cfg });
    expect(r.code).toBe(4);
    const hint = hintOf(r.stderr);
    expect(hint).toContain(`${cfg}/certs.d/${host}/ca.crt`);
    expect(hint).toContain(`/etc/docker/certs.d/${host}/ca.crt`);
    expect(hint).not.toContain('.dhe-cli');
  });

  it('the default config folder under HOME is shown with ~', async () => {
    const home = freshHome();
    const host = h.untrusted.host;
    const r = await pullFrom(host, { ...home.env, DHE_CONFIG: undefined });
    expect(r.code).toBe(4);
    expect(hintOf(r.stderr)).toContain(`~/.dhe-cli/certs.d/${host}/ca.crt`);
  });

  it('DHE_CERTS_DIR set: that folder is named first (searched first, then the usual ones), for the CA and for a client certificate', async () => {
    const home = freshHome();
    const certs = mkdtempSync(join(tmpdir(), 'dhe-rf-certs-'));
    const ca = await pullFrom(h.untrusted.host, { ...home.env, DHE_CERTS_DIR: certs });
    expect(ca.code).toBe(4);
    expect(hintOf(ca.stderr)).toContain(`put it at ${certs}/${h.untrusted.host}/ca.crt (or /etc/docker/certs.d/${h.untrusted.host}/ca.crt)`);
    const mtls = await pullFrom(h.mtls.host, { ...home.env, DHE_CERTS_DIR: certs, DHE_CA_CERT: h.caCert });
    expect(mtls.code).toBe(4);
    expect(hintOf(mtls.stderr)).toContain(`put client.cert and client.key in ${certs}/${h.mtls.host}/ (or /etc/docker/certs.d/${h.mtls.host}/)`);
  });
});
