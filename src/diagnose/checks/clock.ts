// The clock: this machine's time against the server's Date header and the token's iat/nbf.

import type { JwtClaims } from '../token.js';
import type { DoctorRun } from '../run.js';

function fmtSkew(s: number): string {
  const a = Math.abs(s);
  return a < 120 ? `${Math.round(a)} s` : a < 7200 ? `${Math.round(a / 60)} min` : `${(a / 3600).toFixed(1)} h`;
}

function skewText(s: number, inStep: number): string {
  return Math.abs(s) < inStep ? 'in step with this machine' : `${fmtSkew(s)} ${s > 0 ? 'ahead of' : 'behind'} this machine`;
}

/** The token the clock is compared with: when it was issued here, and its claims. */
export interface IssuedToken {
  issuedAt: number;
  claims?: JwtClaims;
}

export function clockCheck(run: DoctorRun, date: string | undefined, localMs: number, tok: IssuedToken | undefined): void {
  const notes: string[] = [];
  let worst = 0;
  let serverSkew: number | undefined;
  const server = date ? Date.parse(date) : NaN;
  if (!Number.isNaN(server)) {
    serverSkew = (server - localMs) / 1000; // >0: the server is ahead
    worst = Math.max(worst, Math.abs(serverSkew) - 1);
    notes.push(`server Date ${new Date(server).toISOString()}: ${skewText(serverSkew, 2)}`);
  }
  const c = tok?.claims;
  if (tok && c?.iat !== undefined) {
    const s = c.iat - tok.issuedAt / 1000;
    worst = Math.max(worst, Math.abs(s) - 2);
    notes.push(`token iat ${new Date(c.iat * 1000).toISOString()}: ${skewText(s, 3)}`);
  }
  if (c?.nbf !== undefined && c.nbf * 1000 > Date.now() + 60_000) {
    worst = Math.max(worst, (c.nbf * 1000 - Date.now()) / 1000);
    notes.push(`token nbf ${new Date(c.nbf * 1000).toISOString()} is in this machine's future`);
  }
  if (!notes.length) {
    run.add({ id: 'clock', area: 'auth', status: 'skip', title: 'Clock', finding: 'skipped: the server sent no Date header' });
    return;
  }
  const bad = worst > 60;
  run.add({
    id: 'clock', area: 'auth', status: bad ? 'warn' : 'pass', title: 'Clock',
    finding: bad ? `this machine's clock is off by about ${fmtSkew(worst)} (${notes.join('; ')})` : `in step with the server (${notes.join('; ')})`,
    fix: bad ? 'set the clock right (e.g. timedatectl set-ntp true): certificate dates and token times are checked against it' : undefined,
    details: { serverSkewSeconds: serverSkew, iat: c?.iat, nbf: c?.nbf },
  });
}
