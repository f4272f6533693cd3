// A registry repository as a source and as a sink, over RegistryClient.

import { PassThrough, Readable, pipeline } from 'node:stream';
import { DheError } from '../errors.js';
import type { Descriptor } from '../oci/index.js';
import type { RegistryClient, UploadSessionRecord } from '../registry/index.js';
import type { BlobOpener, ImageSink, PutBlobOptions } from './sink.js';
import type { BlobReadOptions, Doc, ImageSource } from './source.js';

export class RemoteSource implements ImageSource {
  readonly kind = 'registry';
  readonly resumable = true;
  readonly label: string;

  /** `reference`: the tag or digest root() reads. */
  constructor(
    readonly client: RegistryClient,
    readonly repository: string,
    readonly reference: string,
    readonly signal?: AbortSignal,
  ) {
    this.label = `${client.registry}/${repository}`;
  }

  root(): Promise<Doc> {
    return this.#get(this.reference, this.signal);
  }

  manifest(desc: Descriptor, signal?: AbortSignal): Promise<Doc> {
    return this.#get(desc.digest, signal ?? this.signal);
  }

  async #get(ref: string, signal?: AbortSignal): Promise<Doc> {
    // the client checks the digest (against the reference, or Docker-Content-Digest) and caps the size
    const got = await this.client.getManifest(this.repository, ref, signal ? { signal } : {});
    return { desc: { mediaType: got.mediaType, digest: got.digest, size: got.bytes.length }, bytes: got.bytes };
  }

  blob(desc: Descriptor, opts: BlobReadOptions = {}): Promise<Readable> {
    return this.client.getBlob(this.repository, { digest: desc.digest, size: desc.size }, {
      verify: opts.verify ?? true,
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.offset ? { offset: opts.offset } : {}),
    });
  }

  async has(digest: string): Promise<boolean> {
    return (await this.client.headBlob(this.repository, digest)) !== null;
  }

  async origins(): Promise<string[]> {
    return [`${this.client.registry}/${this.repository}`];
  }
}

/** How many other repositories a blob is tried to be mounted from before it is uploaded. */
const MOUNT_TRIES = 3;

/** Where upload sessions are kept across runs (the store's uploads/, src/store/uploads.ts). */
export interface UploadSessions {
  session(registry: string, repository: string, digest: string): UploadSessionRecord;
}

export class RemoteSink implements ImageSink {
  readonly kind = 'registry';
  readonly keepsPartialIndex = false;

  /** `sessions`: keep interrupted uploads for the next run (none: DHE_NO_RESUME, or no store). */
  constructor(
    readonly client: RegistryClient,
    readonly repository: string,
    readonly sessions?: UploadSessions,
  ) {
    client.intendPush(repository);
  }

  async has(desc: Descriptor): Promise<boolean> {
    return (await this.client.headBlob(this.repository, desc.digest)) !== null;
  }

  async mount(desc: Descriptor, origins: string[], signal?: AbortSignal): Promise<string | undefined> {
    const prefix = `${this.client.registry}/`;
    const repos = origins.filter((o) => o.startsWith(prefix)).map((o) => o.slice(prefix.length)).filter((r) => r !== this.repository);
    for (const from of repos.slice(0, MOUNT_TRIES)) {
      signal?.throwIfAborted();
      try {
        if (await this.client.mountBlob(this.repository, desc.digest, from)) return from;
      } catch (e) {
        // Denied on the source repository: fall back to an upload.
        if (!(e instanceof DheError) || (e.exitCode !== 3 && e.exitCode !== 5)) throw e;
      }
    }
    return undefined;
  }

  async putBlob(desc: Descriptor, open: BlobOpener, opts: PutBlobOptions): Promise<{ written: boolean; size: number }> {
    await this.client.uploadBlob(this.repository, { digest: desc.digest, size: desc.size }, () => syncStream(open), {
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      ...(this.sessions ? { session: this.sessions.session(this.client.registry, this.repository, desc.digest) } : {}),
      ...(opts.onResume ? { onResume: opts.onResume } : {}),
      ...(opts.from ? { from: opts.from } : {}),
    });
    return { written: true, size: desc.size };
  }

  async putManifest(desc: Descriptor, bytes: Buffer, tag?: string, signal?: AbortSignal): Promise<void> {
    const put = await this.client.putManifest(this.repository, tag ?? desc.digest, bytes, desc.mediaType, signal ? { signal } : {});
    if (put.digest && put.digest !== desc.digest) {
      throw new DheError('DIGEST_MISMATCH', `the registry stored the manifest as ${put.digest}, expected ${desc.digest}`);
    }
  }

  /**
   * An unchanged image: when the registry already serves this very manifest under the tag (or digest), it holds
   * every blob and child manifest it references (a registry refuses a manifest whose blobs it lacks), so one HEAD
   * replaces a HEAD per blob and the manifest PUT. A refused or failed HEAD answers false (the normal path).
   */
  async serves(tag: string, digest: string, signal?: AbortSignal): Promise<boolean> {
    const already = await this.client.headManifest(this.repository, tag, signal ? { signal } : {}).catch((e: unknown) => {
      if (signal?.aborted) throw e;
      return null;
    });
    return already?.digest === digest;
  }

  async commit(): Promise<void> {}
}

/** The client's uploads open their body synchronously: a source that opens asynchronously is piped through. */
function syncStream(open: BlobOpener): Readable {
  const opened = open();
  if (opened instanceof Readable) return opened;
  const pt = new PassThrough({ highWaterMark: 1 << 20 });
  opened.then((s) => pipeline(s, pt, () => {})).catch((e: unknown) => pt.destroy(e as Error));
  return pt;
}
