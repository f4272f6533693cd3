// RegistryClient: the Docker Registry HTTP API v2 / OCI distribution API for one registry, one concept a file:
// ping.ts (GET /v2/, scheme), exchange.ts (send + auth retry + checkStatus), login.ts, manifests.ts, blob-read.ts
// (Range resume), blob-write.ts (mounts, the upload state machine), pager.ts (listings).
// Layers: RegistryClient (paths, scopes, errors) → Authenticator (basic / bearer) → Transport (TLS, proxy, retry).

import type { Readable } from 'node:stream';
import type { ProxySettings, TlsSettings } from '../config.js';
import { silentTrace, type Trace } from '../trace.js';
import { userAgent } from '../version.js';
import { Authenticator } from '../auth/authenticator.js';
import type { Credential, CredentialProvider } from '../auth/types.js';
import { Transport, type TimeoutOptions } from '../transport/http.js';
import { matchesHostList } from '../transport/hosts.js';
import type { RetryOptions } from '../transport/retry.js';
import { BlobReader, type BlobDescriptor, type GetBlobOptions } from './blob-read.js';
import { BlobWriter, type UploadBlobOptions, type UploadSessionRecord } from './blob-write.js';
import { listedTagCheck } from './checks.js';
import { Exchange } from './exchange.js';
import { checkLogin } from './login.js';
import { Manifests, type FetchedManifest, type ManifestOptions } from './manifests.js';
import { getReferrers, type ReferrersAnswer } from './referrers.js';
import { collectListing, type ListingLimits } from './pager.js';
import { Endpoint, apiHost, type PingResult } from './ping.js';

export type { BlobDescriptor, GetBlobOptions, PingResult, ReferrersAnswer, UploadBlobOptions, UploadSessionRecord };

export interface RegistryClientOptions {
  /** "127.0.0.1:5000", "dhe.example.com", "docker.io". */
  registry: string;
  tls: TlsSettings;
  proxy: ProxySettings;
  credentials?: CredentialProvider;
  trace?: Trace;
  /** Default: userAgent() ("dhe-cli/VERSION node/VERSION"). */
  userAgent?: string;
  retry?: RetryOptions;
  timeouts?: TimeoutOptions;
  /** Allow a token realm on a link-local / metadata address (off by default). */
  allowedMetadataRealm?: boolean;
  /** Largest manifest accepted (default 4 MiB). */
  maxManifestBytes?: number;
  /** Blobs up to this size go up in one PUT (default 1 MiB). */
  monolithicMaxBytes?: number;
  /** Chunk size when the registry asks for chunks (default 8 MiB). */
  chunkBytes?: number;
  /** Bounds of paginated listings (tags, catalog): see pager.ts. */
  listingLimits?: Partial<ListingLimits>;
}

export class RegistryClient {
  readonly registry: string;
  readonly transport: Transport;
  readonly auth: Authenticator;
  private readonly endpoint: Endpoint;
  private readonly x: Exchange;
  private readonly manifests: Manifests;
  private readonly reader: BlobReader;
  private readonly writer: BlobWriter;
  private readonly listingLimits: Partial<ListingLimits> | undefined;

  constructor(opts: RegistryClientOptions) {
    const registry = opts.registry;
    const host = apiHost(registry);
    const trace = opts.trace ?? silentTrace;
    const { tls } = opts;
    const insecure = matchesHostList(tls.insecureRegistries, host) || matchesHostList(tls.insecureRegistries, registry);
    this.registry = registry;
    this.transport = new Transport({ tls, proxy: opts.proxy, trace, userAgent: opts.userAgent ?? userAgent(), retry: opts.retry, timeouts: opts.timeouts });
    if (insecure) this.transport.markInsecure(host);
    this.auth = new Authenticator({
      registry,
      transport: this.transport,
      credentials: opts.credentials,
      trace,
      home: host,
      policy: {
        allowMetadataRealm: opts.allowedMetadataRealm,
        insecureHosts: insecure ? [...tls.insecureRegistries, host] : tls.insecureRegistries,
      },
    });
    const common = { registry, transport: this.transport, auth: this.auth, trace, certsDirs: tls.certsDirs };
    this.endpoint = new Endpoint({ ...common, host, insecure });
    this.x = new Exchange({ ...common, endpoint: this.endpoint });
    this.manifests = new Manifests(this.x, opts.maxManifestBytes);
    this.reader = new BlobReader(this.x);
    this.writer = new BlobWriter(this.x, { monolithicMaxBytes: opts.monolithicMaxBytes, chunkBytes: opts.chunkBytes });
    this.listingLimits = opts.listingLimits;
  }

  /** Declares that this run will push to repo: every token asked for it then covers pull+push (one token request). */
  intendPush(repo: string): void {
    this.x.intendPush(repo);
  }

  /** https://host or http://host (plain HTTP only for a loopback registry without TLS, or an insecure one). */
  async baseUrl(): Promise<string> {
    return (await this.endpoint.discover()).base;
  }

  /** GET /v2/: the status, API version and auth challenges (no credentials sent). */
  async ping(): Promise<PingResult> {
    return (await this.endpoint.discover()).ping;
  }

  /**
   * Checks credentials for `login`: Basic → an authenticated GET /v2/; Bearer → a token request with them
   * (offlineToken: ask for a refresh token, returned as identityToken). Wrong credentials → BAD_CREDENTIALS.
   */
  checkLogin(cred: Credential, opts: { offlineToken?: boolean } = {}): Promise<{ identityToken?: string }> {
    return checkLogin(this.x, cred, opts);
  }

  getManifest(repo: string, ref: string, opts: ManifestOptions = {}): Promise<FetchedManifest> {
    return this.manifests.get(repo, ref, opts);
  }

  headManifest(repo: string, ref: string, opts: ManifestOptions = {}): Promise<{ digest: string; mediaType: string; size: number } | null> {
    return this.manifests.head(repo, ref, opts);
  }

  putManifest(repo: string, ref: string, bytes: Uint8Array, mediaType: string, opts: { signal?: AbortSignal } = {}): Promise<{ digest: string; subject?: string }> {
    return this.manifests.put(repo, ref, bytes, mediaType, opts);
  }

  deleteManifest(repo: string, digest: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    return this.manifests.delete(repo, digest, opts);
  }

  /** The OCI 1.1 referrers API's index for `digest`; null when the registry has no referrers API (404). */
  getReferrers(repo: string, digest: string, opts: { artifactType?: string; signal?: AbortSignal } = {}): Promise<ReferrersAnswer | null> {
    return getReferrers(this.x, repo, digest, opts);
  }

  headBlob(repo: string, digest: string, opts: { signal?: AbortSignal } = {}): Promise<{ size: number } | null> {
    return this.reader.head(repo, digest, opts);
  }

  /**
   * Streams a blob. Follows redirects (Authorization only to the registry's origin); a break mid-stream resumes
   * with Range from the bytes already received; with verify (default) the stream ends with an error
   * DIGEST_MISMATCH / SIZE_MISMATCH instead of 'end' when the content is wrong.
   */
  getBlob(repo: string, desc: BlobDescriptor, opts: GetBlobOptions = {}): Promise<Readable> {
    return this.reader.get(repo, desc, opts);
  }

  /** Cross-repository mount: true when mounted (201); false when the registry started an upload instead (cancelled). */
  mountBlob(repo: string, digest: string, fromRepo: string, opts: { signal?: AbortSignal } = {}): Promise<boolean> {
    return this.writer.mount(repo, digest, fromRepo, opts);
  }

  /**
   * Uploads a blob: POST → PUT ?digest= (small blobs, one request) or POST → streamed PATCH → PUT; chunked PATCHes
   * with Content-Range when the registry asks for a minimum chunk size or after a 413 (the chunk size that passes
   * is remembered by this client). A retryable failure starts that blob's upload again from source(); on abort
   * or failure the upload session is cancelled (DELETE).
   */
  uploadBlob(repo: string, desc: { digest: string; size: number }, source: () => Readable, opts: UploadBlobOptions = {}): Promise<void> {
    return this.writer.upload(repo, desc, source, opts);
  }

  private async paginate(path: string, field: 'tags' | 'repositories', scopes: string[], what: string, repo?: string): Promise<string[]> {
    return collectListing({
      registry: this.registry,
      base: await this.endpoint.ensureRegistry(),
      first: path,
      field,
      what,
      limits: this.listingLimits,
      check: field === 'tags' ? listedTagCheck(this.registry, what) : undefined,
      fetch: async (url) => this.x.checkStatus(await this.x.send({ method: 'GET', url, scopes, what, repo }), 200),
    });
  }

  /** All tags, following Link pagination (pageSize: how many per request, default 1000). */
  listTags(repo: string, opts: { pageSize?: number } = {}): Promise<string[]> {
    return this.paginate(`/v2/${repo}/tags/list?n=${opts.pageSize ?? 1000}`, 'tags', this.x.scopes(repo, ['pull']), `tags of ${repo}`, repo);
  }

  /** All repositories, following Link pagination. */
  catalog(opts: { pageSize?: number } = {}): Promise<string[]> {
    return this.paginate(`/v2/_catalog?n=${opts.pageSize ?? 1000}`, 'repositories', ['registry:catalog:*'], 'the catalog');
  }

  async close(): Promise<void> {
    await this.transport.close();
  }
}
