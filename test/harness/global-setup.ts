// vitest globalSetup: makes sure dist/ and dist/cli-bundle/ (what bin/dhe-cli.js runs) are built from the current
// src/, then starts every harness flavour once per test run and stops them at teardown.
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

/** The newest src/ file when it is newer than the CLI bundle (or the bundle is missing); else undefined. */
function staleBundle(root = ROOT): string | undefined {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
  const built = statSync(join(root, 'dist', 'cli-bundle', 'main.js'), { throwIfNoEntry: false })?.mtimeMs ?? 0;
  return walk(join(root, 'src')).find((f) => f.endsWith('.ts') && statSync(f).mtimeMs > built);
}

function buildStep(what: string, args: string[]): void {
  const t = Date.now();
  try {
    execFileSync(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  } catch (e) {
    const out = e as { stdout?: string; stderr?: string };
    throw new Error(`${what} failed (run npm run build):\n${out.stdout ?? ''}${out.stderr ?? ''}`);
  }
  console.error(`${what} (${Date.now() - t} ms)`);
}

/**
 * CLI tests run bin/dhe-cli.js, which runs dist/cli-bundle/ (else dist/): a file run on its own (`npx vitest run
 * x.test.ts`, no `npm run build`) would otherwise test a stale build. Builds what a newer src file made stale.
 */
function ensureFreshDist(): void {
  const stale = staleDistFile();
  if (stale) buildStep(`dist/ was older than ${stale}: built it (tsc -p tsconfig.build.json)`, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json']);
  const newer = staleBundle();
  if (newer) buildStep(`dist/cli-bundle/ was older than ${relative(ROOT, newer)}: bundled it again`, [join(ROOT, 'scripts', 'build-cli-bundle.mjs')]);
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
