// Property tests: whatever bytes or entry names an archive holds, load ends in a typed error (or a load), never a
// crash or a hang, and entry names never escape.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import tar from 'tar-stream';
import { afterAll, describe, expect, it } from 'vitest';
import { DheError } from '../../src/errors.js';
import { cleanEntryName, loadArchive, resolveLinkTarget } from '../../src/archive/index.js';
import { ImageStore } from '../../src/store/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'dhe-archive-props-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const safe = (p: string) => !p.startsWith('/') && !p.split('/').includes('..') && !p.includes('\\') && !p.includes('\0');

describe('entry names', () => {
  it('are either refused with BAD_ARCHIVE or stay inside the archive', () => {
    const segment = fc.oneof(fc.constantFrom('..', '.', '', 'blobs', 'sha256', 'a\\b', 'C:', '\0'), fc.string({ maxLength: 6 }));
    const name = fc.array(segment, { maxLength: 6 }).map((a) => a.join('/'));
    fc.assert(
      fc.property(fc.oneof(name, fc.string()), fc.oneof(name, fc.string()), (n, target) => {
        for (const f of [() => cleanEntryName(n), () => resolveLinkTarget(cleanEntryName(n) || 'x', target, 'symlink'), () => resolveLinkTarget('x', target, 'link')]) {
          try {
            const out = f();
            expect(safe(out)).toBe(true);
          } catch (e) {
            expect(e).toBeInstanceOf(DheError);
            expect((e as DheError).code).toBe('BAD_ARCHIVE');
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('arbitrary archives', () => {
  it('end in a typed error and leave nothing behind', async () => {
    const store = await ImageStore.open(join(tmp, 'store'));
    const entry = fc.record({
      name: fc.oneof(fc.constantFrom('manifest.json', 'index.json', 'oci-layout', 'blobs/sha256/' + 'a'.repeat(64), 'x/layer.tar'), fc.string({ maxLength: 20 })),
      body: fc.oneof(
        fc.uint8Array({ maxLength: 200 }),
        fc.constantFrom('[]', '{}', '[{"Config":"x/layer.tar","RepoTags":["a:1"],"Layers":["x/layer.tar"]}]', '{"schemaVersion":2,"manifests":[{}]}').map((s) => new TextEncoder().encode(s)),
      ),
    });
    const tarOf = async (entries: Array<{ name: string; body: Uint8Array }>) => {
      const pack = tar.pack();
      const chunks: Buffer[] = [];
      pack.on('data', (c: unknown) => {
        chunks.push(c as Buffer);
      });
      const done = new Promise<void>((r) => pack.on('end', () => r()));
      for (const e of entries) {
        try {
          pack.entry({ name: e.name || 'empty' }, Buffer.from(e.body));
        } catch {
          /* names tar cannot encode */
        }
      }
      pack.finalize();
      await done;
      return Buffer.concat(chunks);
    };
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 2000 }).map((b) => Promise.resolve(Buffer.from(b))), fc.array(entry, { maxLength: 5 }).map(tarOf)), async (mk) => {
        const bytes = await mk;
        try {
          await loadArchive(store, Readable.from([bytes]));
        } catch (e) {
          expect(e).toBeInstanceOf(DheError);
        }
        expect(readdirSync(join(store.dir, 'tmp'))).toEqual([]);
        expect(readdirSync(join(store.dir, 'leases'))).toEqual([]);
        expect(readdirSync(join(store.dir, 'blobs', 'sha256'))).toEqual([]);
      }),
      { numRuns: 80 },
    );
  });
});
