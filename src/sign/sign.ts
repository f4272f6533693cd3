// sign: REF resolved on the registry to its manifest digest (an index stays the index, as cosign signs it), the
// simple-signing payload for that digest and repository signed with an ECDSA P-256 key, and the signature added to
// the manifest tagged `sha256-<hex>.sig` (existing signatures kept).

import type { KeyObject } from 'node:crypto';
import type { Reference } from '../reference/index.js';
import type { RegistryClient } from '../registry/index.js';
import { resolveDescriptor } from '../image/referrers.js';
import { signBytes } from './keys.js';
import { dockerReference, simpleSigningPayload } from './payload.js';
import { appendSignature, signatureTag } from './signature-manifest.js';

export interface SignOptions {
  client: RegistryClient;
  key: KeyObject;
  /** Added to the payload's `optional` (cosign sign -a K=V). */
  annotations?: Record<string, string>;
  signal?: AbortSignal;
}

export interface SignResult {
  /** The digest signed (the manifest or index REF names). */
  digest: string;
  /** Where the signature is: `sha256-<hex>.sig` in REF's repository. */
  tag: string;
  /** The signature manifest's digest after this run. */
  signatureManifest: string;
  /** Signatures the manifest now holds. */
  count: number;
  /** False when this very signature (same payload, same signature) was already there. */
  added: boolean;
}

export async function signImage(ref: Reference, opts: SignOptions): Promise<SignResult> {
  const { client, signal } = opts;
  const repo = ref.repository;
  client.intendPush(repo);
  const subject = await resolveDescriptor(client, repo, ref.identifier, signal);
  const digest = subject.desc.digest;
  const payload = simpleSigningPayload(dockerReference(ref.registry, repo), digest, opts.annotations);
  const signature = signBytes(opts.key, payload).toString('base64');
  const put = await appendSignature(client, repo, digest, payload, signature, signal);
  return { digest, tag: signatureTag(digest), signatureManifest: put.digest, count: put.count, added: put.added };
}
