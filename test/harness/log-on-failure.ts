// vitest setupFile: when a test fails, print what the harness servers logged while it ran; after each test file,
// undo what the helpers left for it (test/helpers/cleanup.ts: temporary homes, open RegistryClients).
import { statSync } from 'node:fs';
import { afterAll, beforeEach, inject } from 'vitest';
import { runFileEnd } from '../helpers/cleanup.js';
import { serverLogSince } from './harness.js';
import type { Endpoint } from './types.js';
import './provided.js';

function logFiles(): string[] {
  const h = inject('harness');
  if (!h) return [];
  const files: string[] = [];
  for (const f of h.flavours) {
    const ep = h[f] as Endpoint & { upstream?: Endpoint };
    files.push(ep.logFile);
    if (ep.upstream) files.push(ep.upstream.logFile);
  }
  return files;
}

beforeEach((ctx) => {
  const files = logFiles();
  const sizes = new Map(files.map((f) => [f, size(f)]));
  ctx.onTestFailed(() => {
    const out = files
      .map((f) => serverLogSince(f, sizes.get(f) ?? 0, 4_000))
      .filter((s): s is string => s !== null);
    if (out.length > 0) console.error(`server logs while "${ctx.task.name}" ran:\n${out.join('\n')}`);
  });
});

// Registered first, so it runs after the test file's own afterAll hooks (vitest runs them in reverse order).
afterAll(async () => {
  await runFileEnd();
});

function size(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}
