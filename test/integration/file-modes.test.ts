// Files on disk are private whatever the umask: under a fresh HOME with the default config folder (~/.dhe-cli),
// login, pull, tag, save, load, logout and prune leave no file or folder that other users can read or write; an
// existing config folder others can read gets one WARNING per run; two logins at once both stay in config.json;
// `-p PASSWORD` is gone from the process title (ps, /proc/PID/cmdline) while login runs.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getHarness } from '../harness/index.js';
import { startFaultProxy, type FaultProxy } from '../harness/fault-proxy.js';
import { freshHome, runCli, startCli, tempDir, type CliResult } from '../helpers/cli.js';
import { buildImage, seedImage, uniqueRepo } from '../helpers/images.js';
import { transpileSources } from '../../fixtures/archives/helpers.js';
import { pathToFileURL } from 'node:url';

const h = getHarness();
const { full } = h.users;

/** Runs the CLI under `umask MASK` (through sh, as a login shell would set it), with HOME as given. */
function runUnderUmask(mask: string, args: string[], env: Record<string, string>, input = ''): Promise<CliResult> {
  return runCli(args, { env, input, launcher: ['sh', '-c', `umask ${mask}; exec "$0" "$@"`] });
}

/** Every file and folder under DIR with the permission bits it has. */
function walk(dir: string): Array<{ path: string; mode: number; dir: boolean }> {
  const out: Array<{ path: string; mode: number; dir: boolean }> = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    const st = lstatSync(p);
    out.push({ path: p, mode: st.mode & 0o777, dir: st.isDirectory() });
    if (st.isDirectory()) out.push(...walk(p));
  }
  return out;
}

describe('files the CLI creates are private', () => {
  for (const mask of ['000', '022']) {
    it(`under umask ${mask}: every folder 0700, every file 0600 (blobs, tmp/, leases, index, config.json, archives)`, async () => {
      const home = tempDir('dhe-modes-');
      chmodSync(home, 0o700);
      // the defaults: ~/.dhe-cli and ~/.dhe-cli/store (no DHE_CONFIG / DHE_STORE)
      const env = { HOME: home, DOCKER_CONFIG: join(home, 'docker'), CI: 'true', DHE_CA_CERT: h.caCert };
      const repo = uniqueRepo('modes');
      await seedImage({ url: h.plain.url }, repo, 'v1', await buildImage({ layers: 2 }));
      const ref = `${h.plain.host}/${repo}:v1`;
      const steps: string[][] = [
        ['login', h.basic.host, '-u', full.username, '--password-stdin'],
        ['pull', ref],
        ['tag', ref, `${h.plain.host}/${repo}:copy`],
        ['save', ref, '-o', join(home, 'image.tar')],
        ['rmi', ref],
        ['load', '-i', join(home, 'image.tar')],
        ['save', '--format', 'oci', ref, '-o', join(home, 'image-oci.tar')],
        ['logout', h.basic.host],
        ['login', h.basic.host, '-u', full.username, '--password-stdin'],
        ['prune'],
      ];
      for (const args of steps) {
        const r = await runUnderUmask(mask, args, env, args[0] === 'login' ? `${full.password}\n` : '');
        expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
        expect(r.stderr).not.toMatch(/can be read by other users/);
      }
      const all = walk(home);
      const made = all.map((e) => e.path);
      // what the steps made is really there to be checked
      for (const p of ['.dhe-cli', '.dhe-cli/config.json', '.dhe-cli/store/blobs/sha256', '.dhe-cli/store/tmp', '.dhe-cli/store/leases', '.dhe-cli/store/index.json', '.dhe-cli/store/oci-layout', 'image.tar', 'image-oci.tar']) {
        expect(made).toContain(join(home, p));
      }
      expect(all.filter((e) => e.path.includes('/blobs/sha256/')).length).toBeGreaterThanOrEqual(4);
      const shared = all.filter((e) => (e.mode & 0o077) !== 0 || e.mode !== (e.dir ? 0o700 : 0o600));
      expect(shared.map((e) => `${e.path.slice(home.length)} ${e.mode.toString(8)}`)).toEqual([]);
    });
  }

  it('an existing config folder others can read gets one WARNING line per run; the command still works', async () => {
    const hm = freshHome();
    mkdirSync(hm.config, { recursive: true });
    chmodSync(hm.config, 0o755);
    const repo = uniqueRepo('modes');
    await seedImage({ url: h.plain.url }, repo, 'v1', await buildImage({ layers: 1 }));
    // pull opens the store and a registry client: both look at the folder, one warning
    const r = await runCli(['pull', `${h.plain.host}/${repo}:v1`], { env: hm.env });
    expect(r.code, r.stderr).toBe(0);
    const warnings = r.stderr.split('\n').filter((l) => l.startsWith('WARNING: '));
    expect(warnings).toEqual([`WARNING: ${hm.config} can be read by other users (mode 0755); credentials and images in it are not private. Run: chmod 700 ${hm.config}`]);
    chmodSync(hm.config, 0o700);
    const again = await runCli(['images', '-q'], { env: hm.env });
    expect(again.stderr).toBe('');
  });
});

describe('config.json under concurrent logins', () => {
  it('four logins to four registries at once: all succeed and all four end up in config.json', async () => {
    const hm = freshHome();
    const env = { ...hm.env, DHE_CA_CERT: h.caCert };
    const port = (host: string) => host.split(':')[1]!;
    // (no token registry: other files count the logins its token server sees)
    const servers = [h.basic.host, `localhost:${port(h.basic.host)}`, h.plain.host, `localhost:${port(h.plain.host)}`];
    const runs = await Promise.all(
      servers.map((s) => runCli(['login', s, '-u', full.username, '--password-stdin'], { env, input: `${full.password}\n`, timeoutMs: 30_000 })),
    );
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    const cfg = JSON.parse(readFileSync(join(hm.config, 'config.json'), 'utf8'));
    expect(Object.keys(cfg.auths).sort()).toEqual([...servers].sort());
    expect(readdirSync(hm.config).filter((f) => f !== 'config.json')).toEqual([]); // no temp or lock file left
  });
});

describe('config.json read-modify-write across processes', () => {
  it('4 processes × 25 updates of config.json at once: every entry is kept, no temp or lock file is left', async () => {
    const lib = transpileSources(['src/auth/credentials/file.ts']);
    const dir = tempDir('dhe-cfgrace-');
    const script = `
      import { updateConfigFile } from ${JSON.stringify(pathToFileURL(join(lib, 'src/auth/credentials/file.js')).href)};
      const [dir, who] = process.argv.slice(1);
      for (let i = 0; i < 25; i++) await updateConfigFile(dir, (cfg) => { (cfg.auths ??= {})[who + '-' + i + '.example'] = { auth: 'eA==' }; });
    `;
    const codes = await Promise.all(
      ['a', 'b', 'c', 'd'].map(
        (who) =>
          new Promise<number | null>((resolve) => {
            const c = spawn(process.execPath, ['--input-type=module', '-e', script, dir, who], { stdio: ['ignore', 'inherit', 'inherit'] });
            c.on('close', resolve);
          }),
      ),
    );
    expect(codes).toEqual([0, 0, 0, 0]);
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(Object.keys(cfg.auths)).toHaveLength(100);
    expect(readdirSync(dir)).toEqual(['config.json']);
  });
});

describe('-p PASSWORD', () => {
  let proxy: FaultProxy;
  beforeAll(async () => {
    proxy = await startFaultProxy(h.plain.url);
  });
  afterAll(async () => {
    await proxy?.close();
  });

  it('is gone from ps and /proc/PID/cmdline while login talks to the registry', async () => {
    const password = `pw-${Date.now()}-not-for-ps`;
    proxy.add({ kind: 'stall', method: 'GET', path: '/v2/', times: Infinity });
    const hm = freshHome();
    const run = startCli(['login', proxy.host, '-u', 'someone', '-p', password], { env: hm.env, timeoutMs: 30_000, secrets: [password] });
    try {
      await new Promise<void>((resolve, reject) => {
        const end = Date.now() + 15_000;
        const poll = () => {
          if (proxy.hits.some((x) => x.path.startsWith('/v2/'))) return resolve();
          if (Date.now() > end) return reject(new Error('login never reached the registry'));
          setTimeout(poll, 10);
        };
        poll();
      });
      const pid = run.child.pid!;
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      expect(cmdline).toContain('login');
      expect(cmdline).not.toContain(password);
      const ps = await new Promise<string>((resolve) => {
        const p = spawn('ps', ['-o', 'args=', '-p', String(pid)]);
        let s = '';
        p.stdout.on('data', (d: Buffer) => (s += d.toString()));
        p.on('close', () => resolve(s));
      });
      expect(ps).toContain('dhe-cli login');
      expect(ps).not.toContain(password);
      expect(run.output().stderr).toContain('WARNING: Using --password via the CLI is insecure. Use --password-stdin.');
    } finally {
      run.child.kill('SIGTERM');
      const r = await run.result;
      expect(r.code).toBe(143);
      proxy.clear();
      expect(existsSync(join(hm.config, 'config.json'))).toBe(false);
    }
  });
});
