// verify: REF's manifest digest is accepted when at least one stored signature verifies with one of the public keys
// AND its payload names that digest and REF's repository. Signatures are cosign 2's (`sha256-<hex>.sig`, see
// ./signature-manifest.ts) and cosign 3's Sigstore bundles found as referrers (./bundle.ts). Anything else is a
// VERIFICATION error (exit 8) saying which case it is.

import type { KeyObject } from 'node:crypto';
import { DheError, isDheError } from '../errors.js';
import type { Reference } from '../reference/index.js';
import type { RegistryClient } from '../registry/index.js';
import { resolveDescriptor } from '../image/referrers.js';
import { verifyBytes } from './keys.js';
import { bundleChecks } from './bundle.js';
import { namesRepository, parseSimpleSigning } from './payload.js';
import { readPayload, readSignatureManifest, signatureTag, storedSignatures, type StoredSignature } from './signature-manifest.js';

/** What one stored signature turned out to be. */
export type SignatureOutcome = 'verified' | 'other-key' | 'other-digest' | 'other-repository' | 'malformed';

export interface SignatureCheck {
  /** The payload layer's digest (cosign 2) or the bundle manifest's (cosign 3). */
  digest: string;
  format: 'cosign' | 'bundle';
  outcome: SignatureOutcome;
  /** For other-digest / other-repository / malformed: what the payload says, or what is wrong. */
  detail?: string;
}

export interface VerifyResult {
  digest: string;
  verified: number;
  total: number;
  checks: SignatureCheck[];
}

export interface VerifyOptions {
  client: RegistryClient;
  keys: KeyObject[];
  /** The digest to verify when the caller resolved REF already (pull); else REF is resolved here. */
  digest?: string;
  signal?: AbortSignal;
}

/** One signature of a subject, ready to check: the signed bytes, the signature, and where it came from. */
export interface SignedPayload {
  digest: string;
  format: 'cosign' | 'bundle';
  payload: Buffer;
  signature: Buffer;
}

async function cosignSignatures(opts: VerifyOptions, repo: string, digest: string): Promise<Array<SignedPayload | SignatureCheck>> {
  const stored: StoredSignature[] = storedSignatures(await readSignatureManifest(opts.client, repo, digest, opts.signal));
  const out: Array<SignedPayload | SignatureCheck> = [];
  for (const s of stored) {
    try {
      const payload = await readPayload(opts.client, repo, s.layer, opts.signal);
      out.push({ digest: s.layer.digest, format: 'cosign', payload, signature: Buffer.from(s.signature, 'base64') });
    } catch (e) {
      if (!isDheError(e) || e.exitCode !== 7) throw e; // network, auth: not a verdict on the signature
      out.push({ digest: s.layer.digest, format: 'cosign', outcome: 'malformed', detail: e.message });
    }
  }
  return out;
}

/** The verdict on one signature: the key's check first, then what the payload claims. */
export function checkSignature(s: SignedPayload, keys: KeyObject[], ref: Reference, digest: string): SignatureCheck {
  const base = { digest: s.digest, format: s.format };
  if (!keys.some((k) => verifyBytes(k, s.payload, s.signature))) return { ...base, outcome: 'other-key' };
  let claims;
  try {
    claims = parseSimpleSigning(s.payload);
  } catch (e) {
    return { ...base, outcome: 'malformed', detail: (e as Error).message };
  }
  if (claims.digest !== digest) return { ...base, outcome: 'other-digest', detail: claims.digest };
  if (!namesRepository(claims.reference, ref.registry, ref.repository)) return { ...base, outcome: 'other-repository', detail: claims.reference };
  return { ...base, outcome: 'verified' };
}

export async function verifyImage(ref: Reference, opts: VerifyOptions): Promise<VerifyResult> {
  const repo = ref.repository;
  const subject = await resolveDescriptor(opts.client, repo, opts.digest ?? ref.identifier, opts.signal);
  const digest = subject.desc.digest;
  let found: Array<SignedPayload | SignatureCheck>;
  try {
    found = [...(await cosignSignatures(opts, repo, digest)), ...(await bundleChecks(opts.client, repo, digest, subject.bytes, opts.keys, opts.signal))];
  } catch (e) {
    if (isDheError(e) && e.code === 'MALFORMED_MANIFEST') throw new DheError('VERIFICATION', `the signatures of ${ref.name}@${digest} are malformed: ${e.message}`, { cause: e });
    throw e;
  }
  const checks = found.map((f) => ('outcome' in f ? f : checkSignature(f, opts.keys, ref, digest)));
  const result = { digest, verified: checks.filter((c) => c.outcome === 'verified').length, total: checks.length, checks };
  if (result.verified === 0) throw verdictError(ref, digest, checks);
  return result;
}

/** The one-line reason nothing verified: the most telling case first. */
function verdictError(ref: Reference, digest: string, checks: SignatureCheck[]): DheError {
  const at = `${ref.name}@${digest}`;
  const details = { digest, checks };
  if (checks.length === 0) {
    return new DheError('VERIFICATION', `no signatures are stored for ${at} (no ${signatureTag(digest)} tag, no Sigstore bundle referrers)`, { hint: 'sign it first: dhe-cli sign REF --key cosign.key', details });
  }
  const digestClaim = checks.find((c) => c.outcome === 'other-digest');
  if (digestClaim) {
    return new DheError('VERIFICATION', `the signature made with this key is for another digest (${digestClaim.detail}), not ${digest}`, { hint: 'the signature was copied from another image: sign this digest', details });
  }
  const repoClaim = checks.find((c) => c.outcome === 'other-repository');
  if (repoClaim) {
    return new DheError('VERIFICATION', `the signature made with this key is for another repository (${repoClaim.detail}), not ${ref.name}`, { hint: 'the image was signed under another name: sign it in this repository', details });
  }
  const malformed = checks.filter((c) => c.outcome === 'malformed');
  if (malformed.length === checks.length) {
    return new DheError('VERIFICATION', `the ${checks.length === 1 ? 'signature' : `${checks.length} signatures`} of ${at} ${checks.length === 1 ? 'is' : 'are'} malformed: ${malformed[0]!.detail ?? 'unreadable'}`, { details });
  }
  const n = checks.length;
  return new DheError('VERIFICATION', `none of the ${n} signature${n === 1 ? '' : 's'} of ${at} verifies with the given key (made with another key, or the payload was changed after signing)`, {
    hint: 'check that the public key is the one the image was signed with',
    details,
  });
}
