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

const MAX_HEADER = 64 * 1024;
export const MAX_VALUE = 16 * 1024;
const MAX_CHALLENGES = 16;
const MAX_PARAMS = 64;

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*/;

function isWs(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\r' || c === '\n';
}

/** A position in a header value, and the lexical pieces of RFC 7235 read from there. */
class Scanner {
  i = 0;
  readonly n: number;

  constructor(readonly s: string) {
    this.n = s.length;
  }

  /** The character at the position. */
  at(): string | undefined {
    return this.s[this.i];
  }

  done(): boolean {
    return this.i >= this.n;
  }

  skipWs(): void {
    while (this.i < this.n && isWs(this.s[this.i])) this.i++;
  }

  /** White space and commas (empty list elements). */
  skipSeparators(): void {
    while (this.i < this.n && (isWs(this.s[this.i]) || this.s[this.i] === ',')) this.i++;
  }

  /** Garbage: up to the next comma. */
  skipToComma(): void {
    while (this.i < this.n && this.s[this.i] !== ',') this.i++;
  }

  token(): string {
    const start = this.i;
    while (this.i < this.n && TCHAR.test(this.s[this.i]!)) this.i++;
    return this.s.slice(start, this.i);
  }

  /** A quoted-string (at '"'), unescaped, cut at MAX_VALUE; unterminated: what there is, up to the end. */
  quoted(): string {
    const { s, n } = this;
    this.i++;
    let v = '';
    let truncated = false;
    while (this.i < n) {
      const c = s[this.i]!;
      if (c === '\\' && this.i + 1 < n) {
        if (!truncated) v += s[this.i + 1];
        this.i += 2;
      } else if (c === '"') {
        this.i++;
        return v;
      } else {
        if (!truncated) v += c;
        this.i++;
      }
      if (v.length > MAX_VALUE) {
        v = v.slice(0, MAX_VALUE);
        truncated = true;
      }
    }
    return v;
  }

  /** A token value: up to a comma or white space, cut at MAX_VALUE. */
  bare(): string {
    const start = this.i;
    while (this.i < this.n && this.s[this.i] !== ',' && !isWs(this.s[this.i])) this.i++;
    return this.s.slice(start, Math.min(this.i, start + MAX_VALUE));
  }
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
  const sc = new Scanner(header.length > MAX_HEADER ? header.slice(0, MAX_HEADER) : header);
  const out: Challenge[] = [];
  while (!sc.done() && out.length < MAX_CHALLENGES) {
    sc.skipSeparators();
    if (sc.done()) break;
    const scheme = sc.token();
    if (!scheme) {
      // Not a token: skip to the next comma (garbage between challenges).
      sc.skipToComma();
      continue;
    }
    const ch: Challenge = { scheme: scheme.toLowerCase(), params: Object.create(null) as Record<string, string> };
    out.push(ch);
    sc.skipWs();
    if (!readToken68(sc, ch)) readParams(sc, ch);
  }
  return out;
}

/** token68: "Scheme abc123==" followed by the end or a comma. */
function readToken68(sc: Scanner, ch: Challenge): boolean {
  const { s, n, i } = sc;
  if (!(i > 0 && isWs(s[i - 1]))) return false;
  const m = TOKEN68.exec(s.slice(i, i + MAX_VALUE + 64));
  if (!m) return false;
  let j = i + m[0].length;
  while (j < n && isWs(s[j])) j++;
  if (j < n && s[j] !== ',') return false;
  ch.token68 = m[0].slice(0, MAX_VALUE);
  sc.i = j;
  return true;
}

/** auth-params up to the start of the next challenge (a token not followed by '='). */
function readParams(sc: Scanner, ch: Challenge): void {
  let count = 0;
  for (;;) {
    const save = sc.i;
    sc.skipSeparators();
    if (sc.done()) break;
    const name = sc.token();
    if (!name) {
      sc.skipToComma();
      if (sc.done()) break;
      continue;
    }
    sc.skipWs();
    if (sc.at() !== '=') {
      sc.i = save;
      break;
    }
    sc.i++; // '='
    sc.skipWs();
    const value = sc.at() === '"' ? sc.quoted() : sc.bare();
    const key = name.toLowerCase();
    if (count < MAX_PARAMS && !(key in ch.params)) {
      ch.params[key] = value;
      count++;
    }
    sc.skipWs();
    // junk after a value: skip to the next comma
    if (!sc.done() && sc.at() !== ',') sc.skipToComma();
  }
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
