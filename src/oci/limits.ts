// Size and depth caps for documents read from registries, archives and the local store, in one place: the store,
// the image model (src/image) and the transfers take them from here.

const MiB = 1024 * 1024;

/** Largest manifest or index read (distribution's own limit is 4 MiB). */
export const MANIFEST_MAX_BYTES = 4 * MiB;
/** Largest image config read. */
export const CONFIG_MAX_BYTES = 8 * MiB;
/**
 * How deep indexes may nest below the top one: walks that follow the children of indexes read indexes at depths 0
 * (the top) to INDEX_DEPTH_MAX, so the children they find are at depth INDEX_DEPTH_MAX + 1 at the most.
 */
export const INDEX_DEPTH_MAX = 4;
/** Largest OCI layout index.json (and the store's sources.json) read. */
export const LAYOUT_INDEX_MAX_BYTES = 64 * MiB;
/** Largest metadata member or index/manifest document of an archive read into memory (manifest.json, index.json). */
export const ARCHIVE_META_MAX_BYTES = 8 * MiB;
/** All metadata members of one archive together. */
export const ARCHIVE_META_TOTAL_MAX_BYTES = 64 * MiB;
/** Largest cosign simple-signing payload read (cosign's are a few hundred bytes). */
export const SIGNATURE_PAYLOAD_MAX_BYTES = 1 * MiB;
/** Most signatures (layers of a `sha256-<hex>.sig` manifest, or Sigstore bundles) one verify reads. */
export const SIGNATURES_MAX = 256;
