// Media types of the OCI image spec and of docker's image manifest v2, and what each one is.

export const MediaType = {
  // OCI image spec
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociLayerNondistributable: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  ociLayerNondistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  ociLayerNondistributableZstd: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  // docker image manifest v2, schema 2
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  dockerPluginConfig: 'application/vnd.docker.plugin.v1+json',
  // docker schema 1 (signed and unsigned): recognised only to refuse it clearly
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

export type KnownMediaType = (typeof MediaType)[keyof typeof MediaType];

/** The four manifest media types we read and write. */
export const MANIFEST_MEDIA_TYPES: readonly string[] = [
  MediaType.ociIndex,
  MediaType.ociManifest,
  MediaType.dockerManifestList,
  MediaType.dockerManifest,
];

/**
 * The Accept header for manifest requests. distribution answers 404 for an OCI manifest, and converts a docker v2
 * manifest to schema 1 (another digest), when the client does not accept the type.
 */
export const MANIFEST_ACCEPT = MANIFEST_MEDIA_TYPES.join(', ');

export function isImageIndexMediaType(mt: string | undefined): boolean {
  return mt === MediaType.ociIndex || mt === MediaType.dockerManifestList;
}

export function isImageManifestMediaType(mt: string | undefined): boolean {
  return mt === MediaType.ociManifest || mt === MediaType.dockerManifest;
}

export function isSchema1MediaType(mt: string | undefined): boolean {
  return mt === MediaType.dockerSchema1 || mt === MediaType.dockerSchema1Signed;
}

export function isConfigMediaType(mt: string | undefined): boolean {
  return mt === MediaType.ociConfig || mt === MediaType.dockerConfig;
}

const LAYER_TYPES = new Set<string>([
  MediaType.ociLayer,
  MediaType.ociLayerGzip,
  MediaType.ociLayerZstd,
  MediaType.ociLayerNondistributable,
  MediaType.ociLayerNondistributableGzip,
  MediaType.ociLayerNondistributableZstd,
  MediaType.dockerLayer,
  MediaType.dockerLayerGzip,
  MediaType.dockerForeignLayerGzip,
]);

export function isLayerMediaType(mt: string | undefined): boolean {
  return mt !== undefined && LAYER_TYPES.has(mt);
}

/** Foreign (docker) and non-distributable (OCI) layers: not pushed, usually fetched from their `urls`. */
export function isForeignLayer(mt: string | undefined): boolean {
  return (
    mt === MediaType.dockerForeignLayerGzip ||
    mt === MediaType.ociLayerNondistributable ||
    mt === MediaType.ociLayerNondistributableGzip ||
    mt === MediaType.ociLayerNondistributableZstd
  );
}

export type Compression = 'gzip' | 'zstd' | 'none';

/** How a layer blob is compressed, from its media type; undefined when the type is not a known layer type. */
export function layerCompression(mt: string | undefined): Compression | undefined {
  if (!isLayerMediaType(mt)) return undefined;
  if (mt!.endsWith('+gzip') || mt!.endsWith('.gzip')) return 'gzip';
  if (mt!.endsWith('+zstd')) return 'zstd';
  return 'none';
}

/** docker type ↔ OCI type, for writing a manifest in one family. */
const DOCKER_OCI: ReadonlyArray<[docker: string, oci: string]> = [
  [MediaType.dockerManifestList, MediaType.ociIndex],
  [MediaType.dockerManifest, MediaType.ociManifest],
  [MediaType.dockerConfig, MediaType.ociConfig],
  [MediaType.dockerLayerGzip, MediaType.ociLayerGzip],
  [MediaType.dockerLayer, MediaType.ociLayer],
  [MediaType.dockerForeignLayerGzip, MediaType.ociLayerNondistributableGzip],
];
const TO_DOCKER = new Map(DOCKER_OCI.map(([d, o]) => [o, d]));
const TO_OCI = new Map(DOCKER_OCI);

/** The docker counterpart of an OCI type (other types as they are). */
export function toDockerMediaType(mt: string): string {
  return TO_DOCKER.get(mt) ?? mt;
}

/** The OCI counterpart of a docker type (other types as they are). */
export function toOciMediaType(mt: string): string {
  return TO_OCI.get(mt) ?? mt;
}

/** "application/vnd.oci.image.manifest.v1+json; charset=utf-8" → "application/vnd.oci.image.manifest.v1+json". */
export function normalizeContentType(ct: string | undefined | null): string | undefined {
  if (typeof ct !== 'string') return undefined;
  const t = ct.split(';')[0]!.trim().toLowerCase();
  return t.length > 0 ? t : undefined;
}
