// Property tests (fast-check) for what a hostile or broken server can send us: token realms in every spelling of
// a metadata address, token responses of any shape and status. Each ends in a result or a typed DheError, never a
// crash, a hang or an unbounded read. (References, OCI documents, challenges and error bodies have theirs elsewhere.)
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkRealm, fetchToken, TOKEN_BODY_LIMIT } from '../../src/auth/token.js';
import { DheError } from '../../src/errors.js';
import { isLoopbackHost, isMetadataHost } from '../../src/transport/hosts.js';
import { Transport } from '../../src/transport/http.js';

const byte = fc.integer({ min: 0, max: 255 });

/** Every way a URL can spell 169.254.a.b that WHATWG URL parsing accepts. */
function spellings(a: number, b: number): string[] {
  const n = (169 << 24 >>> 0) + (254 << 16) + (a << 8) + b;
  const hex = (x: number) => x.toString(16);
  return [
    `169.254.${a}.${b}`,
    `169.254.${a}.${b}.`,
    `0x${hex(n)}`,
    `${n}`,
    `0251.0376.0${a.toString(8)}.0${b.toString(8)}`,
    `169.254.${(a << 8) + b}`,
    `[::ffff:169.254.${a}.${b}]`,
    `[::ffff:a9fe:${hex((a << 8) + b)}]`,
    `[0:0:0:0:0:ffff:a9fe:${hex((a << 8) + b)}]`,
    `[64:ff9b::169.254.${a}.${b}]`,
    `[::169.254.${a}.${b}]`,
  ];
}

describe('token realms (property)', () => {
  it('a realm on 169.254.0.0/16, in any spelling, is refused before anything is sent', () => {
    fc.assert(
      fc.property(byte, byte, fc.constantFrom('http', 'https'), fc.boolean(), (a, b, scheme, withSecrets) => {
        for (const host of spellings(a, b)) {
          const realm = `${scheme}://${host}/token`;
          let err: unknown;
          try {
            checkRealm(realm, {}, withSecrets);
          } catch (e) {
            err = e;
          }
          expect(err, realm).toBeInstanceOf(DheError);
          expect((err as DheError).code, realm).toBe('TOKEN_ERROR');
          expect((err as DheError).message).toMatch(/refusing token realm on a link-local\/metadata address/);
          // and allowed only when asked for
          expect(checkRealm(realm, { allowMetadataRealm: true, insecureHosts: [new URL(realm).host] }, withSecrets).protocol).toBe(`${scheme}:`);
        }
      }),
    );
  });

  it('fd00:ec2::254 and fe80::/10 in any spelling are refused', () => {
    const ec2 = ['[fd00:ec2::254]', '[fd00:0ec2:0000:0000:0000:0000:0000:0254]', '[FD00:EC2:0::254]', '[fd00:ec2:0:0::254]'];
    for (const host of ec2) expect(() => checkRealm(`http://${host}/`, {}, false), host).toThrow(/metadata/);
    fc.assert(
      fc.property(fc.integer({ min: 0xfe80, max: 0xfebf }), fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 7, maxLength: 7 }), (g0, rest) => {
        const host = `[${[g0, ...rest].map((g) => g.toString(16)).join(':')}]`;
        expect(() => checkRealm(`https://${host}/t`, {}, true), host).toThrow(DheError);
      }),
    );
  });

  it('any other address is not mistaken for a metadata one, and loopback in any IPv6 spelling is loopback', () => {
    fc.assert(
      fc.property(byte, byte, byte, byte, (a, b, c, d) => {
        fc.pre(!(a === 169 && b === 254) && `${a}.${b}.${c}.${d}` !== '100.100.100.200');
        expect(isMetadataHost(`${a}.${b}.${c}.${d}`)).toBe(false);
        expect(isMetadataHost(`::ffff:${a}.${b}.${c}.${d}`)).toBe(false);
      }),
    );
    for (const h of ['::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', '::ffff:7f00:1', '127.9.9.9', 'localhost']) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['::2', '::ffff:128.0.0.1', '10.0.0.1', 'example.com', '::']) expect(isLoopbackHost(h), h).toBe(false);
  });

  it('any string as a realm: a URL or a typed error, never a crash', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.webUrl(), fc.constantFrom('file:///etc/passwd', 'javascript:alert(1)', 'ftp://x/', 'http://', 'https://[::1')), fc.boolean(), (realm, withSecrets) => {
        try {
          const u = checkRealm(realm, {}, withSecrets);
          expect(['http:', 'https:']).toContain(u.protocol);
          expect(isMetadataHost(u.hostname)).toBe(false);
          if (withSecrets && u.protocol === 'http:') expect(isLoopbackHost(u.hostname)).toBe(true);
        } catch (e) {
          expect(e).toBeInstanceOf(DheError);
          expect(['TOKEN_ERROR', 'INSECURE_AUTH']).toContain((e as DheError).code);
        }
      }),
    );
  });
});

describe('token responses (property, over a real socket)', () => {
  let server: Server;
  let base = '';
  let next: { status: number; body: string | Buffer; contentType: string } = { status: 200, body: '', contentType: 'application/json' };
  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      res.writeHead(next.status, { 'content-type': next.contentType });
      res.end(next.body);
    });
    server.keepAliveTimeout = 10_000;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const transport = () => new Transport({ tls: { caCertFiles: [], certsDirs: [], insecureRegistries: [] }, proxy: {}, retry: { attempts: 1 } });

  const field = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 2 }), fc.object({ maxDepth: 1 }));
  const tokenish = fc.record(
    {
      token: fc.oneof(field, fc.string({ minLength: 1 })),
      access_token: fc.oneof(field, fc.string({ minLength: 1 })),
      expires_in: fc.oneof(fc.integer({ min: -10_000, max: 10_000_000 }), fc.double(), field),
      refresh_token: field,
      issued_at: field,
    },
    { requiredKeys: [] },
  );
  const body = fc.oneof(
    tokenish.map((o) => JSON.stringify(o)),
    fc.json(),
    fc.string(),
    fc.uint8Array({ maxLength: 512 }).map((u) => Buffer.from(u)),
    fc.constantFrom('', 'null', '[]', '"token"', '{"token":""}', '{"errors":[{"code":"DENIED","message":"no"}]}', '<html>502 Bad Gateway</html>',
      '{"token":"t","expires_in":5e-324}', '{"token":"t","expires_in":1e309}', '{"token":"t","expires_in":-1}', '{"access_token":"t","expires_in":"300"}'),
  );
  const status = fc.constantFrom(200, 201, 204, 400, 401, 403, 404, 429, 500, 502, 503);

  it('any body with any status: a usable token or a typed error (exit 1/3/6), never a crash', async () => {
    const t = transport();
    try {
      await fc.assert(
        fc.asyncProperty(status, body, fc.boolean(), async (st, b, withCred) => {
          next = { status: st, body: b, contentType: 'application/json' };
          const cred = withCred ? { username: 'u', password: 'pw-never-shown' } : undefined;
          try {
            const r = await fetchToken(t, { realm: `${base}/token`, service: 's', scopes: ['repository:a:pull'], credential: cred }, {});
            expect(st >= 200 && st < 300).toBe(true);
            expect(typeof r.token).toBe('string');
            expect(r.token.length).toBeGreaterThan(0);
            expect(r.expiresAt).toBeGreaterThan(r.issuedAt);
            expect(Number.isFinite(r.expiresAt)).toBe(true);
            if (r.refreshToken !== undefined) expect(typeof r.refreshToken).toBe('string');
          } catch (e) {
            expect(e).toBeInstanceOf(DheError);
            const de = e as DheError;
            expect(['TOKEN_ERROR', 'BAD_CREDENTIALS', 'UNAUTHORIZED', 'SERVER_ERROR', 'PROTOCOL', 'RATE_LIMITED']).toContain(de.code);
            expect([1, 3, 6]).toContain(de.exitCode);
            expect(de.message).not.toContain('pw-never-shown');
            expect(de.message.length).toBeLessThan(1000);
          }
        }),
        { numRuns: 150 },
      );
    } finally {
      await t.close();
    }
  });

  it('a body above the cap is refused after reading at most the cap, whatever it holds', async () => {
    const t = transport();
    try {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: TOKEN_BODY_LIMIT + 1, max: TOKEN_BODY_LIMIT * 4 }), fc.constantFrom('a', '{', '"'), async (size, ch) => {
          next = { status: 200, body: Buffer.alloc(size, ch), contentType: 'application/json' };
          const e = await fetchToken(t, { realm: `${base}/token`, scopes: [] }, {}).catch((x: unknown) => x);
          expect(e).toBeInstanceOf(DheError);
          expect((e as DheError).code).toBe('PROTOCOL');
          expect((e as DheError).message).toContain(`larger than ${TOKEN_BODY_LIMIT} bytes`);
        }),
        { numRuns: 10 },
      );
    } finally {
      await t.close();
    }
  });
});
