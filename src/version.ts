// dhe-cli's version, and the User-Agent built from it, read once from the package.json next to src/ or dist/ (both
// sit one level below the package root, in a checkout and in the installed tarball alike), not from
// npm_package_version, which only `npm run` sets.

import { readFileSync } from 'node:fs';

function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** Set by the single executable's bundle (scripts/build-bundle.mjs), where no package.json is beside the code. */
declare const DHE_BUNDLED_VERSION: string | undefined;

/** "0.1.0": package.json's version ("0.0.0" when it cannot be read). */
export const VERSION: string = typeof DHE_BUNDLED_VERSION === 'string' ? DHE_BUNDLED_VERSION : readVersion();

/** The package's version, as VERSION. */
export function packageVersion(): string {
  return VERSION;
}

/** "dhe-cli/0.1.0 node/20.20.0": what every request sends as User-Agent unless told otherwise. */
export function userAgent(): string {
  return `dhe-cli/${VERSION} node/${process.versions.node}`;
}
