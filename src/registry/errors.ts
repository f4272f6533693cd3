// Registry error bodies ({"errors":[{code,message,detail}]}) and HTTP statuses → DheError with a hint.

import { DheError, type ErrorCode } from '../errors.js';
import { clientCertHint } from '../transport/errors.js';

export interface RegistryErrorEntry {
  code: string;
  message?: string;
  detail?: unknown;
}

export const ERROR_BODY_LIMIT = 64 * 1024;

/** Parses a registry error body; [] when it is not one. Bounded: at most 20 entries, strings cut at 500. */
export function parseErrorBody(text: string): RegistryErrorEntry[] {
  if (!text || text.length > ERROR_BODY_LIMIT) return [];
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    return [];
  }
  const errs = (j as { errors?: unknown } | null)?.errors;
  if (!Array.isArray(errs)) return [];
  const out: RegistryErrorEntry[] = [];
  for (const e of errs.slice(0, 20)) {
    if (!e || typeof e !== 'object') continue;
    const r = e as Record<string, unknown>;
    const code = typeof r.code === 'string' ? r.code.slice(0, 100).toUpperCase() : 'UNKNOWN';
    const message = typeof r.message === 'string' ? r.message.slice(0, 500) : undefined;
    out.push({ code, message, detail: r.detail });
  }
  return out;
}

export interface ErrorContext {
  registry: string;
  /** "manifest alpine:latest", "blob sha256:… in alpine", "tags of alpine"... */
  what: string;
  repo?: string;
  /** Authorization was sent with the request. */
  sentAuth?: boolean;
  /**
   * Credentials of a user were behind that Authorization (false: none at all, or only an anonymous bearer token);
   * undefined: same as sentAuth.
   */
  sentCredentials?: boolean;
  /** The bearer challenge's error / scope on a 401. */
  challengeError?: string;
  scopes?: string[];
  retryAfterMs?: number;
  /** The certs.d folders searched (TlsSettings.certsDirs), named in TLS hints. */
  certsDirs?: readonly string[];
}

/**
 * A registry's `detail`, short and readable: a string as is, distribution's access lists ([{Type,Name,Action}])
 * as scopes; anything else is dropped (raw JSON never goes into a message; it stays in DheError.details).
 */
function detailText(d: unknown): string {
  if (d === undefined || d === null) return '';
  if (typeof d === 'string') return d.slice(0, 200);
  const list = Array.isArray(d) ? d : [d];
  const scopes: string[] = [];
  for (const x of list.slice(0, 5)) {
    if (!x || typeof x !== 'object') return '';
    const r = x as Record<string, unknown>;
    const type = r.Type ?? r.type;
    const name = r.Name ?? r.name;
    const action = r.Action ?? r.action;
    if (typeof type !== 'string' || typeof name !== 'string') return '';
    scopes.push(`${type}:${name}${typeof action === 'string' ? `:${action}` : ''}`.slice(0, 200));
  }
  return scopes.join(', ');
}

function said(entries: RegistryErrorEntry[], text: string): string {
  if (entries.length) {
    return entries
      .map((e) => {
        const d = detailText(e.detail);
        return `${e.code}${e.message ? `: ${e.message}` : ''}${d && !/^\{?\}?$/.test(d) && d !== 'null' && !e.message?.includes(d) ? ` (${d})` : ''}`;
      })
      .join('; ');
  }
  const t = text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
  return t.slice(0, 200);
}

/** Builds the DheError for a failed registry response. */
export function registryError(status: number, bodyText: string, ctx: ErrorContext): DheError {
  const entries = parseErrorBody(bodyText);
  const codes = entries.map((e) => e.code);
  const words = said(entries, bodyText);
  const details: Record<string, unknown> = { status, registry: ctx.registry, errors: entries.length ? entries : undefined };
  const mk = (code: ErrorCode, message: string, hint: string) => new DheError(code, message, { hint, details });
  const suffix = words ? `: ${words}` : '';
  const repoHint = ctx.repo ? ` ${ctx.registry}/${ctx.repo}` : ` ${ctx.registry}`;

  if (status === 400 && /no required ssl certificate|ssl certificate error/i.test(bodyText)) {
    return mk('TLS_CLIENT_CERT_REQUIRED', `${ctx.registry} requires a TLS client certificate`, clientCertHint(ctx.registry, ctx.certsDirs));
  }
  if (codes.includes('TOOMANYREQUESTS') || status === 429) {
    const wait = ctx.retryAfterMs !== undefined ? ` (retry after ${Math.ceil(ctx.retryAfterMs / 1000)} s)` : '';
    return mk('RATE_LIMITED', `rate limited by ${ctx.registry} for ${ctx.what}${wait}${suffix}`, 'wait and try again, or log in: authenticated users usually get higher limits');
  }
  // No user credentials went out (none stored, or only an anonymous bearer token): the answer is "log in",
  // whatever the registry says about scopes.
  const anonymous = !ctx.sentAuth || ctx.sentCredentials === false;
  if (status === 401 || codes.includes('UNAUTHORIZED')) {
    if (anonymous) {
      const access = ctx.scopes?.length ? ctx.scopes.join(' ') : ctx.what;
      // distribution's "UNAUTHORIZED: authentication required" only repeats the message; other words are kept.
      const own = said(entries.filter((e) => !(e.code === 'UNAUTHORIZED' && /^authentication required$/i.test(e.message ?? ''))), '');
      return mk('UNAUTHORIZED', `authentication required by ${ctx.registry} for ${access} (no credentials)${own ? `: ${own}` : ''}`, `log in first: dhe-cli login ${ctx.registry}`);
    }
    if (ctx.challengeError === 'insufficient_scope' || (ctx.sentAuth && status === 401 && ctx.scopes?.length && codes.includes('DENIED'))) {
      // The registry's own words ("UNAUTHORIZED: authentication required") would mislead a logged-in user.
      const scope = ctx.scopes?.join(' ') ?? 'the requested access';
      return mk('INSUFFICIENT_SCOPE', `insufficient scope: ${scope} was not granted for ${ctx.what} on ${ctx.registry}`, `the account lacks this permission on${repoHint}: ask the registry's administrator, or log in as another user (dhe-cli login ${ctx.registry})`);
    }
    return mk('UNAUTHORIZED', `${ctx.registry} refused the credentials for ${ctx.what}${suffix}`, `check the user name and password: dhe-cli login ${ctx.registry}`);
  }
  if (status === 403 || codes.includes('DENIED')) {
    if (anonymous) {
      return mk('DENIED', `access to ${ctx.what} on ${ctx.registry} denied without credentials${suffix}`, `log in first: dhe-cli login ${ctx.registry}`);
    }
    return mk('DENIED', `access to ${ctx.what} on ${ctx.registry} denied${suffix}`, `the account lacks permission on${repoHint}; ask the registry's administrator or log in as another user`);
  }
  if (codes.includes('NAME_UNKNOWN')) {
    return mk('NAME_UNKNOWN', `repository${repoHint} not found${suffix}`, 'check the repository name; on a private registry a missing permission can also look like this');
  }
  if (codes.includes('MANIFEST_UNKNOWN')) {
    return mk('MANIFEST_UNKNOWN', `${ctx.what} not found on ${ctx.registry}${suffix}`, `check the tag or digest (dhe-cli tags ${ctx.registry}/${ctx.repo ?? 'REPO'} lists the tags)`);
  }
  if (codes.includes('BLOB_UNKNOWN') || codes.includes('BLOB_UPLOAD_UNKNOWN')) {
    return mk('BLOB_UNKNOWN', `${ctx.what} not found on ${ctx.registry}${suffix}`, 'the image on the registry may be incomplete; push it again');
  }
  if (codes.includes('DIGEST_INVALID')) {
    return mk('DIGEST_MISMATCH', `${ctx.registry} says the content of ${ctx.what} does not match its digest${suffix}`, 'the local copy may be corrupt: check it with dhe-cli store verify');
  }
  if (codes.includes('UNSUPPORTED') || status === 405) {
    return mk('UNSUPPORTED_BY_REGISTRY', `${ctx.registry} does not support ${ctx.what}${suffix}`, 'the registry disables this operation (for deletes: REGISTRY_STORAGE_DELETE_ENABLED=true on distribution)');
  }
  if (codes.includes('NAME_INVALID') || codes.includes('TAG_INVALID')) {
    return mk('INVALID_REFERENCE', `${ctx.registry} refused the name in ${ctx.what}${suffix}`, 'check the repository and tag names');
  }
  if (codes.includes('MANIFEST_BLOB_UNKNOWN')) {
    return mk('BLOB_UNKNOWN', `${ctx.registry} refused ${ctx.what}: it references a blob the registry does not have${suffix}`, 'push the layers and config before the manifest');
  }
  if (codes.includes('MANIFEST_INVALID') || codes.includes('SIZE_INVALID') || codes.includes('BLOB_UPLOAD_INVALID') || codes.includes('RANGE_INVALID')) {
    return mk('PROTOCOL', `${ctx.registry} refused ${ctx.what}${suffix}`, 'the content does not satisfy the registry; run with --debug for the exchange');
  }
  if (status === 404) {
    return mk('NOT_FOUND', `${ctx.what} not found on ${ctx.registry}${suffix}`, 'check the name, tag or digest');
  }
  if (status === 413) {
    return mk('PROTOCOL', `${ctx.registry} refused a request body as too large for ${ctx.what}`, 'a proxy in front of the registry limits body sizes (nginx client_max_body_size); ask its administrator to raise it');
  }
  if (status === 416) {
    return mk('PROTOCOL', `${ctx.registry} refused the byte range for ${ctx.what}${suffix}`, 'try again');
  }
  if (status >= 500) {
    return mk('SERVER_ERROR', `${ctx.registry} answered ${status} for ${ctx.what}${suffix}`, 'the registry is failing; try again later or tell its administrator');
  }
  return mk('PROTOCOL', `${ctx.registry} answered ${status} for ${ctx.what}${suffix}`, 'run with --debug to see the exchange');
}
