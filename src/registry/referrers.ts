// The OCI 1.1 referrers API: GET /v2/NAME/referrers/DIGEST[?artifactType=] → an OCI image index of the manifests
// whose subject is DIGEST. A registry without the API answers 404 (distribution 2.8): null, the caller falls back to
// the referrers tag schema. The answer is size-capped and validated as an index before anything reads it.

import { DheError, isDheError } from '../errors.js';
import { MANIFEST_MAX_BYTES } from '../oci/limits.js';
import { parseManifest } from '../oci/manifest.js';
import type { Index } from '../oci/types.js';
import { readLimited } from '../transport/limited.js';
import { checkBlobDigest } from './checks.js';
import type { Exchange } from './exchange.js';

export interface ReferrersAnswer {
  index: Index;
  /** The registry applied the artifactType filter (OCI-Filters-Applied); otherwise the caller filters. */
  filtered: boolean;
}

export async function getReferrers(x: Exchange, repo: string, digest: string, opts: { artifactType?: string; signal?: AbortSignal } = {}): Promise<ReferrersAnswer | null> {
  const query = opts.artifactType ? `?artifactType=${encodeURIComponent(opts.artifactType)}` : '';
  const what = `referrers of ${repo}@${digest}`;
  const res = await x.send({
    method: 'GET',
    url: `/v2/${repo}/referrers/${checkBlobDigest(digest)}${query}`,
    headers: { accept: 'application/vnd.oci.image.index.v1+json' },
    scopes: x.scopes(repo, ['pull']),
    what,
    repo,
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  if (res.status === 404) {
    await res.dump();
    return null;
  }
  await x.checkStatus(res, 200);
  let bytes: Buffer;
  try {
    bytes = await readLimited(res.body, MANIFEST_MAX_BYTES, what);
  } catch (e) {
    if (isDheError(e) && e.code === 'PROTOCOL') throw new DheError('MALFORMED_MANIFEST', `${x.registry} sent a referrers listing larger than ${MANIFEST_MAX_BYTES} bytes`, { hint: 'the registry is broken or hostile; the listing was not used' });
    throw e;
  }
  // parsed as what the registry says it sent, so that an image manifest is named as such below
  const sent = (res.header('content-type') ?? '').split(';')[0]!.trim();
  const parsed = parseManifest(bytes, sent === 'application/vnd.oci.image.manifest.v1+json' ? sent : 'application/vnd.oci.image.index.v1+json');
  if (parsed.kind !== 'index') throw new DheError('MALFORMED_MANIFEST', `${x.registry} answered the referrers API with an image manifest, not an index`, { hint: 'the registry is broken or hostile; the listing was not used' });
  const applied = (res.header('oci-filters-applied') ?? '').split(',').map((s) => s.trim());
  return { index: parsed.index, filtered: applied.includes('artifactType') };
}
