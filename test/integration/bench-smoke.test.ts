// The benchmark script (bench/run.mjs, `npm run bench`) is not part of the test run, but it must keep working:
// its cheapest case runs here and its JSON report is checked. No timing is asserted (the machine is shared).

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));

describe('bench/run.mjs', () => {
  it('--quick --only version exits 0, prints the table and writes a JSON report with the start-up figures', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dhe-bench-smoke-'));
    try {
      const json = join(dir, 'out.json');
      const r = await run(process.execPath, [join(root, 'bench', 'run.mjs'), '--quick', '--only', 'version', '--json', json], {
        cwd: root,
        timeout: 20_000,
      });
      expect(r.stdout).toMatch(/^case\s+dhe-cli s/m);
      expect(r.stdout).toMatch(/^version\s+\d+ ms/m);
      const doc = JSON.parse(readFileSync(json, 'utf8')) as {
        options: { quick: boolean; only: string[] };
        version: { runsMs: number[]; medianMs: number; nodeBaselineMs: number; met: boolean };
        cases: Record<string, unknown>;
        table: string;
      };
      expect(doc.options).toMatchObject({ quick: true, only: ['version'] });
      expect(doc.version.runsMs).toHaveLength(10);
      expect(doc.version.medianMs).toBeGreaterThan(0);
      expect(doc.version.nodeBaselineMs).toBeGreaterThan(0);
      expect(typeof doc.version.met).toBe('boolean');
      expect(doc.cases).toEqual({});
      expect(doc.table).toContain('version');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it('refuses an unknown option with exit 2 and the usage', async () => {
    const e = await run(process.execPath, [join(root, 'bench', 'run.mjs'), '--bogus'], { cwd: root }).then(
      () => null,
      (err: { code: number; stderr: string }) => err,
    );
    expect(e?.code).toBe(2);
    expect(e?.stderr).toContain('unknown option --bogus');
    expect(e?.stderr).toContain('usage: node bench/run.mjs');
  });
});
