// Checking what load stored before anything is named: each image the archive describes is walked with the one
// graph walk of the image model (walkImage over the blobs just stored, each document read and parsed once, the
// budget counting every reference and checking the signal, the depth capped) and must be complete — every
// document, config and distributable layer in the archive (or already in the store), at the size declared.

import { ARCHIVE_META_MAX_BYTES } from '../oci/limits.js';
import { isForeignLayer, type Descriptor as OciDescriptor, type Index } from '../oci/index.js';
import type { ImageStore } from '../store/index.js';
import { isIndexMediaType, isManifestMediaType, type Descriptor } from '../store/types.js';
import { StoreSource } from '../image/store.js';
import type { Doc } from '../image/source.js';
import { walkImage, type ChildChooser, type ParsedDoc } from '../image/walk.js';
import type { GraphBudget } from './graph.js';
import { badArchive } from './paths.js';

/** Whether a blob is in the archive (or already in the store) at the size `d` declares; throws when its size differs. */
export type Presence = (d: Descriptor) => Promise<boolean>;

const keyOf = (d: { mediaType: string; size: number; digest: string }) => `${d.mediaType} ${d.size} ${d.digest}`;

/** The store as a source of the documents this load stored: a document the archive lacks is refused as such. */
class LoadedSource extends StoreSource {
  constructor(
    store: ImageStore,
    readonly present: Presence,
  ) {
    super(store);
  }

  override async manifest(desc: OciDescriptor): Promise<Doc> {
    if (!(await this.present(desc as Descriptor))) throw badArchive(`the archive does not contain ${desc.mediaType} ${desc.digest}`);
    const bytes = await this.store.readBlob(desc.digest, ARCHIVE_META_MAX_BYTES);
    return { desc: { ...desc, size: bytes.length }, bytes };
  }
}

export class ArchiveCheck {
  readonly #source: LoadedSource;
  readonly #checked = new Map<string, Promise<string | undefined>>();

  constructor(
    store: ImageStore,
    readonly present: Presence,
    readonly budget: GraphBudget,
    readonly signal?: AbortSignal,
  ) {
    this.#source = new LoadedSource(store, present);
  }

  /** Checks that the image (or index) `root` is complete; the config digest of an image, undefined for an index. */
  async image(root: Descriptor): Promise<string | undefined> {
    const key = keyOf(root);
    await this.budget.ref(key);
    let p = this.#checked.get(key);
    if (!p) {
      p = this.#walk(root);
      this.#checked.set(key, p);
    }
    return p;
  }

  async #walk(root: Descriptor): Promise<string | undefined> {
    const top = await this.#source.manifest(root);
    const g = await walkImage(this.#source, top, {
      choose: this.#presentChildren,
      budget: this.budget,
      maxDocumentBytes: ARCHIVE_META_MAX_BYTES,
      ...(this.signal ? { signal: this.signal } : {}),
    });
    for (const img of g.images) {
      const m = img.manifest;
      if (!(await this.present(m.config as Descriptor))) throw badArchive(`the archive does not contain config ${m.config.digest}`);
      for (const l of m.layers) {
        if (await this.present(l as Descriptor)) continue;
        if (l.urls !== undefined || isForeignLayer(l.mediaType)) continue; // foreign layer, not distributable
        throw badArchive(`the archive does not contain layer ${l.digest}`);
      }
      await this.budget.tick();
    }
    return g.top.parsed.kind === 'image' ? g.top.parsed.manifest.config.digest : undefined;
  }

  /** The children of an index the archive holds (at least one); others are counted, not followed. */
  readonly #presentChildren: ChildChooser = async (index: Index, at: ParsedDoc) => {
    const follow: OciDescriptor[] = [];
    let present = 0;
    for (const child of index.manifests) {
      const d = child as Descriptor;
      if (!(await this.present(d))) {
        await this.budget.ref(keyOf(d));
        continue;
      }
      present++;
      if (isManifestMediaType(d.mediaType) || isIndexMediaType(d.mediaType)) follow.push(child);
      else await this.budget.ref(keyOf(d));
    }
    if (present === 0) throw badArchive(`the archive contains none of the images of index ${at.desc.digest}`);
    return follow;
  };
}
