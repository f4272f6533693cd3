// Referrers on a registry, as library functions attach, referrers, copy --referrers (and sign/verify) share:
// resolving REF to its descriptor, listing what refers to a digest (the OCI 1.1 referrers API, else the referrers
// tag schema's index tagged `sha256-<hex>`), and adding a descriptor to that fallback index (read-modify-write,
// every existing entry kept).

import { DheError, isDheError } from '../errors.js';
import { referrersIndex, referrersTag } from '../oci/artifact.js';
import { MediaType } from '../oci/mediatypes.js';
import type { Descriptor, Index } from '../oci/types.js';
import type { RegistryClient } from '../registry/index.js';
import { parseDoc, type ParsedDoc } from './walk.js';

/** A manifest or index on the registry: its parsed document and its descriptor (artifactType included). */
export interface ResolvedRef extends ParsedDoc {
  desc: Descriptor;
}

/** REF (a tag or digest) as the registry serves it: a tag → its manifest's descriptor; an index stays the index. */
export async function resolveDescriptor(client: RegistryClient, repo: string, ref: string, signal?: AbortSignal): Promise<ResolvedRef> {
  const got = await client.getManifest(repo, ref, signal ? { signal } : {});
  const doc = parseDoc({ desc: { mediaType: got.mediaType, digest: got.digest, size: got.bytes.length }, bytes: got.bytes });
  const body = doc.parsed.kind === 'image' ? doc.parsed.manifest : doc.parsed.index;
  return { ...doc, desc: { ...doc.desc, ...(body.artifactType ? { artifactType: body.artifactType } : {}) } };
}

export interface ReferrersListing {
  /** The descriptors of the manifests whose subject is the digest (filtered by artifactType when asked). */
  manifests: Descriptor[];
  /** Where they came from: the referrers API, or the fallback tag. */
  via: 'api' | 'tag';
}

/** What refers to `digest` in `repo`: the referrers API when the registry has it, else the fallback tag (none: empty). */
export async function listReferrers(client: RegistryClient, repo: string, digest: string, opts: { artifactType?: string; signal?: AbortSignal } = {}): Promise<ReferrersListing> {
  const api = await client.getReferrers(repo, digest, opts);
  const wanted = (d: Descriptor) => !opts.artifactType || d.artifactType === opts.artifactType;
  if (api) return { manifests: api.filtered ? api.index.manifests : api.index.manifests.filter(wanted), via: 'api' };
  const fallback = await readFallbackIndex(client, repo, digest, opts.signal);
  return { manifests: (fallback?.manifests ?? []).filter(wanted), via: 'tag' };
}

/** A document under a tag the tag schemas use (`sha256-<hex>`, cosign's `.sig`), parsed; undefined when the tag is absent. */
export async function readTaggedDoc(client: RegistryClient, repo: string, tag: string, accept: string[], signal?: AbortSignal): Promise<ParsedDoc | undefined> {
  try {
    const got = await client.getManifest(repo, tag, { accept, ...(signal ? { signal } : {}) });
    return parseDoc({ desc: { mediaType: got.mediaType, digest: got.digest, size: got.bytes.length }, bytes: got.bytes });
  } catch (e) {
    if (isDheError(e) && (e.code === 'MANIFEST_UNKNOWN' || e.code === 'NAME_UNKNOWN' || e.code === 'NOT_FOUND')) return undefined;
    throw e;
  }
}

/** The index tagged `sha256-<hex>` (the referrers tag schema), or undefined when there is none. */
export async function readFallbackIndex(client: RegistryClient, repo: string, digest: string, signal?: AbortSignal): Promise<Index | undefined> {
  const tag = referrersTag(digest);
  const doc = await readTaggedDoc(client, repo, tag, [MediaType.ociIndex], signal);
  if (!doc) return undefined;
  if (doc.parsed.kind !== 'index') {
    throw new DheError('MALFORMED_MANIFEST', `${client.registry}/${repo}:${tag} is an image manifest, not the referrers index the tag schema puts there`, {
      hint: 'something else uses that tag; remove or rename it, then attach again',
    });
  }
  return doc.parsed.index;
}

/**
 * Adds `entries` to the fallback index of `subjectDigest` (read-modify-write): existing entries are kept, an entry
 * of the same digest is replaced, the index's own fields (annotations) are kept. Returns the index pushed.
 */
export async function addToFallbackIndex(client: RegistryClient, repo: string, subjectDigest: string, entries: Descriptor[], signal?: AbortSignal): Promise<Index> {
  const current = await readFallbackIndex(client, repo, subjectDigest, signal);
  const added = new Set(entries.map((e) => e.digest));
  const kept = (current?.manifests ?? []).filter((m) => !added.has(m.digest));
  const next: Index = { ...(current ?? {}), ...referrersIndex([...kept, ...entries]) };
  const unchanged = current && JSON.stringify(current.manifests) === JSON.stringify(next.manifests);
  if (!unchanged) {
    await client.putManifest(repo, referrersTag(subjectDigest), Buffer.from(JSON.stringify(next)), MediaType.ociIndex, signal ? { signal } : {});
  }
  return next;
}

/**
 * After a manifest with a subject went in: when the registry neither answered with OCI-Subject nor has a referrers
 * API, the fallback index is brought up to date. `subjectHeader`: the OCI-Subject the PUT was answered with.
 */
export async function recordReferrers(client: RegistryClient, repo: string, subjectDigest: string, entries: Descriptor[], subjectHeader?: string, signal?: AbortSignal): Promise<'api' | 'tag'> {
  if (subjectHeader) return 'api';
  if ((await client.getReferrers(repo, subjectDigest, signal ? { signal } : {})) !== null) return 'api';
  await addToFallbackIndex(client, repo, subjectDigest, entries, signal);
  return 'tag';
}
