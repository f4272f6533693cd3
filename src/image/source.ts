// The two small shapes every backend implements (go-containerregistry's partial.CompressedImageCore is the model):
// a source gives its top document, documents and blobs by digest; a sink takes blobs and documents. Everything
// else — which children, which blobs, in what order, what to skip — is derived once, in walk.ts and copy.ts.

import type { Readable } from 'node:stream';
import type { Descriptor } from '../oci/index.js';

/** A document (manifest or index) with its descriptor; `desc.size` is `bytes.length`. */
export interface Doc {
  desc: Descriptor;
  bytes: Buffer;
}

export interface BlobReadOptions {
  signal?: AbortSignal;
  /** Hash the bytes on the way and fail the stream on a digest or size mismatch (default true). */
  verify?: boolean;
  /** Start at this byte (only a source that is `resumable`); the bytes before it are the caller's to hash. */
  offset?: number;
}

export interface ImageSource {
  /** What it reads from, for messages ("registry", "store", "archive"). */
  readonly kind: string;
  /** The top document the source is opened at (an image manifest or an index). */
  root(): Promise<Doc>;
  /** A document by its descriptor (digest checked by the backend; size-capped). */
  manifest(desc: Descriptor, signal?: AbortSignal): Promise<Doc>;
  /** A blob's bytes, streamed (a stream that fails on a digest or size mismatch unless `verify: false`). */
  /** Whether blob() can start at an offset (a registry: Range). */
  readonly resumable?: boolean;
  blob(desc: Descriptor, opts?: BlobReadOptions): Readable | Promise<Readable>;
  has(digest: string): Promise<boolean>;
  /** "registry/repository" places the blob is known to be in too (for cross-repository mounts). */
  origins?(digest: string): Promise<string[]>;
  /** Where blob bytes are read, named by a sink that finds them wrong (a registry: "registry/repository"). */
  readonly label?: string;
}
