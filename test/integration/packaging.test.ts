// The packed tarball is what users install: it must hold only what is needed, install into an empty folder on a
// machine that has never run npm (a new, empty npm cache and HOME: npm resolves the dependencies online, as it does
// for a user), and its dhe-cli must work there (version, help, and a pull against the real registry).

import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { getHarness } from '../harness/index.js';
import { runCli, tempDir } from '../helpers/cli.js';
import { buildImage, seedImage, uniqueRepo } from '../helpers/images.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** This process's environment without npm's own per-run settings (a cache or offline mode set by `npm test`). */
function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^npm_config_/i.test(k)) env[k] = v;
  }
  return env;
}

describe('npm pack → npm install into an empty folder', () => {
  let prefix: string;
  let files: string[];
  let binPath: string;
  let freshCacheEntries = 0;

  beforeAll(async () => {
    const dir = tempDir('dhe-pack-');
    // dist/ is already built by `npm test`; --ignore-scripts keeps the pack from building again
    const packed = await run(npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: root });
    const info = JSON.parse(packed.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    files = info[0]!.files.map((f) => f.path);
    prefix = join(dir, 'app');
    // Nothing warm: a cache and HOME made for this install alone, so a pass never depends on what this machine ran.
    const cache = join(dir, 'npm-cache');
    const home = join(dir, 'home');
    mkdirSync(home);
    // An app folder of its own (cwd), not --prefix: npm derives its global config (this machine's CA file for the
    // registry) from the prefix, so --prefix would install with another machine's settings than a user's.
    mkdirSync(prefix);
    writeFileSync(join(prefix, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
    await run(npm, ['install', '--no-audit', '--no-fund', join(dir, info[0]!.filename)], {
      cwd: prefix,
      timeout: 150_000,
      env: { ...npmEnv(), HOME: home, npm_config_cache: cache, npm_config_userconfig: join(home, '.npmrc') },
    });
    freshCacheEntries = readdirSync(join(cache, '_cacache')).length;
    binPath = join(prefix, 'node_modules', '.bin', 'dhe-cli');
  }, 180_000);

  it('packs only bin/, dist/, README.md and package.json', () => {
    for (const f of files) expect(f).toMatch(/^(bin\/|dist\/|README\.md$|package\.json$)/);
    expect(files).toContain('bin/dhe-cli.js');
    expect(files).toContain('dist/index.js');
    expect(files).toContain('dist/index.d.ts');
    expect(files.some((f) => f.startsWith('test/') || f.startsWith('src/'))).toBe(false);
  });

  it('installs with an empty npm cache (dependencies fetched, not found warm)', () => {
    expect(freshCacheEntries).toBeGreaterThan(0);
    expect(readdirSync(join(prefix, 'node_modules'))).toEqual(expect.arrayContaining(['dhe-cli', 'undici', 'commander']));
  });

  it('installs, and its dhe-cli prints the version and help', async () => {
    const pkg = JSON.parse(await import('node:fs').then((fs) => fs.readFileSync(join(root, 'package.json'), 'utf8')));
    const v = await runCli(['--version'], { bin: binPath });
    expect(v.stdout.trim()).toBe(pkg.version);
    const help = await runCli(['help', 'push'], { bin: binPath });
    expect(help.stdout).toContain('Usage: dhe-cli push');
    expect(help.stdout).toContain('Examples:');
    expect(readdirSync(join(prefix, 'node_modules'))).toContain('dhe-cli');
  });

  it('the installed dhe-cli pulls from the harness registry', async () => {
    const h = getHarness();
    const repo = uniqueRepo('pack');
    const img = await buildImage({ layers: 1 });
    await seedImage({ url: h.plain.url }, repo, 'v1', img);
    const home = tempDir('dhe-pack-home-');
    const r = await runCli(['pull', `${h.plain.host}/${repo}:v1`], { bin: binPath, env: { HOME: home, DHE_CONFIG: join(home, 'c'), CI: 'true' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Digest: ${img.manifest.digest}`);
    expect(r.stdout.trim().split('\n').pop()).toBe(`${h.plain.host}/${repo}:v1`);
  });

  it('the installed dhe-cli sends its real version as User-Agent (not npm_package_version, which only npm run sets)', async () => {
    const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
    const agents: string[] = [];
    const server = createServer((req, res) => {
      agents.push(String(req.headers['user-agent']));
      res.setHeader('docker-distribution-api-version', 'registry/2.0');
      res.setHeader('content-type', 'application/json');
      res.end(req.url === '/v2/' ? '{}' : JSON.stringify({ name: 'team/app', tags: ['v1'] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
      const home = tempDir('dhe-pack-ua-');
      const r = await runCli(['tags', `${host}/team/app`], { bin: binPath, env: { HOME: home, DHE_CONFIG: join(home, 'c') } });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe('v1');
      expect(agents.length).toBeGreaterThan(0);
      for (const a of agents) expect(a).toBe(`dhe-cli/${version} node/${process.versions.node}`);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('the library entry loads from the installed package with its types', async () => {
    const mod = (await import(join(prefix, 'node_modules', 'dhe-cli', 'dist', 'index.js'))) as typeof import('dhe-cli');
    expect(mod.parseReference('dhe.yourdomain.com/yourusername/hello-mine').toString()).toBe(
      'dhe.yourdomain.com/yourusername/hello-mine:latest',
    );
    expect(files).toContain('dist/reference/index.d.ts');
  });
});
