// The reference parser, imported from the package entry as users import it. In the test run vitest resolves
// 'dhe-cli' to src/index.ts (alias in vitest.config.ts); after `npm run build` it is dist/ via package.json exports.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  DheError,
  isValidDigest,
  isValidTag,
  normalizeRegistry,
  parseReference,
  parseRepository,
  registryApiHost,
} from 'dhe-cli';

const H64 = 'a'.repeat(64);
const D256 = `sha256:${'0123456789abcdef'.repeat(4)}`;
const D512 = `sha512:${'0123456789abcdef'.repeat(8)}`;

interface Valid {
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
  familiar: string;
  full: string;
}

// [input, expected fields]
const valid: Array<[string, Valid]> = [
  // the DHE guide
  ['dhe.yourdomain.com/yourusername/hello-mine:latest', { registry: 'dhe.yourdomain.com', repository: 'yourusername/hello-mine', tag: 'latest', familiar: 'dhe.yourdomain.com/yourusername/hello-mine:latest', full: 'dhe.yourdomain.com/yourusername/hello-mine:latest' }],
  ['dhe.yourdomain.com/hello-world', { registry: 'dhe.yourdomain.com', repository: 'hello-world', tag: 'latest', familiar: 'dhe.yourdomain.com/hello-world:latest', full: 'dhe.yourdomain.com/hello-world:latest' }],
  ['dhe.yourdomain.com/yourusername/hello-mine', { registry: 'dhe.yourdomain.com', repository: 'yourusername/hello-mine', tag: 'latest', familiar: 'dhe.yourdomain.com/yourusername/hello-mine:latest', full: 'dhe.yourdomain.com/yourusername/hello-mine:latest' }],
  ['hello-world', { registry: 'docker.io', repository: 'library/hello-world', tag: 'latest', familiar: 'hello-world:latest', full: 'docker.io/library/hello-world:latest' }],
  ['yourusername/hello-mine', { registry: 'docker.io', repository: 'yourusername/hello-mine', tag: 'latest', familiar: 'yourusername/hello-mine:latest', full: 'docker.io/yourusername/hello-mine:latest' }],
  // docker.io forms
  ['ubuntu', { registry: 'docker.io', repository: 'library/ubuntu', tag: 'latest', familiar: 'ubuntu:latest', full: 'docker.io/library/ubuntu:latest' }],
  ['ubuntu:22.04', { registry: 'docker.io', repository: 'library/ubuntu', tag: '22.04', familiar: 'ubuntu:22.04', full: 'docker.io/library/ubuntu:22.04' }],
  ['library/ubuntu', { registry: 'docker.io', repository: 'library/ubuntu', tag: 'latest', familiar: 'ubuntu:latest', full: 'docker.io/library/ubuntu:latest' }],
  ['docker.io/ubuntu', { registry: 'docker.io', repository: 'library/ubuntu', tag: 'latest', familiar: 'ubuntu:latest', full: 'docker.io/library/ubuntu:latest' }],
  ['docker.io/library/ubuntu:20.04', { registry: 'docker.io', repository: 'library/ubuntu', tag: '20.04', familiar: 'ubuntu:20.04', full: 'docker.io/library/ubuntu:20.04' }],
  ['index.docker.io/ubuntu', { registry: 'docker.io', repository: 'library/ubuntu', tag: 'latest', familiar: 'ubuntu:latest', full: 'docker.io/library/ubuntu:latest' }],
  ['index.docker.io/user/app:v1', { registry: 'docker.io', repository: 'user/app', tag: 'v1', familiar: 'user/app:v1', full: 'docker.io/user/app:v1' }],
  ['registry-1.docker.io/library/alpine:3', { registry: 'docker.io', repository: 'library/alpine', tag: '3', familiar: 'alpine:3', full: 'docker.io/library/alpine:3' }],
  ['DOCKER.IO/library/alpine', { registry: 'docker.io', repository: 'library/alpine', tag: 'latest', familiar: 'alpine:latest', full: 'docker.io/library/alpine:latest' }],
  ['docker.io/library/a/b', { registry: 'docker.io', repository: 'library/a/b', tag: 'latest', familiar: 'library/a/b:latest', full: 'docker.io/library/a/b:latest' }],
  ['user/app:1', { registry: 'docker.io', repository: 'user/app', tag: '1', familiar: 'user/app:1', full: 'docker.io/user/app:1' }],
  ['a/b/c/d/e', { registry: 'docker.io', repository: 'a/b/c/d/e', tag: 'latest', familiar: 'a/b/c/d/e:latest', full: 'docker.io/a/b/c/d/e:latest' }],
  ['foo_bar', { registry: 'docker.io', repository: 'library/foo_bar', tag: 'latest', familiar: 'foo_bar:latest', full: 'docker.io/library/foo_bar:latest' }],
  ['foo__bar', { registry: 'docker.io', repository: 'library/foo__bar', tag: 'latest', familiar: 'foo__bar:latest', full: 'docker.io/library/foo__bar:latest' }],
  ['foo---bar', { registry: 'docker.io', repository: 'library/foo---bar', tag: 'latest', familiar: 'foo---bar:latest', full: 'docker.io/library/foo---bar:latest' }],
  ['foo.bar', { registry: 'docker.io', repository: 'library/foo.bar', tag: 'latest', familiar: 'foo.bar:latest', full: 'docker.io/library/foo.bar:latest' }],
  ['a', { registry: 'docker.io', repository: 'library/a', tag: 'latest', familiar: 'a:latest', full: 'docker.io/library/a:latest' }],
  ['0', { registry: 'docker.io', repository: 'library/0', tag: 'latest', familiar: '0:latest', full: 'docker.io/library/0:latest' }],
  ['dhe.yourdomain.com', { registry: 'docker.io', repository: 'library/dhe.yourdomain.com', tag: 'latest', familiar: 'dhe.yourdomain.com:latest', full: 'docker.io/library/dhe.yourdomain.com:latest' }],
  ['localhost:5000', { registry: 'docker.io', repository: 'library/localhost', tag: '5000', familiar: 'localhost:5000', full: 'docker.io/library/localhost:5000' }],
  // tags
  ['app:LATEST', { registry: 'docker.io', repository: 'library/app', tag: 'LATEST', familiar: 'app:LATEST', full: 'docker.io/library/app:LATEST' }],
  ['app:_x', { registry: 'docker.io', repository: 'library/app', tag: '_x', familiar: 'app:_x', full: 'docker.io/library/app:_x' }],
  ['app:1.0-rc.1_b', { registry: 'docker.io', repository: 'library/app', tag: '1.0-rc.1_b', familiar: 'app:1.0-rc.1_b', full: 'docker.io/library/app:1.0-rc.1_b' }],
  [`app:${'t'.repeat(128)}`, { registry: 'docker.io', repository: 'library/app', tag: 't'.repeat(128), familiar: `app:${'t'.repeat(128)}`, full: `docker.io/library/app:${'t'.repeat(128)}` }],
  // registries with ports, IPs, localhost
  ['localhost/app', { registry: 'localhost', repository: 'app', tag: 'latest', familiar: 'localhost/app:latest', full: 'localhost/app:latest' }],
  ['localhost:5000/app:1', { registry: 'localhost:5000', repository: 'app', tag: '1', familiar: 'localhost:5000/app:1', full: 'localhost:5000/app:1' }],
  ['127.0.0.1:5000/team/app:1', { registry: '127.0.0.1:5000', repository: 'team/app', tag: '1', familiar: '127.0.0.1:5000/team/app:1', full: '127.0.0.1:5000/team/app:1' }],
  ['127.0.0.1/app', { registry: '127.0.0.1', repository: 'app', tag: 'latest', familiar: '127.0.0.1/app:latest', full: '127.0.0.1/app:latest' }],
  ['[::1]:5000/app:1', { registry: '[::1]:5000', repository: 'app', tag: '1', familiar: '[::1]:5000/app:1', full: '[::1]:5000/app:1' }],
  ['[::1]/app', { registry: '[::1]', repository: 'app', tag: 'latest', familiar: '[::1]/app:latest', full: '[::1]/app:latest' }],
  ['[2001:DB8::1]:443/a/b', { registry: '[2001:db8::1]:443', repository: 'a/b', tag: 'latest', familiar: '[2001:db8::1]:443/a/b:latest', full: '[2001:db8::1]:443/a/b:latest' }],
  ['myhost:5000/app', { registry: 'myhost:5000', repository: 'app', tag: 'latest', familiar: 'myhost:5000/app:latest', full: 'myhost:5000/app:latest' }],
  ['DHE.YourDomain.com/team/app:X', { registry: 'dhe.yourdomain.com', repository: 'team/app', tag: 'X', familiar: 'dhe.yourdomain.com/team/app:X', full: 'dhe.yourdomain.com/team/app:X' }],
  ['reg-1.example.com:8443/a-b/c_d/e.f:t', { registry: 'reg-1.example.com:8443', repository: 'a-b/c_d/e.f', tag: 't', familiar: 'reg-1.example.com:8443/a-b/c_d/e.f:t', full: 'reg-1.example.com:8443/a-b/c_d/e.f:t' }],
  ['ghcr.io/owner/repo:main', { registry: 'ghcr.io', repository: 'owner/repo', tag: 'main', familiar: 'ghcr.io/owner/repo:main', full: 'ghcr.io/owner/repo:main' }],
  ['xn--bcher-kva.example/app', { registry: 'xn--bcher-kva.example', repository: 'app', tag: 'latest', familiar: 'xn--bcher-kva.example/app:latest', full: 'xn--bcher-kva.example/app:latest' }],
  // digests
  [`ubuntu@${D256}`, { registry: 'docker.io', repository: 'library/ubuntu', digest: D256, familiar: `ubuntu@${D256}`, full: `docker.io/library/ubuntu@${D256}` }],
  [`ubuntu:22.04@${D256}`, { registry: 'docker.io', repository: 'library/ubuntu', tag: '22.04', digest: D256, familiar: `ubuntu:22.04@${D256}`, full: `docker.io/library/ubuntu:22.04@${D256}` }],
  [`dhe.yourdomain.com/u/app@${D256}`, { registry: 'dhe.yourdomain.com', repository: 'u/app', digest: D256, familiar: `dhe.yourdomain.com/u/app@${D256}`, full: `dhe.yourdomain.com/u/app@${D256}` }],
  [`localhost:5000/app:1@${D512}`, { registry: 'localhost:5000', repository: 'app', tag: '1', digest: D512, familiar: `localhost:5000/app:1@${D512}`, full: `localhost:5000/app:1@${D512}` }],
  [`[::1]:5000/app@${D256}`, { registry: '[::1]:5000', repository: 'app', digest: D256, familiar: `[::1]:5000/app@${D256}`, full: `[::1]:5000/app@${D256}` }],
  [`user/app@sha384:${'ab'.repeat(48)}`, { registry: 'docker.io', repository: 'user/app', digest: `sha384:${'ab'.repeat(48)}`, familiar: `user/app@sha384:${'ab'.repeat(48)}`, full: `docker.io/user/app@sha384:${'ab'.repeat(48)}` }],
  [`${'a'.repeat(64)}/app`, { registry: 'docker.io', repository: `${'a'.repeat(64)}/app`, tag: 'latest', familiar: `${'a'.repeat(64)}/app:latest`, full: `docker.io/${'a'.repeat(64)}/app:latest` }],
];

// [input, substring of the message]
const invalid: Array<[string, string]> = [
  ['', 'empty reference'],
  ['Foo/Bar', 'invalid reference "Foo/Bar": repository name must be lowercase'],
  ['Ubuntu', 'repository name must be lowercase'],
  ['user/App:1', 'repository name must be lowercase'],
  ['dhe.yourdomain.com/YourUserName/hello-mine:latest', 'repository name must be lowercase'],
  ['Foo/bar', 'repository name must be lowercase'],
  ['LOCALHOST/app', 'repository name must be lowercase'],
  ['ubuntu:', 'invalid tag "" in "ubuntu:"'],
  ['ubuntu:-x', 'invalid tag "-x"'],
  ['ubuntu:.x', 'invalid tag ".x"'],
  ['ubuntu:a+b', 'invalid tag "a+b"'],
  [`ubuntu:${'t'.repeat(129)}`, 'invalid tag'],
  ['ubuntu:tag:tag', 'invalid repository name component "ubuntu:tag"'],
  ['ubuntu@sha256:abc', 'invalid digest "sha256:abc" in "ubuntu@sha256:abc": sha256 needs 64 lowercase hex digits'],
  [`ubuntu@sha256:${'A'.repeat(64)}`, 'sha256 needs 64 lowercase hex digits'],
  [`ubuntu@sha256:${'a'.repeat(65)}`, 'sha256 needs 64 lowercase hex digits'],
  [`ubuntu@sha512:${'a'.repeat(64)}`, 'sha512 needs 128 lowercase hex digits'],
  [`ubuntu@md5:${'a'.repeat(32)}`, 'unsupported digest algorithm "md5"'],
  [`ubuntu@${'a'.repeat(64)}`, 'invalid digest'],
  ['ubuntu@', 'invalid digest'],
  [`ubuntu@${D256}@${D256}`, 'more than one "@"'],
  [`@${D256}`, 'missing repository name'],
  [':tag', 'missing repository name'],
  ['/app', 'empty path component'],
  ['app/', 'empty path component'],
  ['a//b', 'empty path component'],
  ['dhe.yourdomain.com/', 'empty path component'],
  ['-app', 'invalid repository name component "-app"'],
  ['app-', 'invalid repository name component "app-"'],
  ['a..b', 'invalid repository name component "a..b"'],
  ['a___b', 'invalid repository name component "a___b"'],
  ['a._b', 'invalid repository name component "a._b"'],
  ['_app', 'invalid repository name component "_app"'],
  ['.app', 'invalid repository name component ".app"'],
  ['user/app!', 'invalid repository name component "app!"'],
  ['ubuntu ', 'contains white space'],
  ['my app', 'contains white space'],
  ['-host.com/app', 'invalid registry "-host.com"'],
  ['host-.com/app', 'invalid registry "host-.com"'],
  ['host..com/app', 'invalid registry "host..com"'],
  ['host.com:/app', 'invalid registry "host.com:"'],
  ['host.com:port/app', 'invalid registry "host.com:port"'],
  ['[::1/app', 'invalid registry "[::1"'],
  ['[zz::1]:5000/app', 'invalid registry "[zz::1]:5000"'],
  ['::1/app', 'invalid registry "::1"'],
  ['[::1]', 'invalid'],
  ['https://dhe.yourdomain.com/app', 'invalid'],
  [H64, 'cannot use a 64-hex-digit string as a repository name'],
  [`docker.io/${'a'.repeat(250)}`, 'repository name must not be longer than 255 characters'],
  [`host.com/${'a/'.repeat(123)}a`, 'must not be longer than 255'],
  ['x'.repeat(2000), 'too long'],
  ['app\u0000', 'invalid repository name component "app?"'],
];

describe('parseReference: valid references', () => {
  it.each(valid)('%s', (input, want) => {
    const ref = parseReference(input);
    expect(ref.registry).toBe(want.registry);
    expect(ref.repository).toBe(want.repository);
    expect(ref.tag).toBe(want.tag);
    expect(ref.digest).toBe(want.digest);
    expect(ref.familiar).toBe(want.familiar);
    expect(ref.toString()).toBe(want.full);
    expect(String(ref)).toBe(want.full);
    expect(ref.name).toBe(`${want.registry}/${want.repository}`);
    expect(ref.identifier).toBe(want.digest ?? want.tag);
    // the fully qualified and the familiar forms both parse back to the same reference
    expect(parseReference(want.full).toString()).toBe(want.full);
    expect(parseReference(want.familiar).toString()).toBe(want.full);
  });
});

describe('parseReference: invalid references', () => {
  it.each(invalid)('%j', (input, message) => {
    let err: unknown;
    try {
      parseReference(input);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DheError);
    const e = err as DheError;
    expect(e.code).toBe('INVALID_REFERENCE');
    expect(e.exitCode).toBe(2);
    expect(e.message).toContain(message);
    expect(e.message).not.toContain('\n');
    expect(e.message.length).toBeLessThan(500);
    expect(e.hint).toBeTruthy();
  });

  it('has at least 80 cases in the two tables', () => {
    expect(valid.length + invalid.length).toBeGreaterThanOrEqual(80);
  });
});

describe('Reference helpers', () => {
  it('defaultTag: false leaves the tag out', () => {
    const ref = parseReference('dhe.yourdomain.com/team/app', { defaultTag: false });
    expect(ref.tag).toBeUndefined();
    expect(ref.toString()).toBe('dhe.yourdomain.com/team/app');
    expect(ref.familiar).toBe('dhe.yourdomain.com/team/app');
    expect(ref.identifier).toBe('latest');
  });

  it('a digest wins over a tag as the identifier; no latest is added to a digest reference', () => {
    expect(parseReference(`app:1@${D256}`).identifier).toBe(D256);
    expect(parseReference(`app@${D256}`).tag).toBeUndefined();
  });

  it('withTag replaces the tag and drops the digest; withDigest keeps the tag', () => {
    const ref = parseReference(`dhe.x.com/u/app:1@${D256}`);
    expect(ref.withTag('2').toString()).toBe('dhe.x.com/u/app:2');
    expect(parseReference('dhe.x.com/u/app:1').withDigest(D512).toString()).toBe(`dhe.x.com/u/app:1@${D512}`);
    expect(() => ref.withTag('-bad')).toThrow(/invalid tag "-bad"/);
    expect(() => ref.withDigest('sha256:abc')).toThrow(/sha256 needs 64 lowercase hex digits/);
    expect(Object.isFrozen(ref)).toBe(true);
  });

  it('scope names the repository as the token server wants it', () => {
    expect(parseReference('ubuntu').scope('pull')).toBe('repository:library/ubuntu:pull');
    expect(parseReference('dhe.x.com/u/app').scope('pull,push')).toBe('repository:u/app:pull,push');
  });

  it('JSON shows the fully qualified form', () => {
    expect(JSON.stringify({ ref: parseReference('ubuntu') })).toBe('{"ref":"docker.io/library/ubuntu:latest"}');
  });

  it('parseRepository takes names without tag or digest', () => {
    expect(parseRepository('ubuntu')).toEqual({
      registry: 'docker.io',
      repository: 'library/ubuntu',
      name: 'docker.io/library/ubuntu',
      familiar: 'ubuntu',
    });
    expect(parseRepository('[::1]:5000/team/app')).toEqual({
      registry: '[::1]:5000',
      repository: 'team/app',
      name: '[::1]:5000/team/app',
      familiar: '[::1]:5000/team/app',
    });
    expect(() => parseRepository('ubuntu:1')).toThrow(/takes no tag/);
    expect(() => parseRepository(`ubuntu@${D256}`)).toThrow(/takes no digest/);
    expect(() => parseRepository('Ubuntu')).toThrow(/must be lowercase/);
  });

  it('normalizeRegistry and registryApiHost', () => {
    expect(normalizeRegistry('index.docker.io')).toBe('docker.io');
    expect(normalizeRegistry('registry-1.docker.io')).toBe('docker.io');
    expect(normalizeRegistry('https://index.docker.io/v1/')).toBe('docker.io');
    expect(normalizeRegistry('DHE.YourDomain.com')).toBe('dhe.yourdomain.com');
    expect(normalizeRegistry('https://dhe.yourdomain.com:8443/')).toBe('dhe.yourdomain.com:8443');
    expect(normalizeRegistry(' 127.0.0.1:5000 ')).toBe('127.0.0.1:5000');
    expect(normalizeRegistry('[::1]:5000')).toBe('[::1]:5000');
    expect(() => normalizeRegistry('bad host')).toThrow(DheError);
    expect(() => normalizeRegistry('')).toThrow(/invalid registry/);
    expect(registryApiHost('docker.io')).toBe('registry-1.docker.io');
    expect(registryApiHost('dhe.yourdomain.com')).toBe('dhe.yourdomain.com');
  });

  it('isValidTag and isValidDigest', () => {
    expect(isValidTag('latest')).toBe(true);
    expect(isValidTag('v1.0_rc-1')).toBe(true);
    expect(isValidTag('.x')).toBe(false);
    expect(isValidTag('')).toBe(false);
    expect(isValidTag('t'.repeat(129))).toBe(false);
    expect(isValidDigest(D256)).toBe(true);
    expect(isValidDigest(D512)).toBe(true);
    expect(isValidDigest(`sha256:${'A'.repeat(64)}`)).toBe(false);
    expect(isValidDigest(`sha1:${'a'.repeat(40)}`)).toBe(false);
    expect(isValidDigest('sha256')).toBe(false);
  });
});

// ---- property tests ----------------------------------------------------------------------------------------
const alnum = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'), minLength: 1, maxLength: 8 });
const separator = fc.constantFrom('.', '_', '__', '-', '--', '---');
const pathComponent = fc
  .tuple(alnum, fc.array(fc.tuple(separator, alnum), { maxLength: 3 }))
  .map(([head, rest]) => head + rest.map(([s, a]) => s + a).join(''));
const domainComponent = fc
  .string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-'), minLength: 1, maxLength: 10 })
  .filter((s) => !s.startsWith('-') && !s.endsWith('-'));
const host = fc.oneof(
  fc.array(domainComponent, { minLength: 2, maxLength: 4 }).map((a) => a.join('.')),
  fc.constant('localhost'),
  fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((a) => a.join('.')),
  fc.constantFrom('[::1]', '[fe80::1]', '[2001:db8::42]'),
  domainComponent,
);
const registry = fc.option(
  fc.tuple(host, fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined })).map(([h, p]) => (p === undefined ? h : `${h}:${p}`)),
  { nil: undefined },
);
const tag = fc.tuple(
  fc.constantFrom(...'abcXYZ019_'),
  fc.string({ unit: fc.constantFrom(...'abcXYZ019_.-'), maxLength: 20 }),
).map(([a, b]) => a + b);
const hex = (n: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n });
const digest = fc.oneof(hex(64).map((h) => `sha256:${h}`), hex(128).map((h) => `sha512:${h}`));

const validReference = fc
  .record({
    registry,
    path: fc.array(pathComponent, { minLength: 1, maxLength: 4 }),
    tag: fc.option(tag, { nil: undefined }),
    digest: fc.option(digest, { nil: undefined }),
  })
  .map(({ registry: r, path: p, tag: t, digest: d }) => {
    let path = p;
    // a registry without "." or ":" that is not localhost would be read as a path component, as docker does
    const reg = r !== undefined && (r.includes('.') || r.includes(':') || r === 'localhost') ? r : undefined;
    // likewise a first path component with a "." is a registry when there is no registry before it
    if (reg === undefined && path.length > 1) path = [path[0]!.replaceAll('.', '-'), ...path.slice(1)];
    return { reg, path, t, d, text: `${reg ? `${reg}/` : ''}${path.join('/')}${t ? `:${t}` : ''}${d ? `@${d}` : ''}` };
  })
  .filter(({ text }) => text.split('@')[0]!.replace(/:[^:/]*$/, '').length < 200 && !/^[a-f0-9]{64}$/.test(text));

describe('parseReference properties', () => {
  it('generated valid names always parse, keeping their parts', () => {
    fc.assert(
      fc.property(validReference, ({ reg, path, t, d, text }) => {
        const ref = parseReference(text);
        expect(ref.tag).toBe(t ?? (d ? undefined : 'latest'));
        expect(ref.digest).toBe(d);
        if (reg) expect(ref.registry).toBe(normalizeRegistry(reg));
        else expect(ref.registry).toBe('docker.io');
        expect(ref.repository.endsWith(path.join('/'))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('toString() and familiar round-trip through parseReference', () => {
    fc.assert(
      fc.property(validReference, ({ text }) => {
        const ref = parseReference(text);
        const again = parseReference(ref.toString());
        expect(again.toString()).toBe(ref.toString());
        expect(again.registry).toBe(ref.registry);
        expect(again.repository).toBe(ref.repository);
        expect(parseReference(ref.familiar).toString()).toBe(ref.toString());
      }),
      { numRuns: 500 },
    );
  });

  it('any string either parses or throws a one-line DheError INVALID_REFERENCE, quickly', () => {
    const anyText = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.string({ unit: fc.constantFrom(...'aA0:/@.-_[]%'), maxLength: 300 }),
      fc.string({ unit: 'binary', maxLength: 100 }),
      fc.string({ unit: fc.constantFrom('a', '-', 'a-', '.'), maxLength: 5000 }),
    );
    const started = Date.now();
    fc.assert(
      fc.property(anyText, (text) => {
        try {
          const ref = parseReference(text);
          expect(parseReference(ref.toString()).toString()).toBe(ref.toString());
        } catch (e) {
          expect(e).toBeInstanceOf(DheError);
          expect((e as DheError).code).toBe('INVALID_REFERENCE');
          expect((e as DheError).message).not.toMatch(/[\n\r]/);
        }
      }),
      { numRuns: 2000 },
    );
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('non-string input is a DheError too', () => {
    expect(() => parseReference(undefined as unknown as string)).toThrow(DheError);
    expect(() => parseReference(42 as unknown as string)).toThrow(DheError);
  });
});
