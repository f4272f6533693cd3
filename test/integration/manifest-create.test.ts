// manifest create against distribution 2.8 (through the fault proxy, whose request log proves that no layer byte
// moves: no layer GET, no blob upload), cross-checked with skopeo (the index as served) and a real dockerd
// (`docker pull --platform` of the created index gets each source's image ID); sources that cannot be combined
// (one platform twice, a blob the registry lost, another registry) and hostile documents from a small registry.

import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startDockerd, type Dockerd } from '../harness/dockerd.js';
import { startFaultProxy, type FaultProxy } from '../harness/fault-proxy.js';
import { getHarness } from '../harness/index.js';
import { startMiniRegistry, type MiniRegistry } from '../harness/mini-registry.js';
import { freshHome, runCli, type CliResult } from '../helpers/cli.js';
import { loggedInHome } from '../helpers/docker-config.js';
import { busyboxImage } from '../helpers/docker.js';
import { MT, buildImage, fetchManifest, seedImage, seedIndex, sha256, uniqueRepo, type BuiltImage, type Target } from '../helpers/images.js';
import { SKOPEO_PATHS, requireTool } from '../helpers/tools.js';
import { bearerTarget } from '../helpers/token.js';

const h = getHarness();
const plain: Target = { url: h.plain.url };
const hostArch = process.arch === 'arm64' ? 'arm64' : 'amd64';
const otherArch = hostArch === 'amd64' ? 'arm64' : 'amd64';

let proxy: FaultProxy;
let d: Dockerd | undefined;
let dockerProblem: Error | undefined;

beforeAll(async () => {
  proxy = await startFaultProxy(h.plain.url);
  try {
    d = await startDockerd({ insecureRegistries: [h.plain.host] });
  } catch (e) {
    dockerProblem = e instanceof Error ? e : new Error(String(e));
  }
}, 60_000);

afterAll(async () => {
  await d?.stop();
  await proxy?.close();
});

function docker(): Dockerd {
  if (!d) throw dockerProblem ?? new Error('dockerd did not start');
  return d;
}

async function create(args: string[], env = freshHome().env): Promise<CliResult> {
  return runCli(['manifest', 'create', ...args], { env, timeoutMs: 60_000 });
}

/** Every request the proxy saw since `from` that read or wrote a layer's bytes, or uploaded any blob. */
function layerTraffic(from: number, images: BuiltImage[]): string[] {
  const layers = images.flatMap((i) => i.layers.map((l) => l.digest));
  return proxy.hits
    .slice(from)
    .filter((x) => (x.method === 'GET' && layers.some((l) => x.path.includes(`/blobs/${l}`))) || x.method === 'PATCH' || (x.method === 'PUT' && x.path.includes('/blobs/uploads/')))
    .map((x) => `${x.method} ${x.path}`);
}

async function dockerImageId(ref: string, platform: string): Promise<string> {
  await docker().dockerOk(['pull', '--platform', platform, ref]);
  return (await docker().dockerOk(['image', 'inspect', '--format', '{{.Id}}', ref])).trim();
}

const via = (repo: string, tag: string) => `${proxy.host}/${repo}:${tag}`;

describe('manifest create', () => {
  it('two single-platform docker images in other repositories → a docker manifest list; docker pulls each platform; no layer moves', async () => {
    const amd = await busyboxImage({ platform: { os: 'linux', architecture: hostArch } });
    const arm = await buildImage({ format: 'docker', platform: { os: 'linux', architecture: otherArch } });
    const [ra, rb, target] = [uniqueRepo('mc-a'), uniqueRepo('mc-b'), uniqueRepo('mc-t')];
    await seedImage(plain, ra, 'v1', amd);
    await seedImage(plain, rb, 'v1', arm);
    const from = proxy.hits.length;
    const r = await create([via(target, 'v1'), via(ra, 'v1'), via(rb, 'v1')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const last = r.stdout.trim().split('\n').at(-1)!;
    const m = /^v1: digest: (sha256:[0-9a-f]{64}) size: (\d+)$/.exec(last);
    expect(m, r.stdout).not.toBeNull();
    expect(r.stdout).toContain(`${amd.layers[0]!.digest.slice(7, 19)}: Mounted from ${ra}`);
    expect(layerTraffic(from, [amd, arm])).toEqual([]);
    expect(proxy.hits.slice(from).filter((x) => x.method === 'POST' && x.path.includes('mount=')).length).toBe(amd.layers.length + arm.layers.length + 2);

    const served = await fetchManifest(plain, target, 'v1');
    expect(served.digest).toBe(m![1]);
    expect(served.bytes.length).toBe(Number(m![2]));
    const skopeo = requireTool('skopeo', SKOPEO_PATHS);
    const raw = JSON.parse(execFileSync(skopeo, ['inspect', '--raw', '--tls-verify=false', `docker://${h.plain.host}/${target}:v1`]).toString());
    expect(raw.mediaType).toBe(MT.dockerList);
    expect(raw.manifests).toEqual([
      { mediaType: MT.dockerManifest, digest: amd.manifest.digest, size: amd.manifest.size, platform: { architecture: hostArch, os: 'linux' } },
      { mediaType: MT.dockerManifest, digest: arm.manifest.digest, size: arm.manifest.size, platform: { architecture: otherArch, os: 'linux' } },
    ]);

    const ref = `${h.plain.host}/${target}:v1`;
    expect(await dockerImageId(ref, `linux/${otherArch}`)).toBe(arm.config.digest);
    expect(await dockerImageId(ref, `linux/${hostArch}`)).toBe(amd.config.digest);
  }, 60_000);

  it('an index plus an image (with --annotation) → an OCI index of all three; docker pulls the added platform', async () => {
    const i1 = await buildImage({ platform: { os: 'linux', architecture: 'amd64' } });
    const i2 = await buildImage({ platform: { os: 'linux', architecture: 'arm64' } });
    const i3 = await buildImage({ platform: { os: 'linux', architecture: 'arm', variant: 'v7' } });
    const [ri, rimg] = [uniqueRepo('mc-i'), uniqueRepo('mc-img')];
    const index = await seedIndex(plain, ri, 'v1', [i1, i2]);
    await seedImage(plain, rimg, 'v1', i3);
    const from = proxy.hits.length;
    // TARGET in the index's own repository: only the image's blobs are mounted
    const r = await create(['--annotation', 'org.opencontainers.image.version=1.0', via(ri, 'all'), via(ri, 'v1'), via(rimg, 'v1')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n').at(-1)).toMatch(/^all: digest: sha256:[0-9a-f]{64} size: \d+$/);
    expect(layerTraffic(from, [i1, i2, i3])).toEqual([]);
    const served = JSON.parse((await fetchManifest(plain, ri, 'all')).bytes.toString());
    expect(served.mediaType).toBe(MT.ociIndex);
    expect(served.annotations).toEqual({ 'org.opencontainers.image.version': '1.0' });
    expect(served.manifests.map((e: { digest: string }) => e.digest)).toEqual([i1.manifest.digest, i2.manifest.digest, i3.manifest.digest]);
    expect(served.manifests[2].platform).toEqual({ architecture: 'arm', os: 'linux', variant: 'v7' });
    expect(JSON.parse(index.bytes.toString()).manifests).toEqual(served.manifests.slice(0, 2));
    expect(await dockerImageId(`${h.plain.host}/${ri}:all`, 'linux/arm/v7')).toBe(i3.config.digest);

    // -q: only the reference with the digest
    const q = await runCli(['-q', 'manifest', 'create', via(ri, 'q'), via(ri, 'v1')], { env: freshHome().env });
    expect(q.code).toBe(0);
    expect(q.stdout).toBe(`${proxy.host}/${ri}@${sha256((await fetchManifest(plain, ri, 'q')).bytes)}\n`);
  }, 60_000);

  it('--format oci forces an OCI index over docker sources; --format docker refuses an OCI source (exit 2)', async () => {
    const a = await buildImage({ format: 'docker', platform: { os: 'linux', architecture: 'amd64' } });
    const b = await buildImage({ format: 'oci', platform: { os: 'linux', architecture: 's390x' } });
    const repo = uniqueRepo('mc-f');
    await seedImage(plain, repo, 'a', a);
    await seedImage(plain, repo, 'b', b);
    const oci = await create(['--format', 'oci', via(repo, 'x'), via(repo, 'a')]);
    expect(oci.code).toBe(0);
    expect(JSON.parse((await fetchManifest(plain, repo, 'x')).bytes.toString()).mediaType).toBe(MT.ociIndex);
    const mixed = await create([via(repo, 'y'), via(repo, 'a'), via(repo, 'b')]);
    expect(mixed.code).toBe(0);
    expect(JSON.parse((await fetchManifest(plain, repo, 'y')).bytes.toString()).mediaType).toBe(MT.ociIndex);
    // an annotation needs an OCI index: the default follows, --format docker refuses
    const noted = await create(['--annotation', 'k=v', via(repo, 'n'), via(repo, 'a')]);
    expect(noted.code).toBe(0);
    expect(JSON.parse((await fetchManifest(plain, repo, 'n')).bytes.toString())).toMatchObject({ mediaType: MT.ociIndex, annotations: { k: 'v' } });
    const notedDocker = await create(['--format', 'docker', '--annotation', 'k=v', via(repo, 'n2'), via(repo, 'a')]);
    expect(notedDocker.code).toBe(2);
    expect(notedDocker.stderr).toBe('Error: a docker manifest list has no annotations\nHint: leave --annotation out, or use --format oci\n');
    const badAnnotation = await create(['--annotation', 'novalue', via(repo, 'n3'), via(repo, 'a')]);
    expect(badAnnotation.code).toBe(2);
    const refused = await create(['--format', 'docker', via(repo, 'z'), via(repo, 'a'), via(repo, 'b')]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^Error: .*:b is "application\/vnd\.oci\.image\.manifest\.v1\+json": a docker manifest list lists docker schema 2 manifests only\nHint: /);
    expect((await fetchManifest(plain, repo, 'z')).status).toBe(404);
  });

  it('one platform twice is a usage error naming both sources; nothing is pushed', async () => {
    const a = await buildImage({ platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
    const b = await buildImage({ platform: { os: 'linux', architecture: 'arm64' } });
    const c = await buildImage({ platform: { os: 'linux', architecture: 'amd64' } });
    const repo = uniqueRepo('mc-dup');
    await seedImage(plain, repo, 'a', a);
    await seedIndex(plain, repo, 'idx', [c, b]);
    const r = await create([via(repo, 't'), via(repo, 'a'), via(repo, 'idx')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `Error: two entries for linux/arm64: ${proxy.host}/${repo}:a and ${proxy.host}/${repo}:idx (${b.manifest.digest.slice(7, 19)})\nHint: an index has one image per platform; leave one of them out\n`,
    );
    expect((await fetchManifest(plain, repo, 't')).status).toBe(404);
  });

  it('a blob the source repository lost: Error naming the blob and the source (exit 5), no upload tried', async () => {
    const img = await buildImage({ layers: 2 });
    const [src, target] = [uniqueRepo('mc-lost'), uniqueRepo('mc-lt')];
    await seedImage(plain, src, 'v1', img);
    const lost = img.layers[1]!.digest;
    const del = await request(`${h.plain.url}/v2/${src}/blobs/${lost}`, { method: 'DELETE' });
    await del.body.dump();
    expect(del.statusCode).toBe(202);
    const from = proxy.hits.length;
    const r = await create([via(target, 'v1'), via(src, 'v1')]);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(new RegExp(`^Error: blob ${lost} of ${proxy.host.replace(/\./g, '\\.')}/${src}:v1 is not in ${src} and could not be mounted into ${target}\nHint: [^\n]+\n$`));
    expect(layerTraffic(from, [img])).toEqual([]);
    expect((await fetchManifest(plain, target, 'v1')).status).toBe(404);
  });

  it('behind the DHE front (token auth): blobs are mounted with a token for both repositories', async () => {
    const home = loggedInHome({ [h.dhe.host]: h.users.full });
    const a = await buildImage({ platform: { os: 'linux', architecture: 'amd64' } });
    const b = await buildImage({ platform: { os: 'linux', architecture: 'ppc64le' } });
    const [ra, rb, target] = [uniqueRepo('mc-da'), uniqueRepo('mc-db'), uniqueRepo('mc-dt')];
    await seedImage(await bearerTarget(h.dhe, ra, 'pull,push'), ra, 'v1', a);
    await seedImage(await bearerTarget(h.dhe, rb, 'pull,push'), rb, 'v1', b);
    const r = await create([`${h.dhe.host}/${target}:v1`, `${h.dhe.host}/${ra}:v1`, `${h.dhe.host}/${rb}:v1`], home.env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    for (const l of b.layers) expect(r.stdout).toContain(`${l.digest.slice(7, 19)}: Mounted from ${rb}`);
    const served = await fetchManifest(await bearerTarget(h.dhe, target), target, 'v1');
    expect(served.status).toBe(200);
    expect(JSON.parse(served.bytes.toString()).manifests.map((e: { digest: string }) => e.digest)).toEqual([a.manifest.digest, b.manifest.digest]);
  });

  it('a source on another registry is a usage error with a hint to copy it first', async () => {
    const r = await create([`${h.plain.host}/${uniqueRepo('mc-x')}:v1`, `${h.basic.host}/team/app:1`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^Error: ${h.basic.host}/team/app:1 is on ${h.basic.host}, not on ${h.plain.host} where .* goes\nHint: .*dhe-cli copy ${h.basic.host}/team/app:1 ${h.plain.host}/REPO:TAG first`));
    const none = await create([`${h.plain.host}/x:v1`]);
    expect(none.code).toBe(2);
  });
});

describe('manifest create: hostile documents', () => {
  let reg: MiniRegistry;
  beforeAll(async () => {
    reg = await startMiniRegistry();
  });
  afterAll(async () => {
    await reg?.close();
  });

  /** An image manifest in repo `hostile` whose config blob is `config` (stored under `configDigest`). */
  function serve(tag: string, config: Buffer, configDigest = sha256(config)): void {
    reg.blobs.set(configDigest, config);
    const m = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: { mediaType: MT.ociConfig, digest: configDigest, size: config.length },
      layers: [],
    }));
    reg.manifests.set(`hostile:${tag}`, { bytes: m, mediaType: MT.ociManifest });
  }

  it.each([
    ['a config whose architecture is a number', 'arch', Buffer.from('{"architecture":5,"os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'), undefined, /^Error: malformed image config: architecture must be a string/],
    ['a config that is not JSON', 'nojson', Buffer.from('\x1b[31mnot json'), undefined, /^Error: malformed image config: not JSON/],
    ['a config whose bytes are not its digest', 'wrongdigest', Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'), `sha256:${'ab'.repeat(32)}`, /^Error: .*(digest|mismatch)/i],
  ])('%s: one line Error, exit 7', async (_what, tag, config, digest, expected) => {
    serve(tag, config, digest);
    const r = await create([`${reg.host}/hostile:t`, `${reg.host}/hostile:${tag}`]);
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(expected);
    expect(r.stderr).not.toMatch(/\x1b|\n\s+at /);
    expect(r.stderr.trim().split('\n').length).toBeLessThanOrEqual(2);
  });

  it('an index entry with a malformed platform: one line Error, exit 7', async () => {
    const child = { mediaType: MT.ociManifest, digest: sha256(Buffer.from('x')), size: 1, platform: { architecture: ['amd64'], os: 'linux' } };
    const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: [child] }));
    reg.manifests.set('hostile:badindex', { bytes, mediaType: MT.ociIndex });
    const r = await create([`${reg.host}/hostile:t`, `${reg.host}/hostile:badindex`]);
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/^Error: malformed manifest: manifests\[0\]\.platform\.architecture must be a string/);
    expect(r.stderr.trim().split('\n').length).toBeLessThanOrEqual(2);
  });
});
