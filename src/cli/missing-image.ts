// A manifest the registry does not have: distribution answers MANIFEST_UNKNOWN whether the tag or the whole
// repository is missing. One tag listing tells which, so the hint is right: the tags there are, or that the
// repository itself does not exist (where suggesting `dhe-cli tags` would only fail again).

import { DheError, isDheError } from '../errors.js';
import type { Reference } from '../reference/index.js';
import type { RegistryClient } from '../registry/index.js';

const SHOWN_TAGS = 5;

/** `e` with a hint that says what is there, when it is a MANIFEST_UNKNOWN for `ref`; otherwise `e` itself. */
export async function explainMissingManifest(client: RegistryClient, ref: Reference, e: unknown): Promise<unknown> {
  if (!isDheError(e) || e.code !== 'MANIFEST_UNKNOWN') return e;
  let tags: string[];
  try {
    tags = await client.listTags(ref.repository);
  } catch (listing) {
    if (isDheError(listing) && listing.code === 'NAME_UNKNOWN') {
      return new DheError('NAME_UNKNOWN', `repository ${ref.name} not found: ${ref.registry} has no repository ${ref.repository}`, {
        hint: `check the repository name; on a private registry a missing permission can look the same (dhe-cli doctor ${ref.registry} --repo ${ref.repository} tells)`,
        cause: e,
        details: e.details,
      });
    }
    return e; // the listing is a courtesy: keep the registry's own answer
  }
  if (tags.length === 0) {
    return new DheError('MANIFEST_UNKNOWN', e.message, { hint: `${ref.name} has no tags on ${ref.registry}: push one first`, cause: e, details: e.details });
  }
  const shown = tags.slice(-SHOWN_TAGS).join(', ');
  const more = tags.length > SHOWN_TAGS ? ` (${tags.length} in all: dhe-cli tags ${ref.name})` : '';
  return new DheError('MANIFEST_UNKNOWN', e.message, { hint: `check the tag or digest; ${ref.name} has ${shown}${more}`, cause: e, details: e.details });
}
