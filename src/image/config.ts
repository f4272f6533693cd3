// An image's config read from any source, capped (CONFIG_MAX_BYTES) before and while it streams: the one way a
// config is read (inspect, images, pull's platform check).

import { oversizeDocument, parseConfig, type Descriptor, type ImageConfig } from '../oci/index.js';
import { CONFIG_MAX_BYTES } from '../oci/limits.js';
import { readLimited } from '../transport/limited.js';
import type { ImageStore } from '../store/index.js';
import type { ImageSource } from './source.js';
import { StoreSource } from './store.js';

export async function readConfig(source: ImageSource, desc: Descriptor, signal?: AbortSignal): Promise<ImageConfig> {
  const tooLarge = (n: number) => oversizeDocument('image config', n, CONFIG_MAX_BYTES);
  if (desc.size > CONFIG_MAX_BYTES) throw tooLarge(desc.size);
  const stream = await source.blob(desc, { verify: true, ...(signal ? { signal } : {}) });
  return parseConfig(await readLimited(stream, CONFIG_MAX_BYTES, 'image config', tooLarge));
}

/** The config of an image in the local store (readConfig over the store's source: capped, verified). */
export function readStoredConfig(store: ImageStore, desc: Descriptor, signal?: AbortSignal): Promise<ImageConfig> {
  return readConfig(new StoreSource(store), desc, signal);
}
