// Paginated listings (tags/list, _catalog) with bounds a hostile registry cannot push past: the Link next URL must
// stay on the registry's origin and never repeat, each page body and all of them together are size-capped (checked
// against Content-Length before reading, and while reading), and so are the entry and page counts. Every bound ends
// in a one-line PROTOCOL error (exit 1) naming the registry; memory stays within the caps.

import { createHash } from 'node:crypto';
import { DheError } from '../errors.js';
import type { HttpResponse } from '../transport/http.js';
import { readLimited } from '../transport/limited.js';
import { originOf, resolveTarget } from '../transport/origin-guard.js';

export interface ListingLimits {
  /** Entries in all pages together (default 1,000,000). */
  maxEntries: number;
  /** Bytes of one page body (default 16 MiB). */
  maxPageBytes: number;
  /** Bytes of all page bodies together (default 64 MiB). */
  maxTotalBytes: number;
  /** Pages (default 10,000). */
  maxPages: number;
}

const DEFAULT_LISTING_LIMITS: ListingLimits = {
  maxEntries: 1_000_000,
  maxPageBytes: 16 * 1024 * 1024,
  maxTotalBytes: 64 * 1024 * 1024,
  maxPages: 10_000,
};

/** A Link value longer than this is not a page URL. */
const MAX_LINK = 8 * 1024;

export interface ListingRequest {
  /** The registry as the user names it, for messages. */
  registry: string;
  /** The registry's base URL ("https://host:port"): every page must come from its origin. */
  base: string;
  /** The first page, a path below base or an absolute URL. */
  first: string;
  field: 'tags' | 'repositories';
  /** "tags of team/app", "the catalog". */
  what: string;
  /** GETs one page; answers with status 200 (anything else is thrown by the caller). */
  fetch: (url: string) => Promise<HttpResponse>;
  /** Throws for an entry that must not be used (e.g. a tag that is not a tag). */
  check?: (entry: string) => void;
  limits?: Partial<ListingLimits>;
}

function mib(n: number): string {
  return n >= 1024 * 1024 ? `${Math.round(n / (1024 * 1024))} MiB` : `${n} bytes`;
}

function pages(n: number): string {
  return `${n} page${n === 1 ? '' : 's'}`;
}

/** The rel="next" target of a Link header value, or undefined. */
export function nextLink(link: string | undefined): string | undefined {
  if (!link) return undefined;
  for (const part of link.slice(0, 64 * 1024).split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>(.*)$/s.exec(part);
    if (!m) continue;
    const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,"]+))/i.exec(m[2]!);
    if ((rel?.[1] ?? rel?.[2] ?? '').toLowerCase().split(/\s+/).includes('next')) return m[1]!;
  }
  return undefined;
}

export async function collectListing(req: ListingRequest): Promise<string[]> {
  const lim = { ...DEFAULT_LISTING_LIMITS, ...req.limits };
  const home = originOf(req.base);
  const fail = (message: string, hint = `the registry's pagination is broken or hostile; tell its administrator`) =>
    new DheError('PROTOCOL', `${req.registry}: ${message}`, { hint, details: { registry: req.registry, listing: req.what } });
  const out: string[] = [];
  const seen = new Set<string>();
  let total = 0;
  let url: string | undefined = new URL(req.first, req.base).href;
  for (let page = 0; url; page++) {
    if (page >= lim.maxPages) throw fail(`${req.what} go on for more than ${lim.maxPages} pages; stopped`);
    const key = createHash('sha256').update(url).digest('hex');
    if (seen.has(key)) throw fail(`${req.what} loop: the Link to the next page points at a page already fetched; stopped after ${pages(page)}`);
    seen.add(key);
    const res = await req.fetch(url);
    const declared = Number(res.header('content-length'));
    const room = Math.min(lim.maxPageBytes, lim.maxTotalBytes - total);
    if (Number.isFinite(declared) && declared > room) {
      res.body.destroy();
      throw declared > lim.maxPageBytes
        ? fail(`a page of ${req.what} is ${declared} bytes, above the ${mib(lim.maxPageBytes)} limit of one page; not read`)
        : fail(`${req.what} are larger than ${mib(lim.maxTotalBytes)} in all; stopped after ${pages(page)}`);
    }
    let text: string;
    try {
      text = (await readLimited(res.body, room, `a page of ${req.what}`)).toString('utf8');
    } catch (e) {
      if (e instanceof DheError && e.code === 'PROTOCOL') {
        throw room < lim.maxPageBytes
          ? fail(`${req.what} are larger than ${mib(lim.maxTotalBytes)} in all; stopped after ${pages(page)}`)
          : fail(`a page of ${req.what} is larger than the ${mib(lim.maxPageBytes)} limit of one page; stopped reading`);
      }
      throw e;
    }
    total += Buffer.byteLength(text);
    let list: unknown;
    try {
      const j = JSON.parse(text) as Record<string, unknown> | null;
      list = j && typeof j === 'object' ? j[req.field] : undefined;
    } catch {
      throw new DheError('PROTOCOL', `${req.registry} sent ${req.what} that are not JSON`, { hint: 'check that the host is a registry' });
    }
    text = '';
    if (Array.isArray(list)) {
      if (out.length + list.length > lim.maxEntries) throw fail(`${req.what} hold more than ${lim.maxEntries} entries; stopped`);
      for (const t of list) {
        if (typeof t !== 'string') continue;
        req.check?.(t);
        out.push(t);
      }
    }
    const next = nextLink(res.header('link'));
    if (next === undefined) break;
    if (next.length > MAX_LINK) throw fail(`the Link to the next page of ${req.what} is longer than ${MAX_LINK} characters`);
    const target = resolveTarget(next, res.url, `the Link to the next page of ${req.what}`);
    if (target.origin !== home) {
      throw fail(`the Link to the next page of ${req.what} points at another host (${target.host}); not followed`, `listings are only read from ${req.registry} itself; tell the registry's administrator`);
    }
    url = target.href;
  }
  return out;
}
