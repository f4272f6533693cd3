// docker 28's ParseNormalizedNamed (distribution/reference v0.6), step by step:
//   1. a name of exactly 64 lowercase hex digits is refused (it would read as an image ID);
//   2. splitDockerDomain picks the registry (see normalize.ts) and adds library/ to one-part docker.io names;
//   3. the rest, up to its first ":", must be lower case;
//   4. REGISTRY "/" REST must match the reference grammar (grammar.ts); the registry the grammar sees is the first
//      component, so a first component that is a path component but no host ("foo_bar.com") would leave docker
//      with a name that has no registry at all: the one name docker accepts that is refused here;
//   5. the repository path (library/ included, the registry not) is at most 255 characters;
//   6. the digest passes go-digest (digest.ts).

import { isDomain, isImageId, isPathComponent, isRemoteName, isValidTag, NAME_TOTAL_LENGTH_MAX } from './grammar.js';
import { referenceDigestProblem } from './digest.js';
import { DIGEST_HINT, invalidReference, printable, REGISTRY_HINT, TAG_HINT } from './errors.js';
import { OFFICIAL_REPO_PREFIX, splitDockerDomain } from './normalize.js';

export interface Parts {
  registry: string;
  repository: string;
  tag: string | undefined;
  digest: string | undefined;
}

interface Suffixes {
  name: string;
  tag: string | undefined;
  digest: string | undefined;
}

const quoted = (s: string, max = 150): string => `"${printable(s, max)}"`;

function checkWhole(text: string): void {
  if (typeof text !== 'string') throw invalidReference(String(text), 'invalid reference format: not a string');
  if (text.length === 0) throw invalidReference(text, 'invalid reference format: empty reference');
  if (isImageId(text)) {
    throw invalidReference(text, `invalid repository name (${text}), cannot specify 64-byte hexadecimal strings`, 'to name an image by its ID, use NAME@sha256:<hex>');
  }
  if (/\s/.test(text)) throw invalidReference(text, `invalid reference format: ${quoted(text)} contains white space`);
}

function checkLowercase(text: string, rest: string): void {
  const colon = rest.indexOf(':');
  const remote = colon < 0 ? rest : rest.slice(0, colon);
  if (remote.toLowerCase() !== remote) {
    throw invalidReference(text, `invalid reference format: repository name (${printable(remote, 150)}) must be lowercase`,
      'repository names are lower case; only the registry host and the tag may have upper-case letters');
  }
}

/** NAME[:TAG][@DIGEST] taken apart: the digest after the "@", the tag after a ":" that follows the last "/". */
function splitSuffixes(text: string, full: string): Suffixes {
  const at = full.indexOf('@');
  const digest = at < 0 ? undefined : full.slice(at + 1);
  const rest = at < 0 ? full : full.slice(0, at);
  if (digest !== undefined) {
    const problem = referenceDigestProblem(digest);
    if (problem !== undefined) throw invalidReference(text, `${problem} in ${quoted(text)}`, DIGEST_HINT);
  }
  const colon = rest.lastIndexOf(':');
  if (colon < rest.lastIndexOf('/')) return { name: rest, tag: undefined, digest };
  const tag = rest.slice(colon + 1);
  if (!isValidTag(tag)) throw invalidReference(text, `invalid reference format: invalid tag ${quoted(tag)} in ${quoted(text)}`, TAG_HINT);
  return { name: rest.slice(0, colon), tag, digest };
}

function pathProblem(path: string): string {
  const bad = path.split('/').find((c) => !isPathComponent(c)) ?? path;
  return bad === '' ? 'empty path component (a "/" too many?)' : `invalid repository name component ${quoted(bad)}`;
}

/** REGISTRY "/" PATH, each checked against the grammar. */
function splitName(text: string, name: string): [string, string] {
  const slash = name.indexOf('/');
  const [registry, path] = [name.slice(0, slash), name.slice(slash + 1)];
  if (isDomain(registry) && isRemoteName(path)) return [registry, path];
  if (isRemoteName(name)) {
    throw invalidReference(text, `invalid reference format: ${quoted(registry)} is not a valid registry host; docker 28 would read ${quoted(name)} as a path that names no registry at all`,
      `for a Docker Hub repository of that name write docker.io/${printable(name, 150)}`);
  }
  if (!isDomain(registry)) throw invalidReference(text, `invalid reference format: invalid registry ${quoted(registry)} in ${quoted(text)}`, REGISTRY_HINT);
  throw invalidReference(text, `invalid reference format: ${pathProblem(path)} in ${quoted(text)}`,
    'a repository name is lowercase letters and digits, separated by "/", and within a component by ".", "_", "__" or "-"');
}

/** Parses TEXT as docker 28 does; throws DheError INVALID_REFERENCE (exit 2) saying what is wrong. */
export function parseNormalizedNamed(text: string): Parts {
  checkWhole(text);
  const [domain, rest] = splitDockerDomain(text);
  checkLowercase(text, rest);
  const { name, tag, digest } = splitSuffixes(text, `${domain}/${rest}`);
  const [registry, repository] = splitName(text, name);
  if (repository.length > NAME_TOTAL_LENGTH_MAX) {
    const counted = repository.startsWith(OFFICIAL_REPO_PREFIX) ? `, "${OFFICIAL_REPO_PREFIX}" included` : '';
    throw invalidReference(text, `repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters (the path of ${quoted(text, 60)} has ${repository.length}${counted})`);
  }
  return { registry, repository, tag, digest };
}
