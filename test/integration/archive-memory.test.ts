// Memory stays flat: a child process loads an archive holding a layer larger than the memory budget (streamed from a
// generator, never on disk as an archive) and saves it again, then reports its peak RSS.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { transpileSources } from '../../fixtures/archives/helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'dhe-archive-mem-'));
const dirsToClean = [tmp];
afterAll(() => {
  for (const d of dirsToClean) rmSync(d, { recursive: true, force: true });
});

const LAYER_MIB = 192;
const BUDGET_MIB = 150;

it(`loads and saves a ${LAYER_MIB} MiB layer with peak RSS under ${BUDGET_MIB} MiB`, async () => {
  const build = transpileSources();
  dirsToClean.push(build);
  const script = `
    import { createCipheriv, createHash } from 'node:crypto';
    import { Readable, Writable } from 'node:stream';
    import tar from 'tar-stream';
    const { ImageStore } = await import(${JSON.stringify(join(build, 'src/store/index.js'))});
    const { loadArchive, saveArchive } = await import(${JSON.stringify(join(build, 'src/archive/index.js'))});
    const SIZE = ${LAYER_MIB} * 1024 * 1024;
    const CHUNK = 256 * 1024;
    // deterministic incompressible bytes: AES-CTR keystream
    function* data() {
      const c = createCipheriv('aes-256-ctr', Buffer.alloc(32, 1), Buffer.alloc(16, 2));
      const zero = Buffer.alloc(CHUNK);
      for (let done = 0; done < SIZE; done += CHUNK) yield c.update(zero);
    }
    const h = createHash('sha256');
    for (const b of data()) h.update(b);
    const layer = 'sha256:' + h.digest('hex');
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layer] } }));
    const sha = (b) => 'sha256:' + createHash('sha256').update(b).digest('hex');
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layer, size: SIZE }] }));
    const pack = tar.pack();
    (async () => {
      pack.entry({ name: 'oci-layout' }, '{"imageLayoutVersion":"1.0.0"}');
      const e = pack.entry({ name: 'blobs/sha256/' + layer.slice(7), size: SIZE }, () => {});
      for (const b of data()) if (!e.write(b)) await new Promise((r) => e.once('drain', r));
      e.end();
      pack.entry({ name: 'blobs/sha256/' + sha(config).slice(7) }, config);
      pack.entry({ name: 'blobs/sha256/' + sha(manifest).slice(7) }, manifest);
      pack.entry({ name: 'index.json' }, JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(manifest), size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': 'big/image:1' } }] }));
      pack.finalize();
    })();
    const store = await ImageStore.open(process.argv[1]);
    const r = await loadArchive(store, Readable.from(pack));
    let saved = 0;
    await saveArchive(store, r.names, new Writable({ highWaterMark: 1 << 20, write(c, _e, cb) { saved += c.length; cb(); } }));
    const ok = (await store.statBlob(layer))?.size === SIZE;
    console.log(JSON.stringify({ names: r.names, ok, saved, maxRssMiB: process.resourceUsage().maxRSS / 1024 }));
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, join(tmp, 'store')], {
    cwd: build,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (b) => (out += b));
  child.stderr.on('data', (b) => (err += b));
  const code = await new Promise((r) => child.on('close', r));
  expect(err).toBe('');
  expect(code).toBe(0);
  const res = JSON.parse(out.trim().split('\n').at(-1)!);
  console.log(`archive-memory: ${LAYER_MIB} MiB layer, peak RSS ${res.maxRssMiB.toFixed(1)} MiB`);
  expect(res.names).toEqual(['docker.io/big/image:1']);
  expect(res.ok).toBe(true);
  expect(res.saved).toBeGreaterThan(LAYER_MIB * 1024 * 1024);
  expect(res.maxRssMiB).toBeLessThan(BUDGET_MIB);
}, 120_000);
