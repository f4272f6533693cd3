// An image's config read from any source, capped (CONFIG_MAX_BYTES) before and while it streams.

import { oversizeDocument, parseConfig, type Descriptor, type ImageConfig } from '../oci/index.js';
import { CONFIG_MAX_BYTES } from '../oci/limits.js';
import type { ImageSource } from './source.js';

export async function readConfig(source: ImageSource, desc: Descriptor, signal?: AbortSignal): Promise<ImageConfig> {
  if (desc.size > CONFIG_MAX_BYTES) throw oversizeDocument('image config', desc.size, CONFIG_MAX_BYTES);
  const stream = await source.blob(desc, { verify: true, ...(signal ? { signal } : {}) });
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stream) {
    const b = Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array);
    n += b.length;
    if (n > CONFIG_MAX_BYTES) {
      stream.destroy();
      throw oversizeDocument('image config', n, CONFIG_MAX_BYTES);
    }
    chunks.push(b);
  }
  return parseConfig(Buffer.concat(chunks));
}
