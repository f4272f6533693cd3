// The local image store (OCI image layout). Digest and media-type helpers live in src/oci.
export * from './store.js';
export { REF_NAME_ANNOTATION, DHE_NAME_ANNOTATION } from './types.js';
