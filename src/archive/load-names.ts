// Naming what load read: the images an archive describes (candidates, each with the names the archive gives it),
// the name given on the command line for an archive that names its one image nowhere, and the names set in the
// store in one index update at the very end, after every image checked out.

import { DheError } from '../errors.js';
import { parseReference } from '../reference/index.js';
import type { ImageStore } from '../store/index.js';
import type { Descriptor } from '../store/types.js';
import type { GraphBudget } from './graph.js';
import { badArchive, shownName } from './paths.js';

export interface LoadedImage {
  /** Full normalised names given to it (empty when the archive named it nowhere). */
  names: string[];
  descriptor: Descriptor;
  /** The image ID (config digest) for a single-platform image. */
  configDigest?: string;
}

export interface LoadResult {
  /** Every name set, in archive order. */
  names: string[];
  images: LoadedImage[];
}

/** An image the archive describes, with the names the archive gives it (in archive order). */
export interface Candidate {
  descriptor: Descriptor;
  names: string[];
  configDigest?: string;
}

export function normaliseName(raw: string, where: string): string {
  try {
    return parseReference(raw).toString();
  } catch (e) {
    throw badArchive(`${where} names an invalid image reference "${shownName(raw)}"`, e);
  }
}

/** The images found so far, in archive order, one per top digest. */
export class Candidates {
  readonly list: Candidate[] = [];
  readonly #byDigest = new Map<string, Candidate>();

  has(digest: string): boolean {
    return this.#byDigest.has(digest);
  }

  /** Adds an image, or the names of one already found under the same digest. */
  add(c: Candidate): void {
    const same = this.#byDigest.get(c.descriptor.digest);
    if (same) {
      same.names.push(...c.names.filter((n) => !same.names.includes(n)));
      return;
    }
    this.list.push(c);
    this.#byDigest.set(c.descriptor.digest, c);
  }
}

export interface NamingOptions {
  /** The name given on the command line (used only when the archive holds one image and names it nowhere). */
  name?: string | undefined;
  signal?: AbortSignal | undefined;
}

/** Sets the names of the images found, all at once; refuses an archive that names none of them. */
export async function applyNames(store: ImageStore, found: Candidates, budget: GraphBudget, opts: NamingOptions): Promise<LoadResult> {
  const candidates = found.list;
  if (candidates.length === 0) throw badArchive('the archive contains no image');
  if (opts.name !== undefined && candidates.length === 1 && candidates[0]!.names.length === 0) {
    candidates[0]!.names = [normaliseName(opts.name, 'the name given')];
  }
  if (opts.signal?.aborted) throw new DheError('INTERRUPTED', 'interrupted');
  if (candidates.every((c) => c.names.length === 0)) {
    throw new DheError('USAGE', `the archive names none of its ${candidates.length} image(s), so nothing was loaded`, {
      hint: 'give the image a name when loading it (an archive made with `docker save IMAGE-ID` carries no name)',
      details: { manifests: candidates.map((c) => c.descriptor.digest) },
    });
  }
  const names: string[] = [];
  const pairs: Array<[string, Descriptor]> = [];
  for (const c of candidates) {
    c.names = [...new Set(c.names)];
    for (const n of c.names) {
      pairs.push([n, c.descriptor]);
      names.push(n);
    }
  }
  budget.check();
  await store.setNames(pairs); // one index update, however many names
  return {
    names,
    images: candidates.map((c) => ({
      names: c.names,
      descriptor: c.descriptor,
      ...(c.configDigest ? { configDigest: c.configDigest } : {}),
    })),
  };
}
