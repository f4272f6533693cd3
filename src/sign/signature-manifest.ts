// Where cosign 2 keeps an image's signatures (sigstore/cosign "Signature Specification"): an OCI image manifest
// tagged `sha256-<hex>.sig` in the image's repository, one layer per signature. A layer is a simple-signing payload
// (application/vnd.dev.cosign.simplesigning.v1+json) with its base64 DER signature in the annotation
// `dev.cosignproject.cosign/signature`; the config is an image config whose rootfs lists the layers (as cosign's
// go-containerregistry image writes it).

import { Readable } from 'node:stream';
import { DheError } from '../errors.js';
import { referrersTag } from '../oci/artifact.js';
import { descriptorOf, oversizeDocument, type Descriptor, type Manifest } from '../oci/index.js';
import { SIGNATURE_PAYLOAD_MAX_BYTES, SIGNATURES_MAX } from '../oci/limits.js';
import { MediaType } from '../oci/mediatypes.js';
import type { RegistryClient } from '../registry/index.js';
import { readLimited } from '../transport/limited.js';
import { uploadIfMissing } from '../transfer/attach.js';
import { readTaggedDoc } from '../image/referrers.js';
import { SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE } from './payload.js';

/** cosign's signature tag for a manifest digest: `sha256-<hex>.sig`. */
export function signatureTag(digest: string): string {
  return `${referrersTag(digest)}.sig`;
}

/** A signature as stored: the payload's descriptor (with the signature annotation) and, once read, its bytes. */
export interface StoredSignature {
  layer: Descriptor;
  signature: string;
}

/** The signature manifest of `digest`, or undefined when the tag does not exist. */
export async function readSignatureManifest(client: RegistryClient, repo: string, digest: string, signal?: AbortSignal): Promise<Manifest | undefined> {
  const tag = signatureTag(digest);
  const doc = await readTaggedDoc(client, repo, tag, [MediaType.ociManifest, MediaType.dockerManifest], signal);
  if (!doc) return undefined;
  if (doc.parsed.kind !== 'image') {
    throw new DheError('MALFORMED_MANIFEST', `${client.registry}/${repo}:${tag} is an index, not the signature manifest cosign puts there`, { hint: 'something else uses that tag' });
  }
  return doc.parsed.manifest;
}

/** The layers of a signature manifest that are simple-signing payloads with a signature annotation. */
export function storedSignatures(m: Manifest | undefined): StoredSignature[] {
  const out: StoredSignature[] = [];
  for (const layer of m?.layers ?? []) {
    const signature = layer.annotations?.[SIGNATURE_ANNOTATION];
    if (layer.mediaType === SIMPLE_SIGNING_MEDIA_TYPE && typeof signature === 'string') out.push({ layer, signature });
  }
  return out.slice(0, SIGNATURES_MAX);
}

/** A payload blob: capped, digest and size verified. */
export async function readPayload(client: RegistryClient, repo: string, layer: Descriptor, signal?: AbortSignal): Promise<Buffer> {
  const tooLarge = (n: number) => oversizeDocument('signature payload', n, SIGNATURE_PAYLOAD_MAX_BYTES);
  if (layer.size > SIGNATURE_PAYLOAD_MAX_BYTES) throw tooLarge(layer.size);
  const stream = await client.getBlob(repo, { digest: layer.digest, size: layer.size }, { verify: true, ...(signal ? { signal } : {}) });
  return readLimited(stream, SIGNATURE_PAYLOAD_MAX_BYTES, 'signature payload', tooLarge);
}

/** The config cosign writes for a signature image: an empty image config whose rootfs lists the payloads. */
function signatureConfig(layers: Descriptor[]): Buffer {
  return Buffer.from(JSON.stringify({
    architecture: '',
    created: '0001-01-01T00:00:00Z',
    history: layers.map(() => ({ created: '0001-01-01T00:00:00Z' })),
    os: '',
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
    config: {},
  }));
}

/**
 * Adds a signature to the manifest tagged `sha256-<hex>.sig` (read-modify-write: every existing layer is kept, the
 * same payload with the same signature is not added twice). Returns the signature manifest's digest and how many
 * signatures it now holds.
 */
export async function appendSignature(client: RegistryClient, repo: string, digest: string, payload: Buffer, signature: string, signal?: AbortSignal): Promise<{ digest: string; count: number; added: boolean }> {
  const current = await readSignatureManifest(client, repo, digest, signal);
  const kept = current?.layers ?? [];
  const layer: Descriptor = { ...descriptorOf(payload, SIMPLE_SIGNING_MEDIA_TYPE), annotations: { [SIGNATURE_ANNOTATION]: signature } };
  const duplicate = kept.some((l) => l.digest === layer.digest && l.annotations?.[SIGNATURE_ANNOTATION] === signature);
  const layers = duplicate ? kept : [...kept, layer];
  await uploadIfMissing(client, repo, layer, () => Readable.from([payload]), signal);
  const config = signatureConfig(layers);
  const configDesc = descriptorOf(config, MediaType.ociConfig);
  await uploadIfMissing(client, repo, configDesc, () => Readable.from([config]), signal);
  const manifest = { schemaVersion: 2, mediaType: MediaType.ociManifest, config: configDesc, layers, ...(current?.annotations ? { annotations: current.annotations } : {}) };
  const bytes = Buffer.from(JSON.stringify(manifest));
  const put = await client.putManifest(repo, signatureTag(digest), bytes, MediaType.ociManifest, signal ? { signal } : {});
  return { digest: put.digest, count: layers.length, added: !duplicate };
}
