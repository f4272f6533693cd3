// The OCI model, imported from the package entry (vitest resolves 'dhe-cli' to src/index.ts).
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import {
  DheError,
  MANIFEST_ACCEPT,
  MAX_CONFIG_BYTES,
  MAX_MANIFEST_BYTES,
  MediaType,
  createDigester,
  createVerifier,
  descriptorOf,
  digestMatches,
  digestOf,
  formatPlatform,
  hostPlatform,
  indexPlatforms,
  isForeignLayer,
  layerCompression,
  parseConfig,
  parseManifest,
  parsePlatform,
  platformMatches,
  selectManifest,
  sha256Hex,
  shortId,
  splitDigest,
  verifyDigest,
  type Index,
} from 'dhe-cli';

const enc = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));
const D = (c: string) => `sha256:${c.repeat(64)}`;
const EMPTY_SHA256 = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

function errorOf(fn: () => unknown): DheError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DheError);
    return e as DheError;
  }
  throw new Error('expected a DheError, nothing was thrown');
}

const dockerManifest = {
  schemaVersion: 2,
  mediaType: MediaType.dockerManifest,
  config: { mediaType: MediaType.dockerConfig, size: 1470, digest: D('1') },
  layers: [
    { mediaType: MediaType.dockerLayerGzip, size: 2479, digest: D('2') },
    { mediaType: MediaType.dockerForeignLayerGzip, size: 100, digest: D('3'), urls: ['https://example.com/layer'] },
  ],
};
const ociManifest = {
  schemaVersion: 2,
  config: { mediaType: MediaType.ociConfig, size: 7023, digest: D('a') },
  layers: [{ mediaType: MediaType.ociLayerZstd, size: 32654, digest: `sha512:${'b'.repeat(128)}`, annotations: { k: 'v' } }],
  annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' },
  unknownField: { kept: true },
};
const dockerIndex = {
  schemaVersion: 2,
  mediaType: MediaType.dockerManifestList,
  manifests: [
    { mediaType: MediaType.dockerManifest, size: 525, digest: D('c'), platform: { architecture: 'amd64', os: 'linux' } },
    { mediaType: MediaType.dockerManifest, size: 525, digest: D('d'), platform: { architecture: 'arm', os: 'linux', variant: 'v7' } },
    { mediaType: MediaType.dockerManifest, size: 525, digest: D('e'), platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } },
    { mediaType: MediaType.dockerManifest, size: 525, digest: D('f'), platform: { architecture: 'amd64', os: 'windows', 'os.version': '10.0.17763.5820' } },
  ],
};
const buildxIndex: Index = {
  schemaVersion: 2,
  mediaType: MediaType.ociIndex,
  manifests: [
    { mediaType: MediaType.ociManifest, size: 1, digest: D('1'), platform: { architecture: 'amd64', os: 'linux' } },
    {
      mediaType: MediaType.ociManifest,
      size: 1,
      digest: D('2'),
      platform: { architecture: 'unknown', os: 'unknown' },
      annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': D('1') },
    },
  ],
};
const config = {
  architecture: 'amd64',
  os: 'linux',
  created: '2023-05-04T17:37:03.872958712Z',
  config: { Env: ['PATH=/usr/bin'], Cmd: ['/hello'], Entrypoint: null, Labels: { a: 'b' }, WorkingDir: '/', ExposedPorts: { '80/tcp': {} } },
  rootfs: { type: 'layers', diff_ids: [D('9')] },
  history: [{ created: '2023-05-04T17:37:03Z', created_by: 'COPY hello / # buildkit', comment: 'buildkit.dockerfile.v0' }, { created_by: 'CMD', empty_layer: true }],
  container_config: { Hostname: '' },
};

describe('digests', () => {
  it('computes sha256 and sha512 of bytes, whole or in chunks', () => {
    expect(sha256Hex('')).toBe(EMPTY_SHA256.slice(7));
    expect(digestOf(new Uint8Array())).toBe(EMPTY_SHA256);
    expect(digestOf('abc', 'sha512')).toBe(
      'sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
    );
    const d = createDigester();
    for (const c of ['a', 'b', 'c']) d.update(c);
    expect(d.size).toBe(3);
    expect(d.digest()).toBe(digestOf('abc'));
    expect(d.digest()).toBe(digestOf('abc'));
    expect(() => d.update('x')).toThrow();
    expect(descriptorOf('{}', MediaType.ociEmpty)).toEqual({
      mediaType: MediaType.ociEmpty,
      size: 2,
      digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
    });
  });

  it('verifyDigest passes matching content and throws DIGEST_MISMATCH (exit 7) otherwise', () => {
    expect(() => verifyDigest('abc', digestOf('abc'))).not.toThrow();
    expect(() => verifyDigest('abc', digestOf('abc', 'sha512'))).not.toThrow();
    const e = errorOf(() => verifyDigest('abd', digestOf('abc'), 'layer 1'));
    expect(e.code).toBe('DIGEST_MISMATCH');
    expect(e.exitCode).toBe(7);
    expect(e.message).toBe(`digest mismatch for layer 1: expected ${digestOf('abc')}, got ${digestOf('abd')}`);
    expect(errorOf(() => verifyDigest('abc', `md5:${'a'.repeat(32)}`)).message).toContain('unsupported digest algorithm "md5"');
    expect(digestMatches('abc', digestOf('abc'))).toBe(true);
    expect(digestMatches('abc', 'garbage')).toBe(false);
  });

  it('splitDigest and shortId', () => {
    expect(splitDigest(D('a'))).toEqual({ algorithm: 'sha256', hex: 'a'.repeat(64) });
    expect(errorOf(() => splitDigest('sha256:xyz', 'PROTOCOL')).code).toBe('PROTOCOL');
    expect(shortId(EMPTY_SHA256)).toBe('e3b0c44298fc');
    expect(shortId('e3b0c44298fc1c149afbf4c8')).toBe('e3b0c44298fc');
  });

  it('createVerifier passes a stream through and fails it on a flipped byte, a short or a long body', async () => {
    const chunks = Array.from({ length: 64 }, (_, i) => Buffer.alloc(64 * 1024, i));
    const whole = Buffer.concat(chunks);
    const digest = digestOf(whole);
    const run = async (data: Buffer[], size?: number) => {
      let seen = 0;
      const sink = new Writable({
        write(c: Buffer, _e, cb) {
          seen += c.length;
          cb();
        },
      });
      await pipeline(Readable.from(data), createVerifier({ digest, ...(size !== undefined ? { size } : {}), what: 'layer x' }), sink);
      return seen;
    };
    expect(await run(chunks, whole.length)).toBe(whole.length);
    expect(await run(chunks)).toBe(whole.length);
    const flipped = chunks.map((c) => Buffer.from(c));
    const victim = flipped[10]!;
    victim[5] = victim[5]! ^ 1;
    await expect(run(flipped, whole.length)).rejects.toMatchObject({ code: 'DIGEST_MISMATCH', message: expect.stringContaining('for layer x') });
    await expect(run(chunks.slice(0, 10), whole.length)).rejects.toMatchObject({ code: 'SIZE_MISMATCH' });
    await expect(run([...chunks, Buffer.from('x')], whole.length)).rejects.toMatchObject({ code: 'SIZE_MISMATCH' });
  });
});

describe('media types', () => {
  it('knows layer compressions and foreign layers', () => {
    expect(layerCompression(MediaType.dockerLayerGzip)).toBe('gzip');
    expect(layerCompression(MediaType.ociLayerGzip)).toBe('gzip');
    expect(layerCompression(MediaType.ociLayerZstd)).toBe('zstd');
    expect(layerCompression(MediaType.ociLayer)).toBe('none');
    expect(layerCompression(MediaType.dockerForeignLayerGzip)).toBe('gzip');
    expect(layerCompression(MediaType.ociConfig)).toBeUndefined();
    expect(isForeignLayer(MediaType.dockerForeignLayerGzip)).toBe(true);
    expect(isForeignLayer(MediaType.ociLayerNondistributableGzip)).toBe(true);
    expect(isForeignLayer(MediaType.dockerLayerGzip)).toBe(false);
  });
  it('accepts all four manifest types in the Accept header', () => {
    for (const t of [MediaType.ociIndex, MediaType.ociManifest, MediaType.dockerManifest, MediaType.dockerManifestList]) {
      expect(MANIFEST_ACCEPT).toContain(t);
    }
  });
});

describe('parseManifest', () => {
  it('reads a docker v2 manifest', () => {
    const p = parseManifest(enc(dockerManifest), `${MediaType.dockerManifest}; charset=utf-8`);
    expect(p.kind).toBe('image');
    expect(p.mediaType).toBe(MediaType.dockerManifest);
    if (p.kind !== 'image') throw new Error('unreachable');
    expect(p.manifest.config.digest).toBe(D('1'));
    expect(p.manifest.layers.map((l) => l.size)).toEqual([2479, 100]);
  });

  it('reads an OCI manifest without a mediaType field, from the content type or from its shape, keeping unknown fields', () => {
    for (const ct of [MediaType.ociManifest, 'application/json', undefined, 'application/octet-stream']) {
      const p = parseManifest(enc(ociManifest), ct);
      expect(p).toMatchObject({ kind: 'image', mediaType: MediaType.ociManifest });
      if (p.kind === 'image') expect((p.manifest as unknown as Record<string, unknown>).unknownField).toEqual({ kept: true });
    }
  });

  it('reads indexes and manifest lists', () => {
    const p = parseManifest(enc(dockerIndex), MediaType.dockerManifestList);
    expect(p.kind).toBe('index');
    if (p.kind === 'index') expect(p.index.manifests).toHaveLength(4);
    const q = parseManifest(enc({ schemaVersion: 2, manifests: [] }));
    expect(q).toMatchObject({ kind: 'index', mediaType: MediaType.ociIndex });
    expect(parseManifest(enc(buildxIndex)).kind).toBe('index');
  });

  const bad: Array<[string, Uint8Array, string | undefined, string, string?]> = [
    ['not JSON', enc('<html>502 Bad Gateway</html>'), undefined, 'malformed manifest: not JSON'],
    ['not UTF-8', new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), undefined, 'not UTF-8'],
    ['an array', enc([1, 2]), undefined, 'not a JSON object'],
    ['null', enc('null'), undefined, 'not a JSON object'],
    ['no schemaVersion', enc({ ...dockerManifest, schemaVersion: undefined }), undefined, 'schemaVersion is missing'],
    ['schemaVersion 3', enc({ ...dockerManifest, schemaVersion: 3 }), undefined, 'schemaVersion must be 2 (got 3)'],
    ['schemaVersion "2"', enc({ ...dockerManifest, schemaVersion: '2' }), undefined, 'schemaVersion must be 2'],
    ['schema 1', enc({ schemaVersion: 1, name: 'x', fsLayers: [] }), undefined, 'docker schema 1 manifests are not supported', 'UNSUPPORTED'],
    ['schema 1 content type', enc(dockerManifest), MediaType.dockerSchema1Signed, 'schema 1', 'UNSUPPORTED'],
    ['unknown mediaType', enc({ ...dockerManifest, mediaType: 'application/vnd.example+json' }), undefined, 'unsupported mediaType "application/vnd.example+json"'],
    ['mediaType not a string', enc({ ...dockerManifest, mediaType: 5 }), undefined, 'mediaType must be a string'],
    ['mismatched content type', enc(dockerManifest), MediaType.ociManifest, 'does not match the content type'],
    ['index served as manifest', enc({ schemaVersion: 2, manifests: [] }), MediaType.dockerManifest, 'must not have manifests'],
    ['index with layers', enc({ ...dockerIndex, layers: [] }), undefined, 'must not have config or layers'],
    ['neither', enc({ schemaVersion: 2 }), undefined, 'neither an index'],
    ['missing config', enc({ ...dockerManifest, config: undefined }), undefined, 'config is missing'],
    ['missing layers', enc({ ...dockerManifest, layers: undefined }), undefined, 'layers is missing'],
    ['layers not an array', enc({ ...dockerManifest, layers: {} }), undefined, 'layers must be an array'],
    ['missing manifests', enc({ schemaVersion: 2, mediaType: MediaType.ociIndex }), undefined, 'manifests is missing'],
    ['negative size', enc({ ...dockerManifest, layers: [{ ...dockerManifest.layers[0], size: -1 }] }), undefined, 'layers[0].size must be a non-negative integer (got -1)'],
    ['fractional size', enc({ ...dockerManifest, layers: [{ ...dockerManifest.layers[0], size: 1.5 }] }), undefined, 'layers[0].size must be a non-negative integer'],
    ['huge size', enc({ ...dockerManifest, config: { ...dockerManifest.config, size: 2 ** 60 } }), undefined, 'config.size must be a non-negative integer'],
    ['string size', enc({ ...dockerManifest, config: { ...dockerManifest.config, size: '10' } }), undefined, 'config.size must be a non-negative integer'],
    ['missing size', enc({ ...dockerManifest, config: { ...dockerManifest.config, size: undefined } }), undefined, 'config.size is missing'],
    ['md5 digest', enc({ ...dockerManifest, config: { ...dockerManifest.config, digest: `md5:${'a'.repeat(32)}` } }), undefined, 'unsupported digest algorithm "md5"'],
    ['upper-case digest', enc({ ...dockerManifest, config: { ...dockerManifest.config, digest: `sha256:${'A'.repeat(64)}` } }), undefined, 'sha256 needs 64 lowercase hex digits'],
    ['short digest', enc({ ...dockerManifest, config: { ...dockerManifest.config, digest: 'sha256:abc' } }), undefined, 'config.digest "sha256:abc" is not a valid digest'],
    ['path digest', enc({ ...dockerManifest, config: { ...dockerManifest.config, digest: 'sha256:../../etc/passwd' } }), undefined, 'is not a valid digest'],
    ['missing digest', enc({ ...dockerManifest, config: { ...dockerManifest.config, digest: undefined } }), undefined, 'config.digest is missing'],
    ['bad layer mediaType', enc({ ...dockerManifest, layers: [{ ...dockerManifest.layers[0], mediaType: 'nonsense' }] }), undefined, 'layers[0].mediaType "nonsense" is not a media type'],
    ['urls not strings', enc({ ...dockerManifest, layers: [{ ...dockerManifest.layers[0], urls: [1] }] }), undefined, 'layers[0].urls[0] must be a string'],
    ['annotations not strings', enc({ ...ociManifest, annotations: { a: 1 } }), undefined, 'annotations["a"] must be a string'],
    ['platform without os', enc({ ...dockerIndex, manifests: [{ ...dockerIndex.manifests[0], platform: { architecture: 'amd64' } }] }), undefined, 'manifests[0].platform.os is missing'],
    ['descriptor not an object', enc({ ...dockerIndex, manifests: ['x'] }), undefined, 'manifests[0] must be a descriptor object'],
    ['bad subject', enc({ ...ociManifest, subject: { mediaType: MediaType.ociManifest } }), undefined, 'subject.digest is missing'],
  ];
  it.each(bad)('refuses %s', (_name, bytes, ct, message, code = 'MALFORMED_MANIFEST') => {
    const e = errorOf(() => parseManifest(bytes, ct));
    expect(e.code).toBe(code);
    expect(e.message).toContain(message);
    expect(e.message).not.toMatch(/[\r\n]/);
    expect(e.hint).toBeTruthy();
  });

  it('refuses a document above 4 MiB before parsing it, whatever it holds', () => {
    const big = enc({ ...dockerManifest, annotations: { pad: 'x'.repeat(MAX_MANIFEST_BYTES) } });
    const e = errorOf(() => parseManifest(big));
    expect(e.code).toBe('MALFORMED_MANIFEST');
    expect(e.message).toMatch(/more than the 4 MiB limit/);
    // garbage that would be slow to parse is refused just as fast
    // it is never parsed: JSON.parse is not called (the promise; a time bound would only hint at it)
    const garbage = new Uint8Array(64 * 1024 * 1024).fill(0x5b);
    const parse = vi.spyOn(JSON, 'parse');
    try {
      expect(errorOf(() => parseManifest(garbage)).message).toMatch(/more than the 4 MiB limit/);
      expect(parse).not.toHaveBeenCalled();
    } finally {
      parse.mockRestore();
    }
    // just under the cap is fine
    const padLen = MAX_MANIFEST_BYTES - enc({ ...dockerManifest, annotations: { pad: '' } }).length;
    expect(parseManifest(enc({ ...dockerManifest, annotations: { pad: 'x'.repeat(padLen) } })).kind).toBe('image');
  });
});

describe('parseConfig', () => {
  it('reads an image config, keeping every field', () => {
    const c = parseConfig(enc(config));
    expect(c.architecture).toBe('amd64');
    expect(c.os).toBe('linux');
    expect(c.created).toBe(config.created);
    expect(c.rootfs.diff_ids).toEqual([D('9')]);
    expect(c.config?.Env).toEqual(['PATH=/usr/bin']);
    expect(c.history).toHaveLength(2);
    expect((c as unknown as Record<string, unknown>).container_config).toEqual({ Hostname: '' });
    expect(parseConfig(enc({ ...config, config: null, history: undefined, variant: 'v8', architecture: 'arm64' })).variant).toBe('v8');
  });

  const bad: Array<[string, unknown, string]> = [
    ['no architecture', { ...config, architecture: undefined }, 'architecture is missing'],
    ['empty os', { ...config, os: '' }, 'os must not be empty'],
    ['no rootfs', { ...config, rootfs: undefined }, 'rootfs is missing'],
    ['rootfs type', { ...config, rootfs: { type: 'other', diff_ids: [] } }, 'rootfs.type must be "layers"'],
    ['no diff_ids', { ...config, rootfs: { type: 'layers' } }, 'rootfs.diff_ids is missing'],
    ['bad diff_id', { ...config, rootfs: { type: 'layers', diff_ids: [D('9'), 'sha1:abc'] } }, 'rootfs.diff_ids[1] "sha1:abc" is not a valid digest'],
    ['Env not strings', { ...config, config: { Env: 'PATH=/' } }, 'config.Env must be an array of strings'],
    ['Cmd entries', { ...config, config: { Cmd: ['a', 1] } }, 'config.Cmd[1] must be a string'],
    ['Labels', { ...config, config: { Labels: { a: 1 } } }, 'config.Labels["a"] must be a string'],
    ['config a string', { ...config, config: 'x' }, 'config must be an object'],
    ['history not an array', { ...config, history: {} }, 'history must be an array'],
    ['history entry', { ...config, history: [{ empty_layer: 'yes' }] }, 'history[0].empty_layer must be true or false'],
    ['created a number', { ...config, created: 5 }, 'created must be a string'],
  ];
  it.each(bad)('refuses %s', (_name, doc, message) => {
    const e = errorOf(() => parseConfig(enc(doc)));
    expect(e.code).toBe('MALFORMED_MANIFEST');
    expect(e.message).toContain(`malformed image config: ${message}`);
  });

  it('refuses a config above 8 MiB', () => {
    const e = errorOf(() => parseConfig(enc({ ...config, pad: 'x'.repeat(MAX_CONFIG_BYTES) })));
    expect(e.message).toMatch(/more than the 8 MiB limit/);
  });
});

describe('platforms', () => {
  it('parses and normalises as containerd does', () => {
    expect(parsePlatform('linux/amd64')).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(parsePlatform('linux/arm64/v8')).toEqual({ os: 'linux', architecture: 'arm64' });
    expect(parsePlatform('linux/arm64')).toEqual({ os: 'linux', architecture: 'arm64' });
    expect(parsePlatform('linux/arm')).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' });
    expect(parsePlatform('linux/arm/6')).toEqual({ os: 'linux', architecture: 'arm', variant: 'v6' });
    expect(parsePlatform('Linux/X86_64')).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(parsePlatform('linux/aarch64')).toEqual({ os: 'linux', architecture: 'arm64' });
    expect(parsePlatform('linux/armhf')).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' });
    expect(parsePlatform('linux/amd64/v3')).toEqual({ os: 'linux', architecture: 'amd64', variant: 'v3' });
    expect(parsePlatform('windows/amd64')).toEqual({ os: 'windows', architecture: 'amd64' });
    expect(parsePlatform('arm64')).toEqual({ os: 'linux', architecture: 'arm64' });
    expect(parsePlatform('linux').os).toBe('linux');
    expect(formatPlatform({ os: 'linux', architecture: 'arm64', variant: 'v8' })).toBe('linux/arm64/v8');
  });

  it.each(['', 'linux/', '/amd64', 'linux/amd64/v8/x', 'linux/am d64', 'nonsense', 'linux//v7', 'LINUX/AMD64/../..'])(
    'refuses %j with INVALID_PLATFORM (exit 2)',
    (spec) => {
      const e = errorOf(() => parsePlatform(spec));
      expect(e.code).toBe('INVALID_PLATFORM');
      expect(e.exitCode).toBe(2);
      expect(e.message).toContain('invalid platform');
      expect(e.hint).toContain('linux/amd64');
    },
  );

  it('maps the host as Node reports it', () => {
    expect(hostPlatform({ platform: 'linux', arch: 'x64' })).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(hostPlatform({ platform: 'darwin', arch: 'arm64' })).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(hostPlatform({ platform: 'linux', arch: 'arm' })).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' });
    expect(hostPlatform({ platform: 'linux', arch: 'arm', armVersion: '6' })).toEqual({ os: 'linux', architecture: 'arm', variant: 'v6' });
    expect(hostPlatform({ platform: 'win32', arch: 'x64' })).toEqual({ os: 'windows', architecture: 'amd64' });
    expect(hostPlatform({ platform: 'linux', arch: 'ia32' })).toEqual({ os: 'linux', architecture: '386' });
    expect(hostPlatform({ platform: 'linux', arch: 'ppc64', endianness: 'LE' })).toEqual({ os: 'linux', architecture: 'ppc64le' });
    expect(hostPlatform({ platform: 'linux', arch: 's390x' })).toEqual({ os: 'linux', architecture: 's390x' });
    const here = hostPlatform();
    expect(here.os).toBe(process.platform === 'win32' ? 'windows' : 'linux');
    expect(parsePlatform(formatPlatform(here))).toBeTruthy();
  });

  it('selects the manifest for a platform from an index', () => {
    const index = dockerIndex as Index;
    expect(selectManifest(index, parsePlatform('linux/amd64')).digest).toBe(D('c'));
    expect(selectManifest(index, { os: 'linux', architecture: 'arm64', variant: 'v8' }).digest).toBe(D('e'));
    expect(selectManifest(index, parsePlatform('linux/arm64')).digest).toBe(D('e'));
    expect(selectManifest(index, parsePlatform('linux/arm')).digest).toBe(D('d'));
    expect(selectManifest(index, { os: 'linux', architecture: 'arm' }).digest).toBe(D('d'));
    expect(selectManifest(index, parsePlatform('windows/amd64')).digest).toBe(D('f'));
    expect(selectManifest(buildxIndex, parsePlatform('linux/amd64')).digest).toBe(D('1'));
  });

  it('falls back to a compatible platform: arm64 runs arm/v7, arm/v7 runs arm/v6, amd64/v3 runs amd64', () => {
    const only = (p: { os: string; architecture: string; variant?: string }): Index => ({
      schemaVersion: 2,
      manifests: [{ mediaType: MediaType.ociManifest, size: 1, digest: D('7'), platform: p }],
    });
    expect(selectManifest(only({ os: 'linux', architecture: 'arm', variant: 'v7' }), parsePlatform('linux/arm64')).digest).toBe(D('7'));
    expect(selectManifest(only({ os: 'linux', architecture: 'arm', variant: 'v6' }), parsePlatform('linux/arm/v7')).digest).toBe(D('7'));
    expect(selectManifest(only({ os: 'linux', architecture: 'amd64' }), parsePlatform('linux/amd64/v3')).digest).toBe(D('7'));
    expect(() => selectManifest(only({ os: 'linux', architecture: 'arm', variant: 'v7' }), parsePlatform('linux/arm/v6'))).toThrow(DheError);
    expect(() => selectManifest(only({ os: 'linux', architecture: 'amd64', variant: 'v3' }), parsePlatform('linux/amd64'))).toThrow(DheError);
    expect(platformMatches(parsePlatform('linux/arm64'), { os: 'linux', architecture: 'arm64', variant: 'v8' })).toBe(true);
    expect(platformMatches(parsePlatform('linux/amd64'), { os: 'windows', architecture: 'amd64' })).toBe(false);
    // an exact match beats a compatible one whatever the order
    const both: Index = {
      schemaVersion: 2,
      manifests: [
        { mediaType: MediaType.ociManifest, size: 1, digest: D('5'), platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
        { mediaType: MediaType.ociManifest, size: 1, digest: D('6'), platform: { os: 'linux', architecture: 'arm64' } },
      ],
    };
    expect(selectManifest(both, parsePlatform('linux/arm64/v8')).digest).toBe(D('6'));
  });

  it('says which platforms exist when none fits (PLATFORM_NOT_FOUND, exit 5)', () => {
    const e = errorOf(() => selectManifest(dockerIndex as Index, parsePlatform('linux/s390x')));
    expect(e.code).toBe('PLATFORM_NOT_FOUND');
    expect(e.exitCode).toBe(5);
    expect(e.message).toBe('no image for linux/s390x in the multi-platform index; available: linux/amd64, linux/arm/v7, linux/arm64/v8, windows/amd64');
    expect(e.hint).toBe('choose one with --platform, e.g. --platform linux/amd64');
    expect(indexPlatforms(buildxIndex)).toEqual(['linux/amd64']);
    const none = errorOf(() => selectManifest({ schemaVersion: 2, manifests: [] }, parsePlatform('linux/amd64')));
    expect(none.message).toContain('available: none');
  });
});

// ---- property tests ----------------------------------------------------------------------------------------
function onlyDheErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof DheError)) throw e;
    expect(e.message).not.toMatch(/[\r\n]/);
    expect(e.message.length).toBeLessThan(400);
  }
}

const hex = (n: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n });
const digestArb = hex(64).map((h) => `sha256:${h}`);
const descriptorArb = fc.record(
  {
    mediaType: fc.constantFrom(MediaType.ociLayerGzip, MediaType.dockerLayerGzip, MediaType.ociConfig, 'application/vnd.example.thing+json'),
    digest: digestArb,
    size: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
    annotations: fc.dictionary(fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 }), { maxKeys: 3 }),
    urls: fc.array(fc.webUrl(), { maxLength: 2 }),
  },
  { requiredKeys: ['mediaType', 'digest', 'size'] },
);
const validManifestArb = fc.oneof(
  fc.record({
    schemaVersion: fc.constant(2),
    mediaType: fc.constantFrom(MediaType.dockerManifest, MediaType.ociManifest),
    config: descriptorArb,
    layers: fc.array(descriptorArb, { maxLength: 5 }),
  }),
  fc.record({
    schemaVersion: fc.constant(2),
    mediaType: fc.constantFrom(MediaType.dockerManifestList, MediaType.ociIndex),
    manifests: fc.array(
      fc.record({
        mediaType: fc.constant(MediaType.ociManifest),
        digest: digestArb,
        size: fc.nat(),
        platform: fc.record({ os: fc.constantFrom('linux', 'windows'), architecture: fc.constantFrom('amd64', 'arm64', 'arm') }),
      }),
      { maxLength: 5 },
    ),
  }),
);

/** Replaces one value somewhere in a JSON document with another (any JSON value). */
function mutate(doc: unknown, path: number[], replacement: unknown): unknown {
  if (path.length === 0 || doc === null || typeof doc !== 'object') return replacement;
  const entries = Array.isArray(doc) ? doc.map((v, i) => [i, v] as const) : Object.entries(doc as Record<string, unknown>);
  if (entries.length === 0) return replacement;
  const [key] = entries[path[0]! % entries.length]!;
  const copy: any = Array.isArray(doc) ? [...doc] : { ...(doc as object) };
  copy[key] = mutate(copy[key], path.slice(1), replacement);
  return copy;
}

describe('validation properties', () => {
  it('valid generated manifests and indexes are accepted as they are', () => {
    fc.assert(
      fc.property(validManifestArb, (m) => {
        const p = parseManifest(enc(m), m.mediaType);
        expect(p.mediaType).toBe(m.mediaType);
        expect(p.kind === 'index' ? p.index : p.manifest).toEqual(m);
      }),
      { numRuns: 300 },
    );
  });

  it('a manifest with any one value replaced is accepted or refused with a DheError, never a crash', () => {
    fc.assert(
      fc.property(validManifestArb, fc.array(fc.nat(), { maxLength: 5 }), fc.jsonValue({ maxDepth: 3 }), fc.option(fc.constantFrom(...MANIFEST_ACCEPT.split(', '), 'application/json', 'text/html')), (m, path, v, ct) => {
        onlyDheErrors(() => parseManifest(enc(mutate(m, path, v)), ct ?? undefined));
      }),
      { numRuns: 1000 },
    );
  });

  it('any bytes, any JSON: parseManifest and parseConfig end in a DheError or a result', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.jsonValue().map((v) => enc(JSON.stringify(v) ?? 'null'))), (bytes) => {
        onlyDheErrors(() => parseManifest(bytes));
        onlyDheErrors(() => parseConfig(bytes));
      }),
      { numRuns: 1000 },
    );
  });

  it('a config with any one value replaced is accepted or refused with a DheError', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 4 }), fc.jsonValue({ maxDepth: 2 }), (path, v) => {
        onlyDheErrors(() => parseConfig(enc(mutate(config, path, v))));
      }),
      { numRuns: 500 },
    );
  });

  it('parsePlatform ends in a platform or an INVALID_PLATFORM error', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: fc.constantFrom(...'linuxamd64arm/v78 ') })), (s) => {
        try {
          const p = parsePlatform(s);
          expect(parsePlatform(formatPlatform(p))).toEqual(p);
        } catch (e) {
          expect((e as DheError).code).toBe('INVALID_PLATFORM');
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('selectManifest on unvalidated documents', () => {
  it('skips entries with odd platform fields instead of crashing', () => {
    const odd = {
      schemaVersion: 2,
      manifests: [
        { mediaType: MediaType.ociManifest, size: 1, digest: D('1'), platform: { os: 'linux', architecture: 'amd64', variant: 5 } },
        { mediaType: MediaType.ociManifest, size: 1, digest: D('2'), platform: { os: 7, architecture: 'amd64' } },
        { mediaType: MediaType.ociManifest, size: 1, digest: D('3') },
        { mediaType: MediaType.ociManifest, size: 1, digest: D('4'), platform: { os: 'linux', architecture: 'arm64' } },
      ],
    } as unknown as Index;
    expect(selectManifest(odd, parsePlatform('linux/arm64')).digest).toBe(D('4'));
    expect(selectManifest(odd, parsePlatform('linux/amd64')).digest).toBe(D('1'));
    expect(errorOf(() => selectManifest(odd, parsePlatform('linux/s390x'))).code).toBe('PLATFORM_NOT_FOUND');
  });
});
