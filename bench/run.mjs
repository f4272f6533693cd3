#!/usr/bin/env node
// Benchmarks (issues 8 and 16): dhe-cli against skopeo on real distribution registries started by the test harness.
//
//   npm run bench                      # builds, then: node bench/run.mjs
//   node bench/run.mjs --quick         # small images, 1 run: a smoke test in well under a minute
//   node bench/run.mjs --runs 5 --only pull-1g,push-1g,version
//
// Cases: pull (empty store / empty OCI dir), repull (same store again), push (a fresh registry that holds none of
// the blobs: a second registry instance, so no cross-repository mount can help), repush (the same registry again),
// for three images: 1g (one 1 GiB random layer + two small ones), 200m (~200 MiB in 5 layers), 50l (50 small layers).
// Each case: median wall time of --runs runs, peak RSS (/usr/bin/time -v, else /proc polling), and the HTTP requests
// the registry logged for the last run. Also `dhe-cli --version` start-up (median of 10). In the same run, what the
// machine allows for each pulled image (the "limit" rows): its blobs fetched by parallel curls to /dev/null, to files
// then `sync`, and `openssl dgst -sha256` over those files, so a pull's distance to the hardware is visible.
// Every measured run starts after `sync` (the previous run's dirty pages written, its removed store freed).
// Prints a table with dhe-cli/skopeo ratios against the targets of issue 16 and writes bench/results/latest.json.
// Everything it creates lives in one temp dir, removed at the end (also on Ctrl-C).

import { spawn, spawnSync } from 'node:child_process';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, openSync, readSync, closeSync } from 'node:fs';
import http from 'node:http';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';

const root = fileURLToPath(new URL('..', import.meta.url));
let BIN = join(root, 'bin', 'dhe-cli.js');
const MiB = 1024 * 1024;
const KiB = 1024;

// ------------------------------------------------------------------------------------------------ options

function parseArgs(argv) {
  const o = { runs: undefined, only: null, quick: false, skopeo: true, keep: false, json: join(root, 'bench', 'results', 'latest.json'), concurrency: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const eq = a.indexOf('=');
      if (eq > 0) return a.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--no-skopeo') o.skopeo = false;
    else if (a === '--keep') o.keep = true;
    else if (a === '--serve') o.serve = true;
    else if (a.startsWith('--runs')) o.runs = Number(val());
    else if (a.startsWith('--only')) o.only = val().split(',').map((s) => s.trim()).filter(Boolean);
    else if (a.startsWith('--json')) o.json = val();
    else if (a.startsWith('--concurrency')) o.concurrency = val();
    else if (a.startsWith('--bin')) o.bin = val();
    else if (a === '-h' || a === '--help') usage();
    else usage(`unknown option ${a}`);
  }
  if (o.runs === undefined) o.runs = o.quick ? 1 : 3;
  if (!Number.isInteger(o.runs) || o.runs < 1) usage('--runs must be a positive integer');
  return o;
}

function usage(err) {
  const text = `usage: node bench/run.mjs [--quick] [--runs N] [--only CASES] [--no-skopeo] [--concurrency N] [--json FILE] [--keep]
  CASES: comma-separated case ids (pull-1g, repull-50l, push-200m, pullc-50l ...), operations (pull, repull, push,
         repush, pullc = pull at --concurrency 1/4/8),
         images (1g, 200m, 50l) or "version"
  --quick  small images (32 MiB / 10 MiB / 50 x ~10 KiB) and 1 run unless --runs is given
  --concurrency N  passed to dhe-cli as --concurrency (default: dhe-cli's own)
  --bin FILE  the dhe-cli launcher to measure (default bin/dhe-cli.js here), e.g. another checkout's, to compare builds
  --keep   keep the temp dir (registries' storage, stores, logs) for a look afterwards
  --serve  only seed the images (those --only selects) and keep the seed registry running until Ctrl-C, for profiling`;
  if (err) {
    console.error(`bench: ${err}\n${text}`);
    process.exit(2);
  }
  console.log(text);
  process.exit(0);
}

const opts = parseArgs(process.argv.slice(2));
if (opts.bin) BIN = opts.bin.startsWith('/') ? opts.bin : join(process.cwd(), opts.bin);

const IMAGES = opts.quick
  ? {
      '1g': { repo: 'bench/big', layers: [32 * MiB, 1 * MiB, 64 * KiB] },
      '200m': { repo: 'bench/five', layers: [4 * MiB, 2 * MiB, 2 * MiB, 1 * MiB, 1 * MiB] },
      '50l': { repo: 'bench/fifty', layers: Array.from({ length: 50 }, (_, i) => (8 + i % 8) * KiB) },
    }
  : {
      '1g': { repo: 'bench/big', layers: [1024 * MiB, 4 * MiB, 256 * KiB] },
      '200m': { repo: 'bench/five', layers: [80 * MiB, 50 * MiB, 40 * MiB, 20 * MiB, 10 * MiB] },
      '50l': { repo: 'bench/fifty', layers: Array.from({ length: 50 }, (_, i) => (64 + 16 * i) * KiB) },
    };
const OPS = ['pull', 'repull', 'push', 'repush'];
/** `pullc`: the pull of an image again at each of these --concurrency values (dhe-cli only). */
const CONCURRENCY_SWEEP = [1, 4, 8];

/**
 * Targets of issue 16. ratio: dhe-cli/skopeo at most; limitRatio: dhe-cli / the curl-to-file row of the same image
 * at most; maxSeconds; onlyMeta: no blob GET and no upload.
 */
const TARGETS = {
  'pull-1g': { ratio: 0.45, limitRatio: 1.6 },
  'pull-200m': { ratio: 0.7 },
  'pull-50l': { ratio: 0.7 },
  'push-1g': { ratio: 0.8 },
  'push-200m': { ratio: 0.8 },
  'push-50l': { ratio: 0.8 },
  'repull-1g': { maxSeconds: 0.2, onlyMeta: true },
  'repull-200m': { maxSeconds: 0.2, onlyMeta: true },
  'repull-50l': { maxSeconds: 0.2, onlyMeta: true },
  'repush-1g': { maxSeconds: 0.2, onlyMeta: true },
  'repush-200m': { maxSeconds: 0.2, onlyMeta: true },
  'repush-50l': { maxSeconds: 0.2, onlyMeta: true },
};
const RSS_TARGET_MIB = 80;
const VERSION_TARGET_MS = 50;

const selected = (op, img) =>
  opts.only
    ? opts.only.some((t) => t === `${op}-${img}` || t === op || t === img || t === 'all')
    : op !== 'pullc' || img !== '1g'; // the sweep of the 1 GiB image only when asked for
const SELECTABLE = [...OPS, 'pullc'];
const versionSelected = !opts.only || opts.only.includes('version') || opts.only.includes('all');

// ------------------------------------------------------------------------------------------------ environment

const haveTime = existsSync('/usr/bin/time');
const skopeoVersion = (() => {
  if (!opts.skopeo) return null;
  const r = spawnSync('skopeo', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
})();
const TOOLS = skopeoVersion ? ['dhe-cli', 'skopeo'] : ['dhe-cli'];

if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) {
  console.error('bench: dist/ is missing: run `npm run build` (or `npm run bench`, which builds first)');
  process.exit(1);
}
const needRegistries = Object.keys(IMAGES).some((k) => SELECTABLE.some((op) => selected(op, k))) || opts.serve;
const harnessJs = join(root, '.tmp', 'harness-dist', 'harness.js');
if (needRegistries && !existsSync(harnessJs)) {
  console.error('bench: .tmp/harness-dist/harness.js is missing: run `npm run build:harness` (or `npm run bench`)');
  process.exit(1);
}
const { startHarness } = needRegistries ? await import(harnessJs) : {};
const lib = await import(join(root, 'dist', 'index.js'));

const work = mkdtempSync(join(tmpdir(), 'dhe-bench-'));
const harnesses = new Set();
let cleaned = false;
async function cleanup() {
  if (cleaned) return;
  cleaned = true;
  await Promise.all([...harnesses].map((h) => h.stop().catch(() => undefined)));
  harnesses.clear();
  if (!opts.keep) rmSync(work, { recursive: true, force: true });
  else console.error(`bench: kept ${work}`);
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    console.error(`\nbench: ${sig}, cleaning up`);
    cleanup().finally(() => process.exit(130));
  });
}

async function newRegistry(name) {
  const h = await startHarness({ flavours: ['plain'], workDir: join(work, 'servers', `${name}-${Date.now()}`) });
  harnesses.add(h);
  return {
    host: h.plain.host,
    url: h.plain.url,
    logFile: h.plain.logFile,
    stop: async () => {
      harnesses.delete(h);
      await h.stop();
      rmSync(h.workDir, { recursive: true, force: true });
    },
  };
}

// ------------------------------------------------------------------------------------------------ seeding

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

function httpReq(method, url, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body) || typeof body === 'string') req.end(body);
    else {
      // an async iterable of Buffers, written with backpressure (chunked transfer encoding)
      (async () => {
        for await (const chunk of body) {
          if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
        }
        req.end();
      })().catch((e) => req.destroy(e));
    }
  });
}

/** ustar header for one regular file of `size` bytes. */
function tarHeader(name, size) {
  const h = Buffer.alloc(512);
  h.write(name, 0, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(size.toString(8).padStart(11, '0') + '\0', 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148);
  h.write('0', 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return h;
}

/**
 * A gzip layer of about `size` bytes: a tar holding one file of pseudo-random bytes (AES-CTR keystream: cheap and
 * incompressible), wrapped in gzip "stored" deflate blocks (valid gzip that every tool reads, without spending
 * a minute compressing random data that would not shrink anyway). Yields Buffers; never holds the layer in memory.
 * Reports the tar's sha256 (diff_id) through `out`.
 */
async function* gzipLayer(size, out) {
  const payload = Math.max(0, size - 512 - 1024 - 64);
  const key = randomBytes(16);
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-128-ctr', key, iv);
  const zeros = Buffer.alloc(1 * MiB);
  const diff = createHash('sha256');
  let crc = 0;
  let isize = 0;
  const STORED = 65535;
  const wrap = (raw) => {
    diff.update(raw);
    crc = crc32(raw, crc);
    isize = (isize + raw.length) >>> 0;
    const blocks = Math.ceil(raw.length / STORED);
    const buf = Buffer.allocUnsafe(raw.length + 5 * blocks);
    let o = 0;
    for (let i = 0; i < raw.length; i += STORED) {
      const n = Math.min(STORED, raw.length - i);
      buf[o] = 0; // BFINAL=0, BTYPE=00 (stored)
      buf.writeUInt16LE(n, o + 1);
      buf.writeUInt16LE(~n & 0xffff, o + 3);
      raw.copy(buf, o + 5, i, i + n);
      o += 5 + n;
    }
    return buf;
  };
  yield Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
  yield wrap(tarHeader('data.bin', payload));
  for (let left = payload; left > 0; ) {
    const n = Math.min(left, zeros.length);
    yield wrap(cipher.update(n === zeros.length ? zeros : zeros.subarray(0, n)));
    left -= n;
  }
  const pad = (512 - (payload % 512)) % 512;
  yield wrap(Buffer.alloc(pad + 1024));
  const trailer = Buffer.alloc(13);
  trailer[0] = 1; // final, empty stored block
  trailer.writeUInt16LE(0, 1);
  trailer.writeUInt16LE(0xffff, 3);
  trailer.writeUInt32LE(crc >>> 0, 5);
  trailer.writeUInt32LE(isize, 9);
  yield trailer;
  out.diffId = `sha256:${diff.digest('hex')}`;
}

/** Uploads a blob streamed from `chunks`: POST, one streamed PATCH, PUT ?digest=. Returns { digest, size }. */
async function uploadStreaming(registryUrl, repo, chunks) {
  const start = await httpReq('POST', `${registryUrl}/v2/${repo}/blobs/uploads/`, { headers: { 'content-length': '0' } });
  if (start.status !== 202) throw new Error(`seed: POST upload → ${start.status} ${start.body}`);
  const hash = createHash('sha256');
  let size = 0;
  async function* counted() {
    for await (const c of chunks) {
      hash.update(c);
      size += c.length;
      yield c;
    }
  }
  const loc = new URL(start.headers.location, registryUrl);
  const patch = await httpReq('PATCH', loc, { headers: { 'content-type': 'application/octet-stream' }, body: counted() });
  if (patch.status !== 202) throw new Error(`seed: PATCH → ${patch.status} ${patch.body}`);
  const digest = `sha256:${hash.digest('hex')}`;
  const put = new URL(patch.headers.location, registryUrl);
  put.searchParams.set('digest', digest);
  const done = await httpReq('PUT', put, { headers: { 'content-length': '0' } });
  if (done.status !== 201) throw new Error(`seed: PUT → ${done.status} ${done.body}`);
  return { digest, size };
}

async function uploadSmall(registryUrl, repo, bytes) {
  return uploadStreaming(registryUrl, repo, [bytes]);
}

/** Builds an image in the seed registry; returns { ref (host/repo:tag), digest, bytes }. */
async function seedImage(reg, key) {
  const spec = IMAGES[key];
  const layers = [];
  const diffIds = [];
  // Two layers at a time: the registry hashes and writes while we generate.
  const jobs = spec.layers.map((size) => async () => {
    const out = {};
    const r = await uploadStreaming(reg.url, spec.repo, gzipLayer(size, out));
    return { r, diffId: out.diffId };
  });
  const results = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(2, jobs.length) }, async () => {
      while (next < jobs.length) {
        const i = next++;
        results[i] = await jobs[i]();
      }
    }),
  );
  for (const { r, diffId } of results) {
    layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: r.digest, size: r.size });
    diffIds.push(diffId);
  }
  const config = Buffer.from(
    JSON.stringify({
      created: new Date().toISOString(),
      architecture: 'amd64',
      os: 'linux',
      config: { Cmd: ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: diffIds.map((_, i) => ({ created: new Date().toISOString(), created_by: `bench layer ${i}` })),
    }),
  );
  const c = await uploadSmall(reg.url, spec.repo, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: c.digest, size: c.size },
      layers,
    }),
  );
  const put = await httpReq('PUT', `${reg.url}/v2/${spec.repo}/manifests/v1`, {
    headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
    body: manifest,
  });
  if (put.status !== 201) throw new Error(`seed: manifest PUT → ${put.status} ${put.body}`);
  const digest = `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
  const bytes = layers.reduce((a, l) => a + l.size, 0) + c.size;
  return { ref: `${reg.host}/${spec.repo}:v1`, repo: spec.repo, digest, bytes, layers: layers.length, blobs: [...layers.map((l) => l.digest), c.digest] };
}

// ------------------------------------------------------------------------------------------------ measuring

const logSize = (file) => {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
};

function readFrom(file, offset) {
  const size = logSize(file);
  if (size <= offset) return '';
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(size - offset);
    readSync(fd, buf, 0, buf.length, offset);
    return buf.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

const ACCESS = /^\S+ - \S+ \[[^\]]+\] "(\w+) (\S+) HTTP\/[\d.]+" (\d+)/;

/** Counts the access-log lines of a registry log (since a byte offset), by kind. */
function countRequests(file, offset) {
  const c = { total: 0, ping: 0, manifest: 0, blobHead: 0, blobGet: 0, upload: 0, other: 0 };
  for (const line of readFrom(file, offset).split('\n')) {
    const m = ACCESS.exec(line);
    if (!m) continue;
    const [, method, uri] = m;
    const path = uri.split('?')[0];
    c.total++;
    if (path === '/v2/' || path === '/v2') c.ping++;
    else if (path.includes('/manifests/')) c.manifest++;
    else if (path.includes('/blobs/uploads')) c.upload++;
    else if (path.includes('/blobs/') && method === 'HEAD') c.blobHead++;
    else if (path.includes('/blobs/') && method === 'GET') c.blobGet++;
    else c.other++;
  }
  return c;
}

/** Polls /proc/PID/status for VmHWM (KiB) while the process runs: the fallback without /usr/bin/time. */
function pollHwm(pid) {
  let max = 0;
  const read = () => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) max = Math.max(max, Number(m[1]));
    } catch {
      /* gone */
    }
  };
  read();
  const t = setInterval(read, 10);
  return () => {
    clearInterval(t);
    return max;
  };
}

/** Runs a command; returns { seconds, cpuSeconds (user+sys, NaN without /usr/bin/time), rssKiB, code, stdout, stderr }. */
function measure(cmd, args, env = process.env) {
  return new Promise((resolve, reject) => {
    const timeFile = join(work, `time-${process.hrtime.bigint()}.txt`);
    const [file, argv] = haveTime ? ['/usr/bin/time', ['-f', '%M %U %S', '-o', timeFile, cmd, ...args]] : [cmd, args];
    const t0 = process.hrtime.bigint();
    const child = spawn(file, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const stopPoll = haveTime ? null : pollHwm(child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout = (stdout + d).slice(-20_000)));
    child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-20_000)));
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      let rssKiB = stopPoll ? stopPoll() : NaN;
      let cpuSeconds = NaN;
      if (haveTime) {
        try {
          const lines = readFileSync(timeFile, 'utf8').trim().split('\n');
          const [m, u, sy] = (lines[lines.length - 1] ?? '').split(' ').map(Number);
          rssKiB = m;
          cpuSeconds = u + sy;
          rmSync(timeFile, { force: true });
        } catch {
          /* no file: the command did not start */
        }
      }
      resolve({ seconds, cpuSeconds, rssKiB, code, stdout, stderr });
    });
  });
}

const cfgDir = join(work, 'dhe-config');
const dockerCfgDir = join(work, 'docker-config');
mkdirSync(cfgDir, { recursive: true });
mkdirSync(dockerCfgDir, { recursive: true });
const skopeoHome = join(work, 'skopeo-home');
mkdirSync(skopeoHome, { recursive: true });
const authFile = join(work, 'auth.json');
writeFileSync(authFile, '{}');

const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DHE_') && k !== 'DEBUG'));
const dheEnv = { ...cleanEnv, DHE_CONFIG: cfgDir, DOCKER_CONFIG: dockerCfgDir, NO_COLOR: '1', CI: '1' };
const skopeoEnv = { ...cleanEnv, REGISTRY_AUTH_FILE: authFile };

const dhe = (storeDir, ...args) =>
  ['node', [BIN, '--store', storeDir, ...(opts.concurrency ? ['--concurrency', String(opts.concurrency)] : []), ...args], dheEnv];
const skopeo = (...args) => ['skopeo', ['--insecure-policy', ...args], skopeoEnv];

async function run([cmd, args, env], what) {
  // what the previous run left to the disk (dirty pages, a removed 1 GiB store) is written and freed first, so a
  // run does not pay for the one before it (a 1 GiB write here: 0.25 s on a settled disk, up to 1.7 s right after)
  spawnSync('sync');
  const r = await measure(cmd, args, env);
  if (r.code !== 0) {
    const err = new Error(`${what} failed (exit ${r.code}): ${cmd} ${args.join(' ')}\n${r.stderr.trim().split('\n').slice(-8).join('\n')}`);
    err.result = r;
    throw err;
  }
  return r;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};

async function remoteDigest(url, repo, tag) {
  const r = await httpReq('HEAD', `${url}/v2/${repo}/manifests/${tag}`, {
    headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' },
  });
  return r.status === 200 ? r.headers['docker-content-digest'] : null;
}

// ------------------------------------------------------------------------------------------------ the cases

const results = { cases: {}, version: null };

function record(caseId, tool, r, requests) {
  const c = (results.cases[caseId] ??= { id: caseId, tools: {} });
  const t = (c.tools[tool] ??= { runs: [], cpu: [], rssKiB: [], requests: null, errors: [] });
  t.runs.push(r.seconds);
  t.cpu.push(r.cpuSeconds);
  t.rssKiB.push(r.rssKiB);
  t.requests = requests;
}
function recordError(caseId, tool, e) {
  const c = (results.cases[caseId] ??= { id: caseId, tools: {} });
  const t = (c.tools[tool] ??= { runs: [], cpu: [], rssKiB: [], requests: null, errors: [] });
  t.errors.push(String(e.message ?? e).slice(0, 2000));
  console.error(`bench: ${caseId} ${tool}: ${e.message ?? e}`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (s) => process.stderr.write(`bench: ${s}\n`);

async function benchImage(seedReg, key, seed) {
  const pullRuns = selected('pull', key) ? opts.runs : 1;
  const needPush = selected('push', key) || selected('repush', key);
  const needRepull = selected('repull', key);
  if (!selected('pull', key) && !needPush && !needRepull) return;
  const name = { 'dhe-cli': null, skopeo: null }; // current store / OCI dir per tool
  const ociName = key.replace(/\W/g, '');

  // pull into an empty store / OCI dir
  for (let i = 0; i < pullRuns; i++) {
    for (const tool of TOOLS) {
      const dest = join(work, `${tool}-${key}-pull-${i}`);
      const before = logSize(seedReg.logFile);
      try {
        const cmd = tool === 'dhe-cli' ? dhe(dest, 'pull', seed.ref) : skopeo('copy', '--src-tls-verify=false', `docker://${seed.ref}`, `oci:${dest}:${ociName}`);
        const r = await run(cmd, `${tool} pull ${key}`);
        await sleep(50);
        if (tool === 'dhe-cli') {
          const store = await lib.ImageStore.open(dest);
          const got = await store.resolve(seed.ref);
          if (got?.digest !== seed.digest) throw new Error(`dhe-cli pull stored ${got?.digest} for ${seed.ref}, expected ${seed.digest}`);
        }
        if (selected('pull', key)) record(`pull-${key}`, tool, r, countRequests(seedReg.logFile, before));
      } catch (e) {
        recordError(`pull-${key}`, tool, e);
      }
      if (name[tool]) rmSync(name[tool], { recursive: true, force: true });
      name[tool] = dest;
    }
  }

  if (needRepull) {
    for (let i = 0; i < opts.runs; i++) {
      for (const tool of TOOLS) {
        const dest = name[tool];
        const before = logSize(seedReg.logFile);
        try {
          const cmd = tool === 'dhe-cli' ? dhe(dest, 'pull', seed.ref) : skopeo('copy', '--src-tls-verify=false', `docker://${seed.ref}`, `oci:${dest}:${ociName}`);
          const r = await run(cmd, `${tool} re-pull ${key}`);
          await sleep(50);
          record(`repull-${key}`, tool, r, countRequests(seedReg.logFile, before));
        } catch (e) {
          recordError(`repull-${key}`, tool, e);
        }
      }
    }
  }

  if (needPush) {
    const pushRuns = selected('push', key) ? opts.runs : 1;
    const target = { 'dhe-cli': null, skopeo: null }; // the last push registry per tool, kept for repush
    for (let i = 0; i < pushRuns; i++) {
      for (const tool of TOOLS) {
        const reg = await newRegistry(`push-${tool}-${key}`);
        const ref = `${reg.host}/pushed/${ociName}:v1`;
        try {
          if (tool === 'dhe-cli') await run(dhe(name[tool], 'tag', seed.ref, ref), 'dhe-cli tag');
          const before = logSize(reg.logFile);
          const cmd = tool === 'dhe-cli' ? dhe(name[tool], 'push', ref) : skopeo('copy', '--dest-tls-verify=false', `oci:${name[tool]}:${ociName}`, `docker://${ref}`);
          const r = await run(cmd, `${tool} push ${key}`);
          await sleep(50);
          const got = await remoteDigest(reg.url, `pushed/${ociName}`, 'v1');
          if (got !== seed.digest) throw new Error(`${tool} push: the registry has ${got} for ${ref}, expected ${seed.digest}`);
          if (selected('push', key)) record(`push-${key}`, tool, r, countRequests(reg.logFile, before));
        } catch (e) {
          recordError(`push-${key}`, tool, e);
        }
        if (target[tool]) await target[tool].reg.stop();
        target[tool] = { reg, ref };
      }
    }
    if (selected('repush', key)) {
      for (let i = 0; i < opts.runs; i++) {
        for (const tool of TOOLS) {
          const { reg, ref } = target[tool];
          const before = logSize(reg.logFile);
          try {
            const cmd = tool === 'dhe-cli' ? dhe(name[tool], 'push', ref) : skopeo('copy', '--dest-tls-verify=false', `oci:${name[tool]}:${ociName}`, `docker://${ref}`);
            const r = await run(cmd, `${tool} re-push ${key}`);
            await sleep(50);
            record(`repush-${key}`, tool, r, countRequests(reg.logFile, before));
          } catch (e) {
            recordError(`repush-${key}`, tool, e);
          }
        }
      }
    }
    for (const tool of TOOLS) await target[tool]?.reg.stop();
  }
  for (const tool of TOOLS) if (name[tool]) rmSync(name[tool], { recursive: true, force: true });
}

/** The limit rows of one image: curl (4 in parallel, as dhe-cli's default) to /dev/null, to files + sync, sha256. */
async function benchLimits(seedReg, key, seed) {
  const curl = ['/usr/bin/curl', '/usr/local/bin/curl'].find((f) => existsSync(f));
  const openssl = ['/usr/bin/openssl', '/usr/local/bin/openssl'].find((f) => existsSync(f));
  if (!curl || !openssl) {
    log(`limit rows of ${key} left out: ${!curl ? 'curl' : 'openssl'} is not installed`);
    return;
  }
  const urls = seed.blobs.map((d) => `${seedReg.url}/v2/${seed.repo}/blobs/${d}`);
  const curlArgs = (outs) => ['-sf', '--parallel', '--parallel-max', '4', ...urls.flatMap((u, i) => ['-o', outs[i], u])];
  for (let i = 0; i < opts.runs; i++) {
    const dir = join(work, `limit-${key}-${i}`);
    mkdirSync(dir);
    const files = seed.blobs.map((_, j) => join(dir, `blob${j}`));
    try {
      record(`limit-curl-null-${key}`, 'limit', await run([curl, curlArgs(files.map(() => '/dev/null')), process.env], `curl ${key} to /dev/null`), null);
      const quoted = curlArgs(files).map((a) => `'${a}'`).join(' ');
      record(`limit-curl-file-${key}`, 'limit', await run(['/bin/sh', ['-c', `'${curl}' ${quoted} && sync`], process.env], `curl ${key} to files`), null);
      record(`limit-sha256-${key}`, 'limit', await run([openssl, ['dgst', '-sha256', ...files], process.env], `openssl sha256 ${key}`), null);
    } catch (e) {
      recordError(`limit-${key}`, 'limit', e);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

/** pull of one image with --concurrency 1, 4 and 8 (dhe-cli only): how parallel transfers pay on this machine. */
async function benchConcurrency(seedReg, key, seed) {
  for (const n of CONCURRENCY_SWEEP) {
    for (let i = 0; i < opts.runs; i++) {
      const dest = join(work, `dhe-cli-${key}-c${n}-${i}`);
      const before = logSize(seedReg.logFile);
      try {
        const r = await run(['node', [BIN, '--store', dest, '--concurrency', String(n), 'pull', seed.ref], dheEnv], `dhe-cli pull ${key} --concurrency ${n}`);
        record(`pull-${key}-c${n}`, 'dhe-cli', r, countRequests(seedReg.logFile, before));
      } catch (e) {
        recordError(`pull-${key}-c${n}`, 'dhe-cli', e);
      }
      rmSync(dest, { recursive: true, force: true });
    }
  }
}

async function benchVersion() {
  const runs = 10;
  const dheMs = [];
  const nodeMs = [];
  // NODE_EXTRA_CA_CERTS makes node parse that bundle at every start (+30 ms with the system bundle here): when set,
  // node's start-up without it is measured too, so the row shows what is node's and what is dhe-cli's
  const extraCa = process.env.NODE_EXTRA_CA_CERTS;
  const plainEnv = Object.fromEntries(Object.entries(dheEnv).filter(([k]) => k !== 'NODE_EXTRA_CA_CERTS'));
  const nodePlainMs = [];
  let rss = 0;
  // warm the page cache first
  await run(['node', [BIN, '--version'], dheEnv], 'dhe-cli --version');
  for (let i = 0; i < runs; i++) {
    const r = await run(['node', [BIN, '--version'], dheEnv], 'dhe-cli --version');
    if (r.stdout.trim() !== JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version) {
      throw new Error(`dhe-cli --version printed ${JSON.stringify(r.stdout)}`);
    }
    dheMs.push(r.seconds * 1000);
    rss = Math.max(rss, r.rssKiB);
    const n = await run(['node', ['-e', '0'], dheEnv], 'node -e 0');
    nodeMs.push(n.seconds * 1000);
    if (extraCa) nodePlainMs.push((await run(['node', ['-e', '0'], plainEnv], 'node -e 0')).seconds * 1000);
  }
  results.version = { runsMs: dheMs, medianMs: median(dheMs), nodeBaselineMs: median(nodeMs), rssKiB: rss };
  if (extraCa) Object.assign(results.version, { nodeExtraCaCerts: extraCa, nodeBaselineWithoutExtraCaMs: median(nodePlainMs) });
}

// ------------------------------------------------------------------------------------------------ report

const fmtS = (s) => (Number.isFinite(s) ? (s < 10 ? s.toFixed(2) : s.toFixed(1)) : '-');
const fmtMiB = (k) => (Number.isFinite(k) && k > 0 ? `${Math.round(k / 1024)}` : '-');
const fmtReq = (q) => (q ? `${q.total}${q.blobGet || q.upload ? ` (${[q.blobGet && `${q.blobGet} blob GET`, q.upload && `${q.upload} upload`].filter(Boolean).join(', ')})` : ''}` : '-');

function summarise() {
  const rows = [];
  const limitOf = (kind, key) => {
    const t = results.cases[`limit-${kind}-${key}`]?.tools.limit;
    return t?.runs.length ? median(t.runs) : NaN;
  };
  for (const key of Object.keys(IMAGES)) {
    for (const [kind, what] of [['curl-null', 'curl → /dev/null'], ['curl-file', 'curl → files + sync'], ['sha256', 'openssl sha256']]) {
      const m = limitOf(kind, key);
      if (Number.isFinite(m)) rows.push([`limit ${key}: ${what}`, fmtS(m), '', '', '', '', '', '', '', '(what the machine allows)', '']);
    }
    for (const op of OPS) {
      const id = `${op}-${key}`;
      const c = results.cases[id];
      if (!c) continue;
      const d = c.tools['dhe-cli'];
      const s = c.tools.skopeo;
      const dm = d?.runs.length ? median(d.runs) : NaN;
      const sm = s?.runs.length ? median(s.runs) : NaN;
      const ratio = dm / sm;
      const target = TARGETS[id];
      const dRss = d?.rssKiB.length ? Math.max(...d.rssKiB) : NaN;
      const sRss = s?.rssKiB.length ? Math.max(...s.rssKiB) : NaN;
      const checks = [];
      let met = true;
      if (d?.errors.length) {
        met = false;
        checks.push('FAILED');
      }
      if (target?.ratio !== undefined) {
        if (Number.isFinite(ratio)) {
          if (ratio > target.ratio) met = false;
          checks.push(`ratio ≤ ${target.ratio}`);
        } else checks.push(`ratio ≤ ${target.ratio} (no skopeo)`);
      }
      if (target?.limitRatio !== undefined) {
        const toLimit = dm / limitOf('curl-file', key);
        if (Number.isFinite(toLimit)) {
          if (toLimit > target.limitRatio) met = false;
          checks.push(`≤ ${target.limitRatio} × curl→file (${toLimit.toFixed(2)})`);
        } else checks.push(`≤ ${target.limitRatio} × curl→file (no limit row)`);
      }
      if (target?.maxSeconds !== undefined) {
        if (!(dm < target.maxSeconds)) met = false;
        checks.push(`< ${target.maxSeconds} s`);
      }
      if (target?.onlyMeta) {
        const q = d?.requests;
        if (!q || q.blobGet > 0 || q.upload > 0) met = false;
        checks.push('HEAD/manifest only');
      }
      if (!(dRss < RSS_TARGET_MIB * 1024)) met = false;
      checks.push(`RSS < ${RSS_TARGET_MIB}`);
      const dCpu = d?.cpu.length ? median(d.cpu) : NaN;
      const sCpu = s?.cpu.length ? median(s.cpu) : NaN;
      c.summary = { dheSeconds: dm, skopeoSeconds: sm, ratio, dheCpuSeconds: dCpu, skopeoCpuSeconds: sCpu, dheRssMiB: dRss / 1024, skopeoRssMiB: sRss / 1024, target: checks.join(', '), met };
      rows.push([
        id,
        fmtS(dm),
        fmtS(sm),
        Number.isFinite(ratio) ? ratio.toFixed(2) : '-',
        `${fmtS(dCpu)} / ${fmtS(sCpu)}`,
        fmtMiB(dRss),
        fmtMiB(sRss),
        fmtReq(d?.requests),
        fmtReq(s?.requests),
        checks.join(', '),
        met ? 'yes' : 'NO',
      ]);
    }
  }
  for (const key of Object.keys(IMAGES)) {
    for (const n of CONCURRENCY_SWEEP) {
      const d = results.cases[`pull-${key}-c${n}`]?.tools['dhe-cli'];
      if (!d) continue;
      const dRss = d.rssKiB.length ? Math.max(...d.rssKiB) : NaN;
      const met = !d.errors.length && dRss < RSS_TARGET_MIB * 1024;
      rows.push([`pull-${key} --concurrency ${n}`, fmtS(median(d.runs)), '', '', fmtS(median(d.cpu)), fmtMiB(dRss), '', fmtReq(d.requests), '', `RSS < ${RSS_TARGET_MIB}`, met ? 'yes' : 'NO']);
    }
  }
  if (results.version) {
    const v = results.version;
    const met = v.medianMs < VERSION_TARGET_MS;
    v.met = met;
    rows.push([
      'version',
      `${Math.round(v.medianMs)} ms`,
      `node -e 0: ${Math.round(v.nodeBaselineMs)} ms${v.nodeExtraCaCerts ? ` (${Math.round(v.nodeBaselineWithoutExtraCaMs)} without NODE_EXTRA_CA_CERTS)` : ''}`,
      '',
      '',
      fmtMiB(v.rssKiB),
      '',
      '',
      '',
      `< ${VERSION_TARGET_MS} ms`,
      met ? 'yes' : 'NO',
    ]);
  }
  const head = ['case', 'dhe-cli s', 'skopeo s', 'ratio', 'CPU s dhe/skopeo', 'dhe MiB', 'skopeo MiB', 'dhe requests', 'skopeo requests', 'target', 'met'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (r) => r.map((x, i) => String(x).padEnd(widths[i])).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

// ------------------------------------------------------------------------------------------------ main

let exitCode = 0;
const started = Date.now();
const loadStart = loadavg().map((x) => x.toFixed(1)).join(' ');
try {
  log(`work dir ${work}; ${TOOLS.join(' vs ')}${skopeoVersion ? ` (${skopeoVersion})` : ' (skopeo not installed: dhe-cli only)'}; runs ${opts.runs}${opts.quick ? '; quick sizes' : ''}`);
  if (versionSelected) {
    log('dhe-cli --version start-up');
    await benchVersion();
  }
  const keys = Object.keys(IMAGES).filter((k) => SELECTABLE.some((op) => selected(op, k)));
  if (keys.length) {
    const seedReg = await newRegistry('seed');
    const seeds = {};
    for (const key of keys) {
      const t = Date.now();
      seeds[key] = await seedImage(seedReg, key);
      log(`seeded ${key}: ${seeds[key].layers} layers, ${(seeds[key].bytes / MiB).toFixed(1)} MiB in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    }
    if (opts.serve) {
      for (const [k, s] of Object.entries(seeds)) console.log(`${k}\t${s.ref}\t${s.digest}`);
      log(`serving on ${seedReg.url} (log ${seedReg.logFile}); Ctrl-C to stop`);
      await new Promise(() => {});
    }
    results.images = Object.fromEntries(Object.entries(seeds).map(([k, s]) => [k, { layers: s.layers, bytes: s.bytes, digest: s.digest }]));
    for (const key of keys) {
      if (selected('pull', key)) {
        log(`limits ${key}`);
        await benchLimits(seedReg, key, seeds[key]);
      }
      log(`image ${key}`);
      await benchImage(seedReg, key, seeds[key]);
      if (selected('pullc', key)) {
        log(`concurrency ${CONCURRENCY_SWEEP.join('/')} ${key}`);
        await benchConcurrency(seedReg, key, seeds[key]);
      }
    }
    await seedReg.stop();
  }
  const table = summarise();
  const load = loadavg().map((x) => x.toFixed(1)).join(' ');
  console.log(table);
  console.log(`(median of ${opts.runs} run${opts.runs > 1 ? 's' : ''}; wall seconds; CPU = user+sys; peak RSS in MiB; requests = registry access-log lines of the last run; load average at start ${loadStart}, at end ${load})`);
  const failed = Object.values(results.cases).some((c) => Object.values(c.tools).some((t) => t.errors.length));
  if (failed) exitCode = 1;
  const doc = {
    date: new Date().toISOString(),
    seconds: (Date.now() - started) / 1000,
    machine: { loadavgStart: loadStart, loadavgEnd: loadavg(), cpus: cpus().length, cpu: cpus()[0]?.model, memMiB: Math.round(totalmem() / MiB), node: process.version, skopeo: skopeoVersion, rss: haveTime ? '/usr/bin/time' : '/proc VmHWM polling' },
    options: { runs: opts.runs, quick: opts.quick, only: opts.only, concurrency: opts.concurrency ?? null, bin: BIN },
    targets: { ...TARGETS, rssMiB: RSS_TARGET_MIB, versionMs: VERSION_TARGET_MS },
    ...results,
    table,
  };
  mkdirSync(join(opts.json, '..'), { recursive: true });
  writeFileSync(opts.json, JSON.stringify(doc, null, 2) + '\n');
  log(`wrote ${opts.json} (${doc.seconds.toFixed(0)} s)`);
} catch (e) {
  console.error(`bench: ${e.stack ?? e}`);
  exitCode = 1;
} finally {
  agent.destroy();
  await cleanup();
}
process.exit(exitCode);
