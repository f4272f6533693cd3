// The one graph walk: top document → the chosen children of each index → image manifests → their blobs (config
// and layers, each once, foreign layers skipped). Each document is read and parsed once (a visited set: an index
// naming the same child thousands of times costs one read), indexes nest at most MAX_DEPTH deep, and an optional
// budget counts every reference (archives, which are untrusted, give one).

import { DheError } from '../errors.js';
import { isForeignLayer, parseManifest, type Descriptor, type Index, type Manifest, type ParsedManifest } from '../oci/index.js';
import { INDEX_DEPTH_MAX } from '../oci/limits.js';
import type { Doc, ImageSource } from './source.js';

/** Index levels below the top an image may be reached through. */
const MAX_DEPTH = INDEX_DEPTH_MAX;

export interface ParsedDoc extends Doc {
  parsed: ParsedManifest;
}

export interface ImageDoc extends Doc {
  manifest: Manifest;
}

/** Which children of an index to follow (all of them when absent). */
export type ChildChooser = (index: Index, at: ParsedDoc) => Descriptor[] | Promise<Descriptor[]>;

/** Counts references and checks an abort signal as the walk goes (see archive/graph.ts GraphBudget). */
export interface WalkBudget {
  ref(key: string): Promise<void>;
  tick(): Promise<void>;
}

export interface WalkOptions {
  choose?: ChildChooser;
  signal?: AbortSignal;
  budget?: WalkBudget;
  /** Largest document parsed (default MANIFEST_MAX_BYTES; archives, whose documents load read already, allow more). */
  maxDocumentBytes?: number;
}

export interface ImageGraph {
  top: ParsedDoc;
  /** Image manifests, each once, in the order they were reached. */
  images: ImageDoc[];
  /** Every document below the top, each once, children before the index that names them. */
  manifests: Doc[];
  /** Configs and layers, each once, foreign layers left out. */
  blobs: Descriptor[];
  /** Digests of the layers among `blobs`. */
  layers: Set<string>;
  /** Every child of every index walked was chosen. */
  whole: boolean;
}

/** Parses a document read from a source; its descriptor gets the media type the document itself declares. */
export function parseDoc(doc: Doc, maxBytes?: number): ParsedDoc {
  const parsed = parseManifest(doc.bytes, doc.desc.mediaType, maxBytes);
  return { desc: { ...doc.desc, mediaType: parsed.mediaType, size: doc.bytes.length }, bytes: doc.bytes, parsed };
}

export async function walkImage(source: ImageSource, top: Doc | ParsedDoc, opts: WalkOptions = {}): Promise<ImageGraph> {
  const parsedTop = 'parsed' in top ? top : parseDoc(top, opts.maxDocumentBytes);
  const g: ImageGraph = { top: parsedTop, images: [], manifests: [], blobs: [], layers: new Set(), whole: true };
  const seenBlobs = new Set<string>();
  const visited = new Map<string, Promise<number>>(); // digest → its height (index levels below it)
  const addBlob = (d: Descriptor, layer: boolean) => {
    if (layer) g.layers.add(d.digest);
    if (seenBlobs.has(d.digest)) return;
    seenBlobs.add(d.digest);
    g.blobs.push(d);
  };
  const visit = async (doc: ParsedDoc, depth: number): Promise<number> => {
    opts.signal?.throwIfAborted();
    if (doc.parsed.kind === 'image') {
      const m = doc.parsed.manifest;
      g.images.push({ desc: doc.desc, bytes: doc.bytes, manifest: m });
      await opts.budget?.ref(`config ${m.config.size} ${m.config.digest}`);
      addBlob(m.config, false);
      for (const l of m.layers) {
        await opts.budget?.ref(`layer ${l.size} ${l.digest}`);
        if (!isForeignLayer(l.mediaType)) addBlob(l, true);
      }
      return 0;
    }
    const index = doc.parsed.index;
    const chosen = opts.choose ? await opts.choose(index, doc) : index.manifests;
    if (chosen.length < index.manifests.length) g.whole = false;
    let height = 1;
    for (const child of chosen) height = Math.max(height, 1 + (await reach(child, depth + 1)));
    return height;
  };
  const reach = async (child: Descriptor, depth: number): Promise<number> => {
    if (depth > MAX_DEPTH) throw tooDeep();
    await opts.budget?.ref(`${child.mediaType} ${child.size} ${child.digest}`);
    let height = visited.get(child.digest);
    if (!height) {
      height = (async () => {
        const doc = parseDoc(await source.manifest(child, opts.signal), opts.maxDocumentBytes);
        const h = await visit({ ...doc, desc: { ...doc.desc, ...(child.platform ? { platform: child.platform } : {}) } }, depth);
        g.manifests.push(doc);
        await opts.budget?.tick();
        return h;
      })();
      visited.set(child.digest, height);
    }
    const h = await height;
    if (depth + h > MAX_DEPTH) throw tooDeep();
    return h;
  };
  await visit(g.top, 0);
  return g;
}

function tooDeep(): DheError {
  return new DheError('MALFORMED_MANIFEST', `indexes nest more than ${MAX_DEPTH} levels deep`, {
    hint: 'this is not an image docker, skopeo or dhe-cli writes; check the reference',
  });
}

/** The children of an index the source has (a store keeps only the platforms that were pulled). */
export function presentChildren(source: ImageSource): ChildChooser {
  return async (index) => {
    const present: Descriptor[] = [];
    for (const c of index.manifests) if (await source.has(c.digest)) present.push(c);
    return present;
  };
}

/**
 * Every digest the images under `roots` reach (documents, configs, layers; foreign layers too, when present), for
 * the store's garbage collection. Children a source does not have are skipped (a partially pulled index).
 */
export async function reachableDigests(source: ImageSource, roots: Descriptor[], signal?: AbortSignal): Promise<Set<string>> {
  const out = new Set<string>();
  const choose = presentChildren(source);
  for (const root of roots) {
    if (!(await source.has(root.digest))) continue;
    out.add(root.digest);
    const g = await walkImage(source, await source.manifest(root, signal), { choose, signal });
    for (const d of g.manifests) out.add(d.desc.digest);
    for (const img of g.images) for (const l of img.manifest.layers) out.add(l.digest);
    for (const b of g.blobs) out.add(b.digest);
  }
  return out;
}
