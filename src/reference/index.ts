// Image references: the docker/distribution grammar and docker's normalisation, in one place.
//
//   reference        := name [ ":" tag ] [ "@" digest ]
//   name             := [ domain "/" ] path-component ( "/" path-component )*      (at most 255 characters)
//   domain           := host [ ":" port ]
//   host             := domain-name | IPv4 | "[" IPv6 "]"
//   domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
//   path-component   := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
//   tag              := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
//   digest           := algorithm ":" hex    (sha256: 64 lowercase hex, sha384: 96, sha512: 128)
//
// Normalisation (docker's): the first component is a registry when it contains "." or ":" or is "localhost";
// otherwise the registry is docker.io, and a one-component docker.io name gets "library/". index.docker.io and
// registry-1.docker.io are docker.io. Without tag and digest the tag is "latest" (unless defaultTag is false).
//
// One deliberate difference from docker: docker treats an upper-case first component ("Foo/bar") as a registry
// host; we report "repository name must be lowercase" instead, which is what such a name almost always means.

import { DheError } from '../errors.js';

export const DEFAULT_REGISTRY = 'docker.io';
export const DEFAULT_REGISTRY_API_HOST = 'registry-1.docker.io';
export const DEFAULT_TAG = 'latest';
export const OFFICIAL_REPO_PREFIX = 'library/';
export const NAME_TOTAL_LENGTH_MAX = 255;

/** Hex digits each supported digest algorithm needs. */
export const DIGEST_HEX_LENGTHS: Readonly<Record<string, number>> = { sha256: 64, sha384: 96, sha512: 128 };

const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_NAME = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*`;
const IPV6 = '\\[[a-fA-F0-9:]+\\]';
const DOMAIN_RE = new RegExp(`^(?:${DOMAIN_NAME}|${IPV6})(?::[0-9]{1,5})?$`);
const PATH_COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DIGEST_SHAPE_RE = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[a-zA-Z0-9=_-]+$/;
const HEX64_RE = /^[a-f0-9]{64}$/;
/** Longest text worth looking at: name + ":" + tag + "@" + sha512 digest, with room to spare. */
const MAX_INPUT = 1024;

export interface Reference {
  /** "docker.io", "dhe.yourdomain.com", "127.0.0.1:5000", "[::1]:5000" (host in lower case). */
  readonly registry: string;
  /** "library/ubuntu", "yourusername/hello-mine". */
  readonly repository: string;
  /** "latest" when neither tag nor digest was given (and defaultTag was not false). */
  readonly tag?: string;
  /** "sha256:..." */
  readonly digest?: string;
  /** registry + "/" + repository. */
  readonly name: string;
  /** digest ?? tag ?? "latest": what goes in /v2/<repo>/manifests/<identifier>. */
  readonly identifier: string;
  /** docker's short form: "ubuntu:latest", "user/app:1", "dhe.x.com/u/app:1". */
  readonly familiar: string;
  /** docker's short name without tag or digest: "ubuntu", "user/app", "dhe.x.com/u/app". */
  readonly familiarName: string;
  /** Fully qualified: "docker.io/library/ubuntu:latest", "host/repo:tag@sha256:...". */
  toString(): string;
  /** The same repository with this tag and no digest. */
  withTag(tag: string): Reference;
  /** The same repository with this digest (a tag, if any, is kept: "repo:tag@sha256:..."). */
  withDigest(digest: string): Reference;
  /** A token scope: "repository:<repo>:<actions>", e.g. scope("pull,push"). */
  scope(actions: string): string;
}

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

function invalid(text: string, why: string, hint?: string): DheError {
  return new DheError('INVALID_REFERENCE', `invalid reference "${printable(text)}": ${why}`, {
    hint: hint ?? 'a reference looks like [HOST[:PORT]/]NAME[:TAG][@DIGEST], e.g. dhe.yourdomain.com/team/app:1.0',
    details: { reference: printable(text) },
  });
}

/** Keeps error messages one line and short, whatever the user typed. */
function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  return clean.length > 300 ? `${clean.slice(0, 300)}...` : clean;
}

export function isValidTag(s: string): boolean {
  return typeof s === 'string' && TAG_RE.test(s);
}

/** Why a digest is not valid, or undefined when it is. */
export function digestProblem(s: string): string | undefined {
  if (typeof s !== 'string' || s.length === 0) return 'a digest is ALGORITHM:HEX, e.g. sha256:<64 hex digits>';
  if (s.length > 300) return 'too long';
  if (!DIGEST_SHAPE_RE.test(s)) return 'a digest is ALGORITHM:HEX, e.g. sha256:<64 hex digits>';
  const colon = s.indexOf(':');
  const alg = s.slice(0, colon);
  const hex = s.slice(colon + 1);
  const need = DIGEST_HEX_LENGTHS[alg];
  if (need === undefined) return `unsupported digest algorithm "${alg}" (sha256, sha384 and sha512 are)`;
  if (hex.length !== need || !/^[a-f0-9]+$/.test(hex)) return `${alg} needs ${need} lowercase hex digits`;
  return undefined;
}

export function isValidDigest(s: string): boolean {
  return digestProblem(s) === undefined;
}

function isDockerHub(host: string): boolean {
  return DOCKER_HUB_ALIASES.has(host.toLowerCase());
}

/**
 * A registry host as references and credentials name it: lower case; index.docker.io, registry-1.docker.io and
 * registry.hub.docker.com become docker.io. A scheme and a path are dropped ("https://dhe.x.com/v2/" → "dhe.x.com"),
 * as docker login does.
 */
export function normalizeRegistry(host: string): string {
  let h = String(host).trim();
  const scheme = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.exec(h);
  if (scheme) h = h.slice(scheme[0].length);
  const slash = h.indexOf('/');
  if (slash >= 0) h = h.slice(0, slash);
  if (h.length === 0 || h.length > NAME_TOTAL_LENGTH_MAX || !DOMAIN_RE.test(h)) {
    throw new DheError('INVALID_REFERENCE', `invalid registry "${printable(String(host))}"`, {
      hint: 'a registry is HOST[:PORT], e.g. dhe.yourdomain.com, 127.0.0.1:5000 or [::1]:5000',
    });
  }
  h = h.toLowerCase();
  return isDockerHub(h) ? DEFAULT_REGISTRY : h;
}

/** The host to send API requests to: docker.io → registry-1.docker.io, anything else itself. */
export function registryApiHost(registry: string): string {
  return isDockerHub(registry) ? DEFAULT_REGISTRY_API_HOST : registry;
}

function familiarNameOf(registry: string, repository: string): string {
  if (registry !== DEFAULT_REGISTRY) return `${registry}/${repository}`;
  if (repository.startsWith(OFFICIAL_REPO_PREFIX) && !repository.slice(OFFICIAL_REPO_PREFIX.length).includes('/')) {
    return repository.slice(OFFICIAL_REPO_PREFIX.length);
  }
  return repository;
}

class ImageReference implements Reference {
  readonly registry: string;
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: string;

  constructor(registry: string, repository: string, tag: string | undefined, digest: string | undefined) {
    this.registry = registry;
    this.repository = repository;
    if (tag !== undefined) this.tag = tag;
    if (digest !== undefined) this.digest = digest;
    Object.freeze(this);
  }

  get name(): string {
    return `${this.registry}/${this.repository}`;
  }
  get identifier(): string {
    return this.digest ?? this.tag ?? DEFAULT_TAG;
  }
  get familiarName(): string {
    return familiarNameOf(this.registry, this.repository);
  }
  get familiar(): string {
    return this.familiarName + this.suffix();
  }
  private suffix(): string {
    return (this.tag !== undefined ? `:${this.tag}` : '') + (this.digest !== undefined ? `@${this.digest}` : '');
  }
  toString(): string {
    return this.name + this.suffix();
  }
  toJSON(): string {
    return this.toString();
  }
  withTag(tag: string): Reference {
    if (!isValidTag(tag)) {
      throw new DheError('INVALID_REFERENCE', `invalid tag "${printable(String(tag))}" for ${this.name}`, {
        hint: 'a tag is up to 128 letters, digits, "_", "." and "-", not starting with "." or "-"',
      });
    }
    return new ImageReference(this.registry, this.repository, tag, undefined);
  }
  withDigest(digest: string): Reference {
    const problem = digestProblem(digest);
    if (problem !== undefined) {
      throw new DheError('INVALID_REFERENCE', `invalid digest "${printable(String(digest))}" for ${this.name}: ${problem}`);
    }
    return new ImageReference(this.registry, this.repository, this.tag, digest);
  }
  scope(actions: string): string {
    return `repository:${this.repository}:${actions}`;
  }
}

interface Parts {
  registry: string;
  repository: string;
  tag: string | undefined;
  digest: string | undefined;
}

function parseParts(text: string): Parts {
  if (typeof text !== 'string') throw invalid(String(text), 'not a string');
  if (text.length === 0) throw invalid(text, 'empty reference');
  if (text.length > MAX_INPUT) throw invalid(text, `too long (${text.length} characters)`);
  if (/\s/.test(text)) throw invalid(text, 'contains white space');
  if (HEX64_RE.test(text)) {
    throw invalid(text, 'cannot use a 64-hex-digit string as a repository name', 'to name an image by its ID, use NAME@sha256:<hex>');
  }

  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (digest.includes('@')) throw invalid(text, 'more than one "@"');
    const problem = digestProblem(digest);
    if (problem !== undefined) {
      throw new DheError('INVALID_REFERENCE', `invalid digest "${printable(digest)}" in "${printable(text)}": ${problem}`, {
        hint: 'a digest is sha256: followed by 64 lowercase hex digits',
      });
    }
  }

  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!isValidTag(tag)) {
      throw new DheError('INVALID_REFERENCE', `invalid tag "${printable(tag)}" in "${printable(text)}"`, {
        hint: 'a tag is up to 128 letters, digits, "_", "." and "-", not starting with "." or "-"',
      });
    }
  }
  if (rest.length === 0) throw invalid(text, 'missing repository name');

  const components = rest.split('/');
  let registry = DEFAULT_REGISTRY;
  const first = components[0] ?? '';
  if (components.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    if (!DOMAIN_RE.test(first)) {
      throw new DheError('INVALID_REFERENCE', `invalid registry "${printable(first)}" in "${printable(text)}"`, {
        hint: 'a registry is HOST[:PORT], e.g. dhe.yourdomain.com, 127.0.0.1:5000 or [::1]:5000',
      });
    }
    registry = first.toLowerCase();
    if (isDockerHub(registry)) registry = DEFAULT_REGISTRY;
    components.shift();
  }

  const repoText = components.join('/');
  if (repoText !== repoText.toLowerCase()) {
    throw invalid(text, 'repository name must be lowercase', `try "${printable(text.replace(repoText, repoText.toLowerCase()))}"`);
  }
  for (const c of components) {
    if (c.length === 0) throw invalid(text, 'empty path component (a "/" too many?)');
    if (!PATH_COMPONENT_RE.test(c)) {
      throw invalid(
        text,
        `invalid repository name component "${printable(c)}"`,
        'a repository name is lowercase letters and digits, separated by "/", and within a component by ".", "_", "__" or "-"',
      );
    }
  }

  let repository = repoText;
  if (registry === DEFAULT_REGISTRY && components.length === 1) repository = OFFICIAL_REPO_PREFIX + repository;
  const name = `${registry}/${repository}`;
  if (name.length > NAME_TOTAL_LENGTH_MAX) {
    throw invalid(text, `repository name must not be longer than ${NAME_TOTAL_LENGTH_MAX} characters (it is ${name.length})`);
  }
  return { registry, repository, tag, digest };
}

/**
 * Parses and normalises an image reference as docker does. Throws DheError INVALID_REFERENCE naming the
 * offending part.
 */
export function parseReference(text: string, opts: ParseReferenceOptions = {}): Reference {
  const p = parseParts(text);
  const tag = p.tag ?? (p.digest === undefined && opts.defaultTag !== false ? DEFAULT_TAG : undefined);
  return new ImageReference(p.registry, p.repository, tag, p.digest);
}

/** Parses a repository name ([HOST[:PORT]/]PATH) that must carry no tag and no digest. */
export function parseRepository(text: string): RepositoryName {
  const p = parseParts(text);
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
