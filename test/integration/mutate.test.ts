// mutate and append through the real CLI: the new image is in the store with the change, the old one is untouched,
// and the result pushes and pulls back like any other image (skopeo reads it too).

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { getHarness } from '../harness/index.js';
import { freshHome, runCli, tempDir } from '../helpers/cli.js';
import { buildImage, fetchManifest, seedImage, seedIndex, tarOf, uniqueRepo, type BuiltImage } from '../helpers/images.js';
import { blobBytes } from '../helpers/store.js';

const h = getHarness();
const plain = { url: h.plain.url };
const sha = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const run = promisify(execFile);

async function pulled(format: 'oci' | 'docker' = 'oci'): Promise<{ home: ReturnType<typeof freshHome>; ref: string; repo: string; img: BuiltImage }> {
  const repo = uniqueRepo('mut');
  const img = await buildImage({ format, layers: 2 });
  await seedImage(plain, repo, 'v1', img);
  const home = freshHome();
  const ref = `${h.plain.host}/${repo}:v1`;
  const p = await runCli(['pull', ref], { env: home.env });
  expect(p.code).toBe(0);
  return { home, ref, repo, img };
}

async function inspect(ref: string, env: Record<string, string>) {
  const r = await runCli(['inspect', ref], { env });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as {
    digest: string;
    manifest: { mediaType?: string; config: { digest: string }; layers: Array<{ digest: string; size: number; mediaType: string }> };
    config: { created?: string; config: Record<string, unknown>; rootfs: { diff_ids: string[] }; history?: Array<{ created_by?: string }> };
  };
}

const blob = blobBytes;

describe('mutate', () => {
  it('changes env, labels, entrypoint, cmd, workdir, user and ports in a new image; the old one is unchanged; it pushes and pulls back', async () => {
    const { home, ref, repo, img } = await pulled();
    const target = `${h.plain.host}/${repo}:custom`;
    const r = await runCli(
      [
        'mutate', ref, '-t', target,
        '--env', 'DEBUG=1', '--env', 'PATH=/opt/bin:/usr/bin',
        '--label', 'team=web', '--label', 'org.opencontainers.image.version=1.2',
        '--entrypoint', '["/bin/sh","-c"]',
        '--cmd', 'echo hello',
        '--workdir', '/app',
        '--user', '1000:1000',
        '--expose', '8080', '--expose', '53/udp',
      ],
      { env: home.env },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n').pop()).toBe(target);
    const idLine = /^Image ID: (sha256:[0-9a-f]{64})$/m.exec(r.stdout);
    expect(idLine).not.toBeNull();
    const newId = idLine![1]!;
    expect(newId).not.toBe(img.config.digest);

    const images = await runCli(['images'], { env: home.env });
    const row = images.stdout.split('\n').find((l) => l.startsWith(`${h.plain.host}/${repo} `) && / custom /.test(l));
    expect(row).toContain(newId.slice(7, 19));

    const expected = {
      Env: ['PATH=/opt/bin:/usr/bin', 'DEBUG=1'],
      Labels: { team: 'web', 'org.opencontainers.image.version': '1.2' },
      Entrypoint: ['/bin/sh', '-c'],
      Cmd: ['echo', 'hello'],
      WorkingDir: '/app',
      User: '1000:1000',
      ExposedPorts: { '8080/tcp': {}, '53/udp': {} },
    };
    const changed = await inspect(target, home.env);
    expect(changed.config.config).toEqual(expected);
    expect(changed.manifest.config.digest).toBe(newId);
    // the layers are shared, untouched
    expect(changed.manifest.layers.map((l) => l.digest)).toEqual(img.layers.map((l) => l.digest));
    expect(changed.config.rootfs.diff_ids).toEqual(img.diffIds);
    // one history entry more, without a layer, naming what changed
    const hist = changed.config.history as Array<{ created_by?: string; empty_layer?: boolean }>;
    expect(hist).toHaveLength(img.diffIds.length + 1);
    expect(hist.at(-1)).toMatchObject({ empty_layer: true });
    expect(hist.at(-1)!.created_by).toMatch(/^dhe-cli mutate \(env, labels, entrypoint, cmd, workdir, user, expose\)$/);

    const old = await inspect(ref, home.env);
    expect(old.digest).toBe(img.manifest.digest);
    expect(old.manifest.config.digest).toBe(img.config.digest);
    expect(old.config.config).toEqual(JSON.parse(img.config.bytes.toString()).config);

    // push (layers mount from the source repository), then pull into a fresh store
    const push = await runCli(['push', target], { env: home.env });
    expect(push.stderr).toBe('');
    expect(push.code).toBe(0);
    const served = await fetchManifest(plain, repo, 'custom');
    expect(served.digest).toBe(changed.digest);
    const other = freshHome();
    const back = await runCli(['pull', target], { env: other.env });
    expect(back.code).toBe(0);
    const again = await inspect(target, other.env);
    expect(again.digest).toBe(changed.digest);
    expect(again.config.config).toEqual(expected);
  });

  it('reads --cmd and --entrypoint as docker commit --change does: a JSON array, or shell words with quotes', async () => {
    const { home, ref, repo } = await pulled();
    const cases: Array<[string, string, string[]]> = [
      ['--cmd', 'sh -c "echo hi there"', ['sh', '-c', 'echo hi there']],
      ['--cmd', '["sh","-c","echo hi"]', ['sh', '-c', 'echo hi']],
      ['--cmd', `printf '%s\\n' "a \\"b\\"" c\\ d`, ['printf', '%s\\n', 'a "b"', 'c d']],
      ['--entrypoint', "/bin/sh -c ''", ['/bin/sh', '-c', '']],
    ];
    for (const [option, value, want] of cases) {
      const target = `${h.plain.host}/${repo}:words`;
      const r = await runCli(['mutate', ref, '-t', target, option, value], { env: home.env });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const got = await inspect(target, home.env);
      expect(got.config.config[option === '--cmd' ? 'Cmd' : 'Entrypoint']).toEqual(want);
    }
  });

  it('from a multi-platform image, makes a single image of the platform asked for, and says so', async () => {
    const repo = uniqueRepo('mut');
    const amd = await buildImage({ layers: 1, platform: { os: 'linux', architecture: 'amd64' } });
    const arm = await buildImage({ layers: 1, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
    await seedIndex(plain, repo, 'multi', [amd, arm]);
    const home = freshHome();
    const ref = `${h.plain.host}/${repo}:multi`;
    expect((await runCli(['pull', '--all-platforms', ref], { env: home.env })).code).toBe(0);
    const target = `${h.plain.host}/${repo}:arm-debug`;
    const r = await runCli(['--platform', 'linux/arm64', 'mutate', ref, '-t', target, '--env', 'DEBUG=1'], { env: home.env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('multi-platform image: the new image is its linux/arm64/v8 image only');
    const got = await inspect(target, home.env);
    expect(got.manifest.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect((got.config as unknown as { architecture: string }).architecture).toBe('arm64');
    expect(got.config.config.Env).toContain('DEBUG=1');
    expect(got.manifest.layers.map((l) => l.digest)).toEqual(arm.layers.map((l) => l.digest));
  });

  it('refuses bad changes with exit 2 before touching the store, and says what is wrong', async () => {
    const { home, ref, repo } = await pulled();
    const cases: Array<[string[], RegExp]> = [
      [['--env', 'NOVALUE'], /--env needs KEY=VALUE, not "NOVALUE"/],
      [['--expose', '70000'], /--expose needs PORT/],
      [['--entrypoint', '["/bin/sh",'], /--entrypoint is not a JSON array of strings/],
      [['--cmd', 'sh -c "echo hi'], /--cmd has an unterminated " quote/],
      [[], /nothing to change/],
    ];
    for (const [flags, msg] of cases) {
      const r = await runCli(['mutate', ref, '-t', `${h.plain.host}/${repo}:bad`, ...flags], { env: home.env });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`^Error: .*${msg.source}`, 'm'));
      expect(r.stderr).toMatch(/^Hint: /m);
    }
    const images = await runCli(['images', '--format', 'json'], { env: home.env });
    expect(images.stdout).not.toContain(':bad');
    expect(images.stdout).not.toContain('"bad"');

    const missing = await runCli(['mutate', `${h.plain.host}/${repo}:nope`, '-t', `${h.plain.host}/${repo}:x`, '--env', 'A=1'], { env: home.env });
    expect(missing.code).toBe(5);
    expect(missing.stderr).toMatch(/^Error: no such image in the local store/m);
  });
});

describe('append', () => {
  it('a plain tar becomes a gzip layer: diff_id is the tar digest, history grows; it pushes, skopeo reads it, it pulls back', async () => {
    const { home, ref, repo, img } = await pulled('docker');
    const dir = tempDir('dhe-append-');
    const tarBytes = await tarOf({ 'etc/app.conf': 'answer=42\n', 'opt/app/run.sh': '#!/bin/sh\necho hi\n' });
    const tarFile = join(dir, 'config.tar');
    writeFileSync(tarFile, tarBytes);
    const target = `${h.plain.host}/${repo}:appended`;
    const r = await runCli(['append', ref, '--layer', tarFile, '-t', target], { env: home.env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n').pop()).toBe(target);

    const got = await inspect(target, home.env);
    expect(got.config.rootfs.diff_ids).toEqual([...img.diffIds, sha(tarBytes)]);
    expect(got.manifest.layers.slice(0, 2).map((l) => l.digest)).toEqual(img.layers.map((l) => l.digest));
    const added = got.manifest.layers[2]!;
    expect(added.mediaType).toBe('application/vnd.docker.image.rootfs.diff.tar.gzip');
    const stored = blob(home.store, added.digest);
    expect(sha(stored)).toBe(added.digest);
    expect(stored.length).toBe(added.size);
    expect(stored.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    expect(gunzipSync(stored).equals(tarBytes)).toBe(true);
    expect(r.stdout).toContain(`Layer: ${added.digest}`);
    expect(got.config.history).toHaveLength(3);
    expect(got.config.history![2]!.created_by).toContain('config.tar');
    // the source is untouched
    expect((await inspect(ref, home.env)).digest).toBe(img.manifest.digest);

    const push = await runCli(['push', target], { env: home.env });
    expect(push.stderr).toBe('');
    expect(push.code).toBe(0);
    expect(push.stdout).toContain(`${added.digest.slice(7, 19)}: Pushed`);

    const sk = await run('/usr/bin/skopeo', ['inspect', '--tls-verify=false', `docker://${target}`], { timeout: 30_000 });
    const info = JSON.parse(sk.stdout) as { Digest: string; Layers: string[]; Env?: string[] };
    expect(info.Digest).toBe(got.digest);
    expect(info.Layers).toEqual(got.manifest.layers.map((l) => l.digest));

    const other = freshHome();
    const back = await runCli(['pull', target], { env: other.env });
    expect(back.code).toBe(0);
    const again = await inspect(target, other.env);
    expect(again.digest).toBe(got.digest);
    expect(again.config.rootfs.diff_ids).toEqual(got.config.rootfs.diff_ids);
    expect(gunzipSync(blob(other.store, added.digest)).equals(tarBytes)).toBe(true);
  });

  it('a .tar.gz goes in as it is: the layer digest is the file digest, the diff_id that of the tar inside', async () => {
    const { home, ref, repo, img } = await pulled('oci');
    const dir = tempDir('dhe-append-');
    const tarBytes = await tarOf({ 'srv/index.html': '<h1>hi</h1>\n' });
    const gz = gzipSync(tarBytes, { level: 9 });
    const gzFile = join(dir, 'site.tar.gz');
    writeFileSync(gzFile, gz);
    const target = `${h.plain.host}/${repo}:site`;
    const r = await runCli(['append', ref, '--layer', gzFile, '-t', target], { env: home.env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const got = await inspect(target, home.env);
    const added = got.manifest.layers[2]!;
    expect(added).toEqual({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(gz), size: gz.length });
    expect(got.config.rootfs.diff_ids).toEqual([...img.diffIds, sha(tarBytes)]);

    const push = await runCli(['push', target], { env: home.env });
    expect(push.code).toBe(0);
    const other = freshHome();
    expect((await runCli(['pull', target], { env: other.env })).code).toBe(0);
    expect(blob(other.store, added.digest).equals(gz)).toBe(true);
  });

  it('refuses a file that is not a tar (exit 7), a corrupt tar or gzip (exit 7), and a missing file (exit 5); nothing is named', async () => {
    const { home, ref, repo } = await pulled();
    const dir = tempDir('dhe-append-');
    const good = await tarOf({ 'a.txt': 'a'.repeat(5000) });
    const files: Record<string, Buffer> = {
      'notes.txt': Buffer.from('just some text, not a tar\n'),
      'truncated.tar': good.subarray(0, 1500),
      'text.gz': gzipSync(Buffer.from('not a tar inside\n')),
      'broken.tar.gz': gzipSync(good).subarray(0, 60),
    };
    for (const [name, bytes] of Object.entries(files)) {
      writeFileSync(join(dir, name), bytes);
      const r = await runCli(['append', ref, '--layer', join(dir, name), '-t', `${h.plain.host}/${repo}:bad`], { env: home.env });
      expect(r.code, name).toBe(7);
      expect(r.stderr).toMatch(new RegExp(`^Error: .*${name.replace(/\./g, '\\.')}.*(not a valid|neither a tar)`, 'm'));
      expect(r.stderr).toMatch(/^Hint: .*tar -c/m);
      expect(r.stderr.trim().split('\n')).toHaveLength(2);
    }
    const missing = join(dir, 'missing.tar');
    const r = await runCli(['append', ref, '--layer', missing, '-t', `${h.plain.host}/${repo}:bad`], { env: home.env });
    expect(r.code).toBe(5);
    expect(r.stderr).toContain(`Error: layer file not found: ${missing}`);
    expect(existsSync(missing)).toBe(false);
    const images = await runCli(['images'], { env: home.env });
    expect(images.stdout).not.toMatch(/ bad /);
  });
});
