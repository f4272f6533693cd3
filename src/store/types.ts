// Minimal OCI shapes the store needs. src/oci holds the full types; these are structurally compatible with them,
// so a Descriptor from src/oci can be passed wherever one of these is expected.

export const MEDIA_TYPES = {
  ociLayout: '1.0.0',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform;
  urls?: string[];
  artifactType?: string;
}

export interface ImageManifestDoc {
  schemaVersion: number;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
  subject?: Descriptor;
}

export interface ImageIndexDoc {
  schemaVersion: number;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

export function isIndexMediaType(mt: string | undefined): boolean {
  return mt === MEDIA_TYPES.ociIndex || mt === MEDIA_TYPES.dockerManifestList;
}

export function isManifestMediaType(mt: string | undefined): boolean {
  return mt === MEDIA_TYPES.ociManifest || mt === MEDIA_TYPES.dockerManifest;
}

/** Annotation OCI tools (skopeo's oci: transport, umoci) match the NAME of `oci:DIR:NAME` against. */
export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';
/** Our own copy of the full normalised reference. */
export const DHE_NAME_ANNOTATION = 'io.dhe-cli.name';
