// The one error a bad reference gives: DheError INVALID_REFERENCE (a usage error, exit 2), one short line.

import { DheError } from '../errors.js';

export const REFERENCE_HINT = 'a reference looks like [HOST[:PORT]/]NAME[:TAG][@DIGEST], e.g. dhe.yourdomain.com/team/app:1.0';
export const TAG_HINT = 'a tag is up to 128 letters, digits, "_", "." and "-", not starting with "." or "-"';
export const DIGEST_HINT = 'a digest is sha256: followed by 64 lowercase hex digits (or sha384: 96, sha512: 128)';
export const REGISTRY_HINT = 'a registry is HOST[:PORT], e.g. dhe.yourdomain.com, 127.0.0.1:5000 or [::1]:5000';

/** Keeps error messages one line and short, whatever the user typed. */
export function printable(s: string, max = 300): string {
  // eslint-disable-next-line no-control-regex
  const clean = s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}...` : clean;
}

/** INVALID_REFERENCE for TEXT; WHY is the message (docker's words first), printed as it is. */
export function invalidReference(text: string, why: string, hint: string = REFERENCE_HINT): DheError {
  return new DheError('INVALID_REFERENCE', why, { hint, details: { reference: printable(text) } });
}
