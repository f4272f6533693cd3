// delete: the registry deletes manifests, not tags. Every other tag of the same digest goes with it, so when there
// are such tags the user must say --force (exit 2 otherwise); a CI job never wipes a shared digest's tags silently.

import { DheError } from '../../errors.js';
import { parseReference, type Reference } from '../../reference/index.js';
import type { RegistryClient } from '../../registry/index.js';
import { runPool } from '../../transfer/pool.js';
import { defineCommand } from '../define.js';
import { clientFor } from '../session.js';

/** Tags looked at for other names of the digest; past this the look-up says it could not tell. */
const MAX_TAGS_CHECKED = 1000;

type OtherTags = { tags: string[]; complete: true } | { tags: string[]; complete: false; why: string };

export default defineCommand({
  meta: {
    name: 'delete',
    description: 'delete a manifest from the registry (a tag is resolved to its digest)',
    examples: ['dhe-cli delete dhe.yourdomain.com/team/app:old', 'dhe-cli delete --force dhe.yourdomain.com/team/app@sha256:…'],
  },
  args: { ref: { required: true, description: 'REGISTRYHOST/NAME:TAG or @DIGEST' } },
  options: { force: { type: 'boolean', description: 'also when other tags point at the same manifest (they are deleted with it)' } },
  async run(ctx, { ref: refText, ...opts }) {
    const ref = parseReference(refText);
    const client = await clientFor(ctx, ref.registry);
    try {
      const digest = ref.digest ?? (await resolveTag(client, ref));
      const others = await otherTags(client, ref, digest, ctx.signal);
      if (others.tags.length > 0 && !opts.force) {
        throw new DheError(
          'USAGE',
          `${ref.name}@${digest} is also tagged ${others.tags.join(', ')}: the registry deletes manifests, not tags, so those tags would be deleted too`,
          { hint: `add --force to delete the manifest with all its tags; to move only ${ref.tag ? `the tag ${ref.tag}` : 'one tag'}, push another image to it` },
        );
      }
      if (!others.complete) ctx.out.warn(`could not check for other tags of ${digest} (${others.why}): any other tag of it is deleted too`);
      await client.deleteManifest(ref.repository, digest);
      for (const t of others.tags) ctx.out.result(`Untagged: ${ref.name}:${t}`);
      ctx.out.result(`Deleted: ${ref.name}@${digest}`);
      return 0;
    } finally {
      await client.close();
    }
  },
});

async function resolveTag(client: RegistryClient, ref: Reference): Promise<string> {
  const head = await client.headManifest(ref.repository, ref.identifier);
  if (!head) {
    throw new DheError('MANIFEST_UNKNOWN', `manifest unknown: ${ref.familiar} is not in the registry`, {
      hint: `list the tags with 'dhe-cli tags ${ref.name}'`,
    });
  }
  return head.digest;
}

/** The repository's tags other than the one given that point at `digest` (a few HEADs at a time). */
async function otherTags(client: RegistryClient, ref: Reference, digest: string, signal?: AbortSignal): Promise<OtherTags> {
  let tags: string[];
  try {
    tags = (await client.listTags(ref.repository)).filter((t) => t !== ref.tag);
  } catch (e) {
    if (e instanceof DheError && e.exitCode === 130) throw e;
    return { tags: [], complete: false, why: 'the registry did not list the tags' };
  }
  const checked = tags.slice(0, MAX_TAGS_CHECKED);
  const hits = new Set<string>();
  await runPool(
    checked,
    8,
    async (t) => {
      const h = await client.headManifest(ref.repository, t);
      if (h?.digest === digest) hits.add(t);
    },
    signal,
  );
  const found = checked.filter((t) => hits.has(t));
  if (tags.length > checked.length) return { tags: found, complete: false, why: `only the first ${MAX_TAGS_CHECKED} of ${tags.length} tags were checked` };
  return { tags: found, complete: true };
}
