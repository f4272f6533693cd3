// The tests' one tar builder: uncompressed tars of files, folders, symlinks, hard links and devices, in the order
// given, with mtime 0 and root ownership (so the same entries always give the same bytes).
import { pack, type Header } from 'tar-stream';

export type TarEntry =
  | { type: 'dir'; name: string; mode?: number }
  | { type: 'file'; name: string; content: Buffer | string; mode?: number }
  | { type: 'symlink'; name: string; target: string }
  | { type: 'hardlink'; name: string; target: string }
  | { type: 'character-device'; name: string };

/** An uncompressed tar of `entries`, in that order. */
export async function tarEntries(entries: TarEntry[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const done = new Promise<void>((resolve, reject) => {
    p.on('end', () => resolve());
    p.on('error', reject);
  });
  const base = { mtime: new Date(0), uid: 0, gid: 0, uname: 'root', gname: 'root' };
  for (const e of entries) {
    let h: Partial<Header> & { name: string };
    if (e.type === 'file') {
      p.entry({ ...base, name: e.name, mode: e.mode ?? 0o644 }, typeof e.content === 'string' ? Buffer.from(e.content) : e.content);
      continue;
    }
    if (e.type === 'dir') h = { ...base, name: e.name, type: 'directory', mode: e.mode ?? 0o755 };
    else if (e.type === 'symlink') h = { ...base, name: e.name, type: 'symlink', linkname: e.target, mode: 0o777 };
    else if (e.type === 'hardlink') h = { ...base, name: e.name, type: 'link', linkname: e.target, mode: 0o644 };
    else h = { ...base, name: e.name, type: 'character-device', mode: 0o644, size: 0 };
    p.entry(h as Header);
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** A tar of regular files (name → content, mode 0644), in the order given. */
export function tarOf(files: Record<string, Buffer | string>): Promise<Buffer> {
  return tarEntries(Object.entries(files).map(([name, content]) => ({ type: 'file', name, content })));
}
