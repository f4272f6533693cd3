// WWW-Authenticate parsing (RFC 7235 §4.1, RFC 6750 §3): several challenges in one header, auth-params with
// token or quoted-string values (commas and backslash escapes inside quotes), token68, case-insensitive schemes.
// Hostile input is bounded: the header is cut at MAX_HEADER, values at MAX_VALUE, counts at MAX_CHALLENGES/PARAMS.

export interface Challenge {
  /** Lower-cased scheme: "basic", "bearer", ... */
  scheme: string;
  /** Lower-cased parameter names; the first occurrence wins. */
  params: Record<string, string>;
  token68?: string;
}

export const MAX_HEADER = 64 * 1024;
export const MAX_VALUE = 16 * 1024;
const MAX_CHALLENGES = 16;
const MAX_PARAMS = 64;

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*/;

function isWs(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\r' || c === '\n';
}

/** Parses one or several WWW-Authenticate header values (an array is joined as separate challenges). */
export function parseWwwAuthenticate(header: string | string[] | undefined | null): Challenge[] {
  if (header == null) return [];
  if (Array.isArray(header)) {
    const out: Challenge[] = [];
    for (const h of header) {
      for (const c of parseWwwAuthenticate(h)) if (out.length < MAX_CHALLENGES) out.push(c);
    }
    return out;
  }
  const s = header.length > MAX_HEADER ? header.slice(0, MAX_HEADER) : header;
  const n = s.length;
  let i = 0;
  const out: Challenge[] = [];

  const skipWs = () => {
    while (i < n && isWs(s[i])) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < n && TCHAR.test(s[i]!)) i++;
    return s.slice(start, i);
  };
  const readQuoted = (): string => {
    // s[i] === '"'
    i++;
    let v = '';
    let truncated = false;
    while (i < n) {
      const c = s[i]!;
      if (c === '\\' && i + 1 < n) {
        if (!truncated) v += s[i + 1];
        i += 2;
      } else if (c === '"') {
        i++;
        return v;
      } else {
        if (!truncated) v += c;
        i++;
      }
      if (v.length > MAX_VALUE) {
        v = v.slice(0, MAX_VALUE);
        truncated = true;
      }
    }
    return v; // unterminated: what we have, up to the end
  };

  while (i < n && out.length < MAX_CHALLENGES) {
    while (i < n && (isWs(s[i]) || s[i] === ',')) i++;
    if (i >= n) break;
    const scheme = readToken();
    if (!scheme) {
      // Not a token: skip to the next comma (garbage between challenges).
      while (i < n && s[i] !== ',') i++;
      continue;
    }
    const ch: Challenge = { scheme: scheme.toLowerCase(), params: Object.create(null) as Record<string, string> };
    out.push(ch);
    skipWs();
    // token68: "Scheme abc123==" followed by the end or a comma.
    if (i > 0 && isWs(s[i - 1])) {
      const m = TOKEN68.exec(s.slice(i, i + MAX_VALUE + 64));
      if (m) {
        let j = i + m[0].length;
        while (j < n && isWs(s[j])) j++;
        if (j >= n || s[j] === ',') {
          ch.token68 = m[0].slice(0, MAX_VALUE);
          i = j;
          continue;
        }
      }
    }
    // auth-params
    let count = 0;
    for (;;) {
      const save = i;
      while (i < n && (isWs(s[i]) || s[i] === ',')) i++;
      if (i >= n) break;
      const name = readToken();
      if (!name) {
        // garbage: skip to next comma
        while (i < n && s[i] !== ',') i++;
        if (i >= n) break;
        continue;
      }
      skipWs();
      if (s[i] !== '=') {
        // start of the next challenge
        i = save;
        break;
      }
      i++; // '='
      skipWs();
      let value: string;
      if (s[i] === '"') value = readQuoted();
      else {
        const start = i;
        while (i < n && s[i] !== ',' && !isWs(s[i])) i++;
        value = s.slice(start, Math.min(i, start + MAX_VALUE));
      }
      const key = name.toLowerCase();
      if (count < MAX_PARAMS && !(key in ch.params)) {
        ch.params[key] = value;
        count++;
      }
      skipWs();
      if (i < n && s[i] !== ',') {
        // junk after a value: skip to the next comma
        while (i < n && s[i] !== ',') i++;
      }
    }
  }
  return out;
}

export function findChallenge(challenges: Challenge[], scheme: string): Challenge | undefined {
  const s = scheme.toLowerCase();
  return challenges.find((c) => c.scheme === s);
}

// ---- scopes ("repository:library/alpine:pull,push", "registry:catalog:*") ----

export interface Scope {
  type: string;
  name: string;
  actions: string[];
}

export function parseScope(scope: string): Scope | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last === first) return undefined;
  return {
    type: scope.slice(0, first),
    name: scope.slice(first + 1, last),
    actions: scope
      .slice(last + 1)
      .split(',')
      .map((a) => a.trim())
      .filter(Boolean),
  };
}

export function formatScope(s: Scope): string {
  return `${s.type}:${s.name}:${[...s.actions].join(',')}`;
}

/** Union of scope strings: the actions of the same resource are merged; output sorted, actions sorted. */
export function unionScopes(...lists: (readonly string[] | undefined)[]): string[] {
  const byResource = new Map<string, Scope>();
  for (const list of lists) {
    for (const raw of list ?? []) {
      for (const one of raw.split(' ')) {
        if (!one) continue;
        const sc = parseScope(one);
        if (!sc) continue;
        const key = `${sc.type}:${sc.name}`;
        const cur = byResource.get(key);
        if (cur) {
          for (const a of sc.actions) if (!cur.actions.includes(a)) cur.actions.push(a);
        } else byResource.set(key, { ...sc, actions: [...new Set(sc.actions)] });
      }
    }
  }
  return [...byResource.values()]
    .map((s) => formatScope({ ...s, actions: [...s.actions].sort() }))
    .sort();
}

/** True when every action of every scope in `wanted` is in `have`. ("*" covers everything for its resource.) */
export function scopesCover(have: readonly string[], wanted: readonly string[]): boolean {
  const h = new Map<string, Set<string>>();
  for (const s of have) {
    const sc = parseScope(s);
    if (!sc) continue;
    const key = `${sc.type}:${sc.name}`;
    const set = h.get(key) ?? new Set<string>();
    sc.actions.forEach((a) => set.add(a));
    h.set(key, set);
  }
  for (const s of wanted) {
    const sc = parseScope(s);
    if (!sc) continue;
    const set = h.get(`${sc.type}:${sc.name}`);
    if (!set) return false;
    if (set.has('*')) continue;
    for (const a of sc.actions) if (!set.has(a)) return false;
  }
  return true;
}
