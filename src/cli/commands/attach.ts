import { DheError } from '../../errors.js';
import { parseReference } from '../../reference/index.js';
import { defineCommand } from '../define.js';
import { clientFor } from '../session.js';

/** `K=V` options into annotations (a usage error otherwise). */
export function parseAnnotations(values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq <= 0) throw new DheError('USAGE', `--annotation ${JSON.stringify(v)} is not KEY=VALUE`, { hint: 'e.g. --annotation org.opencontainers.image.created=2026-01-01T00:00:00Z' });
    out[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return out;
}

export default defineCommand({
  meta: {
    name: 'attach',
    description: 'attach files to an image as an OCI 1.1 artifact (found again with referrers)',
    examples: ['dhe-cli attach dhe.yourdomain.com/team/app:1.0 --artifact-type application/spdx+json sbom.json:application/spdx+json'],
  },
  args: {
    ref: { required: true, description: 'the image the artifact refers to' },
    files: { required: true, variadic: true, description: 'FILE[:MEDIATYPE]' },
  },
  options: {
    artifactType: { type: 'string', required: true, value: 'type', description: 'the artifact type (a media type)' },
    annotation: { type: 'repeatable', value: 'k=v', description: "an annotation on the artifact's manifest, repeatable" },
  },
  async run(ctx, { ref: refText, files, ...opts }) {
    const { attach, parseFileArg } = await import('../../transfer/attach.js');
    const ref = parseReference(refText);
    const annotations = parseAnnotations(opts.annotation ?? []);
    const client = await clientFor(ctx, ref.registry);
    try {
      const r = await attach(ref, { client, artifactType: opts.artifactType, files: files.map(parseFileArg), annotations, signal: ctx.signal });
      ctx.out.result(r.digest);
      return 0;
    } finally {
      await client.close();
    }
  },
});
