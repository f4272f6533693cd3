// Habits users bring from docker, found missing by a review: IDs and digests where names go, pipes that close
// early, one-platform pushes, options checked up front, nothing printed for a pull that never started.

import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { getHarness } from '../harness/index.js';
import { BIN, cliEnv, freshHome, guardOutput, runCli } from '../helpers/cli.js';
import { buildImage, fetchManifest, seedImage, seedIndex, uniqueRepo } from '../helpers/images.js';

const h = getHarness();
const plain = { url: h.plain.url };

async function pulled(layers = 1) {
  const repo = uniqueRepo('habit');
  const img = await buildImage({ layers });
  await seedImage(plain, repo, 'v1', img);
  const home = freshHome();
  const ref = `${h.plain.host}/${repo}:v1`;
  expect((await runCli(['pull', ref], { env: home.env })).code).toBe(0);
  return { repo, img, home, ref, id: img.config.digest.slice(7, 19) };
}

describe('docker habits', () => {
  it('tag and rmi accept the IMAGE ID that images shows; rmi accepts name@digest', async () => {
    const { img, home, ref, id } = await pulled();
    expect((await runCli(['tag', id, 'localhost:5999/by-id:1'], { env: home.env })).code).toBe(0);
    const ambiguous = await runCli(['rmi', id], { env: home.env });
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.stderr).toContain('referenced by several names');
    const byDigest = await runCli(['rmi', `${ref.replace(/:v1$/, '')}@${img.manifest.digest}`], { env: home.env });
    expect(byDigest.code).toBe(0);
    expect(byDigest.stdout).toContain(`Untagged: ${ref}`);
    const byId = await runCli(['rmi', id], { env: home.env });
    expect(byId.code).toBe(0);
    expect(byId.stdout).toContain('Untagged: localhost:5999/by-id:1');
    expect((await runCli(['images', '-q'], { env: home.env })).stdout).toBe('');
  });

  it('refuses to tag with a digest', async () => {
    const { home, ref } = await pulled();
    const r = await runCli(['tag', ref, `localhost:5999/x@sha256:${'a'.repeat(64)}`], { env: home.env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('refusing to create a tag with a digest reference');
  });

  it('a reader that closes the pipe early is not an error', async () => {
    const repo = uniqueRepo('pipe');
    await seedImage(plain, repo, 'v1', await buildImage({ layers: 1, layerSize: 512 * 1024 }));
    const home = freshHome();
    const ref = `${h.plain.host}/${repo}:v1`;
    expect((await runCli(['pull', ref], { env: home.env })).code).toBe(0);
    const cli = `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)}`;
    // save to stdout writes far more than a pipe holds; head reads 10 bytes and leaves
    const out = execFileSync('bash', ['-c', `set -o pipefail; ${cli} save ${ref} -o - 2>/tmp/dhe-epipe-$$.err | head -c 10 >/dev/null; echo "rc=$?"; cat /tmp/dhe-epipe-$$.err; rm -f /tmp/dhe-epipe-$$.err`], {
      env: cliEnv({ env: home.env }),
      encoding: 'utf8',
    });
    await guardOutput({ output: out }, `dhe-cli save ${ref} -o - | head -c 10`);
    expect(out).toMatch(/^rc=0\n/);
    expect(out).not.toContain('EPIPE');
    expect(out).not.toContain('Unhandled');
  });

  it('pushes the one platform in the store after pull --platform of another machine', async () => {
    const repo = uniqueRepo('plat');
    const amd = await buildImage({ platform: { os: 'linux', architecture: 'amd64' } });
    const arm = await buildImage({ platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
    await seedIndex(plain, repo, 'multi', [amd, arm]);
    const home = freshHome();
    expect((await runCli(['pull', '--platform', 'linux/arm64', `${h.plain.host}/${repo}:multi`], { env: home.env })).code).toBe(0);
    const target = `${h.plain.host}/${repo}-arm:1`;
    expect((await runCli(['tag', `${h.plain.host}/${repo}:multi`, target], { env: home.env })).code).toBe(0);
    const push = await runCli(['push', target], { env: home.env });
    expect(push.stderr).toBe('');
    expect(push.code).toBe(0);
    expect(push.stdout).toContain(`digest: ${arm.manifest.digest}`);
    expect((await fetchManifest(plain, `${repo}-arm`, '1')).digest).toBe(arm.manifest.digest);
  });

  it('after pull --platform X the name means X (images, inspect), as docker does', async () => {
    const repo = uniqueRepo('plat');
    const amd = await buildImage({ platform: { os: 'linux', architecture: 'amd64' } });
    const arm = await buildImage({ platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
    await seedIndex(plain, repo, 'multi', [amd, arm]);
    const home = freshHome();
    const ref = `${h.plain.host}/${repo}:multi`;
    expect((await runCli(['pull', '--platform', 'linux/amd64', ref], { env: home.env })).code).toBe(0);
    expect((await runCli(['images', '-q'], { env: home.env })).stdout.trim()).toBe(amd.config.digest.slice(7, 19));
    expect((await runCli(['pull', '--platform', 'linux/arm64', ref], { env: home.env })).code).toBe(0);
    expect((await runCli(['images', '-q'], { env: home.env })).stdout.trim()).toBe(arm.config.digest.slice(7, 19));
    const inspect = JSON.parse((await runCli(['inspect', ref], { env: home.env })).stdout);
    expect(inspect.config.architecture).toBe('arm64');
    // a docker archive holds one platform: the one the name means
    const file = join(home.env.HOME as string, 'multi.tar');
    const saved = await runCli(['save', ref, '-o', file], { env: home.env });
    expect(saved.code).toBe(0);
    const manifest = JSON.parse(execFileSync('tar', ['-xOf', file, 'manifest.json'], { encoding: 'utf8' }));
    expect(manifest[0].Config).toContain(arm.config.digest.slice(7));
  });

  it('prints nothing on stdout for a pull that never started', async () => {
    const home = freshHome();
    const r = await runCli(['pull', `${h.plain.host}/${uniqueRepo('none')}:v1`], { env: home.env });
    expect(r.code).toBe(5);
    expect(r.stdout).toBe('');
    const bad = await runCli(['pull', '--platform', 'bogus', `${h.plain.host}/x/y:v1`], { env: home.env });
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
  });

  it('checks --ca-cert and DHE_CONCURRENCY up front', async () => {
    const home = freshHome();
    const notPem = join(home.env.HOME as string, 'not-a-cert.crt');
    writeFileSync(notPem, 'hello\n');
    const r = await runCli(['--ca-cert', notPem, 'pull', `${h.basic.host}/x/y:v1`], { env: home.env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('is not a PEM certificate');
    const c = await runCli(['images'], { env: { ...home.env, DHE_CONCURRENCY: '-3' } });
    expect(c.code).toBe(2);
    expect(c.stderr).toContain('DHE_CONCURRENCY');
  });

  it('delete refuses (exit 2) when other tags point at the manifest, and deletes them all only with --force', async () => {
    const { home, ref, repo, img } = await pulled();
    for (const t of ['a', 'b']) {
      await runCli(['tag', ref, `${h.plain.host}/${repo}:${t}`], { env: home.env });
      expect((await runCli(['push', `${h.plain.host}/${repo}:${t}`], { env: home.env })).code).toBe(0);
    }
    const refused = await runCli(['delete', `${h.plain.host}/${repo}:a`], { env: home.env });
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/^Error: .*is also tagged b, v1: the registry deletes manifests, not tags/m);
    expect(refused.stderr).toMatch(/^Hint: add --force/m);
    expect((await fetchManifest(plain, repo, 'a')).digest).toBe(img.manifest.digest);
    expect((await fetchManifest(plain, repo, 'b')).digest).toBe(img.manifest.digest);

    const forced = await runCli(['delete', '--force', `${h.plain.host}/${repo}:a`], { env: home.env });
    expect(forced.stderr).toBe('');
    expect(forced.code).toBe(0);
    expect(forced.stdout).toBe(`Untagged: ${h.plain.host}/${repo}:b\nUntagged: ${h.plain.host}/${repo}:v1\nDeleted: ${h.plain.host}/${repo}@${img.manifest.digest}\n`);
    expect((await fetchManifest(plain, repo, 'b')).status).toBe(404);
  });

  it('tags refuses a bare registry with a hint', async () => {
    const r = await runCli(['tags', h.plain.host]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('is a registry, not a repository');
  });

  it('command help lists the global options too', async () => {
    const r = await runCli(['pull', '--help']);
    expect(r.stdout).toContain('--platform');
    expect(r.stdout).toContain('--quiet');
  });
});
