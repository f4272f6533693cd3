// The scheme fallback and proxies from the environment: a loopback registry that answers HTTPS with plain HTTP is
// tried again over plain HTTP, and that second try is the one HTTP_PROXY applies to. When that proxy is down, the
// failure is the proxy's (exit 6, naming it), not the first try's "does not speak TLS" (exit 4).

import { createServer } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { getHarness } from '../harness/index.js';
import { freshHome, runCli, type CliResult } from '../helpers/cli.js';
import { buildImage, seedImage, uniqueRepo } from '../helpers/images.js';

const h = getHarness();

function errorLine(r: CliResult): string {
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('Error: '));
  expect(lines, r.stderr).toHaveLength(1);
  return lines[0]!;
}

/** A loopback port that was bound, then closed: connections to it are refused. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

describe('HTTP_PROXY and the plain-HTTP fallback of a loopback registry', () => {
  let repo: string;
  let deadProxy: string;
  beforeAll(async () => {
    repo = uniqueRepo('proxy-fallback');
    await seedImage({ url: h.plain.url }, repo, 'v1', await buildImage({ layers: 1, salt: repo }));
    deadProxy = `http://127.0.0.1:${await deadPort()}`;
  });

  it('an HTTP_PROXY that is down: exit 6 naming the proxy, with a NO_PROXY hint (not "does not speak TLS", exit 4)', async () => {
    const home = freshHome();
    const r = await runCli(['pull', `${h.plain.host}/${repo}:v1`], { env: { ...home.env, HTTP_PROXY: deadProxy } });
    expect(r.code, r.stderr).toBe(6);
    const line = errorLine(r);
    expect(line).toContain(`proxy ${deadProxy}`);
    expect(line).toContain(h.plain.host);
    expect(line).not.toContain('does not speak TLS');
    expect(r.stderr).toMatch(/^Hint: .*NO_PROXY/m);
    expect(r.stdout).not.toContain('Pull complete');
  });

  it('the same registry in NO_PROXY: the pull goes direct and completes', async () => {
    const home = freshHome();
    const r = await runCli(['pull', `${h.plain.host}/${repo}:v1`], { env: { ...home.env, HTTP_PROXY: deadProxy, NO_PROXY: '127.0.0.1' } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});
