// Which platform of a multi-platform image in the local store a command works on. A pull of one platform keeps
// the whole index but only that platform's blobs, so "present" children are the ones whose manifest is stored.

import { hostPlatform, parsePlatform, selectManifest, type Descriptor, type Index } from '../oci/index.js';
import type { ImageStore } from '../store/index.js';

/** On a name's index entry: the platform a single-platform pull of a multi-platform image chose. */
export const PLATFORM_ANNOTATION = 'io.dhe-cli.platform';

export async function presentChildren(store: ImageStore, index: Index): Promise<Descriptor[]> {
  const present: Descriptor[] = [];
  for (const c of index.manifests) if (await store.hasBlob(c.digest)) present.push(c);
  return present;
}

/**
 * The child to use: the platform asked for (an error naming what is there when it is absent); otherwise the only
 * one present; otherwise this machine's, falling back to the first one present.
 */
export function pickLocalPlatform(
  index: Index,
  present: Descriptor[],
  platform?: string,
  named?: Descriptor,
): Descriptor | undefined {
  const local = { ...index, manifests: present };
  if (platform) return selectManifest(local, parsePlatform(platform));
  // The platform the name was last pulled for (`pull --platform X`), when it is still in the store.
  const pulled = named?.annotations?.[PLATFORM_ANNOTATION];
  if (pulled) {
    try {
      return selectManifest(local, parsePlatform(pulled));
    } catch {
      // not in the store any more: fall through
    }
  }
  if (present.length <= 1) return present[0];
  try {
    return selectManifest(local, hostPlatform());
  } catch {
    return present[0];
  }
}
