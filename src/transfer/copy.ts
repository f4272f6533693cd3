// copy: registry → registry, as the one transfer engine does it (src/image/copy.ts), streaming each blob from
// source to destination without the local store. Same registry: blobs are mounted across repositories. Digests
// are preserved (manifests are copied as bytes).

import { DheError } from '../errors.js';
import { platformString } from '../oci/index.js';
import type { Reference } from '../reference/index.js';
import type { RegistryClient } from '../registry/index.js';
import { transfer } from '../image/copy.js';
import { RemoteSink, RemoteSource } from '../image/remote.js';
import { walkImage, type ChildChooser } from '../image/walk.js';
import { noEvents, type EventSink } from './events.js';
import { registryChooser } from './pull.js';
import { copyReferrers, type ReferrersCopyResult } from './copy-referrers.js';

export interface CopyOptions {
  source: RegistryClient;
  destination: RegistryClient;
  allPlatforms?: boolean;
  platform?: string;
  concurrency?: number;
  /** Also copy what refers to the copied manifests, and their cosign tags (src/transfer/copy-referrers.ts). */
  referrers?: boolean;
  onEvent?: EventSink;
  signal?: AbortSignal;
}

export interface CopyResult {
  digest: string;
  mediaType: string;
  size: number;
  copiedBlobs: number;
  mountedBlobs: number;
  existingBlobs: number;
  /** With `referrers`: how many referrer manifests and cosign tags went along. */
  referrers?: ReferrersCopyResult;
}

export async function copyImage(src: Reference, dst: Reference, opts: CopyOptions): Promise<CopyResult> {
  const emit = opts.onEvent ?? noEvents;
  const sink = new RemoteSink(opts.destination, dst.repository);
  const source = new RemoteSource(opts.source, src.repository, src.identifier, opts.signal);
  const pick = registryChooser(opts);
  const choose: ChildChooser = async (index, at) => {
    const chosen = await pick(index, at);
    if (!opts.allPlatforms) {
      emit({ type: 'note', message: `copying one platform (${platformString(chosen[0]?.platform)}) of a multi-platform image; use --all-platforms for the whole index` });
    }
    return chosen;
  };
  const graph = await walkImage(source, await source.root(), { choose, ...(opts.signal ? { signal: opts.signal } : {}) });
  const tagged = graph.top.parsed.kind === 'index' && !opts.allPlatforms ? graph.images[0]! : graph.top;
  if (dst.digest && dst.digest !== tagged.desc.digest) {
    throw new DheError('USAGE', `${src.familiar} is ${tagged.desc.digest}, not the ${dst.digest} the destination names`, {
      hint: 'leave the digest out of the destination, or name the source by that digest',
    });
  }
  emit({ type: 'push-start', reference: dst.toString(), repository: dst.name });
  const moved = await transfer(source, sink, graph, {
    tag: dst.tag ?? tagged.desc.digest,
    singleImage: !opts.allPlatforms,
    concurrency: opts.concurrency ?? 4,
    onEvent: emit,
    events: 'push',
    // one hash per byte: the upload hashes what it sends and holds back the last chunk until the digest matches
    // (src/registry/streams.ts verifying), naming the source when it does not
    verifyBlobs: false,
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  const root = moved.root;
  emit({ type: 'manifest-pushed', tag: dst.tag ?? root.desc.digest, digest: root.desc.digest, size: root.bytes.length });
  const result: CopyResult = { digest: root.desc.digest, mediaType: root.desc.mediaType, size: root.bytes.length, copiedBlobs: moved.written, mountedBlobs: moved.mounted, existingBlobs: moved.existing };
  if (!opts.referrers) return result;
  // the manifests now in the destination: the tagged one, and below a whole index every child
  const subjects = root === graph.top ? [root.desc.digest, ...graph.manifests.map((d) => d.desc.digest)] : [root.desc.digest];
  const referrers = await copyReferrers(src.repository, dst.repository, subjects, { ...opts, onEvent: emit });
  emit({ type: 'note', message: `Copied ${plural(referrers.referrers, 'referrer')} and ${plural(referrers.tags, 'cosign tag')}` });
  return { ...result, referrers };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
