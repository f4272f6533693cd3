// Ctrl-C during a live (TTY) pull, on a real terminal screen (tmux): the terminal echoes "^C" where the cursor is,
// and the last redraw must still start at column 1, so the layer lines stay intact and readable.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getHarness } from '../harness/index.js';
import { startFaultProxy, type FaultProxy } from '../harness/fault-proxy.js';
import { BIN, cliEnv, freshHome, guardOutput } from '../helpers/cli.js';
import { buildImage, seedImage, uniqueRepo } from '../helpers/images.js';
import { requireTool } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait.js';

const h = getHarness();

/** A private tmux server (its own socket) with one 120×30 pane; the pane stays after the command exits. */
function tmuxSession(): { run(cmd: string): void; keys(...k: string[]): void; screen(): string; kill(): void } {
  const tmux = requireTool('tmux', ['/usr/bin/tmux'], 'tmux');
  const dir = mkdtempSync(join(tmpdir(), 'dhe-tmux-'));
  const sock = join(dir, 's');
  const t = (...args: string[]) => execFileSync(tmux, ['-S', sock, ...args], { encoding: 'utf8' });
  return {
    run(cmd) {
      t('new-session', '-d', '-x', '120', '-y', '30', 'sh');
      t('set-option', '-g', 'remain-on-exit', 'on');
      t('send-keys', cmd, 'Enter');
    },
    keys: (...k) => void t('send-keys', ...k),
    screen: () => t('capture-pane', '-p'),
    kill() {
      try {
        t('kill-server');
      } catch {
        // already gone
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('Ctrl-C during a live pull on a terminal', () => {
  let proxy: FaultProxy;
  beforeAll(async () => {
    proxy = await startFaultProxy(h.plain.url);
  });
  afterAll(async () => {
    await proxy?.close();
  });

  it('the last redraw starts at column 1 after the terminal echoed ^C: every layer line is intact', async () => {
    const repo = uniqueRepo('ttyint');
    const img = await buildImage({ layers: 2, layerSize: 4 * 1024 * 1024 });
    await seedImage({ url: h.plain.url }, repo, 'v1', img);
    for (const l of img.layers) proxy.add({ kind: 'throttle', bytesPerSecond: 200_000, method: 'GET', path: l.digest, times: Infinity });
    const home = freshHome();
    const env = Object.entries(cliEnv({ env: { ...home.env, CI: '', TERM: 'xterm' } }))
      .map(([k, v]) => `${k}='${v}'`)
      .join(' ');
    const tm = tmuxSession();
    try {
      tm.run(`env -i ${env} ${process.execPath} ${BIN} pull ${proxy.host}/${repo}:v1; echo "rc=$?"`);
      await waitFor(() => { const s = tm.screen(); return img.layers.every((l) => s.includes(`${l.digest.slice(7, 19)}: Downloading [`)); }, 'live progress of both layers', 20_000, 100);
      tm.keys('C-c');
      const screen = await waitFor(() => { const s = tm.screen(); return /^rc=\d+$/m.test(s) && s; }, 'the end of the pull', 20_000, 100);
      await guardOutput({ screen }, 'dhe-cli pull (tmux)');
      expect(screen).toMatch(/^rc=130$/m);
      expect(screen).toMatch(/^Error: interrupted/m);
      const lines = screen.split('\n');
      for (const l of img.layers) {
        const id = l.digest.slice(7, 19);
        const mine = lines.filter((x) => x.includes(id));
        expect(mine.length, screen).toBeGreaterThan(0);
        for (const x of mine) expect(x, screen).toMatch(new RegExp(`^${id}: `));
      }
    } finally {
      tm.kill();
    }
  });
});
