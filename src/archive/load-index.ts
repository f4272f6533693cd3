// Interpreting what an archive describes, for load: docker's manifest.json (config, RepoTags and layer paths per
// image; docker writes it next to an index.json, skopeo's docker-archive: only it) and an OCI layout's index.json
// (the roots, named by annotations). Each image found is checked complete (load-check.ts) and becomes a
// candidate for naming; for a manifest.json-only archive the manifest docker itself would write is made and stored.

import { CONFIG_MAX_BYTES } from '../oci/limits.js';
import {
  DHE_NAME_ANNOTATION,
  MEDIA_TYPES,
  REF_NAME_ANNOTATION,
  isIndexMediaType,
  isManifestMediaType,
  type Descriptor,
} from '../store/types.js';
import type { GraphBudget } from './graph.js';
import { ArchiveCheck, type Presence } from './load-check.js';
import { follow, type MemberContext, type Members, type StoredEntry } from './load-members.js';
import { Candidates, normaliseName } from './load-names.js';
import { badArchive, cleanEntryName, shownName } from './paths.js';
import { isValidDigest } from '../store/digest.js';

const CONTAINERD_NAME_ANNOTATION = 'io.containerd.image.name';

type Json = Record<string, unknown>;

/** What reading the index needs of a load: the same as reading the members. */
export type IndexContext = MemberContext;

/** One manifest.json entry with the path of its config. */
interface DockerEntry {
  entry: Json;
  configPath: string;
}

function asObject(v: unknown, what: string): Json {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw badArchive(`${what} is not a JSON object`);
  return v as Json;
}

function parseJson(buf: Buffer, what: string): unknown {
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (e) {
    throw badArchive(`${what} in the archive is not valid JSON`, e);
  }
}

function checkDescriptor(v: unknown, what: string): Descriptor {
  const d = asObject(v, what);
  if (typeof d.mediaType !== 'string' || d.mediaType.length === 0 || d.mediaType.length > 255) {
    throw badArchive(`${what} has no valid mediaType`);
  }
  if (typeof d.digest !== 'string' || !isValidDigest(d.digest)) throw badArchive(`${what} has an invalid digest`);
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) throw badArchive(`${what} has an invalid size`);
  return d as unknown as Descriptor;
}

function layerMediaTypeOf(head: Buffer, docker: boolean): string {
  if (head[0] === 0x1f && head[1] === 0x8b) return docker ? MEDIA_TYPES.dockerLayerGzip : MEDIA_TYPES.ociLayerGzip;
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return MEDIA_TYPES.ociLayerZstd;
  return docker ? MEDIA_TYPES.dockerLayer : MEDIA_TYPES.ociLayer;
}

/**
 * Whether a blob is in the archive or the store at its declared size. Every lookup is remembered: an archive
 * naming the same blob many times costs one stat. A blob found in the store is added to the lease.
 */
function presence(m: Members, ctx: IndexContext): Presence {
  const known = new Map<string, boolean>();
  return async (d) => {
    const key = `${d.size} ${d.digest}`;
    const k = known.get(key);
    if (k !== undefined) return k;
    const f = follow(m.files, m.links, `blobs/${d.digest.replace(':', '/')}`);
    if (f) {
      if (f.size !== d.size) throw badArchive(`blob ${d.digest} is ${f.size} bytes in the archive, but ${d.size} are declared`);
      known.set(key, true);
      return true;
    }
    const st = await ctx.store.statBlob(d.digest);
    const present = !!st && st.size === d.size;
    if (present) await ctx.lease.add([d.digest]);
    known.set(key, present);
    return present;
  };
}

/** The images the archive describes, each checked complete, with the names it gives them. */
export async function findImages(m: Members, ctx: IndexContext): Promise<Candidates> {
  const present = presence(m, ctx);
  const check = new ArchiveCheck(ctx.store, present, ctx.budget, ctx.signal);
  const found = new Candidates();
  const docker = dockerManifestOf(m);
  const repoTagsByConfig = new Map<string, string[]>();
  const entries = docker ? await readDockerEntries(docker, m, ctx.budget, repoTagsByConfig) : [];
  const indexBuf = follow(m.meta, m.links, 'index.json');
  const usedIndex = indexBuf ? await fromIndexJson(indexBuf, docker !== undefined, present, check, repoTagsByConfig, found, ctx) : false;
  if (!usedIndex) {
    if (!docker) throw badArchive('the archive has neither manifest.json (docker save) nor index.json (OCI layout)');
    await fromDockerEntries(entries, m, repoTagsByConfig, found, ctx);
  }
  return found;
}

/** manifest.json as a list of objects, when the archive has one. */
function dockerManifestOf(m: Members): Json[] | undefined {
  const buf = follow(m.meta, m.links, 'manifest.json');
  if (!buf) return undefined;
  const v = parseJson(buf, 'manifest.json');
  if (!Array.isArray(v)) throw badArchive('manifest.json in the archive is not a list');
  return v.map((x, i) => asObject(x, `manifest.json entry ${i}`));
}

/** The entries of manifest.json, their configs found; RepoTags gathered by config digest. */
async function readDockerEntries(docker: Json[], m: Members, budget: GraphBudget, repoTagsByConfig: Map<string, string[]>): Promise<DockerEntry[]> {
  const out: DockerEntry[] = [];
  for (const [i, e] of docker.entries()) {
    await budget.ref(`manifest.json ${i}`);
    if (typeof e.Config !== 'string') throw badArchive(`manifest.json entry ${i} has no Config`);
    const configPath = cleanEntryName(e.Config);
    const cfg = follow(m.files, m.links, configPath);
    if (!cfg) throw badArchive(`manifest.json names config "${shownName(configPath)}" which the archive does not contain`);
    const tags = e.RepoTags === undefined || e.RepoTags === null ? [] : e.RepoTags;
    if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string')) throw badArchive(`manifest.json entry ${i} has invalid RepoTags`);
    const names = (tags as string[]).map((t) => normaliseName(t, 'manifest.json'));
    for (const n of names) await budget.ref(`name ${n}`);
    const tagged = repoTagsByConfig.get(cfg.digest);
    if (tagged) tagged.push(...names);
    else repoTagsByConfig.set(cfg.digest, names);
    out.push({ entry: e, configPath });
  }
  return out;
}

/** The names index.json gives a root (annotations, else the RepoTags of its config). */
function rootNames(root: Descriptor, configDigest: string | undefined, repoTagsByConfig: Map<string, string[]>): string[] {
  const a = root.annotations ?? {};
  const full = a[CONTAINERD_NAME_ANNOTATION] ?? a[DHE_NAME_ANNOTATION];
  if (typeof full === 'string' && full) return [normaliseName(full, 'index.json')];
  if (configDigest && repoTagsByConfig.has(configDigest)) return [...repoTagsByConfig.get(configDigest)!];
  const ref = a[REF_NAME_ANNOTATION];
  if (typeof ref === 'string' && ref) return [normaliseName(ref, 'index.json')];
  return [];
}

/**
 * The images of index.json. Docker's own index.json is only a convenience when manifest.json is there too: it is
 * used when all it names is present. False when it was not used.
 */
async function fromIndexJson(
  indexBuf: Buffer,
  hasDocker: boolean,
  present: Presence,
  check: ArchiveCheck,
  repoTagsByConfig: Map<string, string[]>,
  found: Candidates,
  ctx: IndexContext,
): Promise<boolean> {
  const idx = asObject(parseJson(indexBuf, 'index.json'), 'index.json');
  if (!Array.isArray(idx.manifests)) throw badArchive('index.json has no manifests');
  const roots = idx.manifests.map((m, i) => checkDescriptor(m, `index.json manifests[${i}]`));
  let allPresent = true;
  for (const r of roots) {
    if (!(await present(r))) {
      allPresent = false;
      break;
    }
  }
  if (roots.length === 0 || (!allPresent && hasDocker)) return false;
  for (const root of roots) {
    if (!isManifestMediaType(root.mediaType) && !isIndexMediaType(root.mediaType)) {
      ctx.trace.log(`archive: skipping index.json entry of type ${root.mediaType}`);
      await ctx.budget.ref(`${root.mediaType} ${root.size} ${root.digest}`);
      continue;
    }
    const configDigest = await check.image(root);
    const descriptor: Descriptor = { mediaType: root.mediaType, digest: root.digest, size: root.size };
    if (root.platform) descriptor.platform = root.platform;
    found.add({ descriptor, names: rootNames(root, configDigest, repoTagsByConfig), ...(configDigest ? { configDigest } : {}) });
  }
  return true;
}

/** The images of a manifest.json-only archive: for each, the manifest docker would write is made and stored. */
async function fromDockerEntries(
  entries: DockerEntry[],
  m: Members,
  repoTagsByConfig: Map<string, string[]>,
  found: Candidates,
  ctx: IndexContext,
): Promise<void> {
  // A config named by many entries is read and parsed once.
  const configs = new Map<string, Json>();
  for (const { entry, configPath } of entries) {
    const cfg = follow(m.files, m.links, configPath)!;
    let config = configs.get(cfg.digest);
    if (!config) {
      config = asObject(parseJson(await ctx.store.readBlob(cfg.digest, CONFIG_MAX_BYTES), `config ${configPath}`), 'image config');
      configs.set(cfg.digest, config);
    }
    await ctx.budget.tick();
    const layers = await dockerLayers(entry, configPath, config, m, ctx.budget);
    const bytes = dockerManifestBytes(cfg, layers);
    const w = await ctx.store.writeBlob([bytes.bytes], {}, { lease: ctx.lease });
    if (!w.existed) ctx.created.add(w.digest);
    const descriptor: Descriptor = { mediaType: bytes.mediaType, digest: w.digest, size: w.size };
    const names = repoTagsByConfig.get(cfg.digest) ?? [];
    if (!found.has(w.digest)) found.add({ descriptor, names: [...new Set(names)], configDigest: cfg.digest });
  }
}

/** The layers of one manifest.json entry, checked against the config's diff_ids. */
async function dockerLayers(entry: Json, configPath: string, config: Json, m: Members, budget: GraphBudget): Promise<Descriptor[]> {
  const rootfs = asObject(config.rootfs, `config ${configPath} rootfs`);
  const diffIds = rootfs.diff_ids;
  if (!Array.isArray(diffIds)) throw badArchive(`config ${configPath} has no rootfs.diff_ids`);
  if (!Array.isArray(entry.Layers) || entry.Layers.some((l) => typeof l !== 'string')) {
    throw badArchive(`manifest.json entry for ${configPath} has no valid Layers`);
  }
  const layerPaths = (entry.Layers as string[]).map(cleanEntryName);
  if (layerPaths.length !== diffIds.length) {
    throw badArchive(`config ${configPath} lists ${diffIds.length} layers, manifest.json ${layerPaths.length}`);
  }
  const layers: Descriptor[] = [];
  for (const [i, lp] of layerPaths.entries()) {
    await budget.ref(`layer ${lp}`);
    const f = follow(m.files, m.links, lp);
    if (!f) throw badArchive(`manifest.json names layer "${shownName(lp)}" which the archive does not contain`);
    const mediaType = layerMediaTypeOf(f.head, true);
    if (mediaType === MEDIA_TYPES.dockerLayer && f.digest !== diffIds[i]) {
      throw badArchive(`layer "${shownName(lp)}" hashes to ${f.digest}, but the config expects ${String(diffIds[i])}`);
    }
    layers.push({ mediaType, size: f.size, digest: f.digest });
  }
  return layers;
}

/** The manifest docker itself would write for this image (docker push: 3-space indented JSON). */
function dockerManifestBytes(cfg: StoredEntry, layers: Descriptor[]): { bytes: Buffer; mediaType: string } {
  const allDocker = layers.every((l) => l.mediaType !== MEDIA_TYPES.ociLayerZstd);
  const toOci = (mt: string) => mt.replace(MEDIA_TYPES.dockerLayerGzip, MEDIA_TYPES.ociLayerGzip).replace(MEDIA_TYPES.dockerLayer, MEDIA_TYPES.ociLayer);
  const manifest = {
    schemaVersion: 2,
    mediaType: allDocker ? MEDIA_TYPES.dockerManifest : MEDIA_TYPES.ociManifest,
    config: { mediaType: allDocker ? MEDIA_TYPES.dockerConfig : MEDIA_TYPES.ociConfig, size: cfg.size, digest: cfg.digest },
    layers: layers.map((l) => ({ mediaType: allDocker ? l.mediaType : toOci(l.mediaType), size: l.size, digest: l.digest })),
  };
  return { bytes: Buffer.from(JSON.stringify(manifest, null, 3)), mediaType: manifest.mediaType };
}
