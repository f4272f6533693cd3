// sign / verify / key generate / pull --verify-key against distribution 2.8, cross-checked with openssl: keys made by
// openssl, our signatures verified by `openssl dgst -sha256 -verify` over the stored payload, and signatures the
// test writes itself in cosign's layout (payload + openssl signature + manifest pushed over HTTP) verified by us.

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import { getHarness } from '../harness/index.js';
import { freshHome, runCli, tempDir } from '../helpers/cli.js';
import { runInTerminal } from '../helpers/pty.js';
import { MT, buildImage, buildIndex, fetchManifest, putManifest, seedImage, seedIndex, sha256, uniqueRepo, uploadBlob, type Target } from '../helpers/images.js';

const h = getHarness();
const plain: Target = { url: h.plain.url };
const SIMPLE = 'application/vnd.dev.cosign.simplesigning.v1+json';
const SIG = 'dev.cosignproject.cosign/signature';

function opensslKeyPair(dir: string, name: string): { key: string; pub: string } {
  const key = join(dir, `${name}.pem`);
  const pub = join(dir, `${name}.pub`);
  execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
  execFileSync('openssl', ['ec', '-in', key, '-pubout', '-out', pub], { stdio: 'ignore' });
  return { key, pub };
}

function opensslSign(key: string, data: Buffer, dir: string): string {
  const f = join(dir, `payload-${Math.random().toString(16).slice(2)}`);
  writeFileSync(f, data);
  return execFileSync('openssl', ['dgst', '-sha256', '-sign', key, f]).toString('base64');
}

function opensslVerify(pub: string, data: Buffer, sigB64: string, dir: string): string {
  const f = join(dir, 'p.json');
  const s = join(dir, 'p.sig');
  writeFileSync(f, data);
  writeFileSync(s, Buffer.from(sigB64, 'base64'));
  return execFileSync('openssl', ['dgst', '-sha256', '-verify', pub, '-signature', s, f]).toString().trim();
}

const payloadFor = (reference: string, digest: string) =>
  Buffer.from(JSON.stringify({ critical: { identity: { 'docker-reference': reference }, image: { 'docker-manifest-digest': digest }, type: 'cosign container image signature' }, optional: null }));

/** Writes a cosign-layout signature manifest itself: payload blobs, a config, the manifest tagged sha256-<hex>.sig. */
async function pushSignatures(repo: string, digest: string, sigs: Array<{ payload: Buffer; signature: string }>) {
  const config = Buffer.from(JSON.stringify({ architecture: '', os: '', rootfs: { type: 'layers', diff_ids: sigs.map((s) => sha256(s.payload)) }, config: {} }));
  for (const b of [config, ...sigs.map((s) => s.payload)]) await uploadBlob(plain, repo, { digest: sha256(b), bytes: b });
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MT.ociManifest,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
    layers: sigs.map((s) => ({ mediaType: SIMPLE, digest: sha256(s.payload), size: s.payload.length, annotations: { [SIG]: s.signature } })),
  }));
  await putManifest(plain, repo, `sha256-${digest.slice(7)}.sig`, { bytes: manifest, mediaType: MT.ociManifest });
}

async function blobBytes(repo: string, digest: string): Promise<Buffer> {
  const res = await request(`${plain.url}/v2/${repo}/blobs/${digest}`);
  expect(res.statusCode).toBe(200);
  return Buffer.from(await res.body.arrayBuffer());
}

async function seeded(prefix: string) {
  const repo = uniqueRepo(prefix);
  const img = await buildImage({ layers: 1 });
  await seedImage(plain, repo, 'v1', img);
  return { repo, digest: img.manifest.digest, ref: `${h.plain.host}/${repo}:v1`, name: `${h.plain.host}/${repo}` };
}

describe('sign and verify (cosign 2 layout, distribution 2.8)', () => {
  it('sign → verify round-trips; the stored payload and signature verify with openssl; signing again keeps both', async () => {
    const home = freshHome();
    const dir = tempDir();
    const k = opensslKeyPair(dir, 'ci');
    const img = await seeded('sign');
    const s = await runCli(['sign', img.ref, '--key', k.key, '--annotation', 'build=42'], { env: home.env });
    expect(s.stderr).toBe('');
    expect(s.code).toBe(0);
    expect(s.stdout).toBe(`Pushing signature to: ${img.name}:sha256-${img.digest.slice(7)}.sig\n${img.name}@${img.digest}\n`);

    const sig = await fetchManifest(plain, img.repo, `sha256-${img.digest.slice(7)}.sig`);
    expect(sig.status).toBe(200);
    const m = JSON.parse(sig.bytes.toString());
    expect(m.mediaType).toBe(MT.ociManifest);
    expect(m.layers).toHaveLength(1);
    expect(m.layers[0].mediaType).toBe(SIMPLE);
    const payload = await blobBytes(img.repo, m.layers[0].digest);
    expect(JSON.parse(payload.toString())).toEqual({
      critical: { identity: { 'docker-reference': img.name }, image: { 'docker-manifest-digest': img.digest }, type: 'cosign container image signature' },
      optional: { build: '42' },
    });
    expect(opensslVerify(k.pub, payload, m.layers[0].annotations[SIG], dir)).toBe('Verified OK');

    const v = await runCli(['verify', img.ref, '--key', k.pub], { env: home.env });
    expect(v.stderr).toBe('');
    expect(v.code).toBe(0);
    expect(v.stdout).toBe(`Verified: ${img.name}:v1@${img.digest} (1 of 1 signature)\n`);

    const other = opensslKeyPair(dir, 'other');
    expect((await runCli(['sign', img.ref, '--key', other.key], { env: home.env })).code).toBe(0);
    const m2 = JSON.parse((await fetchManifest(plain, img.repo, `sha256-${img.digest.slice(7)}.sig`)).bytes.toString());
    expect(m2.layers).toHaveLength(2);
    expect(m2.layers[0]).toEqual(m.layers[0]);
    const j = await runCli(['verify', img.ref, '--key', k.pub, '--format', 'json'], { env: home.env });
    expect(j.code).toBe(0);
    expect(JSON.parse(j.stdout)).toMatchObject({ digest: img.digest, verified: 1, signatures: 2 });
  });

  it('a signature written in cosign\'s layout with openssl verifies with us; each failure is exit 8 with its own reason', async () => {
    const home = freshHome();
    const dir = tempDir();
    const k = opensslKeyPair(dir, 'ext');
    const wrong = opensslKeyPair(dir, 'wrong');
    const img = await seeded('signext');
    const verify = () => runCli(['verify', img.ref, '--key', k.pub], { env: home.env });

    const unsigned = await verify();
    expect(unsigned.code).toBe(8);
    expect(unsigned.stderr).toMatch(new RegExp(`^Error: no signatures are stored for ${img.name}@${img.digest} \\(no sha256-[0-9a-f]{64}\\.sig tag, no Sigstore bundle referrers\\)\\nHint: `));
    expect(unsigned.stdout).toBe('');

    const good = payloadFor(img.name, img.digest);
    await pushSignatures(img.repo, img.digest, [{ payload: good, signature: opensslSign(k.key, good, dir) }]);
    const ok = await verify();
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe(`Verified: ${img.name}:v1@${img.digest} (1 of 1 signature)\n`);

    const wrongKey = await runCli(['verify', img.ref, '--key', wrong.pub], { env: home.env });
    expect(wrongKey.code).toBe(8);
    expect(wrongKey.stderr).toMatch(/^Error: none of the 1 signature of .* verifies with the given key \(made with another key, or the payload was changed after signing\)\n/);

    // tampered: the payload changed after signing (it now claims another digest), the signature kept
    const tampered = payloadFor(img.name, `sha256:${'0'.repeat(64)}`);
    await pushSignatures(img.repo, img.digest, [{ payload: tampered, signature: opensslSign(k.key, good, dir) }]);
    const t = await verify();
    expect(t.code).toBe(8);
    expect(t.stderr).toMatch(/^Error: none of the 1 signature of .* verifies with the given key/);

    // validly signed, for another digest (copied from another image)
    await pushSignatures(img.repo, img.digest, [{ payload: tampered, signature: opensslSign(k.key, tampered, dir) }]);
    const d = await verify();
    expect(d.code).toBe(8);
    expect(d.stderr).toMatch(new RegExp(`^Error: the signature made with this key is for another digest \\(sha256:0{64}\\), not ${img.digest}\\n`));

    // validly signed, for another repository
    const otherRepo = payloadFor(`${h.plain.host}/someone/else`, img.digest);
    await pushSignatures(img.repo, img.digest, [{ payload: otherRepo, signature: opensslSign(k.key, otherRepo, dir) }]);
    const r = await verify();
    expect(r.code).toBe(8);
    expect(r.stderr).toMatch(new RegExp(`^Error: the signature made with this key is for another repository \\(${h.plain.host}/someone/else\\), not ${img.name}\\n`));

    // validly signed, but not a simple-signing payload
    const junk = Buffer.from('not json');
    await pushSignatures(img.repo, img.digest, [{ payload: junk, signature: opensslSign(k.key, junk, dir) }]);
    const mal = await verify();
    expect(mal.code).toBe(8);
    expect(mal.stderr).toMatch(/^Error: the signature of .* is malformed: a signature payload is not JSON\n/);
  });

  it('pull --verify-key: unsigned or wrongly signed stores nothing (exit 8); signed pulls; DHE_VERIFY_KEY works the same', async () => {
    const home = freshHome();
    const dir = tempDir();
    const k = opensslKeyPair(dir, 'pull');
    const wrong = opensslKeyPair(dir, 'pullwrong');
    const img = await seeded('signpull');
    const storeEmpty = () => !existsSync(join(home.store, 'blobs')) || readdirSync(join(home.store, 'blobs', 'sha256')).length === 0;

    const unsigned = await runCli(['pull', img.ref, '--verify-key', k.pub], { env: home.env });
    expect(unsigned.code).toBe(8);
    expect(unsigned.stderr).toMatch(/^Error: no signatures are stored for /);
    expect(storeEmpty()).toBe(true);

    expect((await runCli(['sign', img.ref, '--key', k.key], { env: home.env })).code).toBe(0);
    const wrongly = await runCli(['pull', img.ref], { env: { ...home.env, DHE_VERIFY_KEY: wrong.pub } });
    expect(wrongly.code).toBe(8);
    expect(wrongly.stderr).toMatch(/^Error: none of the 1 signature/);
    expect(storeEmpty()).toBe(true);

    const ok = await runCli(['pull', img.ref, '--verify-key', wrong.pub, '--verify-key', k.pub], { env: home.env });
    expect(ok.code).toBe(0);
    expect(ok.stdout.split('\n')[0]).toBe(`Verified: ${img.name}:v1@${img.digest} (1 of 1 signature)`);
    expect(ok.stdout.trim().split('\n').at(-1)).toBe(`${img.name}:v1`);
    expect(storeEmpty()).toBe(false);
  });

  it('an index: its own digest is what sign signs and pull --verify-key verifies', async () => {
    const home = freshHome();
    const dir = tempDir();
    const k = opensslKeyPair(dir, 'idx');
    const repo = uniqueRepo('signidx');
    const images = [await buildImage({ layers: 1, platform: { os: 'linux', architecture: 'amd64' } }), await buildImage({ layers: 1, platform: { os: 'linux', architecture: 'arm64' } })];
    await seedIndex(plain, repo, 'multi', images);
    const index = buildIndex(images);
    const ref = `${h.plain.host}/${repo}:multi`;
    const s = await runCli(['-q', 'sign', ref, '--key', k.key], { env: home.env });
    expect(s.code).toBe(0);
    expect(s.stdout).toBe(`${h.plain.host}/${repo}@${index.digest}\n`);
    const p = await runCli(['pull', '--platform', 'linux/arm64', ref, '--verify-key', k.pub], { env: home.env });
    expect(p.stderr).toBe('');
    expect(p.code).toBe(0);
    expect(p.stdout).toContain(`Verified: ${ref}@${index.digest} (1 of 1 signature)`);
    expect(p.stdout).toContain(`Digest: ${index.digest}`);
  });

  it("cosign 3's layout: a Sigstore bundle referrer with a public-key messageSignature over the manifest verifies", async () => {
    const home = freshHome();
    const dir = tempDir();
    const k = opensslKeyPair(dir, 'bundle');
    const wrong = opensslKeyPair(dir, 'bundlewrong');
    const repo = uniqueRepo('signbundle');
    const img = await buildImage({ layers: 1 });
    await seedImage(plain, repo, 'v1', img);
    const BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
    const bundle = Buffer.from(JSON.stringify({
      mediaType: BUNDLE,
      verificationMaterial: { publicKey: { hint: '' } },
      messageSignature: { messageDigest: { algorithm: 'SHA2_256', digest: Buffer.from(img.manifest.digest.slice(7), 'hex').toString('base64') }, signature: opensslSign(k.key, img.manifest.bytes, dir) },
    }));
    const empty = Buffer.from('{}');
    for (const b of [empty, bundle]) await uploadBlob(plain, repo, { digest: sha256(b), bytes: b });
    const art = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      artifactType: BUNDLE,
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(empty), size: 2 },
      layers: [{ mediaType: BUNDLE, digest: sha256(bundle), size: bundle.length }],
      subject: { mediaType: MT.ociManifest, digest: img.manifest.digest, size: img.manifest.size },
    }));
    await putManifest(plain, repo, sha256(art), { bytes: art, mediaType: MT.ociManifest });
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: [{ mediaType: MT.ociManifest, digest: sha256(art), size: art.length, artifactType: BUNDLE }] }));
    await putManifest(plain, repo, `sha256-${img.manifest.digest.slice(7)}`, { bytes: index, mediaType: MT.ociIndex });
    const ref = `${h.plain.host}/${repo}:v1`;
    const v = await runCli(['verify', ref, '--key', k.pub], { env: home.env });
    expect(v.stderr).toBe('');
    expect(v.code).toBe(0);
    expect(v.stdout).toBe(`Verified: ${ref}@${img.manifest.digest} (1 of 1 signature)\n`);
    const w = await runCli(['verify', ref, '--key', wrong.pub], { env: home.env });
    expect(w.code).toBe(8);
    expect(w.stderr).toMatch(/^Error: none of the 1 signature of .* verifies with the given key/);
  });

  it('key generate writes cosign.key (0600, encrypted) and cosign.pub; its signatures verify with openssl and with us', async () => {
    const home = freshHome();
    const dir = tempDir();
    const env = { ...home.env, COSIGN_PASSWORD: 'correct horse' };
    const g = await runCli(['key', 'generate'], { env, cwd: dir });
    expect(g.code).toBe(0);
    expect(g.stderr).toBe('');
    expect(g.stdout).toBe('Private key written to cosign.key\nPublic key written to cosign.pub\n');
    expect(statSync(join(dir, 'cosign.key')).mode & 0o777).toBe(0o600);
    const keyText = readFileSync(join(dir, 'cosign.key'), 'utf8');
    expect(keyText).toMatch(/^-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n/);
    const envelope = JSON.parse(Buffer.from(keyText.split('\n').slice(1, -2).join(''), 'base64').toString());
    expect(envelope.kdf).toMatchObject({ name: 'scrypt', params: { N: 32768, r: 8, p: 1 } });
    expect(envelope.cipher.name).toBe('nacl/secretbox');
    // openssl reads the public key as a P-256 SPKI
    expect(execFileSync('openssl', ['pkey', '-pubin', '-in', join(dir, 'cosign.pub'), '-noout', '-text']).toString()).toContain('prime256v1');
    const again = await runCli(['key', 'generate'], { env, cwd: dir });
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/^Error: cosign\.key already exists\n/);

    const img = await seeded('signgen');
    const noPw = await runCli(['sign', img.ref, '--key', join(dir, 'cosign.key')], { env: home.env });
    expect(noPw.code).toBe(2);
    expect(noPw.stderr).toMatch(/^Error: the key needs a password and COSIGN_PASSWORD is not set\n/);
    const badPw = await runCli(['sign', img.ref, '--key', join(dir, 'cosign.key')], { env: { ...home.env, COSIGN_PASSWORD: 'nope' } });
    expect(badPw.code).toBe(2);
    expect(badPw.stderr).toMatch(/^Error: the password does not decrypt /);

    expect((await runCli(['sign', img.ref, '--key', join(dir, 'cosign.key')], { env })).code).toBe(0);
    const m = JSON.parse((await fetchManifest(plain, img.repo, `sha256-${img.digest.slice(7)}.sig`)).bytes.toString());
    const payload = await blobBytes(img.repo, m.layers[0].digest);
    // the decrypted private key's public half is cosign.pub: openssl verifies its signature with that file
    expect(opensslVerify(join(dir, 'cosign.pub'), payload, m.layers[0].annotations[SIG], dir)).toBe('Verified OK');
    const v = await runCli(['verify', img.ref, '--key', join(dir, 'cosign.pub')], { env: home.env });
    expect(v.code).toBe(0);
  });

  it('on a terminal without COSIGN_PASSWORD the password is asked (twice for key generate), hidden, and used', async () => {
    const home = freshHome();
    const dir = tempDir();
    const key = join(dir, 'ci.key');
    const pw = 'typed at the prompt';
    const g = await runInTerminal(['key', 'generate', '--output-key-prefix', join(dir, 'ci')], {
      env: { ...home.env, COSIGN_PASSWORD: undefined },
      answers: { 'Enter password for private key: ': `${pw}\r`, 'Enter password for private key again: ': `${pw}\r` },
      secrets: [pw],
    });
    expect(g.code, g.out).toBe(0);
    expect(g.out).toContain(`Private key written to ${key}`);
    const img = await seeded('signtty');
    const signed = await runInTerminal(['sign', img.ref, '--key', key], { env: { ...home.env, COSIGN_PASSWORD: undefined }, answers: { 'Enter password for private key: ': `${pw}\r` }, secrets: [pw] });
    expect(signed.code, signed.out).toBe(0);
    const v = await runCli(['verify', img.ref, '--key', join(dir, 'ci.pub')], { env: home.env });
    expect(v.code, v.stderr).toBe(0);
    // the same key with the password from the environment: the prompt was given the password, not a guess
    expect((await runCli(['sign', img.ref, '--key', key], { env: { ...home.env, COSIGN_PASSWORD: 'not it' } })).code).toBe(2);
  });
});
