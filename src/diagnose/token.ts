// What a bearer token says about itself: the JWT claims (access, iat, nbf, exp), compared with what was asked.

import { parseScope } from '../auth/challenge.js';

export interface AccessEntry {
  type: string;
  name: string;
  actions: string[];
}

export interface JwtClaims {
  iss?: string;
  sub?: string;
  aud?: string | string[];
  iat?: number;
  nbf?: number;
  exp?: number;
  access?: AccessEntry[];
}

/** The claims of a JWT (no signature check: only to explain what the token grants). undefined for opaque tokens. */
export function decodeJwt(token: string): JwtClaims | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[1]) return undefined;
  try {
    const j = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as unknown;
    if (!j || typeof j !== 'object' || Array.isArray(j)) return undefined;
    const c = j as Record<string, unknown>;
    const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
    const access = Array.isArray(c.access)
      ? (c.access as unknown[]).flatMap((a) => {
          if (!a || typeof a !== 'object') return [];
          const r = a as Record<string, unknown>;
          return [{
            type: typeof r.type === 'string' ? r.type : '',
            name: typeof r.name === 'string' ? r.name : '',
            actions: Array.isArray(r.actions) ? r.actions.filter((x): x is string => typeof x === 'string') : [],
          }];
        })
      : undefined;
    return {
      iss: typeof c.iss === 'string' ? c.iss : undefined,
      sub: typeof c.sub === 'string' ? c.sub : undefined,
      aud: typeof c.aud === 'string' || Array.isArray(c.aud) ? (c.aud as string | string[]) : undefined,
      iat: num(c.iat),
      nbf: num(c.nbf),
      exp: num(c.exp),
      access,
    };
  } catch {
    return undefined;
  }
}

export interface AccessComparison {
  /** Per asked scope: the actions asked, granted and missing. */
  scopes: { resource: string; asked: string[]; granted: string[]; missing: string[] }[];
  complete: boolean;
}

/** Compares the `access` claim with the scopes asked ("repository:team/app:pull,push"). */
export function compareAccess(asked: string[], granted: AccessEntry[]): AccessComparison {
  const out: AccessComparison = { scopes: [], complete: true };
  for (const s of asked) {
    const sc = parseScope(s);
    if (!sc) continue;
    const have = new Set<string>();
    for (const g of granted) if (g.type === sc.type && g.name === sc.name) g.actions.forEach((a) => have.add(a));
    const grantedActions = have.has('*') ? [...sc.actions] : sc.actions.filter((a) => have.has(a));
    const missing = sc.actions.filter((a) => !grantedActions.includes(a));
    if (missing.length) out.complete = false;
    out.scopes.push({ resource: `${sc.type}:${sc.name}`, asked: sc.actions, granted: grantedActions, missing });
  }
  return out;
}
