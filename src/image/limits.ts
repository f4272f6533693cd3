// The size caps of the documents we read into memory, defined once. Everything in src/image, src/transfer,
// src/archive and src/oci takes them from here. (The store branch adds src/oci/limits.ts with the same two names:
// switching to it is this one file re-exporting that module.)

/** Largest manifest or index we read (distribution's own limit is 4 MiB). */
export const MANIFEST_MAX_BYTES = 4 * 1024 * 1024;
/** Largest image config we read. */
export const CONFIG_MAX_BYTES = 8 * 1024 * 1024;
