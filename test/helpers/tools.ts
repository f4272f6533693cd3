// External programs the tests use as independent peers (skopeo, docker, …). A test that needs one which is not
// installed fails with one line saying so: it is never skipped. `.ci/run` installs them.
import { existsSync } from 'node:fs';

/** The first existing path of `candidates`, or undefined. */
export function findTool(candidates: readonly string[]): string | undefined {
  return candidates.find((p) => existsSync(p));
}

/** The tool's path; throws `<name> is not installed (looked in …); run .ci/run or apt-get install <pkg>` otherwise. */
export function requireTool(name: string, candidates: readonly string[], debianPackage = name): string {
  const found = findTool(candidates);
  if (!found) {
    throw new Error(`${name} is not installed (looked in ${candidates.join(', ')}): apt-get install -y ${debianPackage}, as .ci/run does`);
  }
  return found;
}

export const SKOPEO_PATHS = ['/usr/bin/skopeo', '/usr/local/bin/skopeo'] as const;
