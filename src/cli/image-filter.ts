// `images --filter KEY=VALUE` (repeatable), with docker's meanings: reference=PATTERN (path.Match glob on the
// familiar `name:tag` or name; several are alternatives), before=REF / since=REF (created strictly before / after
// that local image), label=KEY[=VALUE] (all must hold), dangling=true|false (a name without a tag, i.e. only a
// digest, is what the store has of docker's dangling images).

import { DheError } from '../errors.js';
import type { ImageSummary } from '../transfer/images.js';

export interface ImageFilters {
  reference: string[];
  before: string[];
  since: string[];
  label: string[];
  dangling?: boolean;
}

const KEYS = ['reference', 'before', 'since', 'label', 'dangling'] as const;

export function parseImageFilters(specs: readonly string[]): ImageFilters {
  const f: ImageFilters = { reference: [], before: [], since: [], label: [] };
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    const key = eq < 0 ? spec : spec.slice(0, eq);
    const value = eq < 0 ? '' : spec.slice(eq + 1);
    if (!(KEYS as readonly string[]).includes(key) || eq < 0) {
      throw new DheError('USAGE', `invalid filter '${spec}'`, { hint: `filters are ${KEYS.map((k) => `${k}=…`).join(', ')}` });
    }
    if (key === 'dangling') {
      if (value !== 'true' && value !== 'false') throw new DheError('USAGE', `invalid filter 'dangling=${value}'`, { hint: 'dangling=true or dangling=false' });
      f.dangling = value === 'true';
    } else {
      f[key as 'reference' | 'before' | 'since' | 'label'].push(value);
    }
  }
  return f;
}

/** Go's path.Match: `*` any run of characters but `/`, `?` one such character, `[…]` a class, `\` escapes. */
export function pathMatch(pattern: string, name: string): boolean {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < pattern.length) re += escapeRe(pattern[++i]!);
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) return false;
      const body = pattern.slice(i + 1, end).replace(/^\^/, '^').replace(/\\/g, '\\\\');
      re += `[${body}]`;
      i = end;
    } else re += escapeRe(c);
  }
  return new RegExp(`^${re}$`).test(name);
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** docker's reference.FamiliarMatch: the pattern against `name:tag`, then against the name alone. */
function referenceMatches(img: ImageSummary, pattern: string): boolean {
  const full = img.tag ? `${img.repository}:${img.tag}` : `${img.repository}@${img.digest}`;
  return pathMatch(pattern, full) || pathMatch(pattern, img.repository);
}

function labelMatches(img: ImageSummary, spec: string): boolean {
  const eq = spec.indexOf('=');
  if (eq < 0) return Object.hasOwn(img.labels, spec);
  return img.labels[spec.slice(0, eq)] === spec.slice(eq + 1);
}

/**
 * The images that pass every filter. `createdOf` gives a before/since image's creation time (it resolves a local
 * name or ID, and throws the not-found error when there is none).
 */
export async function applyImageFilters(images: ImageSummary[], f: ImageFilters, createdOf: (ref: string) => Promise<number>): Promise<ImageSummary[]> {
  const before = await Promise.all(f.before.map(createdOf));
  const since = await Promise.all(f.since.map(createdOf));
  const time = (i: ImageSummary) => (i.created ? Date.parse(i.created) : 0);
  return images.filter(
    (i) =>
      (f.reference.length === 0 || f.reference.some((p) => referenceMatches(i, p))) &&
      before.every((t) => time(i) < t) &&
      since.every((t) => time(i) > t) &&
      f.label.every((l) => labelMatches(i, l)) &&
      (f.dangling === undefined || f.dangling === (i.tag === undefined)),
  );
}
