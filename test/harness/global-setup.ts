// vitest globalSetup: makes sure dist/ (what bin/dhe-cli.js runs) is built from the current src/, then starts every
// harness flavour once per test run and stops them at teardown.
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { harnessInfo, startHarness, type Harness } from './harness.js';
import './provided.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The first src/ file whose dist/ output is missing or older than it (undefined: dist/ is up to date). */
export function staleDistFile(root = ROOT): string | undefined {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
  const mtime = (f: string) => statSync(f, { throwIfNoEntry: false })?.mtimeMs;
  for (const src of walk(join(root, 'src'))) {
    if (!src.endsWith('.ts') || src.endsWith('.d.ts') || src.endsWith('.test.ts')) continue;
    const out = join(root, 'dist', relative(join(root, 'src'), src).replace(/\.ts$/, '.js'));
    const built = mtime(out);
    if (built === undefined || built < mtime(src)!) return relative(root, src);
  }
  return undefined;
}

/**
 * CLI tests run bin/dhe-cli.js, which runs dist/: a file run on its own (`npx vitest run x.test.ts`, no `npm run build`)
 * would otherwise test a stale build. Builds it (tsc -p tsconfig.build.json, a few seconds) when a src file is newer.
 */
function ensureFreshDist(): void {
  const stale = staleDistFile();
  if (!stale) return;
  const t = Date.now();
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  } catch (e) {
    const out = e as { stdout?: string; stderr?: string };
    throw new Error(`dist/ is older than ${stale} and building it failed (run npm run build):\n${out.stdout ?? ''}${out.stderr ?? ''}`);
  }
  console.error(`dist/ was older than ${stale}: built it (tsc -p tsconfig.build.json, ${Date.now() - t} ms)`);
}

let harness: Harness | undefined;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  ensureFreshDist();
  try {
    harness = await startHarness();
  } catch (err) {
    // The error message carries the tails of the failing servers' logs.
    console.error(err instanceof Error ? err.message : err);
    throw err;
  }
  project.provide('harness', harnessInfo(harness));
  const stop = async (): Promise<void> => {
    const h = harness;
    harness = undefined;
    await h?.stop();
  };
  return stop;
}
