// Digests: what distribution/reference's grammar lets through a reference ("ALGORITHM:" and at least 32 hex
// digits), then what opencontainers/go-digest v1 accepts (digest.Parse, which reference.Parse calls): sha256,
// sha384 or sha512, exactly 64, 96 or 128 lowercase hex digits. Every other algorithm is "unsupported".

/** Hex digits each supported digest algorithm needs. */
export const DIGEST_HEX_LENGTHS: Readonly<Record<string, number>> = { sha256: 64, sha384: 96, sha512: 128 };

const ALGORITHM_RE = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*$/;
const REFERENCE_HEX_RE = /^[0-9a-fA-F]{32,}$/;
const ENCODED_RE = /^[a-zA-Z0-9=_-]+$/;
const LOWER_HEX_RE = /^[a-f0-9]+$/;
const SHAPE = 'a digest is ALGORITHM:HEX, e.g. sha256:<64 hex digits>';

function split(s: string): [string, string] | undefined {
  const colon = s.indexOf(':');
  return colon < 0 ? undefined : [s.slice(0, colon), s.slice(colon + 1)];
}

/** go-digest's Algorithm.Validate for a supported algorithm: why the hex part is wrong, or undefined. */
function hexProblem(alg: string, hex: string, need: number): string | undefined {
  if (hex.length !== need || !LOWER_HEX_RE.test(hex)) return `${alg} needs ${need} lowercase hex digits`;
  return undefined;
}

/** Why a digest is not valid (as go-digest judges a digest in a manifest or a path), or undefined when it is. */
export function digestProblem(s: string): string | undefined {
  if (typeof s !== 'string' || s.length === 0) return SHAPE;
  if (s.length > 300) return 'too long';
  const parts = split(s);
  if (!parts || !ALGORITHM_RE.test(parts[0]) || !ENCODED_RE.test(parts[1])) return SHAPE;
  const need = DIGEST_HEX_LENGTHS[parts[0]];
  if (need === undefined) return `unsupported digest algorithm "${parts[0]}" (sha256, sha384 and sha512 are)`;
  return hexProblem(parts[0], parts[1], need);
}

export function isValidDigest(s: string): boolean {
  return digestProblem(s) === undefined;
}

/**
 * Why the digest part of a reference is not valid, in docker's words first: "invalid reference format" (the
 * grammar: an algorithm, ":" and at least 32 hex digits), "unsupported digest algorithm", or "invalid checksum
 * digest length/format"; undefined when docker 28 accepts it.
 */
export function referenceDigestProblem(s: string): string | undefined {
  const parts = split(s);
  if (!parts || !ALGORITHM_RE.test(parts[0]) || !REFERENCE_HEX_RE.test(parts[1])) {
    return `invalid reference format: ${SHAPE} (at least 32 hex digits)`;
  }
  const [alg, hex] = parts;
  const need = DIGEST_HEX_LENGTHS[alg];
  if (need === undefined) return `unsupported digest algorithm "${alg}" (sha256, sha384 and sha512 are)`;
  if (hex.length !== need) return `invalid checksum digest length: ${alg} needs ${need} lowercase hex digits, not ${hex.length}`;
  return LOWER_HEX_RE.test(hex) ? undefined : `invalid checksum digest format: ${alg} needs ${need} lowercase hex digits`;
}
