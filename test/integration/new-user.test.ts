// What a new user hit in thirty minutes (issue 23), each as the user saw it: the fix is asserted on the output.

import { describe, expect, it } from 'vitest';
import { getHarness } from '../harness/index.js';
import { freshHome, runCli } from '../helpers/cli.js';
import { buildImage, seedImage, seedIndex, uniqueRepo } from '../helpers/images.js';

const h = getHarness();
const plain = { url: h.plain.url };

async function pulledImage(platform = { os: 'linux', architecture: 'amd64' }) {
  const repo = uniqueRepo('newuser');
  const img = await buildImage({ layers: 1, platform });
  await seedImage(plain, repo, 'v1', img);
  const home = freshHome();
  const ref = `${h.plain.host}/${repo}:v1`;
  expect((await runCli(['pull', ref], { env: home.env })).code).toBe(0);
  return { repo, img, home, ref };
}

describe('inspect by IMAGE ID', () => {
  it("reports the image's own name, not the ID read as a docker.io name", async () => {
    const { img, home, ref } = await pulledImage();
    const id = img.config.digest.slice(7, 19);
    const r = await runCli(['inspect', id], { env: home.env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { reference: string; names: string[]; digest: string };
    expect(doc.reference).toBe(ref);
    expect(doc.names).toEqual([ref]);
    expect(doc.digest).toBe(img.manifest.digest);
    expect(r.stdout).not.toContain(`docker.io/library/${id}`);
  });
});

describe('pull --platform that the image does not have', () => {
  it('of a single-platform image: pulls it with a WARNING naming both platforms', async () => {
    const repo = uniqueRepo('newuser');
    await seedImage(plain, repo, 'v1', await buildImage({ layers: 1, platform: { os: 'linux', architecture: 'amd64' } }));
    const home = freshHome();
    const ref = `${h.plain.host}/${repo}:v1`;
    const r = await runCli(['pull', '--platform', 'linux/arm64', ref], { env: home.env });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^WARNING: The requested image's platform \(linux\/amd64\) does not match the requested platform \(linux\/arm64(\/v8)?\)/m);
    const quiet = await runCli(['pull', '--platform', 'linux/amd64', ref], { env: home.env });
    expect(quiet.stderr).toBe('');
  });

  it('of a multi-platform index without it: no matching manifest, exit 5, nothing stored', async () => {
    const repo = uniqueRepo('newuser');
    const amd = await buildImage({ layers: 1, platform: { os: 'linux', architecture: 'amd64' } });
    await seedIndex(plain, repo, 'multi', [amd]);
    const home = freshHome();
    const r = await runCli(['pull', '--platform', 'linux/arm64', `${h.plain.host}/${repo}:multi`], { env: home.env });
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/^Error: no image for linux\/arm64(\/v8)? in the multi-platform index; available: linux\/amd64$/m);
    expect((await runCli(['images', '-q'], { env: home.env })).stdout).toBe('');
  });
});
