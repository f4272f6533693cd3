// cosign 3's signatures (sigstore/cosign specs/BUNDLE_SPEC.md): a Sigstore bundle (v0.3 JSON) as the one layer of
// an OCI 1.1 artifact whose subject is the image, found with the referrers API or the `sha256-<hex>` fallback tag.
// Read here: a bundle whose `messageSignature` is a public-key signature over the manifest itself (its
// messageDigest the manifest digest). Bundles carrying a DSSE envelope (attestations) are not signatures of the
// image and are left out; certificates and transparency-log entries are not checked (keys only, as `--key`).

import type { KeyObject } from 'node:crypto';
import { isDheError } from '../errors.js';
import { oversizeDocument } from '../oci/index.js';
import { SIGNATURE_PAYLOAD_MAX_BYTES, SIGNATURES_MAX } from '../oci/limits.js';
import { MediaType } from '../oci/mediatypes.js';
import type { RegistryClient } from '../registry/index.js';
import { readLimited } from '../transport/limited.js';
import { listReferrers } from '../image/referrers.js';
import { parseDoc } from '../image/walk.js';
import { verifyBytes } from './keys.js';
import type { SignatureCheck } from './verify.js';

export const SIGSTORE_BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

interface MessageSignature {
  messageDigest?: { algorithm?: string; digest?: string };
  signature?: string;
}

/** The verdict on each message-signature bundle that refers to the manifest (`manifestBytes`, digest `digest`). */
export async function bundleChecks(client: RegistryClient, repo: string, digest: string, manifestBytes: Buffer, keys: KeyObject[], signal?: AbortSignal): Promise<SignatureCheck[]> {
  const listing = await listReferrers(client, repo, digest, { artifactType: SIGSTORE_BUNDLE_MEDIA_TYPE, ...(signal ? { signal } : {}) });
  const out: SignatureCheck[] = [];
  for (const d of listing.manifests.slice(0, SIGNATURES_MAX)) {
    let bundle: { messageSignature?: MessageSignature } | undefined;
    try {
      bundle = await readBundle(client, repo, d.digest, signal);
    } catch (e) {
      if (!isDheError(e) || e.exitCode !== 7) throw e;
      out.push({ digest: d.digest, format: 'bundle', outcome: 'malformed', detail: e.message });
      continue;
    }
    if (bundle === undefined) {
      out.push({ digest: d.digest, format: 'bundle', outcome: 'malformed', detail: 'a Sigstore bundle is not JSON' });
      continue;
    }
    const ms = bundle.messageSignature;
    if (!ms) continue; // a DSSE envelope: an attestation, not a signature of the image
    out.push(checkMessageSignature(d.digest, ms, digest, manifestBytes, keys));
  }
  return out;
}

function checkMessageSignature(at: string, ms: MessageSignature, digest: string, manifestBytes: Buffer, keys: KeyObject[]): SignatureCheck {
  const base = { digest: at, format: 'bundle' as const };
  if (typeof ms.signature !== 'string' || ms.messageDigest?.algorithm !== 'SHA2_256' || typeof ms.messageDigest.digest !== 'string') {
    return { ...base, outcome: 'malformed', detail: 'a Sigstore bundle has no SHA2_256 messageSignature' };
  }
  const claimed = `sha256:${Buffer.from(ms.messageDigest.digest, 'base64').toString('hex')}`;
  const signature = Buffer.from(ms.signature, 'base64');
  if (claimed !== digest) return { ...base, outcome: 'other-digest', detail: claimed };
  return { ...base, outcome: keys.some((k) => verifyBytes(k, manifestBytes, signature)) ? 'verified' : 'other-key' };
}

/** The bundle JSON of a referrer manifest (its first layer of the bundle media type), capped and verified. */
async function readBundle(client: RegistryClient, repo: string, manifestDigest: string, signal?: AbortSignal): Promise<{ messageSignature?: MessageSignature } | undefined> {
  const got = await client.getManifest(repo, manifestDigest, { accept: [MediaType.ociManifest], ...(signal ? { signal } : {}) });
  const doc = parseDoc({ desc: { mediaType: got.mediaType, digest: got.digest, size: got.bytes.length }, bytes: got.bytes });
  const layer = doc.parsed.kind === 'image' ? doc.parsed.manifest.layers.find((l) => l.mediaType === SIGSTORE_BUNDLE_MEDIA_TYPE) : undefined;
  if (!layer) return undefined;
  const tooLarge = (n: number) => oversizeDocument('Sigstore bundle', n, SIGNATURE_PAYLOAD_MAX_BYTES);
  if (layer.size > SIGNATURE_PAYLOAD_MAX_BYTES) throw tooLarge(layer.size);
  const stream = await client.getBlob(repo, { digest: layer.digest, size: layer.size }, { verify: true, ...(signal ? { signal } : {}) });
  const bytes = await readLimited(stream, SIGNATURE_PAYLOAD_MAX_BYTES, 'Sigstore bundle', tooLarge);
  try {
    return JSON.parse(bytes.toString('utf8')) as { messageSignature?: MessageSignature };
  } catch {
    return undefined;
  }
}
