// Names that go into a registry URL are checked against their grammar first: a tag or digest in a path, a digest a
// registry sent (Docker-Content-Digest), a tag from a listing. Nothing a server sent reaches a path unchecked.

import { DheError } from '../errors.js';
import { digestProblem, isValidTag } from '../reference/index.js';

/** Shown in a message: cut, and with control characters escaped (JSON string syntax). */
function shown(s: unknown): string {
  return JSON.stringify(String(s).slice(0, 80));
}

/** A manifest reference for a path (`/manifests/REF`): a tag or a digest; anything else is INVALID_REFERENCE. */
export function checkManifestRef(ref: string): string {
  if (typeof ref === 'string' && (isValidTag(ref) || (ref.includes(':') && digestProblem(ref) === undefined))) return ref;
  throw new DheError('INVALID_REFERENCE', `invalid tag or digest ${shown(ref)}`, {
    hint: 'a tag is up to 128 letters, digits, _ . - (not starting with . or -); a digest is sha256: and 64 lowercase hex digits',
  });
}

/** A blob digest for a path (`/blobs/DIGEST`, `?mount=`); `code`: the error for a malformed one. */
export function checkBlobDigest(digest: string, code: 'INVALID_REFERENCE' | 'MALFORMED_MANIFEST' = 'INVALID_REFERENCE'): string {
  const problem = digestProblem(digest);
  if (problem === undefined) return digest;
  throw new DheError(code, `invalid digest ${shown(digest)}: ${problem}`, { hint: 'a digest is sha256: followed by 64 lowercase hex digits' });
}

/** A digest the registry sent (Docker-Content-Digest): malformed → MALFORMED_MANIFEST (exit 7), never used. */
export function registryDigest(value: string, registry: string, what: string): string {
  const problem = digestProblem(value);
  if (problem === undefined) return value;
  throw new DheError('MALFORMED_MANIFEST', `${registry} sent an invalid Docker-Content-Digest ${shown(value)} for ${what}: ${problem}`, {
    hint: 'the registry or something between (a proxy, a cache) is broken or hostile; the value was not used',
    details: { registry },
  });
}

/** A check for the tags of a listing: one that is not a tag ends the listing (PROTOCOL, exit 1) before any use. */
export function listedTagCheck(registry: string, what: string): (tag: string) => void {
  return (tag) => {
    if (isValidTag(tag)) return;
    throw new DheError('PROTOCOL', `${registry} listed ${shown(tag)} among the ${what}, which is not a valid tag`, {
      hint: 'the registry is broken or hostile; the listing was not used',
      details: { registry },
    });
  };
}
