// Where a registry may send the client, and what an answer from elsewhere means.
// - Every URL a server names (a redirect hop, an upload Location, a Link next URL) is http(s), and never a
//   link-local or cloud metadata address on another origin than the one that named it (the guard token realms get).
// - An answer from another origin than the registry's (blob storage after a redirect, an upload host) never
//   changes the auth state (its WWW-Authenticate is ignored), never gets credentials, and its body is never echoed
//   into a message: the error names that host and the status only.

import { DheError, type ErrorCode } from '../errors.js';
import { isMetadataHost } from './hosts.js';

const METADATA_HINT =
  'a server pointed the client at a link-local/cloud metadata address; this is refused to protect the credentials of the machine';

/**
 * Refuses `target` when it is not http(s), or when it is a link-local / metadata address on another origin than
 * `from` (the URL of the request whose answer named it). `what`: "a redirect", "an upload Location", ...
 */
export function guardTarget(target: URL, from: URL | string, what: string): URL {
  const src = typeof from === 'string' ? new URL(from) : from;
  if (target.protocol !== 'https:' && target.protocol !== 'http:') {
    throw new DheError('PROTOCOL', `refusing ${what} from ${src.host} to a ${target.protocol} URL`, {
      hint: 'a registry only ever sends clients to http(s) URLs; it is misconfigured or hostile',
      details: { from: src.host, scheme: target.protocol },
    });
  }
  if (target.origin !== src.origin && isMetadataHost(target.hostname)) {
    throw new DheError('PROTOCOL', `refusing ${what} from ${src.host} to the link-local/metadata address ${target.host}`, {
      hint: METADATA_HINT,
      details: { from: src.host, to: target.host },
    });
  }
  return target;
}

/** Resolves a Location / Link value against the URL of the answer that carried it, then guards it. */
export function resolveTarget(value: string, answerUrl: string, what: string): URL {
  let u: URL;
  try {
    u = new URL(value, answerUrl);
  } catch {
    throw new DheError('PROTOCOL', `${new URL(answerUrl).host} sent ${what} that is not a URL`, {
      hint: 'the registry is not speaking the distribution API correctly',
    });
  }
  return guardTarget(u, answerUrl, what);
}

/** The URL, or undefined when the text is none. */
export function parseUrl(u: string | URL): URL | undefined {
  try {
    return new URL(u);
  } catch {
    return undefined;
  }
}

export function originOf(u: string | URL): string | undefined {
  return parseUrl(u)?.origin;
}

export interface ForeignContext {
  /** The registry as the user names it ("127.0.0.1:5000"). */
  registry: string;
  /** "blob sha256:… in team/app", "blob … upload to team/app". */
  what: string;
  retryAfterMs?: number;
}

/**
 * The error for a failed answer from `host`, another origin than the registry's. No body, no challenge: the host and
 * the status only. 401/403 → exit 3, 404 → 5, 429/5xx → 6, anything else → 1.
 */
export function foreignError(status: number, host: string, ctx: ForeignContext): DheError {
  const where = `${host} (not ${ctx.registry} itself: a redirect or upload location it sent)`;
  const details = { status, registry: ctx.registry, foreignHost: host };
  const mk = (code: ErrorCode, message: string, hint: string) => new DheError(code, message, { hint, details });
  if (status === 401 || status === 403) {
    return mk(
      status === 401 ? 'UNAUTHORIZED' : 'DENIED',
      `${where} answered ${status} for ${ctx.what}; credentials for ${ctx.registry} are never sent to another host, and its challenge was ignored`,
      `the storage behind ${ctx.registry} refused the URL the registry handed out (expired or misconfigured, or a hostile redirect); try again, and if it persists tell the registry's administrator`,
    );
  }
  if (status === 404 || status === 410) {
    return mk('NOT_FOUND', `${where} answered ${status} for ${ctx.what}`, `the registry's storage does not have it; push the image again or tell the registry's administrator`);
  }
  if (status === 429) {
    const wait = ctx.retryAfterMs !== undefined ? ` (retry after ${Math.ceil(ctx.retryAfterMs / 1000)} s)` : '';
    return mk('RATE_LIMITED', `rate limited by ${where} for ${ctx.what}${wait}`, 'wait and try again');
  }
  if (status >= 500) {
    return mk('SERVER_ERROR', `${where} answered ${status} for ${ctx.what}`, `the registry's storage is failing; try again later or tell the registry's administrator`);
  }
  return mk('PROTOCOL', `${where} answered ${status} for ${ctx.what}`, 'run with --debug to see the exchange');
}
