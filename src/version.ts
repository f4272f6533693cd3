// The package's version and the User-Agent built from it, read once from package.json at module load (the same
// relative path from src/ under the tests and from dist/ when installed), not from npm's environment.

import { createRequire } from 'node:module';

const pkg = createRequire(import.meta.url)('../package.json') as { version?: unknown };

/** "0.1.0": package.json's version. */
export const VERSION: string = typeof pkg.version === 'string' ? pkg.version : '0';

/** "dhe-cli/0.1.0 node/20.20.0": what every request sends as User-Agent unless told otherwise. */
export function userAgent(): string {
  return `dhe-cli/${VERSION} node/${process.versions.node}`;
}
