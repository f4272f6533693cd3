// `dhe-cli doctor` as a library: runDoctor(registry, options) → a report of checks with findings and fixes.
export { runDoctor, exitCodeOf } from './doctor.js';
export { decodeJwt, compareAccess, type JwtClaims, type AccessEntry, type AccessComparison } from './token.js';
export { parseTarget, type Target } from './net.js';
export type { Check, CheckArea, CheckStatus, DoctorOptions, DoctorReport } from './types.js';
