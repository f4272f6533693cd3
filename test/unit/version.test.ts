// The version and User-Agent come from package.json (not npm's environment, which an installed CLI does not have),
// and a registry client that is given no user agent sends that one.

import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VERSION, userAgent } from '../../src/version.js';
import { RegistryClient } from '../../src/registry/index.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

describe('version and User-Agent', () => {
  let server: Server;
  let host: string;
  const seen: (string | undefined)[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(req.headers['user-agent']);
      res.writeHead(200, { 'content-type': 'application/json', 'docker-distribution-api-version': 'registry/2.0' }).end('{}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
  });

  it("is package.json's version", () => {
    expect(VERSION).toBe(pkg.version);
    expect(userAgent()).toBe(`dhe-cli/${pkg.version} node/${process.versions.node}`);
  });

  it('is what a RegistryClient sends by default', async () => {
    const c = new RegistryClient({ registry: host, tls: { caCertFiles: [], certsDirs: [], insecureRegistries: [] }, proxy: {} });
    try {
      expect((await c.ping()).scheme).toBe('http');
    } finally {
      await c.close();
    }
    expect(seen.at(-1)).toBe(`dhe-cli/${pkg.version} node/${process.versions.node}`);
  });
});
