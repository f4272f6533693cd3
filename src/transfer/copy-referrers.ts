// copy --referrers: after an image is copied, what refers to it goes along — every referrer of every manifest that
// was copied (the referrers API, else the source's fallback tag), and cosign's tags `sha256-<hex>.sig|.att|.sbom`
// next to them — recursively (an SBOM's signature too), digests kept. Each referrer is copied by digest with the
// one transfer engine; where the destination has no referrers API, its fallback tag gets the new entries.

import { DheError } from '../errors.js';
import { cosignTags, referrerDescriptor } from '../oci/artifact.js';
import type { Descriptor } from '../oci/index.js';
import type { RegistryClient } from '../registry/index.js';
import { transfer } from '../image/copy.js';
import { listReferrers, recordReferrers } from '../image/referrers.js';
import { RemoteSink, RemoteSource } from '../image/remote.js';
import { parseDoc, walkImage, type ParsedDoc } from '../image/walk.js';
import type { EventSink } from './events.js';

/** More referrers than this below one image is a hostile or broken registry, not a real image's attachments. */
const MAX_REFERRERS = 1000;

export interface ReferrersCopyOptions {
  source: RegistryClient;
  destination: RegistryClient;
  concurrency?: number;
  onEvent?: EventSink;
  signal?: AbortSignal;
}

export interface ReferrersCopyResult {
  /** Referrer manifests copied (by digest). */
  referrers: number;
  /** Cosign-style tags copied. */
  tags: number;
}

interface Job {
  opts: ReferrersCopyOptions;
  srcRepo: string;
  dstRepo: string;
  seen: Set<string>;
  queue: string[];
  result: ReferrersCopyResult;
}

/** Copies what refers to `subjects` (digests already in the destination) from `srcRepo` to `dstRepo`. */
export async function copyReferrers(srcRepo: string, dstRepo: string, subjects: string[], opts: ReferrersCopyOptions): Promise<ReferrersCopyResult> {
  const job: Job = { opts, srcRepo, dstRepo, seen: new Set(subjects), queue: [...subjects], result: { referrers: 0, tags: 0 } };
  for (let subject = job.queue.shift(); subject !== undefined; subject = job.queue.shift()) {
    opts.signal?.throwIfAborted();
    await copyReferrersOf(job, subject);
    await copyCosignTags(job, subject);
  }
  return job.result;
}

async function copyReferrersOf(job: Job, subject: string): Promise<void> {
  const { opts, srcRepo, dstRepo } = job;
  const listed = await listReferrers(opts.source, srcRepo, subject, opts.signal ? { signal: opts.signal } : {});
  const entries: Descriptor[] = [];
  for (const desc of listed.manifests) {
    if (job.seen.has(desc.digest)) continue;
    const source = new RemoteSource(opts.source, srcRepo, desc.digest, opts.signal);
    const top = parseDoc(await source.root());
    const body = top.parsed.kind === 'image' ? top.parsed.manifest : top.parsed.index;
    if (body.subject?.digest !== subject) {
      // a stale or foreign entry of a fallback index: not a referrer of this image, so not copied as one
      opts.onEvent?.({ type: 'note', message: `skipping ${desc.digest}: listed as a referrer of ${subject}, but its subject is ${body.subject?.digest ?? 'missing'}` });
      continue;
    }
    enqueue(job, desc.digest);
    await copyDoc(job, source, top, desc.digest);
    entries.push(referrerDescriptor(top.desc, body));
    job.result.referrers++;
  }
  if (entries.length > 0) await recordReferrers(opts.destination, dstRepo, subject, entries, undefined, opts.signal);
}

async function copyCosignTags(job: Job, subject: string): Promise<void> {
  const { opts, srcRepo } = job;
  for (const tag of cosignTags(subject)) {
    const found = await opts.source.headManifest(srcRepo, tag, opts.signal ? { signal: opts.signal } : {});
    if (!found) continue;
    const source = new RemoteSource(opts.source, srcRepo, tag, opts.signal);
    const top = parseDoc(await source.root());
    await copyDoc(job, source, top, tag);
    job.result.tags++;
    enqueue(job, top.desc.digest);
  }
}

/** Queues a new `digest` for its own referrers and tags; a hostile registry's endless list stops. */
function enqueue(job: Job, digest: string): void {
  if (job.seen.has(digest)) return;
  if (job.seen.size >= MAX_REFERRERS) {
    throw new DheError('MALFORMED_MANIFEST', `${job.opts.source.registry}/${job.srcRepo} lists more than ${MAX_REFERRERS} referrers below the image`, {
      hint: 'the registry is broken or hostile; copy without --referrers',
    });
  }
  job.seen.add(digest);
  job.queue.push(digest);
}

/** One referrer (or cosign tag) with everything below it, by the one transfer engine; named `tag` in the destination. */
async function copyDoc(job: Job, source: RemoteSource, top: ParsedDoc, tag: string): Promise<void> {
  const { opts } = job;
  const graph = await walkImage(source, top, opts.signal ? { signal: opts.signal } : {});
  await transfer(source, new RemoteSink(opts.destination, job.dstRepo), graph, {
    tag,
    concurrency: opts.concurrency ?? 4,
    verifyBlobs: false, // the upload hashes what it sends (as copy does)
    ...(opts.onEvent ? { onEvent: opts.onEvent } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
}
