// Where an image goes: a registry repository, the local store, an archive being written. See source.ts.

import type { Readable } from 'node:stream';
import type { Descriptor } from '../oci/index.js';

/** Opens the blob's bytes, from `offset` when the source is resumable (PutBlobOptions.resumable). */
export type BlobOpener = (offset?: number) => Readable | Promise<Readable>;

export interface PutBlobOptions {
  signal?: AbortSignal;
  onProgress?: (bytes: number) => void;
  /** Called when the blob continues an earlier, interrupted transfer from this many bytes. */
  onResume?: (offset: number) => void;
  /** `open` can start at an offset (the source is a registry). */
  resumable?: boolean;
  /** The source's label (ImageSource.label), for a sink that checks the bytes to name where wrong ones came from. */
  from?: string;
}

export interface ImageSink {
  readonly kind: string;
  /**
   * Whether an index may go in with only some of its children (the store keeps a partially pulled index under its
   * name); a registry refuses one, so a sink without it gets the chosen child under the tag instead.
   */
  readonly keepsPartialIndex: boolean;
  has(desc: Descriptor): Promise<boolean>;
  /** Makes the blob present without sending it (a cross-repository mount); the repository it came from, or undefined. */
  mount?(desc: Descriptor, origins: string[], signal?: AbortSignal): Promise<string | undefined>;
  /** Takes the blob from `open` (which may be called again for a retry); `written` is false when it was there already. */
  putBlob(desc: Descriptor, open: BlobOpener, opts: PutBlobOptions): Promise<{ written: boolean; size: number }>;
  /** Stores a document; with `tag`, names it too (the last thing a transfer does). */
  putManifest(desc: Descriptor, bytes: Buffer, tag?: string, signal?: AbortSignal): Promise<void>;
  /** Whether `tag` already names exactly this document (and so everything it references is there). */
  serves?(tag: string, digest: string, signal?: AbortSignal): Promise<boolean>;
  /** Before anything is written: the blobs and documents the transfer will write (the store leases them). */
  begin?(blobs: string[], documents: string[]): Promise<void>;
  /** After the tag is set. */
  commit(): Promise<void>;
  /** Always, last; with the error when the transfer failed (the store discards what it wrote on an integrity failure). */
  close?(error?: unknown): Promise<void>;
}
