// cosign's "simple signing" payload (containers/image's format as cosign writes it, pkg/cosign/payload): what a
// signature is made over. The digest it names is the manifest's; docker-reference is the repository
// (registry/repository, go-containerregistry's name: Docker Hub is `index.docker.io`).

import { DheError } from '../errors.js';

export const SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
export const COSIGN_SIGNATURE_TYPE = 'cosign container image signature';

export interface SimpleSigning {
  critical: {
    identity: { 'docker-reference': string };
    image: { 'docker-manifest-digest': string };
    type: string;
  };
  optional: Record<string, unknown> | null;
}

/** The name cosign writes as docker-reference for a repository on a registry. */
export function dockerReference(registry: string, repository: string): string {
  return `${registry === 'docker.io' ? 'index.docker.io' : registry}/${repository}`;
}

/** Whether a payload's docker-reference names this repository (either spelling of Docker Hub). */
export function namesRepository(reference: string, registry: string, repository: string): boolean {
  const candidates = new Set([dockerReference(registry, repository), `${registry}/${repository}`]);
  if (registry === 'docker.io') candidates.add(`docker.io/${repository}`);
  return candidates.has(reference);
}

/** The payload bytes, in cosign's field order. */
export function simpleSigningPayload(reference: string, digest: string, optional?: Record<string, string>): Buffer {
  const doc: SimpleSigning = {
    critical: { identity: { 'docker-reference': reference }, image: { 'docker-manifest-digest': digest }, type: COSIGN_SIGNATURE_TYPE },
    optional: optional && Object.keys(optional).length > 0 ? optional : null,
  };
  return Buffer.from(JSON.stringify(doc));
}

/** What a payload claims, or a VERIFICATION error saying how it is malformed. */
export function parseSimpleSigning(bytes: Buffer): { reference: string; digest: string; optional: Record<string, unknown> | null } {
  let doc: SimpleSigning;
  try {
    doc = JSON.parse(bytes.toString('utf8')) as SimpleSigning;
  } catch {
    throw new DheError('VERIFICATION', 'a signature payload is not JSON');
  }
  const c = doc?.critical;
  const reference = c?.identity?.['docker-reference'];
  const digest = c?.image?.['docker-manifest-digest'];
  if (typeof reference !== 'string' || typeof digest !== 'string' || c.type !== COSIGN_SIGNATURE_TYPE) {
    throw new DheError('VERIFICATION', 'a signature payload is not a cosign simple-signing payload');
  }
  const optional = doc.optional && typeof doc.optional === 'object' ? doc.optional : null;
  return { reference, digest, optional };
}
