// dhe-cli's version, read once from the package.json next to src/ or dist/ (both sit one level below the package
// root, in a checkout and in the installed tarball alike), not from npm_package_version, which only `npm run` sets.

import { readFileSync } from 'node:fs';

let cached: string | undefined;

/** The package's version ("0.1.0"); "0.0.0" when its package.json cannot be read. */
export function packageVersion(): string {
  if (cached === undefined) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
      cached = typeof pkg.version === 'string' ? pkg.version : '0.0.0';
    } catch {
      cached = '0.0.0';
    }
  }
  return cached;
}

/** The User-Agent every request of the CLI sends: `dhe-cli/0.1.0 node/20.20.0`. */
export function userAgent(): string {
  return `dhe-cli/${packageVersion()} node/${process.versions.node}`;
}
