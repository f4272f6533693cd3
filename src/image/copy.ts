// The one transfer engine: every blob of a walked image goes from a source to a sink (exists → mount → upload,
// concurrently, with progress events), then the documents, children before the index that names them, and the
// tag last, so a name never points at something incomplete. pull, push, copy, load and save are this over two ends.

import { DheError } from '../errors.js';
import { shortId, type Descriptor } from '../oci/index.js';
import { noEvents, type EventSink, type LayerStatus } from '../transfer/events.js';
import { runPool } from '../transfer/pool.js';
import type { ImageSink } from './sink.js';
import type { Doc, ImageSource } from './source.js';
import type { ImageGraph } from './walk.js';

/** The layer events a transfer emits: docker pull's words, docker push's, or none. */
export type EventStyle = 'pull' | 'push' | 'none';

const WORDS: Record<Exclude<EventStyle, 'none'>, Record<'exists' | 'start' | 'done', LayerStatus>> = {
  pull: { exists: 'already-exists', start: 'downloading', done: 'pull-complete' },
  push: { exists: 'layer-exists', start: 'pushing', done: 'pushed' },
};

export interface TransferOptions {
  /** What the root is named in the sink (a tag, a digest, a store name); none: only stored. */
  tag?: string;
  /** Annotations on the root's descriptor where the sink names it (the store's index entry). */
  rootAnnotations?: Record<string, string>;
  /** An index: put its one chosen image under the tag, not the index (copy of one platform). */
  singleImage?: boolean;
  concurrency?: number;
  signal?: AbortSignal;
  onEvent?: EventSink;
  events?: EventStyle;
  /** Hash blobs read from the source (false when the sink hashes what it writes anyway: the store, a registry). */
  verifyBlobs?: boolean;
}

export interface TransferResult {
  /** What went under the tag: the top document, or the one chosen child of an index the sink cannot keep partially. */
  root: Doc;
  existing: number;
  mounted: number;
  /** Blobs the sink did not have and now has, and their bytes. */
  written: number;
  writtenBytes: number;
  /** Digests of the blobs this transfer wrote (not the ones that were there). */
  writtenDigests: string[];
  /** The tag already named the root: nothing was sent. */
  upToDate: boolean;
}

/** The documents to put, children first, and the root that goes under the tag. */
function planDocuments(graph: ImageGraph, sink: ImageSink, singleImage = false): { root: Doc; documents: Doc[] } {
  if (graph.top.parsed.kind === 'index' && (singleImage || (!graph.whole && !sink.keepsPartialIndex))) {
    const only = graph.images.length === 1 ? graph.images[0]! : undefined;
    if (!only) throw new DheError('UNSUPPORTED', `a ${sink.kind} takes a whole index or one of its images, not ${graph.images.length} of them`);
    return { root: only, documents: [] };
  }
  return { root: graph.top, documents: graph.manifests };
}

export async function transfer(source: ImageSource, sink: ImageSink, graph: ImageGraph, opts: TransferOptions = {}): Promise<TransferResult> {
  const { root, documents } = planDocuments(graph, sink, opts.singleImage);
  const r: TransferResult = { root, existing: 0, mounted: 0, written: 0, writtenBytes: 0, writtenDigests: [], upToDate: false };
  const say = layerSay(graph, opts);
  if (opts.tag !== undefined && (await sink.serves?.(opts.tag, root.desc.digest, opts.signal))) {
    for (const d of graph.blobs) say(d, 'exists');
    return { ...r, existing: graph.blobs.length, upToDate: true };
  }
  let failure: unknown;
  try {
    await sink.begin?.(graph.blobs.map((b) => b.digest), [...documents.map((d) => d.desc.digest), root.desc.digest, graph.top.desc.digest]);
    const job: Job = { source, sink, graph, opts, say, r };
    await runPool(graph.blobs, opts.concurrency ?? 4, (desc, signal) => moveBlob(job, desc, signal), opts.signal);
    for (const doc of documents) {
      opts.signal?.throwIfAborted();
      if (doc !== root) await sink.putManifest(doc.desc, doc.bytes, undefined, opts.signal);
    }
    opts.signal?.throwIfAborted();
    const named = opts.rootAnnotations ? { ...root.desc, annotations: opts.rootAnnotations } : root.desc;
    await sink.putManifest(named, root.bytes, opts.tag, opts.signal);
    await sink.commit();
    return r;
  } catch (e) {
    failure = e;
    throw e;
  } finally {
    await sink.close?.(failure);
  }
}

type Say = (d: Descriptor, what: 'exists' | 'start' | 'done' | 'mounted', from?: string) => void;

const MOUNTED: LayerStatus = 'mounted';

function layerSay(graph: ImageGraph, opts: TransferOptions): Say {
  const emit = opts.onEvent ?? noEvents;
  const style = opts.events ?? 'none';
  if (style === 'none') return () => {};
  return (d, what, from) => {
    if (!graph.layers.has(d.digest)) return;
    const status = what === 'mounted' ? MOUNTED : WORDS[style][what];
    emit({ type: 'layer', id: shortId(d.digest), digest: d.digest, size: d.size, status, from });
  };
}

interface Job {
  source: ImageSource;
  sink: ImageSink;
  graph: ImageGraph;
  opts: TransferOptions;
  say: Say;
  r: TransferResult;
}

/** One blob: already there → mounted from another repository → sent. */
async function moveBlob(job: Job, desc: Descriptor, signal: AbortSignal): Promise<void> {
  const { source, sink, opts, say, r } = job;
  if (await sink.has(desc)) {
    r.existing++;
    say(desc, 'exists');
    return;
  }
  const from = sink.mount ? await sink.mount(desc, (await source.origins?.(desc.digest)) ?? [], signal) : undefined;
  if (from !== undefined) {
    r.mounted++;
    say(desc, 'mounted', from);
    return;
  }
  say(desc, 'start');
  const emit = opts.onEvent;
  const progress = emit && (opts.events ?? 'none') !== 'none' && job.graph.layers.has(desc.digest);
  const direction = opts.events === 'pull' ? 'download' : 'upload';
  const put = await sink.putBlob(desc, (offset?: number) => source.blob(desc, { signal, verify: opts.verifyBlobs ?? true, ...(offset ? { offset } : {}) }), {
    signal,
    ...(source.resumable ? { resumable: true } : {}),
    ...(source.label ? { from: source.label } : {}),
    ...(emit ? { onResume: (offset: number) => emit({ type: 'resuming', id: shortId(desc.digest), digest: desc.digest, direction, offset }) } : {}),
    ...(progress ? { onProgress: (bytes: number) => emit({ type: 'progress', id: shortId(desc.digest), digest: desc.digest, bytes, total: desc.size }) } : {}),
  });
  if (put.written) {
    r.written++;
    r.writtenBytes += put.size;
    r.writtenDigests.push(desc.digest);
  }
  say(desc, 'done');
}
