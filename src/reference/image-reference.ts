// The parsed reference: immutable, printed fully qualified (toString) or as docker's familiar form.

import { DheError } from '../errors.js';
import { isValidTag } from './grammar.js';
import { digestProblem } from './digest.js';
import { printable, TAG_HINT } from './errors.js';
import { DEFAULT_TAG, familiarNameOf } from './normalize.js';

export interface Reference {
  /** docker's domain, as written: "docker.io", "dhe.yourdomain.com", "127.0.0.1:5000", "[::1]:5000", "Foo". */
  readonly registry: string;
  /** docker's path: "library/ubuntu", "yourusername/hello-mine". */
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

export class ImageReference implements Reference {
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
      throw new DheError('INVALID_REFERENCE', `invalid tag "${printable(String(tag))}" for ${this.name}`, { hint: TAG_HINT });
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
