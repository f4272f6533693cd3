// Finds a local image the way docker does: by name, by name@digest, or by IMAGE ID (a prefix of the config
// digest of at least 12 hex digits, as `images` shows it), so `tag`, `rmi`, `save` and `inspect` accept what users
// copy from `images`.

import { DheError } from '../errors.js';
import type { Descriptor } from '../oci/index.js';
import { parseReference, type Reference } from '../reference/index.js';
import type { ImageStore } from '../store/index.js';
import { listImageSummaries } from '../transfer/images.js';
import { notLocalError } from '../transfer/push.js';

export interface LocalImage {
  descriptor: Descriptor;
  /** Stored names that point at it (for an ID: every name of that image). */
  names: string[];
  /** The reference the user gave, when it was one. */
  ref?: Reference;
}

const ID = /^(?:sha256:)?([0-9a-f]{12,64})$/;

export async function findLocalImage(store: ImageStore, text: string): Promise<LocalImage> {
  const id = ID.exec(text)?.[1];
  if (id) {
    const hits = (await listImageSummaries(store)).filter(
      (s) => s.configDigest.slice(7).startsWith(id) || s.digest.slice(7).startsWith(id),
    );
    const digests = new Set(hits.map((h) => h.digest));
    if (digests.size > 1) {
      throw new DheError('USAGE', `image ID ${text} is ambiguous: it matches ${hits.map((h) => h.reference).join(', ')}`, {
        hint: 'give more digits of the ID, or the image name',
      });
    }
    const first = hits[0];
    const descriptor = first ? await store.resolve(first.reference) : null;
    if (descriptor) return { descriptor, names: hits.map((h) => h.reference) };
  }
  const ref = parseReference(text);
  const descriptor = await store.resolve(ref.toString());
  if (!descriptor) throw notLocalError(ref.familiar);
  return { descriptor, names: [ref.toString()], ref };
}
