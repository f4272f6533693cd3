// The OCI model: media types, document types and validation, digests, platforms.
export * from './mediatypes.js';
export * from './types.js';
export * from './digest.js';
export * from './manifest.js';
export * from './platform.js';
