// Start-up cost: `dhe-cli --version` answers without loading the CLI, and a command's help loads that command's
// declaration only — never undici, tar-stream or the keychain binding (each command imports the registry client,
// the store and the archive code inside its run, src/cli/define.ts). Modules are recorded by a resolve hook.

import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { BIN, tempDir } from '../helpers/cli.js';

const run = promisify(execFile);

const HOOK = `
import { register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';
const { port1, port2 } = new MessageChannel();
const seen = new Set();
port1.on('message', (u) => seen.add(u));
port1.unref();
register('data:text/javascript,' + encodeURIComponent('let p; export function initialize(d) { p = d.port } export async function resolve(s, c, n) { const r = await n(s, c); p.postMessage(r.url); return r }'), { data: { port: port2 }, transferList: [port2] });
process.on('exit', () => process.stderr.write('\\nMODULES ' + JSON.stringify([...seen]) + '\\n'));
`;

async function modulesLoaded(args: string[]): Promise<{ stdout: string; modules: string[] }> {
  const dir = tempDir('dhe-startup-');
  const hook = join(dir, 'hook.mjs');
  writeFileSync(hook, HOOK);
  const r = await run(process.execPath, ['--import', hook, BIN, ...args], { env: { PATH: process.env.PATH, HOME: dir, NO_COLOR: '1' } });
  const line = r.stderr.split('\n').find((l) => l.startsWith('MODULES '));
  return { stdout: r.stdout, modules: JSON.parse(line!.slice('MODULES '.length)) as string[] };
}

const heavy = (modules: string[]) => modules.filter((u) => /node_modules\/(undici|tar-stream|@napi-rs)\//.test(u));

describe('start-up', () => {
  it('--version loads none of the CLI', async () => {
    const r = await modulesLoaded(['--version']);
    expect(r.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
    expect(r.modules.filter((u) => u.includes('/dist/'))).toEqual([]);
  });

  it('--version after global options, and a command\'s help, load no undici, tar-stream or keychain', async () => {
    for (const args of [['--config', '/nonexistent', '--version'], ['pull', '--help'], ['help', 'doctor'], ['save', '--help'], ['login', '--help']]) {
      const r = await modulesLoaded(args);
      expect(r.stdout.length, args.join(' ')).toBeGreaterThan(0);
      expect(heavy(r.modules), args.join(' ')).toEqual([]);
    }
  });

  it('the top-level help lists every command, still without undici', async () => {
    const r = await modulesLoaded(['--help']);
    for (const c of ['login', 'push', 'pull', 'doctor', 'store', 'completion']) expect(r.stdout).toMatch(new RegExp(`^  ${c}\\b`, 'm'));
    expect(heavy(r.modules)).toEqual([]);
  });
});
