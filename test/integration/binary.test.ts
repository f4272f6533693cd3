// The single executable (npm run build:binary → dist-bin/dhe-cli-linux-x64) on a runner without Node: run from an
// empty folder with a PATH that has no node, it prints its version, pulls and pushes against the harness, and logs
// in with the OS keychain's native binding left out of it (credentials go to the file store instead).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { getHarness } from '../harness/index.js';
import { cliEnv, freshHome, guardOutput, tempDir, type CliResult } from '../helpers/cli.js';
import { buildImage, fetchManifest, seedImage, uniqueRepo, type Target } from '../helpers/images.js';

const h = getHarness();
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BINARY = join(ROOT, 'dist-bin', 'dhe-cli-linux-x64');

/** A folder for PATH with nothing in it: no node, no npm. */
const emptyBin = tempDir('dhe-no-node-');

function runBinary(args: string[], env: Record<string, string>, input?: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const cwd = tempDir('dhe-bin-cwd-');
    const child = spawn(BINARY, args, { cwd, env: { ...cliEnv({ env, keychain: true }), PATH: emptyBin }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr } as CliResult));
    child.stdin.end(input ?? '');
  });
}

beforeAll(() => {
  // cached: a second build with the same bundle and node only checks
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'build-binary.mjs')], { cwd: ROOT, stdio: 'pipe', timeout: 180_000 });
}, 200_000);

describe('the single executable', () => {
  it('is one executable file; with no node on PATH it prints its version, pulls, pushes and logs in', async () => {
    expect(existsSync(BINARY)).toBe(true);
    expect(statSync(BINARY).mode & 0o111).not.toBe(0);
    mkdirSync(emptyBin, { recursive: true });
    expect(existsSync(join(emptyBin, 'node'))).toBe(false);
    const version = JSON.parse(execFileSync('cat', [join(ROOT, 'package.json')], { encoding: 'utf8' })).version as string;
    const home = freshHome();

    const v = await runBinary(['--version'], home.env);
    expect(v.stderr).toBe('');
    expect(v.stdout).toBe(`${version}\n`);

    const plain: Target = { url: h.plain.url };
    const repo = uniqueRepo('binary');
    const img = await buildImage({ layers: 2 });
    await seedImage(plain, repo, 'v1', img);
    const pull = await runBinary(['pull', `${h.plain.host}/${repo}:v1`], home.env);
    expect(pull.stderr).toBe('');
    expect(pull.code).toBe(0);
    expect(pull.stdout).toContain(`Digest: ${img.manifest.digest}`);

    await runBinary(['tag', `${h.plain.host}/${repo}:v1`, `${h.plain.host}/${repo}-copy:v2`], home.env);
    const push = await runBinary(['push', `${h.plain.host}/${repo}-copy:v2`], home.env);
    expect(push.stderr).toBe('');
    expect(push.code).toBe(0);
    expect(push.stdout).toContain(`v2: digest: ${img.manifest.digest}`);
    expect((await fetchManifest(plain, `${repo}-copy`, 'v2')).digest).toBe(img.manifest.digest);

    // the keychain's native module is not in the binary: login falls back to the file store, and the credentials work
    const env = { ...home.env, DHE_CA_CERT: h.caCert };
    const login = await runBinary(['login', h.basic.host, '-u', h.users.full.username, '--password-stdin'], env, `${h.users.full.password}\n`);
    expect(login.code, login.stderr).toBe(0);
    expect(login.stdout).toContain('Login Succeeded');
    const tags = await runBinary(['catalog', h.basic.host], env);
    expect(tags.code, tags.stderr).toBe(0);
    await guardOutput({ stdout: pull.stdout + push.stdout + login.stdout + tags.stdout, stderr: pull.stderr + push.stderr + login.stderr + tags.stderr }, 'binary');
  });
});
