// The other half of OCI 1.1: a registry WITH the referrers API (the harness's referrers front over distribution
// 2.8), and `copy --referrers` between a registry with it and one without (the referrers tag schema), carrying
// SBOMs, an SBOM's own signature and cosign's `sha256-<hex>.sig` tags along, digests kept.

import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getHarness } from '../harness/index.js';
import { startMiniRegistry } from '../harness/mini-registry.js';
import { startReferrersFront, type ReferrersFront } from '../harness/referrers-front.js';
import { freshHome, runCli, tempDir } from '../helpers/cli.js';
import { MT, buildImage, fetchManifest, putManifest, seedImage, seedIndex, sha256, uniqueRepo, uploadBlob, type Target } from '../helpers/images.js';

const h = getHarness();
const plain: Target = { url: h.plain.url };
let front: ReferrersFront;
let api: Target;

beforeAll(async () => {
  front = await startReferrersFront(h.plain.url);
  api = { url: `http://${front.host}` };
});
afterAll(async () => {
  await front?.close();
});

const fallbackTag = (digest: string) => `sha256-${digest.slice(7)}`;

function file(name: string, content: string): string {
  const path = join(tempDir(), name);
  writeFileSync(path, content);
  return path;
}

/** A signature manifest in cosign's layout, written by the test (not by dhe-cli), tagged `sha256-<hex>.sig`. */
async function cosignStyleSignature(t: Target, repo: string, subject: string): Promise<string> {
  const payload = Buffer.from(JSON.stringify({ critical: { identity: { 'docker-reference': repo }, image: { 'docker-manifest-digest': subject }, type: 'cosign container image signature' }, optional: null }));
  const config = Buffer.from(JSON.stringify({ architecture: '', os: '', config: {}, rootfs: { type: 'layers', diff_ids: [sha256(payload)] } }));
  for (const bytes of [payload, config]) await uploadBlob(t, repo, { digest: sha256(bytes), bytes });
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MT.ociManifest,
    config: { mediaType: MT.ociConfig, digest: sha256(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', digest: sha256(payload), size: payload.length, annotations: { 'dev.cosignproject.cosign/signature': 'MEUCIQDtest' } }],
  }));
  await putManifest(t, repo, `${fallbackTag(subject)}.sig`, { bytes: manifest, mediaType: MT.ociManifest });
  return sha256(manifest);
}

describe('a registry with the referrers API', () => {
  it('attach is found through the API (OCI-Subject answered, no fallback tag written); referrers and fetch use it', async () => {
    const home = freshHome();
    const repo = uniqueRepo('refapi');
    const img = await buildImage({ layers: 1 });
    await seedImage(api, repo, 'v1', img);
    const ref = `${front.host}/${repo}:v1`;
    const sbom = file('sbom.json', '{"spdxVersion":"SPDX-2.3"}');
    const log = file('test.log', 'ok\n');
    const a = await runCli(['-q', 'attach', ref, '--artifact-type', 'application/spdx+json', sbom], { env: home.env });
    const b = await runCli(['-q', 'attach', ref, '--artifact-type', 'text/x-test-log', log], { env: home.env });
    expect([a.code, a.stderr, b.code, b.stderr]).toEqual([0, '', 0, '']);
    const [sbomDigest, logDigest] = [a.stdout.trim(), b.stdout.trim()];

    // the registry (not the fallback tag) knows them; the tag schema's index was never written
    expect(front.referrers(repo, img.manifest.digest).map((e) => e.digest).sort()).toEqual([sbomDigest, logDigest].sort());
    expect((await fetchManifest(plain, repo, fallbackTag(img.manifest.digest))).status).toBe(404);

    const since = front.requests.length;
    const table = await runCli(['referrers', ref, '--artifact-type', 'application/spdx+json'], { env: home.env });
    expect(table.code).toBe(0);
    const rows = table.stdout.trim().split('\n').slice(1);
    expect(rows.map((l) => l.split(/\s+/)[0])).toEqual([sbomDigest]);
    const asked = front.requests.slice(since).map((r) => `${r.method} ${r.path}`);
    expect(asked).toContain(`GET /v2/${repo}/referrers/${img.manifest.digest}?artifactType=${encodeURIComponent('application/spdx+json')}`);
    expect(asked.some((p) => p.includes(fallbackTag(img.manifest.digest)))).toBe(false);

    const out = join(tempDir(), 'out');
    for (const [digest, path] of [[logDigest, log], [sbomDigest, sbom]] as const) {
      const f = await runCli(['fetch', `${front.host}/${repo}@${digest}`, '-o', out], { env: home.env });
      expect(f.code, f.stderr).toBe(0);
      expect(readFileSync(join(out, basename(path)))).toEqual(readFileSync(path));
    }
  });
});

describe('copy --referrers', () => {
  it('from a registry without the API to one with it: SBOM, its signature, cosign .sig tags, digests kept', async () => {
    const home = freshHome();
    const srcRepo = uniqueRepo('refsrc');
    const dstRepo = uniqueRepo('refdst');
    const img = await buildImage({ layers: 1 });
    await seedImage(plain, srcRepo, 'v1', img);
    const src = `${h.plain.host}/${srcRepo}`;
    const a = await runCli(['-q', 'attach', `${src}:v1`, '--artifact-type', 'application/spdx+json', file('sbom.json', '{"sbom":1}')], { env: home.env });
    const sbomDigest = a.stdout.trim();
    // the SBOM's own signature: a referrer of the referrer
    const s = await runCli(['-q', 'attach', `${src}@${sbomDigest}`, '--artifact-type', 'application/vnd.example.signature', file('sbom.sig', 'signed')], { env: home.env });
    const sbomSigDigest = s.stdout.trim();
    const imageSig = await cosignStyleSignature(plain, srcRepo, img.manifest.digest);
    const sbomCosignSig = await cosignStyleSignature(plain, srcRepo, sbomDigest);

    const r = await runCli(['copy', '--referrers', `${src}:v1`, `${front.host}/${dstRepo}:v1`], { env: home.env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Copied 2 referrers and 2 cosign tags');
    expect(r.stdout.trim().split('\n').at(-1)).toBe(`${front.host}/${dstRepo}@${img.manifest.digest}`);

    // the destination's API lists them (the front saw them pushed with their subjects); no fallback tag written there
    expect(front.referrers(dstRepo, img.manifest.digest).map((e) => e.digest)).toEqual([sbomDigest]);
    expect(front.referrers(dstRepo, img.manifest.digest)[0]?.artifactType).toBe('application/spdx+json');
    expect(front.referrers(dstRepo, sbomDigest).map((e) => e.digest)).toEqual([sbomSigDigest]);
    expect((await fetchManifest(plain, dstRepo, fallbackTag(img.manifest.digest))).status).toBe(404);
    // cosign's tags: same manifests, same tags
    expect((await fetchManifest(plain, dstRepo, `${fallbackTag(img.manifest.digest)}.sig`)).digest).toBe(imageSig);
    expect((await fetchManifest(plain, dstRepo, `${fallbackTag(sbomDigest)}.sig`)).digest).toBe(sbomCosignSig);
    // byte for byte: the SBOM manifest in the destination is the source's
    expect((await fetchManifest(plain, dstRepo, sbomDigest)).bytes).toEqual((await fetchManifest(plain, srcRepo, sbomDigest)).bytes);
  });

  it('from a registry with the API to one without: a whole index, a referrer of one platform, the fallback tags written', async () => {
    const home = freshHome();
    const srcRepo = uniqueRepo('refsrc');
    const dstRepo = uniqueRepo('refdst');
    const amd = await buildImage({ layers: 1 });
    const arm = await buildImage({ layers: 1, platform: { os: 'linux', architecture: 'arm64' } });
    const index = await seedIndex(api, srcRepo, 'v1', [amd, arm]);
    const src = `${front.host}/${srcRepo}`;
    const onIndex = (await runCli(['-q', 'attach', `${src}:v1`, '--artifact-type', 'text/x-provenance', file('prov.json', '{}')], { env: home.env })).stdout.trim();
    const onArm = (await runCli(['-q', 'attach', `${src}@${arm.manifest.digest}`, '--artifact-type', 'text/x-scan', file('scan.txt', 'clean')], { env: home.env })).stdout.trim();
    expect((await fetchManifest(plain, srcRepo, fallbackTag(index.digest))).status).toBe(404); // the source has only the API

    const r = await runCli(['copy', '--referrers', '--all-platforms', `${src}:v1`, `${h.plain.host}/${dstRepo}:v1`], { env: home.env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Copied 2 referrers and 0 cosign tags');

    const forIndex = JSON.parse((await fetchManifest(plain, dstRepo, fallbackTag(index.digest))).bytes.toString());
    expect(forIndex.manifests).toEqual([expect.objectContaining({ digest: onIndex, artifactType: 'text/x-provenance' })]);
    const forArm = JSON.parse((await fetchManifest(plain, dstRepo, fallbackTag(arm.manifest.digest))).bytes.toString());
    expect(forArm.manifests).toEqual([expect.objectContaining({ digest: onArm, artifactType: 'text/x-scan' })]);
    expect((await fetchManifest(plain, dstRepo, fallbackTag(amd.manifest.digest))).status).toBe(404);

    // what a user sees on the destination: the scan, found through the tag schema
    const listed = await runCli(['referrers', `${h.plain.host}/${dstRepo}@${arm.manifest.digest}`, '--format', 'json'], { env: home.env });
    expect(JSON.parse(listed.stdout).manifests.map((d: { digest: string }) => d.digest)).toEqual([onArm]);
  });

  it('a fallback index entry whose subject is another image is not copied as a referrer', async () => {
    const home = freshHome();
    const srcRepo = uniqueRepo('refsrc');
    const dstRepo = uniqueRepo('refdst');
    const img = await buildImage({ layers: 1 });
    const other = await buildImage({ layers: 1 });
    await seedImage(plain, srcRepo, 'v1', img);
    await seedImage(plain, srcRepo, 'other', other);
    const src = `${h.plain.host}/${srcRepo}`;
    const onOther = (await runCli(['-q', 'attach', `${src}:other`, '--artifact-type', 'text/plain', file('x.txt', 'x')], { env: home.env })).stdout.trim();
    const stale = await fetchManifest(plain, srcRepo, fallbackTag(other.manifest.digest));
    await putManifest(plain, srcRepo, fallbackTag(img.manifest.digest), { bytes: stale.bytes, mediaType: MT.ociIndex });

    const r = await runCli(['copy', '--referrers', `${src}:v1`, `${h.plain.host}/${dstRepo}:v1`], { env: home.env });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`skipping ${onOther}: listed as a referrer of ${img.manifest.digest}, but its subject is ${other.manifest.digest}`);
    expect(r.stdout).toContain('Copied 0 referrers and 0 cosign tags');
    expect((await fetchManifest(plain, dstRepo, onOther)).status).toBe(404);
  });
});

describe('hostile referrers listings', () => {
  it('control characters in a listing are not printed; a non-media-type artifactType, an image, a non-JSON or an oversized answer is refused (exit 7)', async () => {
    const home = freshHome();
    const reg = await startMiniRegistry();
    try {
      const img = await buildImage({ layers: 1 });
      reg.manifests.set('h/app:v1', { bytes: img.manifest.bytes, mediaType: MT.ociManifest });
      let answer: { body: Buffer; type: string } = { body: Buffer.from(''), type: MT.ociIndex };
      reg.route((req, res) => {
        if (!req.url?.startsWith('/v2/h/app/referrers/')) return false;
        res.writeHead(200, { 'content-type': answer.type, 'content-length': answer.body.length });
        res.end(answer.body);
        return true;
      });
      const ref = `${reg.host}/h/app:v1`;
      const entry = { mediaType: MT.ociManifest, digest: sha256(Buffer.from('x')), size: 1, artifactType: 'text/x-evil', annotations: { 'org.opencontainers.image.created': '\u001b]0;title\u0007 2026' } };
      answer = { body: Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: [entry] })), type: MT.ociIndex };
      const shown = await runCli(['referrers', ref], { env: home.env });
      expect(shown.code, shown.stderr).toBe(0);
      expect(shown.stdout).toContain(entry.digest);
      expect(shown.stdout + shown.stderr).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);

      const badType = { ...entry, artifactType: 'text/\u001b[2Jevil\u0007' };
      const cases: Array<[string, { body: Buffer; type: string }, RegExp]> = [
        ['an escape sequence as artifactType', { body: Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: [badType] })), type: MT.ociIndex }, /^Error: malformed manifest: manifests\[0\]\.artifactType .* is not a media type/],
        ['an image manifest', { body: img.manifest.bytes, type: MT.ociManifest }, /^Error: .* answered the referrers API with an image manifest, not an index/],
        ['not JSON', { body: Buffer.from('<html>oops</html>'), type: MT.ociIndex }, /^Error: /],
        ['5 MiB', { body: Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: [], pad: 'x'.repeat(5 * 1024 * 1024) })), type: MT.ociIndex }, /^Error: .*referrers listing larger than \d+ bytes/],
      ];
      for (const [what, body, message] of cases) {
        answer = body;
        const r = await runCli(['referrers', ref], { env: home.env });
        expect([what, r.code]).toEqual([what, 7]);
        expect(r.stderr, what).toMatch(message);
        expect(r.stderr.trim().split('\n').length, what).toBeLessThanOrEqual(2);
        expect(r.stderr, what).not.toContain('    at ');
        expect(r.stderr, what).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
      }
    } finally {
      await reg.close();
    }
  });
});
