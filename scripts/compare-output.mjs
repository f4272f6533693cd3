// Compares what users see (stdout, stderr, exit code) of two dhe-cli builds on the same operations against the
// harness's plain registry: pull, re-pull, pull of an index, push, re-push, copy, save (docker, oci), load, images,
// inspect, and two failures. For refactors that must not change output:
//   npm run build && npm run build:harness
//   node scripts/compare-output.mjs OLD_CHECKOUT/bin/dhe-cli.js bin/dhe-cli.js   (prints IDENTICAL, or the lines that differ)
// Concurrency 1, so the order of layer lines is deterministic.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
const [, , binA, binB] = process.argv;
if (!binA || !binB) throw new Error('usage: node scripts/compare-output.mjs OLD/bin/dhe-cli.js NEW/bin/dhe-cli.js');
const { startHarness } = await import(new URL('../.tmp/harness-dist/harness.js', import.meta.url).href);
const sha256 = (b) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
function tarOf(name, content) {
  const h = Buffer.alloc(512);
  h.write(name, 0); h.write('0000644\0', 100); h.write('0000000\0', 108); h.write('0000000\0', 116);
  h.write(content.length.toString(8).padStart(11, '0') + '\0', 124); h.write('00000000000\0', 136); h.write('        ', 148);
  h.write('0', 156); h.write('ustar\0', 257); h.write('00', 263);
  let s = 0; for (const b of h) s += b; h.write(s.toString(8).padStart(6, '0') + '\0 ', 148);
  return Buffer.concat([h, content, Buffer.alloc((512 - (content.length % 512)) % 512), Buffer.alloc(1024)]);
}
async function put(url, repo, blob) {
  const start = await fetch(`${url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  const loc = new URL(start.headers.get('location'), url); loc.searchParams.set('digest', sha256(blob));
  const r = await fetch(loc, { method: 'PUT', body: blob }); if (r.status !== 201) throw new Error(`seed ${r.status}`);
}
async function seed(url, repo, arch) {
  const tars = [0, 1, 2].map((i) => tarOf(`f${i}`, Buffer.alloc(300000 + i * 1000, `${arch}${i}`)));
  const layers = tars.map((t) => gzipSync(t, { level: 6 }));
  const config = Buffer.from(JSON.stringify({ created: '2024-01-02T03:04:05Z', architecture: arch, os: 'linux', config: { Cmd: ['/f0'] }, rootfs: { type: 'layers', diff_ids: tars.map(sha256) }, history: [] }));
  for (const b of [...layers, config]) await put(url, repo, b);
  const m = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(l), size: l.length })) }));
  return m;
}
async function putManifest(url, repo, tag, bytes, mt) {
  const r = await fetch(`${url}/v2/${repo}/manifests/${tag}`, { method: 'PUT', body: bytes, headers: { 'content-type': mt } });
  if (r.status !== 201) throw new Error(`manifest ${r.status} ${await r.text()}`);
}
function run(bin, args, env) {
  return new Promise((res) => {
    const c = spawn(process.execPath, [bin, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = ''; c.stdout.on('data', (d) => (out += d)); c.stderr.on('data', (d) => (err += d));
    c.on('close', (code) => res({ code, out, err }));
  });
}
const work = mkdtempSync(join(tmpdir(), 'outcmp-'));
const h = await startHarness({ flavours: ['plain'], workDir: join(work, 'servers') });
const url = h.plain.url, host = h.plain.host;
const results = {};
try {
  for (const [label, bin] of [['A', binA], ['B', binB]]) {
    const repo = `cmp${label.toLowerCase()}/app`;
    const amd = await seed(url, repo, 'amd64'); const arm = await seed(url, repo, 'arm64');
    await putManifest(url, repo, 'single', amd, 'application/vnd.oci.image.manifest.v1+json');
    for (const m of [amd, arm]) await putManifest(url, repo, sha256(m), m, 'application/vnd.oci.image.manifest.v1+json');
    const idx = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(amd), size: amd.length, platform: { os: 'linux', architecture: 'amd64' } },
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(arm), size: arm.length, platform: { os: 'linux', architecture: 'arm64' } }] }));
    await putManifest(url, repo, 'multi', idx, 'application/vnd.oci.image.index.v1+json');
    const home = join(work, `home${label}`);
    const env = { PATH: process.env.PATH, HOME: home, DHE_CONFIG: join(home, 'cfg'), DHE_STORE: join(home, 'store'), DHE_KEYCHAIN: '0', CI: 'true', DHE_PLATFORM: 'linux/amd64', DHE_CONCURRENCY: '1' };
    const R = (t) => `${host}/${repo}:${t}`;
    const steps = [
      ['pull', R('single')], ['pull', R('single')], ['pull', R('multi')], ['pull', '--all-platforms', R('multi')],
      ['images'], ['tag', R('single'), `${host}/${repo}-pushed:v1`], ['push', `${host}/${repo}-pushed:v1`], ['push', `${host}/${repo}-pushed:v1`],
      ['tag', R('multi'), `${host}/${repo}-pushed:multi`], ['push', `${host}/${repo}-pushed:multi`],
      ['copy', R('multi'), `${host}/${repo}-copied:m`], ['copy', R('single'), `${host}/${repo}-copied:s`],
      ['save', R('single'), '-o', join(home, 'd.tar')], ['save', '--format', 'oci', R('multi'), '-o', join(home, 'o.tar')],
      ['rmi', R('single')], ['load', '-i', join(home, 'd.tar')], ['load', '-i', join(home, 'o.tar')], ['images', '--digests'],
      ['inspect', R('single')], ['pull', `${host}/${repo}:nope`], ['push', `${host}/${repo}:nothere`],
    ];
    const outs = [];
    for (const s of steps) {
      const r = await run(bin, s, env);
      outs.push(`$ ${s.join(' ')}\n[exit ${r.code}]\n${r.out}${r.err ? `--stderr--\n${r.err}` : ''}`.replaceAll(`cmp${label.toLowerCase()}`, 'cmpX').replaceAll(home, 'HOME'));
    }
    results[label] = outs.join('\n');
  }
} finally { await h.stop(); }
rmSync(work, { recursive: true, force: true });
if (results.A === results.B) console.log(`IDENTICAL (${results.A.split('\n').length} lines)`);
else {
  const a = results.A.split('\n'), b = results.B.split('\n');
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) console.log(`line ${i + 1}:\n- ${a[i]}\n+ ${b[i]}`);
  process.exitCode = 1;
}
