// Which platform of a multi-platform image in the local store a command works on: the policy is in
// src/oci/platform.ts, the store's view (which children are present) in src/image/store.ts; re-exported here for
// the commands that import them from this module.

export { PLATFORM_ANNOTATION, pickLocalPlatform } from '../oci/platform.js';
export { presentChildren } from '../image/store.js';
