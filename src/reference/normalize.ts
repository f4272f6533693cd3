// docker's normalisation of names (distribution/reference v0.6 normalize.go), and the registry host names that
// login, catalog and the HTTP client use.

import { DheError } from '../errors.js';
import { isDomain, NAME_TOTAL_LENGTH_MAX } from './grammar.js';
import { printable, REGISTRY_HINT } from './errors.js';

export const DEFAULT_REGISTRY = 'docker.io';
export const DEFAULT_REGISTRY_API_HOST = 'registry-1.docker.io';
export const DEFAULT_TAG = 'latest';
export const OFFICIAL_REPO_PREFIX = 'library/';
/** The one alias docker's parser folds into docker.io (compared as written, case-sensitively). */
const LEGACY_DEFAULT_REGISTRY = 'index.docker.io';

const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

/** Whether the first component of a name is a registry: it has "." or ":", is "localhost", or has upper case. */
function looksLikeRegistry(first: string): boolean {
  return first === 'localhost' || first.includes('.') || first.includes(':') || first.toLowerCase() !== first;
}

/**
 * docker's splitDockerDomain: [registry, rest of the name]. Without a registry it is docker.io, and a one-part
 * docker.io name gets "library/". Nothing is validated here.
 */
export function splitDockerDomain(name: string): [string, string] {
  const slash = name.indexOf('/');
  if (slash < 0) return [DEFAULT_REGISTRY, OFFICIAL_REPO_PREFIX + name];
  const first = name.slice(0, slash);
  let [domain, rest] = looksLikeRegistry(first) ? [first, name.slice(slash + 1)] : [DEFAULT_REGISTRY, name];
  if (domain === LEGACY_DEFAULT_REGISTRY) domain = DEFAULT_REGISTRY;
  if (domain === DEFAULT_REGISTRY && !rest.includes('/')) rest = OFFICIAL_REPO_PREFIX + rest;
  return [domain, rest];
}

/** docker's familiar name: docker.io/ dropped, and library/ too when one component follows it. */
export function familiarNameOf(registry: string, repository: string): string {
  if (registry !== DEFAULT_REGISTRY) return `${registry}/${repository}`;
  const rest = repository.slice(OFFICIAL_REPO_PREFIX.length);
  return repository.startsWith(OFFICIAL_REPO_PREFIX) && !rest.includes('/') ? rest : repository;
}

function isDockerHub(host: string): boolean {
  return DOCKER_HUB_ALIASES.has(host.toLowerCase());
}

/** "https://dhe.x.com/v2/" → "dhe.x.com": a scheme and a path dropped, as docker login does. */
function bareHost(host: string): string {
  let h = String(host).trim();
  const scheme = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.exec(h);
  if (scheme) h = h.slice(scheme[0].length);
  const slash = h.indexOf('/');
  return slash >= 0 ? h.slice(0, slash) : h;
}

/**
 * A registry host as login and credentials name it: lower case; index.docker.io, registry-1.docker.io and
 * registry.hub.docker.com become docker.io. A scheme and a path are dropped ("https://dhe.x.com/v2/" → "dhe.x.com").
 */
export function normalizeRegistry(host: string): string {
  const h = bareHost(host);
  if (h.length === 0 || h.length > NAME_TOTAL_LENGTH_MAX || !isDomain(h)) {
    throw new DheError('INVALID_REFERENCE', `invalid registry "${printable(String(host))}"`, { hint: REGISTRY_HINT });
  }
  return isDockerHub(h) ? DEFAULT_REGISTRY : h.toLowerCase();
}

/** The host to send API requests to: docker.io (and its aliases) → registry-1.docker.io, anything else itself. */
export function registryApiHost(registry: string): string {
  return isDockerHub(registry) ? DEFAULT_REGISTRY_API_HOST : registry;
}
