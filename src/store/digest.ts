// Digest strings as the store uses them ("<alg>:<hex>", sha256/sha384/sha512, validated before they become paths),
// built on src/oci's digest helpers.

import { splitDigest, type DigestAlgorithm } from '../oci/digest.js';
import { isValidDigest } from '../reference/index.js';

export { isValidDigest };

/** Splits and validates a digest (DheError MALFORMED_MANIFEST otherwise); nothing else can name a blob file. */
export function parseDigest(d: string): { algorithm: DigestAlgorithm; hex: string } {
  return splitDigest(d, 'MALFORMED_MANIFEST');
}
