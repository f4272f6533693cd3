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

import { D256, D512, referenceCases, type Parsed } from './reference-cases.js';

const accepted = referenceCases.flatMap((c) => ('want' in c ? [[c.input, c.want] as [string, Parsed]] : []));
const refused = referenceCases.flatMap((c) => ('error' in c ? [[c.input, c.error] as [string, string]] : []));
// Inputs docker cannot be given on a command line (a NUL byte), so they are not in the shared table.
const refusedHere: Array<[string, string]> = [
  ['app\u0000', 'invalid repository name component "app?"'],
  ['host.com\u0000/app', 'invalid registry "host.com?"'],
];

function thrownBy(fn: () => unknown): DheError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DheError);
    return e as DheError;
  }
  throw new Error('no error was thrown');
}

describe('parseReference: names docker 28 accepts (test/unit/reference-cases.ts)', () => {
  it.each(accepted)('%s', (input, want) => {
    const ref = parseReference(input);
    expect({ registry: ref.registry, repository: ref.repository, tag: ref.tag, digest: ref.digest }).toEqual({
      registry: want.registry,
      repository: want.repository,
      tag: want.tag,
      digest: want.digest,
    });
    const suffix = (want.tag !== undefined ? `:${want.tag}` : '') + (want.digest !== undefined ? `@${want.digest}` : '');
    expect(ref.name).toBe(`${want.registry}/${want.repository}`);
    expect(ref.toString()).toBe(`${want.registry}/${want.repository}${suffix}`);
    expect(String(ref)).toBe(ref.toString());
    expect(ref.identifier).toBe(want.digest ?? want.tag);
    // the fully qualified and the familiar forms both parse back to the same reference
    expect(parseReference(ref.toString()).toString()).toBe(ref.toString());
    expect(parseReference(ref.familiar).toString()).toBe(ref.toString());
  });
});

describe('parseReference: names refused (test/unit/reference-cases.ts)', () => {
  it.each([...refused, ...refusedHere])('%j', (input, message) => {
    const e = thrownBy(() => parseReference(input));
    expect(e.code).toBe('INVALID_REFERENCE');
    expect(e.exitCode).toBe(2);
    expect(e.message).toContain(message);
    expect(e.message).not.toMatch(/[\n\r]/);
    expect(e.message.length).toBeLessThan(500);
    expect(e.hint).toBeTruthy();
  });
});

describe('parseReference: familiar forms, as docker prints them', () => {
  it.each([
    ['ubuntu', 'ubuntu:latest', 'ubuntu'],
    ['docker.io/library/ubuntu:20.04', 'ubuntu:20.04', 'ubuntu'],
    ['index.docker.io/user/app:v1', 'user/app:v1', 'user/app'],
    ['docker.io/library/a/b', 'library/a/b:latest', 'library/a/b'],
    ['localhost:5000', 'localhost:5000', 'localhost'],
    ['Foo/bar', 'Foo/bar:latest', 'Foo/bar'],
    ['DOCKER.IO/alpine', 'DOCKER.IO/alpine:latest', 'DOCKER.IO/alpine'],
    ['[::1]:5000/app:1', '[::1]:5000/app:1', '[::1]:5000/app'],
    [`ubuntu:22.04@${D256}`, `ubuntu:22.04@${D256}`, 'ubuntu'],
    [`dhe.yourdomain.com/u/app@${D256}`, `dhe.yourdomain.com/u/app@${D256}`, 'dhe.yourdomain.com/u/app'],
  ])('%s → %s', (input, familiar, familiarName) => {
    const ref = parseReference(input);
    expect(ref.familiar).toBe(familiar);
    expect(ref.familiarName).toBe(familiarName);
  });

  it('the 64-hex rule is about the whole text only', () => {
    expect(parseReference(`docker.io/library/${'a'.repeat(64)}`).repository).toBe(`library/${'a'.repeat(64)}`);
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
    // a registry without ".", ":" or upper case that is not localhost would be read as a path component, as docker does
    const reg = r !== undefined && (r.includes('.') || r.includes(':') || r === 'localhost' || r !== r.toLowerCase()) ? r : undefined;
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
        if (reg) expect(ref.registry).toBe(reg === 'index.docker.io' ? 'docker.io' : reg);
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
