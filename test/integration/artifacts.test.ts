// attach → referrers → fetch against distribution 2.8 (no referrers API: the referrers tag schema's fallback index),
// cross-checked with skopeo; hostile artifact titles are refused by fetch.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { getHarness } from '../harness/index.js';
import { freshHome, runCli, tempDir } from '../helpers/cli.js';
import { MT, buildImage, fetchManifest, putManifest, seedImage, sha256, uniqueRepo, uploadBlob, type Target } from '../helpers/images.js';
import { SKOPEO_PATHS, requireTool } from '../helpers/tools.js';

const h = getHarness();
const plain: Target = { url: h.plain.url };

describe('artifacts and referrers (distribution 2.8: the fallback tag)', () => {
  it('two attaches keep both entries; referrers lists them; fetch round-trips the files byte for byte', async () => {
    const home = freshHome();
    const repo = uniqueRepo('art');
    const img = await buildImage({ layers: 1 });
    await seedImage(plain, repo, 'v1', img);
    const dir = tempDir();
    const sbom = join(dir, 'sbom.json');
    const log = join(dir, 'test.log');
    writeFileSync(sbom, '{"spdxVersion":"SPDX-2.3"}');
    writeFileSync(log, 'all tests passed\n');
    const ref = `${h.plain.host}/${repo}:v1`;
    const a = await runCli(['attach', ref, '--artifact-type', 'application/spdx+json', `${sbom}:application/spdx+json`, '--annotation', 'org.opencontainers.image.created=2026-12-02T00:00:00Z'], { env: home.env });
    expect(a.stderr).toBe('');
    expect(a.code).toBe(0);
    const sbomDigest = a.stdout.trim();
    expect(sbomDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const b = await runCli(['-q', 'attach', ref, '--artifact-type', 'text/x-test-log', log], { env: home.env });
    expect(b.code).toBe(0);
    const logDigest = b.stdout.trim();

    // the artifact manifest as the registry serves it: subject = the image, empty config
    const art = await fetchManifest(plain, repo, sbomDigest);
    expect(art.status).toBe(200);
    const m = JSON.parse(art.bytes.toString());
    expect(m.subject).toEqual({ mediaType: MT.ociManifest, digest: img.manifest.digest, size: img.manifest.size });
    expect(m.config.mediaType).toBe('application/vnd.oci.empty.v1+json');
    expect(m.artifactType).toBe('application/spdx+json');
    expect(m.layers[0].annotations['org.opencontainers.image.title']).toBe('sbom.json');

    // the fallback index keeps both
    const fallback = await fetchManifest(plain, repo, `sha256-${img.manifest.digest.slice(7)}`);
    expect(fallback.status).toBe(200);
    const idx = JSON.parse(fallback.bytes.toString());
    expect(idx.manifests.map((d: { digest: string }) => d.digest).sort()).toEqual([sbomDigest, logDigest].sort());

    const table = await runCli(['referrers', ref], { env: home.env });
    expect(table.code).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^DIGEST\s+ARTIFACT TYPE\s+SIZE\s+CREATED$/);
    expect(lines.find((l) => l.startsWith(sbomDigest))).toMatch(/application\/spdx\+json\s+\d+\s+2026-12-02T00:00:00Z$/);
    expect(lines.some((l) => l.startsWith(logDigest) && l.includes('text/x-test-log'))).toBe(true);

    const json = await runCli(['referrers', ref, '--format', 'json', '--artifact-type', 'text/x-test-log'], { env: home.env });
    expect(json.code).toBe(0);
    const listed = JSON.parse(json.stdout);
    expect(listed.mediaType).toBe(MT.ociIndex);
    expect(listed.manifests.map((d: { digest: string }) => d.digest)).toEqual([logDigest]);

    const out = join(tempDir(), 'out');
    const f = await runCli(['fetch', `${h.plain.host}/${repo}@${sbomDigest}`, '-o', out], { env: home.env });
    expect(f.stderr).toBe('');
    expect(f.code).toBe(0);
    expect(readFileSync(join(out, 'sbom.json'))).toEqual(readFileSync(sbom));
    const f2 = await runCli(['fetch', `${h.plain.host}/${repo}@${logDigest}`, '-o', out], { env: home.env });
    expect(f2.code).toBe(0);
    expect(readFileSync(join(out, 'test.log'))).toEqual(readFileSync(log));

    // manifest inspect --raw: byte for byte as served
    const raw1 = await runCli(['manifest', 'inspect', '--raw', `${h.plain.host}/${repo}@${sbomDigest}`], { env: home.env });
    expect(raw1.code).toBe(0);
    expect(raw1.stdout).toBe(art.bytes.toString());
    const pretty = await runCli(['manifest', 'inspect', ref], { env: home.env });
    expect(pretty.code).toBe(0);
    expect(JSON.parse(pretty.stdout)).toEqual(JSON.parse(img.manifest.bytes.toString()));

    // skopeo sees the subject
    const skopeo = requireTool('skopeo', SKOPEO_PATHS);
    const raw = execFileSync(skopeo, ['inspect', '--raw', '--tls-verify=false', `docker://${h.plain.host}/${repo}@${sbomDigest}`]).toString();
    expect(JSON.parse(raw).subject.digest).toBe(img.manifest.digest);
  });

  it('fetch refuses a title with a path separator or "..", writing nothing', async () => {
    const home = freshHome();
    const repo = uniqueRepo('arthostile');
    for (const title of ['../evil', 'a/b', '/etc/passwd', 'x\u001b[2J']) {
      const content = Buffer.from(`content for ${title}`);
      const empty = Buffer.from('{}');
      const manifest = Buffer.from(JSON.stringify({
        schemaVersion: 2,
        mediaType: MT.ociManifest,
        artifactType: 'text/plain',
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(empty), size: 2 },
        layers: [{ mediaType: 'text/plain', digest: sha256(content), size: content.length, annotations: { 'org.opencontainers.image.title': title } }],
      }));
      for (const bytes of [empty, content]) await uploadBlob(plain, repo, { digest: sha256(bytes), bytes });
      await putManifest(plain, repo, sha256(manifest), { bytes: manifest, mediaType: MT.ociManifest });
      const out = join(tempDir(), 'out');
      const r = await runCli(['fetch', `${h.plain.host}/${repo}@${sha256(manifest)}`, '-o', out], { env: home.env });
      expect(r.code).toBe(7);
      expect(r.stderr).toMatch(/^Error: the artifact's layer sha256:[0-9a-f]{64} has the title .* which is refused: /);
      expect(r.stderr).not.toContain('\u001b');
      expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
    }
  });
});
