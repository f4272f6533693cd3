// Manifests: GET (size-capped, digest checked against a digest reference and Docker-Content-Digest), HEAD (falls back
// to GET when the registry leaves out digest, size or type), PUT (the digest the registry stored must be ours), DELETE.

import { MANIFEST_MAX_BYTES } from '../oci/limits.js';
import { DheError, isDheError } from '../errors.js';
import { readLimited } from '../transport/limited.js';
import { MANIFEST_MEDIA_TYPES, normalizeContentType } from '../oci/mediatypes.js';
import { type DigestAlgorithm, digestOf, splitDigest } from '../oci/digest.js';
import { registryError } from './errors.js';
import { checkBlobDigest, checkManifestRef, registryDigest } from './checks.js';
import { recoded, registryWords, type Exchange, type SentResponse } from './exchange.js';

/** The largest manifest accepted unless the client is told otherwise. */
const DEFAULT_MAX_MANIFEST_BYTES = MANIFEST_MAX_BYTES;

export interface ManifestOptions {
  accept?: string[];
  signal?: AbortSignal;
}

export interface FetchedManifest {
  bytes: Buffer;
  mediaType: string;
  digest: string;
}

const TOO_LARGE_HINT = 'a manifest this large is not an image manifest; check the reference';
const ALTERED_HINT = 'the registry or something between (a proxy, a cache) altered the content; do not use it';
/** Content types that say nothing about the manifest: its own mediaType field is read instead. */
const VAGUE_TYPES = new Set(['application/json', 'text/plain', 'application/octet-stream']);

function manifestWhat(repo: string, ref: string): string {
  return `manifest ${repo}${ref.includes(':') ? '@' : ':'}${ref}`;
}

export class Manifests {
  constructor(
    private readonly x: Exchange,
    private readonly maxBytes = DEFAULT_MAX_MANIFEST_BYTES,
  ) {}

  private request(method: 'GET' | 'HEAD', repo: string, ref: string, opts: ManifestOptions): Promise<SentResponse> {
    return this.x.send({
      method,
      url: `/v2/${repo}/manifests/${checkManifestRef(ref)}`,
      headers: { accept: (opts.accept ?? MANIFEST_MEDIA_TYPES).join(', ') },
      scopes: this.x.scopes(repo, ['pull']),
      what: manifestWhat(repo, ref),
      repo,
      signal: opts.signal,
    });
  }

  async get(repo: string, ref: string, opts: ManifestOptions = {}): Promise<FetchedManifest> {
    const res = await this.x.checkStatus(await this.request('GET', repo, ref, opts), 200);
    const bytes = await this.readBody(res);
    const isDigestRef = ref.includes(':');
    const algorithm: DigestAlgorithm = isDigestRef ? splitDigest(ref, 'INVALID_REFERENCE').algorithm : 'sha256';
    const digest = digestOf(bytes, algorithm);
    if (isDigestRef && digest !== ref) {
      throw new DheError('DIGEST_MISMATCH', `${this.x.registry} sent a manifest for ${repo}@${ref} whose digest is ${digest}`, { hint: ALTERED_HINT });
    }
    const header = res.header('docker-content-digest');
    if (header && header.startsWith(`${algorithm}:`) && header !== digest) {
      throw new DheError('DIGEST_MISMATCH', `${res.what}: Docker-Content-Digest says ${header} but the content's digest is ${digest}`, { hint: ALTERED_HINT });
    }
    return { bytes, mediaType: mediaTypeOf(res, bytes), digest };
  }

  /** The body, at most maxBytes (a larger Content-Length is refused before reading). */
  private async readBody(res: SentResponse): Promise<Buffer> {
    const declared = Number(res.header('content-length'));
    if (Number.isFinite(declared) && declared > this.maxBytes) {
      res.body.destroy();
      throw new DheError('MALFORMED_MANIFEST', `${res.what} is ${declared} bytes, above the ${this.maxBytes}-byte limit`, { hint: TOO_LARGE_HINT });
    }
    try {
      return await readLimited(res.body, this.maxBytes, res.what);
    } catch (e) {
      if (isDheError(e) && e.code === 'PROTOCOL') throw new DheError('MALFORMED_MANIFEST', `${res.what} is larger than ${this.maxBytes} bytes`, { hint: TOO_LARGE_HINT });
      throw e;
    }
  }

  async head(repo: string, ref: string, opts: ManifestOptions = {}): Promise<{ digest: string; mediaType: string; size: number } | null> {
    const res = await this.request('HEAD', repo, ref, opts);
    await res.dump();
    if (res.status === 404) return null;
    await this.x.checkStatus(res, 200);
    const header = res.header('docker-content-digest');
    const digest = header === undefined ? undefined : registryDigest(header, this.x.registry, res.what);
    const size = Number(res.header('content-length'));
    const mediaType = normalizeContentType(res.header('content-type'));
    if (!digest || !Number.isFinite(size) || !mediaType) {
      // Not every registry sends these on HEAD: fall back to a GET.
      const m = await this.get(repo, ref, opts);
      return { digest: m.digest, mediaType: m.mediaType, size: m.bytes.length };
    }
    return { digest, mediaType, size };
  }

  /** `subject`: the OCI-Subject header a registry with the referrers API answers a manifest with a subject with. */
  async put(repo: string, ref: string, bytes: Uint8Array, mediaType: string, opts: { signal?: AbortSignal } = {}): Promise<{ digest: string; subject?: string }> {
    const what = manifestWhat(repo, ref);
    const computed = digestOf(bytes);
    const res = await this.x.send({
      method: 'PUT',
      url: `/v2/${repo}/manifests/${checkManifestRef(ref)}`,
      headers: { 'content-type': mediaType },
      body: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      scopes: this.x.scopes(repo, ['pull', 'push']),
      what,
      repo,
      signal: opts.signal,
    });
    await this.x.checkStatus(res, 201, 200, 202);
    await res.dump();
    const sent = res.header('docker-content-digest');
    const header = sent === undefined ? undefined : registryDigest(sent, this.x.registry, what);
    if (header && header.startsWith('sha256:') && header !== computed) {
      throw new DheError('DIGEST_MISMATCH', `${this.x.registry} stored ${what} as ${header}, not ${computed}`, {
        hint: 'the registry rewrote the manifest (a schema conversion?); check its configuration',
      });
    }
    const subject = res.header('oci-subject');
    return { digest: header ?? computed, ...(subject ? { subject } : {}) };
  }

  async delete(repo: string, digest: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const res = await this.x.send({
      method: 'DELETE',
      url: `/v2/${repo}/manifests/${checkBlobDigest(digest)}`,
      scopes: this.x.scopes(repo, ['delete', 'pull']),
      what: `deleting ${repo}@${digest}`,
      repo,
      signal: opts.signal,
    });
    if (res.status === 405) {
      const err = registryError(405, await this.x.errorText(res), { registry: this.x.registry, what: 'deleting manifests', repo });
      throw recoded(err, 'UNSUPPORTED_BY_REGISTRY', `${this.x.registry} does not allow deleting manifests${registryWords(err)}`, 'the registry has deletes disabled (distribution: REGISTRY_STORAGE_DELETE_ENABLED=true); ask its administrator');
    }
    await this.x.checkStatus(res, 202, 200, 204);
    await res.dump();
  }
}

/** The Content-Type, or (when it is vague or missing) the manifest's own mediaType field. */
function mediaTypeOf(res: SentResponse, bytes: Buffer): string {
  const mediaType = normalizeContentType(res.header('content-type'));
  if (mediaType && !VAGUE_TYPES.has(mediaType)) return mediaType;
  try {
    const mt = (JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }).mediaType;
    if (typeof mt === 'string') return mt;
  } catch {
    /* validated by the caller */
  }
  return mediaType ?? 'application/octet-stream';
}
