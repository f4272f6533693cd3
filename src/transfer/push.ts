// push: local store → registry, as the one transfer engine does it (src/image/copy.ts): per blob HEAD (exists) →
// cross-repository mount from a repository it came from → upload, concurrently; then manifests, children before
// their index, the tag last. Layers stored uncompressed are gzip-compressed first (compress.ts).

import { DheError } from '../errors.js';
import { pickLocalPlatform, platformString, type Descriptor } from '../oci/index.js';
import type { Reference } from '../reference/index.js';
import type { RegistryClient } from '../registry/index.js';
import type { ImageStore } from '../store/index.js';
import { transfer } from '../image/copy.js';
import { RemoteSink } from '../image/remote.js';
import { StoreSource } from '../image/store.js';
import { walkImage, type ChildChooser } from '../image/walk.js';
import { compressStoredImage, type Compression } from './compress.js';
import { noEvents, type EventSink } from './events.js';

export interface PushOptions {
  store: ImageStore;
  client: RegistryClient;
  concurrency?: number;
  onEvent?: EventSink;
  signal?: AbortSignal;
  /** For a partially pulled multi-platform image: the platform to push (default the host's). */
  platform?: string;
  /** Layers stored uncompressed are gzip-compressed once before the push (default), or pushed as they are. */
  compression?: Compression;
  /** Continue an upload interrupted in an earlier run, and keep this one's if interrupted (default true). */
  resume?: boolean;
}

export interface PushResult {
  reference: string;
  digest: string;
  size: number;
  mediaType: string;
  pushedBlobs: number;
  mountedBlobs: number;
  existingBlobs: number;
}

export function notLocalError(name: string): DheError {
  return new DheError('IMAGE_NOT_LOCAL', `no such image in the local store: ${name}`, {
    hint: `get it there first: 'dhe-cli pull ${name}', 'dhe-cli tag SOURCE ${name}' or 'dhe-cli load -i FILE'`,
  });
}

function incompleteError(ref: Reference): DheError {
  return new DheError('CORRUPT_STORE', `no platform of ${ref.familiar} is complete in the local store`, { hint: `pull it again: dhe-cli pull ${ref.familiar}` });
}

/**
 * The children of a stored index that go up: all of them when all are stored; else (a partially pulled index,
 * which a registry would refuse) one platform, with a note.
 */
function storedChooser(source: StoreSource, ref: Reference, named: Descriptor, platform: string | undefined, note?: (message: string) => void): ChildChooser {
  return async (index) => {
    const present: Descriptor[] = [];
    for (const c of index.manifests) if (await source.has(c.digest)) present.push(c);
    if (present.length === index.manifests.length) return present;
    const child = pickLocalPlatform(index, present, platform, named);
    if (!child) throw incompleteError(ref);
    note?.(
      `only ${platformString(child.platform)} of this multi-platform image is in the local store; pushing that platform's manifest (pull with --all-platforms to push the whole index)`,
    );
    return [child];
  };
}

async function compressFirst(store: ImageStore, top: Descriptor, emit: EventSink, signal?: AbortSignal): Promise<Descriptor> {
  const compressed = await compressStoredImage(store, top, signal);
  if (compressed.layers.length === 0) return top;
  const mb = (n: number) => `${(n / 1e6).toFixed(1)}MB`;
  const before = compressed.layers.reduce((n, l) => n + l.size, 0);
  const after = compressed.layers.reduce((n, l) => n + l.compressedSize, 0);
  const count = compressed.layers.length;
  emit({ type: 'note', message: `compressed ${count} layer${count > 1 ? 's' : ''} stored uncompressed with gzip: ${mb(before)} → ${mb(after)} (same IMAGE ID)` });
  return compressed.top;
}

export async function pushImage(ref: Reference, opts: PushOptions): Promise<PushResult> {
  const { store, client } = opts;
  const emit = opts.onEvent ?? noEvents;
  const name = ref.toString();
  let top = await store.resolve(name);
  if (!top) throw notLocalError(ref.familiar);
  emit({ type: 'push-start', reference: name, repository: ref.name });
  if ((opts.compression ?? 'gzip') === 'gzip') top = await compressFirst(store, top, emit, opts.signal);
  const sink = new RemoteSink(client, ref.repository, opts.resume === false ? undefined : store.uploads);

  const source = new StoreSource(store, top);
  const note = (message: string) => emit({ type: 'note', message });
  const graph = await walkImage(source, await source.root(), { choose: storedChooser(source, ref, top, opts.platform, note) });
  // layers before configs, as docker pushes them
  graph.blobs = [...graph.blobs.filter((b) => graph.layers.has(b.digest)), ...graph.blobs.filter((b) => !graph.layers.has(b.digest))];
  for (const b of graph.blobs) {
    if (!(await store.hasBlob(b.digest))) {
      throw new DheError('CORRUPT_STORE', `blob ${b.digest} of ${ref.familiar} is missing from the local store`, {
        hint: `run 'dhe-cli store verify --repair', then pull or load the image again`,
      });
    }
  }
  const tagOrDigest = ref.tag ?? ref.digest ?? 'latest';
  const tagged = graph.whole ? graph.top : graph.images[0]!;
  const putAs = ref.digest && !ref.tag ? tagged.desc.digest : tagOrDigest;
  // What is pushed stays out of a concurrent prune's reach until it is up.
  const lease = await store.lease([...graph.blobs.map((b) => b.digest), ...graph.manifests.map((m) => m.desc.digest), graph.top.desc.digest]);
  try {
    const moved = await transfer(source, sink, graph, {
      tag: putAs,
      concurrency: opts.concurrency ?? 4,
      onEvent: emit,
      events: 'push',
      // the registry checks every upload's digest; the store's blobs were verified on the way in
      verifyBlobs: false,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    await store.addSources(graph.blobs.map((b): [string, string] => [b.digest, ref.name]));
    emit({ type: 'manifest-pushed', tag: tagOrDigest, digest: moved.root.desc.digest, size: moved.root.bytes.length });
    return {
      reference: name,
      digest: moved.root.desc.digest,
      size: moved.root.bytes.length,
      mediaType: moved.root.desc.mediaType,
      pushedBlobs: moved.written,
      mountedBlobs: moved.mounted,
      existingBlobs: moved.existing,
    };
  } finally {
    await lease.release();
  }
}
