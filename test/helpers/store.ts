// Looking into a local image store (an OCI layout folder) from a test, without the store library: which blobs it
// holds (each checked against its name), what is left in tmp/ and leases/, every file under a folder.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const list = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir) : []);

/** The store's blobs ("sha256:…"); throws when one does not hash to its name. */
export function storedBlobs(store: string): string[] {
  const dir = join(store, 'blobs', 'sha256');
  return list(dir).map((n) => {
    const got = createHash('sha256').update(readFileSync(join(dir, n))).digest('hex');
    if (got !== n) throw new Error(`blob ${n} of ${store} hashes to ${got}`);
    return `sha256:${n}`;
  });
}

/** The bytes of one blob of the store. */
export function blobBytes(store: string, digest: string): Buffer {
  return readFileSync(join(store, 'blobs', 'sha256', digest.replace(/^sha256:/, '')));
}

/** Names of the store's temporary files (tmp/): none once a command has ended. */
export function tmpFiles(store: string): string[] {
  return list(join(store, 'tmp'));
}

/** Sizes of the store's temporary files (a file may go away while it is looked at). */
export function tmpSizes(store: string): number[] {
  return tmpFiles(store).flatMap((n) => {
    const st = statSync(join(store, 'tmp', n), { throwIfNoEntry: false });
    return st ? [st.size] : [];
  });
}

/** Kept bytes of interrupted downloads (partial/): never blobs, resumed by the next pull (src/store/partials.ts). */
export function partialFiles(store: string): string[] {
  return list(join(store, 'partial'));
}

/** Sizes of the store's kept download prefixes (partial/). */
export function partialSizes(store: string): number[] {
  return partialFiles(store).flatMap((n) => {
    const st = statSync(join(store, 'partial', n), { throwIfNoEntry: false });
    return st ? [st.size] : [];
  });
}

/** The store's leases (leases/): none once every command has ended. */
export function leases(store: string): string[] {
  return list(join(store, 'leases'));
}

/** Every regular file under `dir`, as paths relative to it. */
export function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}
