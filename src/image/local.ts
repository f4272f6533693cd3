// One image of the local store as commands that work on a single image see it (inspect, images, mutate, append):
// a name's image manifest, or the one platform of its index chosen by the platform policy (oci/platform.ts).

import { DheError } from '../errors.js';
import { pickLocalPlatform, platformString, type Descriptor } from '../oci/index.js';
import type { ImageStore } from '../store/index.js';
import { StoreSource } from './store.js';
import { presentChildren, walkImage, type ImageDoc, type ParsedDoc } from './walk.js';

export interface LocalImage {
  top: ParsedDoc;
  /** The image manifest used: the top, or the chosen child of an index (undefined when no child is present). */
  image?: ImageDoc;
  /** Set when the top is an index: the chosen child's platform. */
  platform?: string;
}

/** The image a name means: `named` itself, or the child of its index the platform policy picks among the stored ones. */
export async function readLocalImage(store: ImageStore, named: Descriptor, platform?: string): Promise<LocalImage> {
  const source = new StoreSource(store, named);
  const present = presentChildren(source);
  let chosen: Descriptor | undefined;
  const graph = await walkImage(source, await source.root(), {
    choose: async (index, at) => {
      chosen = pickLocalPlatform(index, await present(index, at), platform, named);
      return chosen ? [chosen] : [];
    },
  });
  const image = graph.images[0];
  if (graph.top.parsed.kind === 'image') return { top: graph.top, ...(image ? { image } : {}) };
  return { top: graph.top, ...(image ? { image } : {}), ...(chosen ? { platform: platformString(chosen.platform) } : {}) };
}

/** readLocalImage, requiring an image: a stored index none of whose platforms is complete is a damaged store. */
export async function requireLocalImage(store: ImageStore, named: Descriptor, familiar: string, platform?: string): Promise<LocalImage & { image: ImageDoc }> {
  const local = await readLocalImage(store, named, platform);
  if (!local.image) throw new DheError('CORRUPT_STORE', `no platform of ${familiar} is complete in the local store`, { hint: `pull it again: dhe-cli pull ${familiar}` });
  return local as LocalImage & { image: ImageDoc };
}
