// The --debug trace. Library code writes through a Trace it is given; secrets are redacted here, once, by the
// structure of what is logged rather than by a list of known parameter names:
//   - a URL on another origin than the registry (blob storage, a CDN, a token realm) shows scheme, host and path
//     only: its query, where signed URLs keep their signatures, is never shown;
//   - on every origin, query values whose names look secret (*sig*, *token*, *key*, *credential*, *secret*,
//     *passw*, *hmac*, *expires*, verify, policy, …) are redacted, and so is userinfo;
//   - Bearer/Basic credentials (any case), JWT-shaped strings, and JSON fields named like tokens or secrets
//     (refresh_token, identitytoken, registrytoken, password, …) are redacted in free text;
//   - every line is made terminal-safe (src/text/sanitize.ts) and kept on one line.

import { sanitizeLine } from './text/sanitize.js';

export interface TraceContext {
  /**
   * The registry's origin (`https://host:port`) for the URLs in this line: URLs on any other origin show scheme,
   * host and path only. Without it, the trace decides from what it has seen (see streamTrace).
   */
  registryOrigin?: string;
}

export interface Trace {
  readonly enabled: boolean;
  /** One line of debug output; `redactText` and sanitising are applied to it before it is written. */
  log(line: string, context?: TraceContext): void;
}

export const silentTrace: Trace = { enabled: false, log() {} };

/** A name (query parameter, header, JSON field) whose value may be a secret. */
const SECRET_NAME =
  /sig|token|key|credential|secret|passw|hmac|expires|(?:^|[-_])auth$|^authorization$|^(?:verify|policy|hdnts|hdnea|cookie|set-cookie|x-registry-auth)$/i;
/** Query-only names: OAuth codes and Azure SAS fields (se, sp, sv, …) that make a signed URL work. */
const SECRET_QUERY_ONLY = /^(?:code|se|sp|sv|sr|st|spr|srt|ss|skoid|sktid|skt|ske|sks|skv)$/i;

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

function isSecretQueryName(name: string): boolean {
  return SECRET_NAME.test(name) || SECRET_QUERY_ONLY.test(name);
}

/** Redacts the value of a header if it may carry a secret (the auth scheme is kept: `Bearer [REDACTED]`). */
export function redactHeader(name: string, value: string): string {
  if (!isSecretName(name)) return value;
  const sp = value.indexOf(' ');
  return sp > 0 && /^[A-Za-z-]+$/.test(value.slice(0, sp)) ? `${value.slice(0, sp)} [REDACTED]` : '[REDACTED]';
}

/** Which origins count as the registry's: one origin, a set, or a decision per URL. */
export type RegistryOrigins = string | ReadonlySet<string> | ((u: URL) => boolean);

/** The registry API lives at /v2/ (distribution spec); blob storage, CDNs and token realms do not. */
function isRegistryApiPath(pathname: string): boolean {
  return /^\/v2(?:\/|$)/.test(pathname);
}

function originOf(s: string): string {
  try {
    return new URL(s.includes('://') ? s : `https://${s}`).origin;
  } catch {
    return s;
  }
}

function onRegistryOrigin(u: URL, registry: RegistryOrigins | undefined): boolean {
  if (registry === undefined) return isRegistryApiPath(u.pathname);
  if (typeof registry === 'function') return registry(u);
  if (typeof registry === 'string') return originOf(registry) === u.origin;
  return registry.has(u.origin);
}

/**
 * A URL as the trace shows it. On another origin than the registry: scheme, host and path only. On the registry's
 * origin: secret-looking query values redacted. Userinfo is always redacted. Without `registry`, a URL whose path is
 * the registry API (/v2/…) counts as the registry's and any other as another origin's.
 */
export function redactUrl(url: string, registry?: RegistryOrigins): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    // not parseable: keep what is before the query, hide userinfo
    return url.replace(/[?#].*$/s, '').replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1REDACTED@');
  }
  if (!onRegistryOrigin(u, registry)) {
    if (!u.search && !u.hash && !u.username && !u.password) return url;
    const who = u.username || u.password ? 'REDACTED@' : '';
    return u.host ? `${u.protocol}//${who}${u.host}${u.pathname}` : `${u.protocol}${u.pathname}`;
  }
  let changed = false;
  if (u.username || u.password) {
    u.username = u.username ? 'REDACTED' : '';
    u.password = '';
    changed = true;
  }
  if (u.hash) {
    u.hash = '';
    changed = true;
  }
  for (const key of new Set(u.searchParams.keys())) {
    if (isSecretQueryName(key)) {
      u.searchParams.set(key, 'REDACTED');
      changed = true;
    }
  }
  return changed ? u.toString() : url;
}

const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]+/gi;
/** Words after Bearer/Basic that are prose or a challenge ("Basic realm=…", "basic auth"), not a credential. */
const NOT_A_CREDENTIAL = /^(?:realm|auth|authentication|authorization|credentials?|challenge|scheme|token|or|and|to|for|is|with)$/i;

/**
 * Scrub of free text: URLs as redactUrl shows them, userinfo, Bearer/Basic credentials (any case), JWT-looking
 * strings, JSON fields and `name=value` pairs whose names look secret.
 */
export function redactText(text: string, registry?: RegistryOrigins): string {
  return redactPairs(redactProse(text, registry));
}

/**
 * The rules that hold for any text we print (URLs, userinfo, Bearer/Basic values, JWTs, secret JSON fields), but not
 * the name=value rule: our own Error and Hint lines say things like "--env needs KEY=VALUE", which that rule would
 * mangle; request bodies and query strings appear only in --debug lines, which get redactText.
 */
export function redactProse(text: string, registry?: RegistryOrigins): string {
  return text
    .replace(URL_IN_TEXT, (m) => {
      const trail = /[.,;:!?)\]}]+$/.exec(m)?.[0] ?? '';
      const url = trail ? m.slice(0, -trail.length) : m;
      return redactUrl(url, registry) + trail;
    })
    .replace(/(\/\/)[^\s/@"']+@/g, (m, slashes: string) => (m.startsWith('//REDACTED@') ? m : `${slashes}REDACTED@`))
    .replace(/\b(bearer|basic)(\s+)([A-Za-z0-9._~+/=-]+)/gi, (m, scheme: string, sp: string, value: string) =>
      NOT_A_CREDENTIAL.test(value.replace(/=.*$/, '')) ? m : `${scheme}${sp}[REDACTED]`,
    )
    .replace(/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g, '[REDACTED-JWT]')
    .replace(/("([^"\\]{1,100})"\s*:\s*")((?:[^"\\]|\\.)*)(")/g, (m, head: string, name: string, _v: string, tail: string) =>
      isSecretName(name) ? `${head}[REDACTED]${tail}` : m,
    );
}

/** Secret-named name=value pairs (form bodies, query strings in prose). */
function redactPairs(text: string): string {
  return text.replace(/(^|[?&;\s,(])([A-Za-z0-9_.~-]{1,100})=([^&\s"'#;,)]*)/g, (m, lead: string, name: string, value: string) =>
    value && value !== 'REDACTED' && isSecretQueryName(name) ? `${lead}${name}=REDACTED` : m,
  );
}

/**
 * A Trace writing through `write` (the CLI passes its Output's stderr: the library itself prints nothing), every
 * line redacted and made terminal-safe.
 *
 * Which origin is the registry's: a line may say (`context.registryOrigin`); otherwise the trace learns them as it
 * goes: an origin is the registry's once a URL of the registry API (/v2/…) was seen on it, and `registryOrigins`
 * names some up front. Any other origin is "another origin": its URLs lose their query.
 */
export function streamTrace(
  write: (s: string) => void,
  opts: { registryOrigins?: Iterable<string> } = {},
): Trace {
  const registries = new Set<string>([...(opts.registryOrigins ?? [])].map(originOf));
  const learned = (u: URL) => {
    if (isRegistryApiPath(u.pathname) && (u.protocol === 'https:' || u.protocol === 'http:')) registries.add(u.origin);
    return registries.has(u.origin);
  };
  return {
    enabled: true,
    log(line: string, context?: TraceContext) {
      const registry: RegistryOrigins = context?.registryOrigin ?? learned;
      write(`DEBUG ${sanitizeLine(redactText(line, registry))}\n`);
    },
  };
}
