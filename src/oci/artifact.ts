// OCI 1.1 artifacts: the empty config, the title annotation, the artifact manifest attach writes, the referrers tag
// schema's tag name (`sha256-<hex>`), cosign's tags, and which artifact titles are safe to write as file names.

import { DheError } from '../errors.js';
import { descriptorOf, splitDigest } from './digest.js';
import { MediaType } from './mediatypes.js';
import type { Descriptor, Index, Manifest } from './types.js';

/** The empty JSON config `{}` every artifact without a config of its own has (OCI image spec 1.1 "Guidance for an empty descriptor"). */
export const EMPTY_CONFIG_BYTES = Buffer.from('{}');
export const EMPTY_CONFIG: Descriptor = descriptorOf(EMPTY_CONFIG_BYTES, MediaType.ociEmpty);
export const TITLE_ANNOTATION = 'org.opencontainers.image.title';
export const CREATED_ANNOTATION = 'org.opencontainers.image.created';
/** The media type of a file given without one. */
export const DEFAULT_FILE_MEDIA_TYPE = 'application/octet-stream';
/** The suffixes of cosign's tags next to an image (`sha256-<hex>.sig` …). */
export const COSIGN_SUFFIXES = ['sig', 'att', 'sbom'] as const;

/** The referrers tag schema's tag for a subject: `sha256:abc…` → `sha256-abc…`. */
export function referrersTag(subjectDigest: string): string {
  const { algorithm, hex } = splitDigest(subjectDigest, 'INVALID_REFERENCE');
  return `${algorithm}-${hex}`;
}

/** The cosign-style tags next to a subject: `sha256-<hex>.sig`, `.att`, `.sbom`. */
export function cosignTags(subjectDigest: string): string[] {
  return COSIGN_SUFFIXES.map((s) => `${referrersTag(subjectDigest)}.${s}`);
}

export interface ArtifactManifestInput {
  artifactType: string;
  subject: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

/** An OCI image manifest carrying an artifact (artifactType, the empty config, subject); its bytes and descriptor. */
export function artifactManifest(input: ArtifactManifestInput): { bytes: Buffer; desc: Descriptor; manifest: Manifest } {
  const subject: Descriptor = { mediaType: input.subject.mediaType, digest: input.subject.digest, size: input.subject.size };
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    artifactType: input.artifactType,
    config: EMPTY_CONFIG,
    layers: input.layers,
    subject,
    ...(input.annotations && Object.keys(input.annotations).length > 0 ? { annotations: input.annotations } : {}),
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  return { bytes, desc: descriptorOf(bytes, MediaType.ociManifest), manifest };
}

/** What a referrers listing says about a manifest that has a subject: its descriptor with artifactType and annotations. */
export function referrerDescriptor(desc: Descriptor, m: { artifactType?: string; config?: Descriptor; annotations?: Record<string, string> }): Descriptor {
  const artifactType = m.artifactType ?? m.config?.mediaType;
  return {
    mediaType: desc.mediaType,
    digest: desc.digest,
    size: desc.size,
    ...(artifactType ? { artifactType } : {}),
    ...(m.annotations && Object.keys(m.annotations).length > 0 ? { annotations: m.annotations } : {}),
  };
}

/** An OCI image index listing referrers (the referrers API's answer, and the fallback tag's document). */
export function referrersIndex(manifests: Descriptor[]): Index {
  return { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests };
}

/** Why an artifact title cannot be a file name in the output folder, or undefined when it can. */
export function unsafeTitleProblem(title: string): string | undefined {
  if (title.length === 0) return 'it is empty';
  if (title.length > 255) return 'it is longer than 255 characters';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(title)) return 'it contains a control character';
  if (title.startsWith('/') || /^[A-Za-z]:/.test(title)) return 'it is an absolute path';
  if (title.includes('/') || title.includes('\\')) return 'it contains a path separator';
  if (title === '.' || title.includes('..')) return 'it contains ".."';
  return undefined;
}

/** The title as a safe file name, or a DheError (MALFORMED_MANIFEST: the artifact is at fault) naming the problem. */
export function safeTitle(title: string, digest: string): string {
  const problem = unsafeTitleProblem(title);
  if (problem !== undefined) {
    throw new DheError('MALFORMED_MANIFEST', `the artifact's layer ${digest} has the title ${JSON.stringify(title).slice(0, 100)}, which is refused: ${problem}`, {
      hint: 'a title must be a plain file name; the artifact was not written by a tool you can trust, do not use it',
    });
  }
  return title;
}
