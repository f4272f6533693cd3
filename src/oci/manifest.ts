// Validation of manifests, indexes and image configs read from registries, archives and the store. Every problem
// is a DheError (MALFORMED_MANIFEST, or UNSUPPORTED for docker schema 1) naming the field at fault; documents
// above a size cap are refused before they are parsed.

import { DheError } from '../errors.js';
import { digestProblem } from '../reference/index.js';
import {
  MediaType,
  isImageIndexMediaType,
  isImageManifestMediaType,
  isSchema1MediaType,
  normalizeContentType,
} from './mediatypes.js';
import type { Descriptor, ImageConfig, Index, Manifest, ParsedManifest, Platform } from './types.js';

import { CONFIG_MAX_BYTES, MANIFEST_MAX_BYTES } from './limits.js';

/** The caps of src/oci/limits.ts, under the names this module has always exported. */
export const MAX_MANIFEST_BYTES = MANIFEST_MAX_BYTES;
export const MAX_CONFIG_BYTES = CONFIG_MAX_BYTES;

const MEDIA_TYPE_RE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

type Json = Record<string, unknown>;

function malformed(what: string, problem: string, hint?: string): DheError {
  return new DheError('MALFORMED_MANIFEST', `malformed ${what}: ${problem}`, {
    hint: hint ?? 'the registry or archive holds a broken document; push the image again, or report it to its publisher',
  });
}

/** A manifest, index or config larger than its cap (exit 7, like every other malformed document). */
export function oversizeDocument(what: string, size: number, cap: number): DheError {
  return malformed(what, `${size} bytes, more than the ${cap / (1024 * 1024)} MiB limit`, 'a document this large is not an image manifest or config; check the reference');
}

function show(v: unknown): string {
  let s: string;
  try {
    s = typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));
  } catch {
    s = String(v);
  }
  // eslint-disable-next-line no-control-regex
  s = s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  return s.length > 80 ? `${s.slice(0, 80)}...` : s;
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function decodeJson(bytes: Uint8Array, what: string, cap: number): Json {
  if (!(bytes instanceof Uint8Array)) throw malformed(what, 'not a byte buffer');
  if (bytes.byteLength > cap) throw oversizeDocument(what, bytes.byteLength, cap);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw malformed(what, 'not UTF-8 text');
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    // eslint-disable-next-line no-control-regex
    throw malformed(what, `not JSON (${(e as Error).message.slice(0, 100).replace(/[\u0000-\u001f\u007f-\u009f]/g, '?')})`);
  }
  if (!isObject(doc)) throw malformed(what, 'not a JSON object');
  return doc;
}

class Checker {
  constructor(readonly what: string) {}

  fail(path: string, problem: string): never {
    throw malformed(this.what, `${path} ${problem}`);
  }

  string(o: Json, key: string, path: string, required: boolean): void {
    const v = o[key];
    if (v === undefined && !required) return;
    if (typeof v !== 'string') this.fail(`${path}${key}`, v === undefined ? 'is missing' : `must be a string (got ${show(v)})`);
  }

  nonEmptyString(o: Json, key: string, path: string): void {
    this.string(o, key, path, true);
    if ((o[key] as string).length === 0) this.fail(`${path}${key}`, 'must not be empty');
  }

  stringArray(o: Json, key: string, path: string, nullable = false): void {
    const v = o[key];
    if (v === undefined || (nullable && v === null)) return;
    if (!Array.isArray(v)) this.fail(`${path}${key}`, `must be an array of strings (got ${show(v)})`);
    v.forEach((s, i) => {
      if (typeof s !== 'string') this.fail(`${path}${key}[${i}]`, `must be a string (got ${show(s)})`);
    });
  }

  stringMap(o: Json, key: string, path: string, nullable = false): void {
    const v = o[key];
    if (v === undefined || (nullable && v === null)) return;
    if (!isObject(v)) this.fail(`${path}${key}`, `must be an object of strings (got ${show(v)})`);
    for (const [k, s] of Object.entries(v)) {
      if (typeof s !== 'string') this.fail(`${path}${key}[${show(k)}]`, `must be a string (got ${show(s)})`);
    }
  }

  object(o: Json, key: string, path: string, nullable = false): void {
    const v = o[key];
    if (v === undefined || (nullable && v === null)) return;
    if (!isObject(v)) this.fail(`${path}${key}`, `must be an object (got ${show(v)})`);
  }

  digest(o: Json, key: string, path: string): void {
    const v = o[key];
    if (typeof v !== 'string') this.fail(`${path}${key}`, v === undefined ? 'is missing' : `must be a string (got ${show(v)})`);
    const problem = digestProblem(v);
    if (problem !== undefined) this.fail(`${path}${key}`, `${show(v)} is not a valid digest: ${problem}`);
  }

  mediaType(o: Json, key: string, path: string, required: boolean): void {
    this.string(o, key, path, required);
    const v = o[key];
    if (typeof v === 'string' && !MEDIA_TYPE_RE.test(v)) this.fail(`${path}${key}`, `${show(v)} is not a media type`);
  }

  platform(v: unknown, path: string): asserts v is Platform {
    if (!isObject(v)) this.fail(path, `must be an object (got ${show(v)})`);
    this.string(v, 'architecture', `${path}.`, true);
    this.string(v, 'os', `${path}.`, true);
    this.string(v, 'variant', `${path}.`, false);
    this.string(v, 'os.version', `${path}.`, false);
    this.stringArray(v, 'os.features', `${path}.`);
    this.stringArray(v, 'features', `${path}.`);
  }

  descriptor(v: unknown, path: string): asserts v is Descriptor {
    if (!isObject(v)) this.fail(path, `must be a descriptor object (got ${show(v)})`);
    const p = `${path}.`;
    this.mediaType(v, 'mediaType', p, true);
    this.digest(v, 'digest', p);
    const size = v.size;
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
      this.fail(`${p}size`, size === undefined ? 'is missing' : `must be a non-negative integer (got ${show(size)})`);
    }
    this.stringArray(v, 'urls', p);
    this.stringMap(v, 'annotations', p);
    this.string(v, 'data', p, false);
    this.mediaType(v, 'artifactType', p, false);
    if (v.platform !== undefined) this.platform(v.platform, `${p}platform`);
  }

  descriptors(o: Json, key: string): void {
    const v = o[key];
    if (!Array.isArray(v)) this.fail(key, v === undefined ? 'is missing' : `must be an array (got ${show(v)})`);
    v.forEach((d, i) => this.descriptor(d, `${key}[${i}]`));
  }
}

/**
 * Validates a manifest or index. `contentType` is the Content-Type it came with (or the media type of the
 * descriptor that pointed at it). A known manifest type must agree with the document's mediaType field; any
 * other content type (application/json, octet-stream, ...) leaves the decision to that field, or to the document's
 * shape when the field is absent (OCI allows that).
 */
export function parseManifest(bytes: Uint8Array, contentType?: string, maxBytes = MAX_MANIFEST_BYTES): ParsedManifest {
  const what = 'manifest';
  const doc = decodeJson(bytes, what, maxBytes);
  const ct = normalizeContentType(contentType);
  const c: Checker = new Checker(what);

  if (doc.schemaVersion === 1 || isSchema1MediaType(ct) || isSchema1MediaType(doc.mediaType as string)) {
    throw new DheError('UNSUPPORTED', 'docker schema 1 manifests are not supported', {
      hint: 'push the image again with a current docker or dhe-cli (image manifest v2 schema 2 or OCI)',
    });
  }
  if (doc.schemaVersion !== 2) {
    throw malformed(what, doc.schemaVersion === undefined ? 'schemaVersion is missing' : `schemaVersion must be 2 (got ${show(doc.schemaVersion)})`);
  }
  c.mediaType(doc, 'mediaType', '', false);
  const declared = doc.mediaType as string | undefined;
  const knownCt = ct !== undefined && (isImageIndexMediaType(ct) || isImageManifestMediaType(ct)) ? ct : undefined;
  if (declared !== undefined && !isImageIndexMediaType(declared) && !isImageManifestMediaType(declared)) {
    throw malformed(what, `unsupported mediaType ${show(declared)}`, 'dhe-cli reads OCI image manifests and indexes, and docker image manifest v2 schema 2 and manifest lists');
  }
  if (declared !== undefined && knownCt !== undefined && declared !== knownCt) {
    throw malformed(what, `mediaType ${show(declared)} does not match the content type ${show(knownCt)}`);
  }
  let mediaType = declared ?? knownCt;
  if (mediaType === undefined) {
    if (doc.manifests !== undefined) mediaType = MediaType.ociIndex;
    else if (doc.config !== undefined || doc.layers !== undefined) mediaType = MediaType.ociManifest;
    else throw malformed(what, 'neither an index (manifests) nor an image manifest (config, layers)');
  }
  c.mediaType(doc, 'artifactType', '', false);
  c.stringMap(doc, 'annotations', '');
  if (doc.subject !== undefined) c.descriptor(doc.subject, 'subject');

  if (isImageIndexMediaType(mediaType)) {
    if (doc.config !== undefined || doc.layers !== undefined) {
      throw malformed(what, `an index (${mediaType}) must not have config or layers`);
    }
    c.descriptors(doc, 'manifests');
    return { kind: 'index', mediaType, index: doc as unknown as Index };
  }
  if (doc.manifests !== undefined) {
    throw malformed(what, `an image manifest (${mediaType}) must not have manifests`);
  }
  if (doc.config === undefined) c.fail('config', 'is missing');
  c.descriptor(doc.config, 'config');
  c.descriptors(doc, 'layers');
  return { kind: 'image', mediaType, manifest: doc as unknown as Manifest };
}

/** Validates an image config (OCI image config or docker container image v1). */
export function parseConfig(bytes: Uint8Array): ImageConfig {
  const what = 'image config';
  const doc = decodeJson(bytes, what, MAX_CONFIG_BYTES);
  const c: Checker = new Checker(what);
  c.nonEmptyString(doc, 'architecture', '');
  c.nonEmptyString(doc, 'os', '');
  c.string(doc, 'variant', '', false);
  c.string(doc, 'os.version', '', false);
  c.stringArray(doc, 'os.features', '');
  c.string(doc, 'created', '', false);
  c.string(doc, 'author', '', false);

  if (doc.rootfs === undefined) c.fail('rootfs', 'is missing');
  c.object(doc, 'rootfs', '');
  const rootfs = doc.rootfs as Json;
  c.string(rootfs, 'type', 'rootfs.', true);
  if (rootfs.type !== 'layers') c.fail('rootfs.type', `must be "layers" (got ${show(rootfs.type)})`);
  const diffIds = rootfs.diff_ids;
  if (!Array.isArray(diffIds)) c.fail('rootfs.diff_ids', diffIds === undefined ? 'is missing' : `must be an array (got ${show(diffIds)})`);
  diffIds.forEach((d, i) => c.digest({ [`[${i}]`]: d }, `[${i}]`, 'rootfs.diff_ids'));

  c.object(doc, 'config', '', true);
  if (isObject(doc.config)) {
    const cc = doc.config;
    const p = 'config.';
    c.string(cc, 'User', p, false);
    c.stringArray(cc, 'Env', p, true);
    c.stringArray(cc, 'Entrypoint', p, true);
    c.stringArray(cc, 'Cmd', p, true);
    c.stringArray(cc, 'Shell', p, true);
    c.stringArray(cc, 'OnBuild', p, true);
    c.string(cc, 'WorkingDir', p, false);
    c.string(cc, 'StopSignal', p, false);
    c.stringMap(cc, 'Labels', p, true);
    c.object(cc, 'ExposedPorts', p, true);
    c.object(cc, 'Volumes', p, true);
  }

  const history = doc.history;
  if (history !== undefined && history !== null) {
    if (!Array.isArray(history)) c.fail('history', `must be an array (got ${show(history)})`);
    history.forEach((h, i) => {
      if (!isObject(h)) c.fail(`history[${i}]`, `must be an object (got ${show(h)})`);
      const p = `history[${i}].`;
      c.string(h, 'created', p, false);
      c.string(h, 'created_by', p, false);
      c.string(h, 'author', p, false);
      c.string(h, 'comment', p, false);
      if (h.empty_layer !== undefined && typeof h.empty_layer !== 'boolean') c.fail(`${p}empty_layer`, 'must be true or false');
    });
  }
  return doc as unknown as ImageConfig;
}
