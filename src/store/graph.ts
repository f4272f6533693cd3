// One typed walk of the store's graph: from named descriptors through indexes (their manifests), image manifests
// (config, layers) and subjects, parsing each document with src/oci's parseManifest (no untyped JSON walks). prune,
// discardBlobs, verify and resolve all go through `reachableDigests`.
//
// SEAM (issue 15): the image-model branch writes the shared walk in src/image/walk.ts. Until it lands this is the
// store's own small walk; when it does, `reachableDigests(roots, read)` becomes a call to it and nothing else in
// src/store changes (its callers only see this signature and GraphNode).

import { parseManifest } from '../oci/manifest.js';
import { isValidDigest } from './digest.js';
import { isIndexMediaType, isManifestMediaType, type Descriptor } from './types.js';

export interface GraphNode {
  /** The descriptor as its first referrer (or the roots) gave it. */
  descriptor: Descriptor;
  /** How it was reached: a root, a child of an index, the config or a layer of a manifest, or a subject. */
  via: 'root' | 'index' | 'manifest' | 'subject';
  /** Whether a complete image needs it: roots, configs and layers do; children of indexes and subjects do not. */
  required: boolean;
  /** Documents above it on the shortest path from a root (0 for a root). */
  depth: number;
  /** Its document is in the store but could not be read or parsed as a manifest or index (children unknown). */
  malformed?: true;
}

/**
 * Reads a manifest or index document: its bytes, or null when it is not in the store. A throw (corrupt, too large,
 * unreadable) marks the node malformed.
 */
export type ReadDocument = (d: Descriptor) => Promise<Uint8Array | null>;

interface Edge {
  d: Descriptor;
  via: GraphNode['via'];
  depth: number;
}

/** The descriptors a parsed document refers to. */
function childrenOf(bytes: Uint8Array, d: Descriptor, depth: number): Edge[] {
  const doc = parseManifest(bytes, d.mediaType);
  const out: Edge[] = [];
  const next = depth + 1;
  if (doc.kind === 'index') {
    for (const c of doc.index.manifests) out.push({ d: c, via: 'index', depth: next });
    if (doc.index.subject) out.push({ d: doc.index.subject, via: 'subject', depth: next });
  } else {
    out.push({ d: doc.manifest.config, via: 'manifest', depth: next });
    for (const l of doc.manifest.layers) out.push({ d: l, via: 'manifest', depth: next });
    if (doc.manifest.subject) out.push({ d: doc.manifest.subject, via: 'subject', depth: next });
  }
  return out;
}

/**
 * Every digest reachable from `roots`, breadth first (so `depth` is the shortest), each with how it was reached.
 * Documents are read only for descriptors whose media type is a manifest or an index; a digest reached both as
 * required and as optional is required.
 */
export async function reachableDigests(roots: readonly Descriptor[], read: ReadDocument): Promise<Map<string, GraphNode>> {
  const nodes = new Map<string, GraphNode>();
  let level: Edge[] = roots.map((d) => ({ d, via: 'root', depth: 0 }));
  while (level.length > 0) {
    const next: Edge[] = [];
    for (const { d, via, depth } of level) {
      if (!d || typeof d.digest !== 'string' || !isValidDigest(d.digest)) continue;
      const required = via === 'root' || via === 'manifest';
      const seen = nodes.get(d.digest);
      if (seen) {
        if (required) seen.required = true;
        continue;
      }
      const node: GraphNode = { descriptor: d, via, required, depth };
      nodes.set(d.digest, node);
      if (!isIndexMediaType(d.mediaType) && !isManifestMediaType(d.mediaType)) continue;
      try {
        const bytes = await read(d);
        if (bytes !== null) next.push(...childrenOf(bytes, d, depth));
      } catch {
        node.malformed = true;
      }
    }
    level = next;
  }
  return nodes;
}
