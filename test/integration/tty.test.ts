// On a terminal, pull shows live per-layer progress (bar, bytes, speed) redrawn in place, cut to the terminal's
// width; the summary lines are the same as in CI logs. Runs the CLI under a real pseudo-terminal (`script`).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getHarness } from '../harness/index.js';
import { startFaultProxy, type FaultProxy } from '../harness/fault-proxy.js';
import { freshHome } from '../helpers/cli.js';
import { runInTerminal } from '../helpers/pty.js';
import { buildImage, seedImage, uniqueRepo } from '../helpers/images.js';

const h = getHarness();

describe('on a terminal', () => {
  let proxy: FaultProxy;
  beforeAll(async () => {
    proxy = await startFaultProxy(h.plain.url);
  });
  afterAll(async () => {
    await proxy?.close();
  });

  it('pull redraws per-layer progress in place, within the terminal width', async () => {
    const repo = uniqueRepo('tty');
    const img = await buildImage({ layers: 1, layerSize: 3 * 1024 * 1024 });
    await seedImage({ url: h.plain.url }, repo, 'v1', img);
    // the layer comes at 2 MB/s (about 1.5 s), however fast or busy the machine: the display redraws (every
    // 100 ms) while it is under way, instead of the download being over before the first redraw
    proxy.add({ kind: 'throttle', bytesPerSecond: 2_000_000, method: 'GET', path: img.layers[0]!.digest, times: Infinity });
    const home = freshHome();
    const ref = `${proxy.host}/${repo}:v1`;
    const { out } = await runInTerminal(['pull', ref], { env: { ...home.env, CI: undefined }, cols: 90 });
    const id = img.layers[0]!.digest.slice(7, 19);
    expect(out).toContain(`${id}: Downloading [`);
    expect(out).toMatch(/MB\/s/);
    expect(out).toContain('\x1b[1A'); // redrawn in place, not appended
    expect(out).toContain(`${id}: Pull complete`);
    expect(out).toContain(`Digest: ${img.manifest.digest}`);
    expect(out).toContain(`Status: Downloaded newer image for ${ref}`);
    expect(proxy.hits.filter((x) => x.path.includes(img.layers[0]!.digest)).map((x) => x.fault)).toContain('throttle');
    const visible = out.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').split(/\r?\n/);
    for (const line of visible) expect(line.length).toBeLessThanOrEqual(90);
  });
});
