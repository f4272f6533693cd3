// Archive entry names are untrusted: they must stay inside the archive's own namespace. Nothing here touches the
// filesystem; names only ever become keys of in-memory maps (blobs go to the store by digest).

import { DheError } from '../errors.js';

export function badArchive(message: string, cause?: unknown): DheError {
  return new DheError('BAD_ARCHIVE', message, {
    hint: 'the archive is damaged or was not made by docker save, skopeo or dhe-cli save; nothing from it was kept',
    ...(cause !== undefined ? { cause } : {}),
  });
}

function shown(name: string): string {
  // eslint-disable-next-line no-control-regex
  const s = name.replace(/[\u0000-\u001f\u007f]/g, '?');
  return s.length > 200 ? `${s.slice(0, 200)}...` : s;
}

/**
 * Normalises an entry name ("./a//b/" → "a/b"), refusing absolute paths, drive letters, backslashes, NUL and any
 * ".." component.
 */
export function cleanEntryName(raw: string): string {
  if (typeof raw !== 'string' || raw.length === 0) throw badArchive('archive entry with an empty name');
  if (raw.includes('\0')) throw badArchive(`archive entry name contains NUL: "${shown(raw)}"`);
  if (raw.includes('\\')) throw badArchive(`archive entry name contains a backslash: "${shown(raw)}"`);
  if (raw.startsWith('/') || /^[A-Za-z]:/.test(raw)) throw badArchive(`archive entry has an absolute path: "${shown(raw)}"`);
  const parts = raw.split('/').filter((s) => s !== '' && s !== '.');
  if (parts.includes('..')) throw badArchive(`archive entry name escapes the archive: "${shown(raw)}"`);
  if (parts.length === 0) return '';
  return parts.join('/');
}

/**
 * Where a link entry points, as an archive-relative name. Symbolic links resolve against the link's folder, hard
 * links against the archive root; a target outside the archive (absolute, or too many "..") is refused.
 */
export function resolveLinkTarget(entry: string, target: string, kind: 'symlink' | 'link'): string {
  if (typeof target !== 'string' || target.length === 0) throw badArchive(`link "${shown(entry)}" has no target`);
  if (target.includes('\0') || target.includes('\\')) throw badArchive(`link "${shown(entry)}" has a malformed target`);
  if (target.startsWith('/') || /^[A-Za-z]:/.test(target)) {
    throw badArchive(`link "${shown(entry)}" points outside the archive (to "${shown(target)}")`);
  }
  const base = kind === 'symlink' ? entry.split('/').slice(0, -1) : [];
  const out = [...base];
  for (const seg of target.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length === 0) throw badArchive(`link "${shown(entry)}" points outside the archive (to "${shown(target)}")`);
      out.pop();
    } else out.push(seg);
  }
  if (out.length === 0) throw badArchive(`link "${shown(entry)}" points at the archive root`);
  return out.join('/');
}

export { shown as shownName };
