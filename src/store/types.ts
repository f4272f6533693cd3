// The OCI shapes the store uses come from src/oci; this module adds the store's own annotation names and keeps the
// short aliases the store and archive code use.

import { MediaType, isImageIndexMediaType, isImageManifestMediaType } from '../oci/mediatypes.js';

export type { Descriptor, Platform, Manifest, Index } from '../oci/types.js';

export const MEDIA_TYPES = {
  ...MediaType,
  /** The imageLayoutVersion of the oci-layout file. */
  ociLayout: '1.0.0',
} as const;

export const isIndexMediaType = isImageIndexMediaType;
export const isManifestMediaType = isImageManifestMediaType;

/** Annotation OCI tools (skopeo's oci: transport, umoci) match the NAME of `oci:DIR:NAME` against. */
export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';
/** Our own copy of the full normalised reference. */
export const DHE_NAME_ANNOTATION = 'io.dhe-cli.name';
