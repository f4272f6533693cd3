// Image references, parsed exactly as docker 28 parses them (distribution/reference v0.6 ParseNormalizedNamed,
// go-digest v1 for digests), and docker's normalisation: the first component is a registry when it contains "."
// or ":", is "localhost" or has an upper-case letter; otherwise the registry is docker.io, and a one-component
// docker.io name gets "library/". index.docker.io is docker.io. Registries are kept as written, as docker keeps
// them. Without tag and digest the tag is "latest" (unless defaultTag is false).
//
// The grammar is in grammar.ts and digest.ts, the normalisation in normalize.ts, the steps of the parse in parse.ts.
// The one name docker accepts and this refuses: a first component that is no host but a path component with a "."
// ("foo_bar.com/x"), which docker keeps as a name without any registry (see parse.ts).

import { DheError } from '../errors.js';
import { ImageReference, type Reference } from './image-reference.js';
import { printable } from './errors.js';
import { DEFAULT_REGISTRY, DEFAULT_TAG, familiarNameOf, normalizeRegistry, OFFICIAL_REPO_PREFIX } from './normalize.js';
import { parseNormalizedNamed } from './parse.js';

export type { Reference } from './image-reference.js';
export { isValidTag, NAME_TOTAL_LENGTH_MAX } from './grammar.js';
export { DIGEST_HEX_LENGTHS, digestProblem, isValidDigest } from './digest.js';
export {
  DEFAULT_REGISTRY,
  DEFAULT_REGISTRY_API_HOST,
  DEFAULT_TAG,
  normalizeRegistry,
  OFFICIAL_REPO_PREFIX,
  registryApiHost,
} from './normalize.js';

export interface ParseReferenceOptions {
  /** Add tag "latest" when the text has neither tag nor digest (default true). */
  defaultTag?: boolean;
}

export interface RepositoryName {
  registry: string;
  repository: string;
  name: string;
  familiar: string;
}

/**
 * Parses and normalises an image reference as docker 28 does. Throws DheError INVALID_REFERENCE (exit 2) naming
 * the offending part.
 */
export function parseReference(text: string, opts: ParseReferenceOptions = {}): Reference {
  const p = parseNormalizedNamed(text);
  const tag = p.tag ?? (p.digest === undefined && opts.defaultTag !== false ? DEFAULT_TAG : undefined);
  return new ImageReference(p.registry, p.repository, tag, p.digest);
}

/** Parses a repository name ([HOST[:PORT]/]PATH) that must carry no tag and no digest. */
export function parseRepository(text: string): RepositoryName {
  const p = parseNormalizedNamed(text);
  if (p.tag !== undefined || p.digest !== undefined) {
    const what = p.digest !== undefined ? 'digest' : 'tag';
    throw new DheError('INVALID_REFERENCE', `invalid repository "${printable(text)}": a repository name takes no ${what}`, {
      hint: 'give the repository alone, e.g. dhe.yourdomain.com/team/app',
    });
  }
  const name = `${p.registry}/${p.repository}`;
  return { registry: p.registry, repository: p.repository, name, familiar: familiarNameOf(p.registry, p.repository) };
}

/** Builds a reference from parts already separated (e.g. read back from the store), validating them. */
export function makeReference(registry: string, repository: string, tag?: string, digest?: string): Reference {
  const base = parseReference(`${normalizeRegistry(registry)}/${repository}`, { defaultTag: false });
  if (base.repository !== repository && !(base.registry === DEFAULT_REGISTRY && base.repository === OFFICIAL_REPO_PREFIX + repository)) {
    throw new DheError('INVALID_REFERENCE', `invalid repository "${printable(repository)}" for registry ${registry}`);
  }
  let ref: Reference = base;
  if (tag !== undefined) ref = ref.withTag(tag);
  if (digest !== undefined) ref = ref.withDigest(digest);
  return ref;
}
