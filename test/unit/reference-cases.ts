// The reference table shared by the unit test (test/unit/reference.test.ts, our parse) and the cross-check with
// docker 28 itself (test/integration/docker-reference.test.ts, docker's verdict and normalized name). Each row is
// a name and either the parse we expect (registry, repository path, tag, digest) or the rejection we expect (a
// piece of the message). Rows docker accepts and we refuse on purpose say so with dockerAccepts.

export interface Parsed {
  registry: string;
  repository: string;
  /** The tag parseReference gives ("latest" when the name has neither tag nor digest). */
  tag?: string;
  digest?: string;
}

export type ReferenceCase =
  | { readonly input: string; readonly want: Parsed }
  | { readonly input: string; readonly error: string; readonly dockerAccepts?: string };

const rep = (s: string, n: number): string => s.repeat(n);
const hex = (n: number): string => rep('0123456789abcdef', Math.ceil(n / 16)).slice(0, n);

export const H64 = rep('a', 64);
export const D256 = `sha256:${hex(64)}`;
export const D384 = `sha384:${hex(96)}`;
export const D512 = `sha512:${hex(128)}`;

function ok(input: string, registry: string, repository: string, tag?: string, digest?: string): ReferenceCase {
  const want: Parsed = { registry, repository };
  if (tag !== undefined) want.tag = tag;
  if (digest !== undefined) want.digest = digest;
  return { input, want };
}

function bad(input: string, error: string): ReferenceCase {
  return { input, error };
}

/** A path of exactly n characters: components of "a" * 9 joined by "/", then filled with "b". */
function pathOf(n: number): string {
  const parts: string[] = [];
  let len = 0;
  while (len + 10 < n) {
    parts.push(rep('a', 9));
    len += 10;
  }
  return parts.join('/') + (parts.length ? '/' : '') + rep('b', n - len);
}

export const LIB = 'library/';

export const referenceCases: readonly ReferenceCase[] = [
  // the DHE user guide
  ok('dhe.yourdomain.com/yourusername/hello-mine:latest', 'dhe.yourdomain.com', 'yourusername/hello-mine', 'latest'),
  ok('dhe.yourdomain.com/hello-world', 'dhe.yourdomain.com', 'hello-world', 'latest'),
  ok('dhe.yourdomain.com/yourusername/hello-mine', 'dhe.yourdomain.com', 'yourusername/hello-mine', 'latest'),
  ok('hello-world', 'docker.io', 'library/hello-world', 'latest'),
  ok('yourusername/hello-mine', 'docker.io', 'yourusername/hello-mine', 'latest'),

  // Docker Hub forms: docker.io/foo vs foo, index.docker.io, library/
  ok('foo', 'docker.io', 'library/foo', 'latest'),
  ok('docker.io/foo', 'docker.io', 'library/foo', 'latest'),
  ok('docker.io/library/foo', 'docker.io', 'library/foo', 'latest'),
  ok('index.docker.io/foo', 'docker.io', 'library/foo', 'latest'),
  ok('index.docker.io/foo/bar', 'docker.io', 'foo/bar', 'latest'),
  ok('index.docker.io/user/app:v1', 'docker.io', 'user/app', 'v1'),
  ok('ubuntu:22.04', 'docker.io', 'library/ubuntu', '22.04'),
  ok('library/ubuntu', 'docker.io', 'library/ubuntu', 'latest'),
  ok('docker.io/library/ubuntu:20.04', 'docker.io', 'library/ubuntu', '20.04'),
  ok('docker.io/library/a/b', 'docker.io', 'library/a/b', 'latest'),
  // only index.docker.io is folded, and only as written in lower case
  ok('registry-1.docker.io/library/alpine:3', 'registry-1.docker.io', 'library/alpine', '3'),
  ok('registry-1.docker.io/alpine', 'registry-1.docker.io', 'alpine', 'latest'),
  ok('DOCKER.IO/library/alpine', 'DOCKER.IO', 'library/alpine', 'latest'),
  ok('DOCKER.IO/alpine', 'DOCKER.IO', 'alpine', 'latest'),
  ok('INDEX.DOCKER.IO/foo', 'INDEX.DOCKER.IO', 'foo', 'latest'),

  // path components
  ok('user/app:1', 'docker.io', 'user/app', '1'),
  ok('a/b/c/d/e', 'docker.io', 'a/b/c/d/e', 'latest'),
  ok('foo_bar', 'docker.io', 'library/foo_bar', 'latest'),
  ok('foo__bar', 'docker.io', 'library/foo__bar', 'latest'),
  ok('foo---bar', 'docker.io', 'library/foo---bar', 'latest'),
  ok('foo.bar', 'docker.io', 'library/foo.bar', 'latest'),
  ok('a', 'docker.io', 'library/a', 'latest'),
  ok('0', 'docker.io', 'library/0', 'latest'),
  ok('dhe.yourdomain.com', 'docker.io', 'library/dhe.yourdomain.com', 'latest'),
  ok(`${H64}/app`, 'docker.io', `${H64}/app`, 'latest'),
  ok(`${H64}:tag`, 'docker.io', `library/${H64}`, 'tag'),
  ok(`${H64}@${D256}`, 'docker.io', `library/${H64}`, undefined, D256),
  bad(H64, 'cannot specify 64-byte hexadecimal strings'),
  ok(rep('a', 63), 'docker.io', `library/${rep('a', 63)}`, 'latest'),
  ok(rep('a', 65), 'docker.io', `library/${rep('a', 65)}`, 'latest'),

  // upper case: a first component with upper case is a registry; anywhere else in the path it is refused
  ok('Foo/bar', 'Foo', 'bar', 'latest'),
  ok('fOO/bar', 'fOO', 'bar', 'latest'),
  ok('UPPER/a-b:X.Y', 'UPPER', 'a-b', 'X.Y'),
  ok('Foo:5000/bar', 'Foo:5000', 'bar', 'latest'),
  ok('LOCALHOST/app', 'LOCALHOST', 'app', 'latest'),
  ok('DHE.YourDomain.com/team/app:X', 'DHE.YourDomain.com', 'team/app', 'X'),
  ok('app:LATEST', 'docker.io', 'library/app', 'LATEST'),
  bad('foo/Bar', 'invalid reference format: repository name (foo/Bar) must be lowercase'),
  bad('Foo/Bar', 'invalid reference format: repository name (Bar) must be lowercase'),
  bad('Foo/Bar:latest', 'repository name (Bar) must be lowercase'),
  bad('Ubuntu', 'repository name (library/Ubuntu) must be lowercase'),
  bad('FOO', 'repository name (library/FOO) must be lowercase'),
  bad('user/App:1', 'repository name (user/App) must be lowercase'),
  bad('a/b/C', 'repository name (a/b/C) must be lowercase'),
  bad('dhe.yourdomain.com/YourUserName/hello-mine:latest', 'repository name (YourUserName/hello-mine) must be lowercase'),
  bad('A.com/X', 'repository name (X) must be lowercase'),
  bad('localhost:5000/Foo', 'repository name (Foo) must be lowercase'),
  bad(`foo@SHA256:${H64}`, 'repository name (library/foo@SHA256) must be lowercase'),
  bad('Foo_Bar/x', 'invalid registry "Foo_Bar"'),

  // tags
  ok('app:_x', 'docker.io', 'library/app', '_x'),
  ok('app:1.0-rc.1_b', 'docker.io', 'library/app', '1.0-rc.1_b'),
  ok(`app:${rep('t', 127)}`, 'docker.io', 'library/app', rep('t', 127)),
  ok(`app:${rep('t', 128)}`, 'docker.io', 'library/app', rep('t', 128)),
  bad(`app:${rep('t', 129)}`, 'invalid tag'),
  bad('ubuntu:', 'invalid tag "" in "ubuntu:"'),
  bad('ubuntu:-x', 'invalid tag "-x"'),
  bad('ubuntu:.x', 'invalid tag ".x"'),
  bad('ubuntu:a+b', 'invalid tag "a+b"'),
  bad('ubuntu:tag:tag', 'invalid repository name component "ubuntu:tag"'),
  bad('foo:tag/bar', 'invalid registry "foo:tag"'),
  bad('a.com/x:y/z', 'invalid repository name component "x:y"'),

  // localhost, IP addresses, ports
  ok('localhost', 'docker.io', 'library/localhost', 'latest'),
  ok('localhost:5000', 'docker.io', 'library/localhost', '5000'),
  ok('localhost/foo', 'localhost', 'foo', 'latest'),
  ok('localhost/app', 'localhost', 'app', 'latest'),
  ok('localhost:5000/app:1', 'localhost:5000', 'app', '1'),
  ok('localhost:0/x', 'localhost:0', 'x', 'latest'),
  ok('127.0.0.1:5000/team/app:1', '127.0.0.1:5000', 'team/app', '1'),
  ok('127.0.0.1/app', '127.0.0.1', 'app', 'latest'),
  ok('myhost:5000/app', 'myhost:5000', 'app', 'latest'),
  ok('host:65536/x', 'host:65536', 'x', 'latest'),
  ok('host:99999999/x', 'host:99999999', 'x', 'latest'),
  ok('a.com:05/x', 'a.com:05', 'x', 'latest'),
  ok('reg-1.example.com:8443/a-b/c_d/e.f:t', 'reg-1.example.com:8443', 'a-b/c_d/e.f', 't'),
  ok('ghcr.io/owner/repo:main', 'ghcr.io', 'owner/repo', 'main'),
  ok('xn--bcher-kva.example/app', 'xn--bcher-kva.example', 'app', 'latest'),
  ok(`${rep('r', 300)}.com/x`, `${rep('r', 300)}.com`, 'x', 'latest'),
  bad('host.com:/app', 'invalid registry "host.com:"'),
  bad('host.com:port/app', 'invalid registry "host.com:port"'),
  bad('host:5000:1/x', 'invalid registry "host:5000:1"'),
  bad(':5000/x', 'invalid registry ":5000"'),
  bad('-host.com/app', 'invalid registry "-host.com"'),
  bad('host-.com/app', 'invalid registry "host-.com"'),
  bad('host..com/app', 'invalid registry "host..com"'),
  bad('https://dhe.yourdomain.com/app', 'invalid registry "https:"'),
  bad('a@b.com/c', 'invalid reference format'),

  // IPv6 registries
  ok('[::1]:5000/app:1', '[::1]:5000', 'app', '1'),
  ok('[::1]/app', '[::1]', 'app', 'latest'),
  ok('[2001:DB8::1]:443/a/b', '[2001:DB8::1]:443', 'a/b', 'latest'),
  ok('[2001:db8::42]/team/app', '[2001:db8::42]', 'team/app', 'latest'),
  bad('[::1]', 'invalid tag "1]"'),
  bad('[::1]:5000', 'invalid repository name component "[::1]"'),
  bad('[::1/app', 'invalid registry "[::1"'),
  bad('[zz::1]:5000/app', 'invalid registry "[zz::1]:5000"'),
  bad('[::ffff:127.0.0.1]/x', 'invalid registry "[::ffff:127.0.0.1]"'),
  bad('[fe80::1%eth0]/x', 'invalid registry "[fe80::1%eth0]"'),
  bad('::1/app', 'invalid registry "::1"'),

  // digests of every relevant length and algorithm
  ok(`ubuntu@${D256}`, 'docker.io', 'library/ubuntu', undefined, D256),
  ok(`ubuntu:22.04@${D256}`, 'docker.io', 'library/ubuntu', '22.04', D256),
  ok(`dhe.yourdomain.com/u/app@${D256}`, 'dhe.yourdomain.com', 'u/app', undefined, D256),
  ok(`localhost:5000/app:1@${D512}`, 'localhost:5000', 'app', '1', D512),
  ok(`[::1]:5000/app@${D256}`, '[::1]:5000', 'app', undefined, D256),
  ok(`user/app@${D384}`, 'docker.io', 'user/app', undefined, D384),
  ok(`foo@${D512}`, 'docker.io', 'library/foo', undefined, D512),
  bad('ubuntu@sha256:abc', 'invalid reference format: a digest is ALGORITHM:HEX'),
  bad(`foo@sha256:${hex(31)}`, 'invalid reference format: a digest is ALGORITHM:HEX'),
  bad(`foo@sha256:${hex(32)}`, 'invalid checksum digest length: sha256 needs 64 lowercase hex digits, not 32'),
  bad(`foo@sha256:${hex(63)}`, 'invalid checksum digest length: sha256 needs 64 lowercase hex digits, not 63'),
  bad(`foo@sha256:${hex(65)}`, 'invalid checksum digest length'),
  bad(`foo@sha256:${rep('A', 64)}`, 'invalid checksum digest format: sha256 needs 64 lowercase hex digits'),
  bad(`foo@sha512:${hex(127)}`, 'invalid checksum digest length: sha512 needs 128'),
  bad(`foo@sha512:${hex(64)}`, 'invalid checksum digest length: sha512 needs 128'),
  bad(`foo@sha384:${hex(64)}`, 'invalid checksum digest length: sha384 needs 96'),
  bad(`foo@md5:${hex(32)}`, 'unsupported digest algorithm "md5"'),
  bad(`foo@sha3:${hex(64)}`, 'unsupported digest algorithm "sha3"'),
  bad(`foo@sha256+b64:${hex(64)}`, 'unsupported digest algorithm "sha256+b64"'),
  bad(`a.com/foo:tag@SHA256:${H64}`, 'unsupported digest algorithm "SHA256"'),
  bad(`foo@${H64}`, 'invalid reference format: a digest is ALGORITHM:HEX'),
  bad('ubuntu@', 'invalid reference format: a digest is ALGORITHM:HEX'),
  bad(`foo@${D256}:tag`, 'invalid reference format: a digest is ALGORITHM:HEX'),
  bad(`ubuntu@${D256}@${D256}`, 'invalid reference format: a digest is ALGORITHM:HEX'),
  bad(`@${D256}`, 'empty path component'),

  // lengths: the path counts (library/ included), the registry does not
  ok(`host.com/${pathOf(254)}`, 'host.com', pathOf(254), 'latest'),
  ok(`host.com/${pathOf(255)}`, 'host.com', pathOf(255), 'latest'),
  bad(`host.com/${pathOf(256)}`, 'repository name must not be more than 255 characters'),
  ok(`docker.io/${pathOf(255)}`, 'docker.io', pathOf(255), 'latest'),
  bad(`docker.io/${pathOf(256)}`, 'repository name must not be more than 255 characters'),
  ok(pathOf(254), 'docker.io', pathOf(254), 'latest'),
  ok(pathOf(255), 'docker.io', pathOf(255), 'latest'),
  bad(pathOf(256), 'repository name must not be more than 255 characters'),
  ok(`${pathOf(255)}:v1@${D256}`, 'docker.io', pathOf(255), 'v1', D256),
  ok(rep('a', 246), 'docker.io', LIB + rep('a', 246), 'latest'),
  ok(rep('a', 247), 'docker.io', LIB + rep('a', 247), 'latest'),
  bad(rep('a', 248), 'repository name must not be more than 255 characters'),
  ok(`docker.io/${rep('a', 247)}`, 'docker.io', LIB + rep('a', 247), 'latest'),
  bad(`index.docker.io/${rep('a', 248)}`, 'repository name must not be more than 255 characters'),
  ok(`${rep('r', 300)}.com/${pathOf(255)}`, `${rep('r', 300)}.com`, pathOf(255), 'latest'),
  bad(rep('x', 2000), 'repository name must not be more than 255 characters'),

  // malformed paths
  bad('', 'empty reference'),
  bad('/app', 'empty path component'),
  bad('app/', 'empty path component'),
  bad('a//b', 'empty path component'),
  bad('dhe.yourdomain.com/', 'empty path component'),
  bad(':tag', 'empty path component'),
  bad('-app', 'invalid repository name component "-app"'),
  bad('app-', 'invalid repository name component "app-"'),
  bad('a..b', 'invalid repository name component "a..b"'),
  bad('a___b', 'invalid repository name component "a___b"'),
  bad('a._b', 'invalid repository name component "a._b"'),
  bad('_app', 'invalid repository name component "_app"'),
  bad('.app', 'invalid repository name component ".app"'),
  bad('user/app!', 'invalid repository name component "app!"'),
  bad('ubuntu ', 'contains white space'),
  bad('my app', 'contains white space'),
  bad('ünicode/x', 'invalid repository name component "ünicode"'),
  bad('ÄB/x', 'invalid registry "ÄB"'),

  // docker takes a first component with "." that is no host name as a path without any registry; we refuse it
  {
    input: 'foo_bar.com/x',
    error: '"foo_bar.com" is not a valid registry host',
    dockerAccepts: 'foo_bar.com/x:latest',
  },
  { input: 'a.b_c/d', error: '"a.b_c" is not a valid registry host', dockerAccepts: 'a.b_c/d:latest' },
];
