// Platforms ("linux/arm64/v8"): parsing, normalisation as containerd does it, the host's platform, and choosing a
// manifest from a multi-platform index.

import { DheError } from '../errors.js';
import type { Descriptor, Index, Platform } from './types.js';

const KNOWN_OS = new Set([
  'aix', 'android', 'darwin', 'dragonfly', 'freebsd', 'illumos', 'ios', 'js', 'linux', 'netbsd', 'openbsd', 'plan9',
  'solaris', 'wasip1', 'windows',
]);
const KNOWN_ARCH = new Set([
  '386', 'amd64', 'arm', 'arm64', 'loong64', 'mips', 'mips64', 'mips64le', 'mipsle', 'ppc64', 'ppc64le', 'riscv64',
  's390x', 'wasm', 'x86_64', 'x86-64', 'aarch64', 'armhf', 'armel', 'i386', 'i686',
]);
const PART_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

function invalidPlatform(spec: string, why: string): DheError {
  const shown = String(spec).slice(0, 100);
  return new DheError('INVALID_PLATFORM', `invalid platform "${shown}": ${why}`, {
    hint: 'a platform is OS/ARCH[/VARIANT], e.g. linux/amd64, linux/arm64 or linux/arm/v7',
  });
}

/** containerd's normalisation: x86_64 → amd64, aarch64 → arm64, arm64/v8 → arm64, arm → arm/v7, armhf → arm/v7 … */
export function normalizePlatform(p: { os: string; architecture: string; variant?: string | undefined }): Platform {
  // documents from the store or an archive may not have been validated: never trust the field types
  const str = (v: unknown) => (typeof v === 'string' ? v.toLowerCase() : '');
  let os = str(p.os);
  if (os === 'macos') os = 'darwin';
  let arch = str(p.architecture);
  let variant = str(p.variant);
  switch (arch) {
    case 'i386':
    case 'i686':
      arch = '386';
      variant = '';
      break;
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      arch = 'amd64';
      if (variant === 'v1') variant = '';
      break;
    case 'aarch64':
    case 'arm64':
      arch = 'arm64';
      if (variant === '8' || variant === 'v8' || variant === 'v8.0') variant = '';
      else if (variant === '9' || variant === '9.0' || variant === 'v9.0') variant = 'v9';
      break;
    case 'armhf':
      arch = 'arm';
      variant = 'v7';
      break;
    case 'armel':
      arch = 'arm';
      variant = 'v6';
      break;
    case 'arm':
      if (variant === '' || variant === '7') variant = 'v7';
      else if (variant === '5' || variant === '6' || variant === '8') variant = `v${variant}`;
      break;
    default:
      break;
  }
  return variant ? { os, architecture: arch, variant } : { os, architecture: arch };
}

/** "linux/arm64/v8" → { os: "linux", architecture: "arm64" } (normalised); "linux" → the host's architecture. */
export function parsePlatform(spec: string): Platform {
  if (typeof spec !== 'string') throw invalidPlatform(String(spec), 'not a string');
  const s = spec.trim().toLowerCase();
  if (s.length === 0) throw invalidPlatform(spec, 'empty');
  const parts = s.split('/');
  if (parts.length > 3) throw invalidPlatform(spec, 'too many parts');
  for (const part of parts) {
    if (!PART_RE.test(part)) {
      throw invalidPlatform(spec, part.length === 0 ? 'empty part' : `"${part.slice(0, 64)}" is not a valid platform part`);
    }
  }
  if (parts.length === 1) {
    const only = parts[0]!;
    if (KNOWN_OS.has(only) || only === 'macos') {
      const host = hostPlatform();
      return normalizePlatform({ os: only, architecture: host.architecture, variant: host.variant });
    }
    if (KNOWN_ARCH.has(only)) return normalizePlatform({ os: 'linux', architecture: only });
    throw invalidPlatform(spec, `"${only}" is neither a known operating system nor a known architecture`);
  }
  const [os, architecture, variant] = parts as [string, string, string | undefined];
  return normalizePlatform({ os, architecture, variant });
}

/** "linux/arm64/v8" style text of a platform, as given (not normalised). */
export function formatPlatform(p: { os?: string; architecture?: string; variant?: string } | undefined): string {
  if (!p) return 'unknown';
  return [p.os || 'unknown', p.architecture || 'unknown', p.variant].filter(Boolean).join('/');
}

export interface HostInfo {
  platform: NodeJS.Platform;
  arch: string;
  /** process.config.variables.arm_version on 32-bit arm ("6", "7"). */
  armVersion?: string;
  endianness?: 'BE' | 'LE';
}

/**
 * The platform images are chosen for on this machine: process.platform/arch mapped to OCI names (x64 → amd64,
 * arm64 → arm64/v8, arm → arm/v7, ia32 → 386; win32 → windows, everything else → linux, since macOS and other
 * hosts run Linux images in a VM).
 */
export function hostPlatform(info?: HostInfo): Platform {
  const vars = (process.config?.variables ?? {}) as Record<string, unknown>;
  const h: HostInfo = info ?? {
    platform: process.platform,
    arch: process.arch,
    armVersion: vars.arm_version !== undefined ? String(vars.arm_version) : undefined,
    endianness: (process.arch === 'ppc64' ? (new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 'LE' : 'BE') : undefined),
  } as HostInfo;
  const os = h.platform === 'win32' ? 'windows' : 'linux';
  switch (h.arch) {
    case 'x64':
      return { os, architecture: 'amd64' };
    case 'arm64':
      return { os, architecture: 'arm64', variant: 'v8' };
    case 'arm': {
      const v = h.armVersion && /^[5-8]$/.test(h.armVersion) ? `v${h.armVersion}` : 'v7';
      return { os, architecture: 'arm', variant: v };
    }
    case 'ia32':
      return { os, architecture: '386' };
    case 'ppc64':
      return { os, architecture: h.endianness === 'BE' ? 'ppc64' : 'ppc64le' };
    case 'mipsel':
      return { os, architecture: 'mipsle' };
    default:
      return { os, architecture: h.arch };
  }
}

/** The platforms a machine of `want` can run, best first (arm64 also runs arm/v8…v5; arm/v7 runs v6 and v5; amd64/v3 runs v2 and v1). */
function compatible(want: Platform): Platform[] {
  const w = normalizePlatform(want);
  const list: Platform[] = [w];
  const add = (architecture: string, variant?: string) =>
    list.push(variant ? { os: w.os, architecture, variant } : { os: w.os, architecture });
  const armFrom = (top: number) => {
    for (let v = top; v >= 5; v--) add('arm', `v${v}`);
  };
  if (w.architecture === 'arm64') {
    if (w.variant) add('arm64');
    armFrom(8);
  } else if (w.architecture === 'arm') {
    const n = Number((w.variant ?? 'v7').slice(1));
    if (Number.isInteger(n)) armFrom(n - 1);
  } else if (w.architecture === 'amd64' && w.variant && /^v[2-4]$/.test(w.variant)) {
    for (let v = Number(w.variant.slice(1)) - 1; v >= 2; v--) add('amd64', `v${v}`);
    add('amd64');
  }
  return list;
}

function same(a: Platform, b: Platform): boolean {
  return a.os === b.os && a.architecture === b.architecture && (a.variant ?? '') === (b.variant ?? '');
}

/** Whether an image for `have` runs on `want` (after normalisation; arm64 runs arm/v7, arm/v7 runs arm/v6 …). */
export function platformMatches(want: Platform, have: Platform): boolean {
  const h = normalizePlatform(have);
  return compatible(want).some((c) => same(c, h));
}

/** An entry docker buildx adds for an image's attestations (platform unknown/unknown): no platform of its own. */
export function isAttestation(d: Descriptor): boolean {
  return (
    d.platform?.os === 'unknown' ||
    d.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest'
  );
}

/** The platforms of an index, as "linux/amd64" strings, attestation manifests left out. */
export function indexPlatforms(index: Index): string[] {
  const out: string[] = [];
  for (const d of index.manifests) {
    if (!d.platform || isAttestation(d)) continue;
    const s = formatPlatform(d.platform);
    if (!out.includes(s)) out.push(s);
  }
  return out;
}

/**
 * The descriptor of the image in `index` that best fits `platform` (exact match first, then compatible ones,
 * e.g. arm/v7 on arm64). Throws DheError PLATFORM_NOT_FOUND listing what the index offers.
 */
export function selectManifest(index: Index, platform: Platform): Descriptor {
  const candidates = index.manifests.filter((d) => d.platform && !isAttestation(d) && typeof d.platform.os === 'string' && typeof d.platform.architecture === 'string');
  for (const want of compatible(platform)) {
    const hit = candidates.find((d) => same(normalizePlatform(d.platform!), want));
    if (hit) return hit;
  }
  const available = indexPlatforms(index);
  const requested = formatPlatform(normalizePlatform(platform));
  throw new DheError(
    'PLATFORM_NOT_FOUND',
    `no image for ${requested} in the multi-platform index; available: ${available.length > 0 ? available.join(', ') : 'none'}`,
    {
      hint: available.length > 0 ? `choose one with --platform, e.g. --platform ${available[0]}` : 'the index names no platforms; pull one of its manifests by digest',
      details: { requested, available },
    },
  );
}

// ---------------------------------------------------------------- the one platform policy

/** On a name's index entry: the platform a single-platform pull of a multi-platform image chose. */
export const PLATFORM_ANNOTATION = 'io.dhe-cli.platform';

/** The text a platform is shown and recorded as ("linux/arm64/v8"); the same as formatPlatform. */
export const platformString = formatPlatform;

/** Whether `have` is the very platform `want` names (after normalisation; a variant left out of `want` matches any). */
export function samePlatform(want: Pick<Platform, 'os' | 'architecture' | 'variant'>, have: Platform | undefined): boolean {
  if (!have) return false;
  const w = normalizePlatform(want);
  const h = normalizePlatform(have);
  return w.os === h.os && w.architecture === h.architecture && (want.variant === undefined || (w.variant ?? '') === (h.variant ?? ''));
}

/**
 * The child of a stored index to use, among the `present` ones: the platform asked for (an error naming what is
 * there when it is absent); else the one the name was pulled for (`pull --platform X`, the PLATFORM_ANNOTATION on
 * `named`) when still present; else the only one present; else this machine's, falling back to the first present.
 */
export function pickLocalPlatform(index: Index, present: Descriptor[], platform?: string, named?: Descriptor): Descriptor | undefined {
  const local = { ...index, manifests: present };
  if (platform) return selectManifest(local, parsePlatform(platform));
  const pulled = named?.annotations?.[PLATFORM_ANNOTATION];
  if (pulled) {
    try {
      return selectManifest(local, parsePlatform(pulled));
    } catch {
      // not in the store any more: fall through
    }
  }
  if (present.length <= 1) return present[0];
  try {
    return selectManifest(local, hostPlatform());
  } catch {
    return present[0];
  }
}

/**
 * Exactly one platform of a stored index, or none: the one asked for (exact match), else the one the name was
 * pulled for, else the only one present. Where a result must hold a single image and guessing is wrong (save).
 */
export function exactLocalPlatform(present: Descriptor[], want?: Pick<Platform, 'os' | 'architecture' | 'variant'>, named?: Descriptor): Descriptor[] {
  if (want) return present.filter((c) => samePlatform(want, c.platform));
  const pulled = named?.annotations?.[PLATFORM_ANNOTATION];
  const hits = pulled ? present.filter((c) => samePlatform(parsePulled(pulled), c.platform)) : [];
  return hits.length === 1 ? hits : present;
}

function parsePulled(text: string): Pick<Platform, 'os' | 'architecture' | 'variant'> {
  const [os = '', architecture = '', variant] = text.split('/');
  return { os, architecture, ...(variant ? { variant } : {}) };
}
