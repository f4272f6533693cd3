// docker's scripting habits: `digest REF` (checked against skopeo), Go-template `--format` and `images --filter`.

import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { getHarness } from '../harness/index.js';
import { freshHome, runCli } from '../helpers/cli.js';
import { runInTerminal } from '../helpers/pty.js';
import { buildImage, seedImage, seedIndex, uniqueRepo, type Target } from '../helpers/images.js';
import { requireTool, SKOPEO_PATHS } from '../helpers/tools.js';

const h = getHarness();
const plain: Target = { url: h.plain.url };
const skopeoDigest = (ref: string, ...globals: string[]) =>
  (JSON.parse(execFileSync(requireTool('skopeo', SKOPEO_PATHS), [...globals, 'inspect', '--tls-verify=false', `docker://${ref}`], { encoding: 'utf8' })) as { Digest: string }).Digest;

describe('digest', () => {
  it("prints the manifest digest skopeo reports; --platform picks an index's child; a missing tag exits 5", async () => {
    const repo = uniqueRepo('digest');
    const amd = await buildImage({ layers: 1 });
    const arm = await buildImage({ layers: 1, platform: { os: 'linux', architecture: 'arm64' } });
    await seedImage(plain, repo, 'single', amd);
    await seedIndex(plain, repo, 'multi', [amd, arm]);
    const home = freshHome();
    const ref = `${h.plain.host}/${repo}`;

    const single = await runCli(['digest', `${ref}:single`], { env: home.env });
    expect(single.stderr).toBe('');
    expect(single.code).toBe(0);
    expect(single.stdout).toBe(`${skopeoDigest(`${ref}:single`)}\n`);
    expect(single.stdout.trim()).toBe(amd.manifest.digest);

    const index = await runCli(['digest', `${ref}:multi`], { env: home.env });
    expect(index.code).toBe(0);
    expect(index.stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);
    // skopeo's Digest is the index's own, as crane digest prints it
    expect(index.stdout.trim()).toBe(skopeoDigest(`${ref}:multi`));

    const child = await runCli(['digest', '--platform', 'linux/arm64', `${ref}:multi`], { env: home.env });
    expect(child.stderr).toBe('');
    expect(child.code).toBe(0);
    expect(child.stdout.trim()).toBe(arm.manifest.digest);
    expect(child.stdout.trim()).toBe(skopeoDigest(`${ref}@${arm.manifest.digest}`));

    const none = await runCli(['digest', '--platform', 'linux/s390x', `${ref}:multi`], { env: home.env });
    expect(none.code).toBe(5);
    expect(none.stderr).toMatch(/^Error: no image for linux\/s390x .*available: linux\/amd64, linux\/arm64/m);

    const missing = await runCli(['digest', `${ref}:nope`], { env: home.env });
    expect(missing.code).toBe(5);
    expect(missing.stderr).toMatch(/^Error: manifest unknown/m);
    expect(missing.stdout).toBe('');
  });
});

describe('Go-template --format on tags, inspect and doctor', () => {
  it("runs docker's templates over each tag, the inspect document and the doctor report; an unknown field exits 2", async () => {
    const repo = uniqueRepo('tmpl');
    const img = await buildImage({ layers: 1, env: ['A=1', 'B=2'] });
    for (const t of ['v1', 'v2']) await seedImage(plain, repo, t, img);
    const home = freshHome();
    const name = `${h.plain.host}/${repo}`;

    const tags = await runCli(['tags', '--format', '{{.Repository}}:{{.Tag}}', name], { env: home.env });
    expect(tags.code).toBe(0);
    expect(tags.stdout.split('\n').filter(Boolean).sort()).toEqual([`${name}:v1`, `${name}:v2`]);
    const table = await runCli(['tags', '--format', 'table {{.Tag}}\\t{{upper .Tag}}', name], { env: home.env });
    expect(table.stdout.split('\n')[0]).toBe('TAG       TAG');
    expect(table.stdout.split('\n').slice(1).filter(Boolean).sort()).toEqual(['v1        V1', 'v2        V2']);

    const inspect = await runCli(['inspect', '--remote', '--format', '{{.digest}} {{json .config.config.Env}} {{join .config.config.Env ","}}', `${name}:v1`], { env: home.env });
    expect(inspect.stderr).toBe('');
    expect(inspect.stdout).toBe(`${img.manifest.digest} ["A=1","B=2"] A=1,B=2\n`);
    const bad = await runCli(['inspect', '--remote', '--format', '{{.Digest}}', `${name}:v1`], { env: home.env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^Error: template: unknown field \.Digest; valid fields: \.reference \.digest \.mediaType \.manifest \.config$/m);
    const unclosed = await runCli(['tags', '--format', '{{.Tag', name], { env: home.env });
    expect(unclosed.code).toBe(2);
    expect(unclosed.stderr).toMatch(/^Error: template: unclosed action/m);

    const doctor = await runCli(['doctor', h.plain.host, '--format', '{{.registry}}{{range .checks}} {{.id}}={{.status}}{{end}}'], { env: home.env });
    expect(doctor.code).toBe(0);
    expect(doctor.stdout).toMatch(new RegExp(`^${h.plain.host.replace(/\./g, '\\.')}( [a-z.-]+=(pass|warn|skip|fail))+\\n$`));
  });
});

describe('spinners where a user waits', () => {
  const FRAME = /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/;
  // ora's frame (cyan on a colour terminal) and its text
  const spinning = (text: string) => new RegExp(`${FRAME.source}(\\x1b\\[39m)? ${text}`);
  // ora ends a drawing (synchronised output off) and clears its line: cursor to column 1, erase to the end
  const CLEARED = /^(\x1b\[\?2026l)?\x1b\[1G\x1b\[0K/;

  it('login, doctor and store verify spin on a terminal, the final line replacing it; never without a TTY, in CI, with -q or --format', async () => {
    const home = freshHome();
    const env = { ...home.env, DHE_CA_CERT: h.caCert, CI: undefined };
    const login = await runInTerminal(['login', h.basic.host, '-u', h.users.full.username, '-p', h.users.full.password], {
      env,
      secrets: [h.users.full.password],
    });
    expect(login.code).toBe(0);
    expect(login.out).toMatch(spinning(`Checking the credentials of ${h.users.full.username} with ${h.basic.host.replace(/\./g, '\\.')}`));
    // the spinner's last drawing is cleared before what follows (a warning, then the final line)
    const spun = `with ${h.basic.host}`;
    expect(login.out.slice(login.out.lastIndexOf(spun) + spun.length)).toMatch(CLEARED);
    expect(login.out).toContain('Login Succeeded');

    const verify = await runInTerminal(['store', 'verify'], { env });
    expect(verify.code).toBe(0);
    expect(verify.out).toMatch(spinning('Verifying the blobs in '));
    expect(verify.out).toContain('Store OK');

    const doctor = await runInTerminal(['doctor', h.plain.host], { env });
    expect(doctor.out).toMatch(spinning('Checking…'));

    for (const args of [['doctor', h.plain.host, '--format', 'json'], ['-q', 'store', 'verify']]) {
      const r = await runInTerminal(args, { env });
      expect(r.out, args.join(' ')).not.toMatch(FRAME);
    }
    for (const args of [['store', 'verify'], ['doctor', h.plain.host]]) {
      const ci = await runInTerminal(args, { env: { ...env, CI: 'true' } });
      expect(ci.out, `CI=true ${args.join(' ')}`).not.toMatch(FRAME);
      const piped = await runCli(args, { env: home.env });
      expect(piped.stdout + piped.stderr, args.join(' ')).not.toMatch(FRAME);
    }
  });
});
