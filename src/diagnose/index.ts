// `dhe-cli doctor` as a library: runDoctor(registry, options) → a report of checks with findings and fixes.
export { runDoctor, exitCodeOf } from './doctor.js';
export { decodeJwt, compareAccess, type JwtClaims, type AccessEntry, type AccessComparison } from './token.js';
export { parseTarget, type Target } from './net.js';
export type { Check, CheckArea, CheckStatus, DoctorOptions, DoctorReport } from './types.js';
export { prepareTrust, type TrustPlan } from './trust.js';
export { pinCa, type PinOutcome } from './ca-pin.js';
export { displayPath } from './tls-trust.js';
export type { CaCandidate } from './ca-candidate.js';
