import type { ImageSummary } from '../../transfer/images.js';
import { parseReference } from '../../reference/index.js';
import { defineCommand } from '../define.js';
import { humanBytes } from '../progress.js';
import { openStore } from '../session.js';
import { checkTemplate, formatRows, isTemplate } from '../format.js';
import { findLocalImage } from '../local-image.js';

/** The creation time (ms) of the listed image whose digest is `digest` (a before=/since= filter's image). */
function createdOf(images: ImageSummary[], digest: string): number {
  const hit = images.find((i) => i.digest === digest);
  return hit?.created ? Date.parse(hit.created) : 0;
}

function humanDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 1) return 'Less than a second';
  if (s === 1) return '1 second';
  if (s < 60) return `${s} seconds`;
  const m = Math.round(s / 60);
  if (m === 1) return 'About a minute';
  if (m < 60) return `${m} minutes`;
  const h = Math.round(s / 3600);
  if (h === 1) return 'About an hour';
  if (h < 48) return `${h} hours`;
  if (h < 24 * 7 * 2) return `${Math.floor(h / 24)} days`;
  if (h < 24 * 30 * 2) return `${Math.floor(h / 24 / 7)} weeks`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24 / 30)} months`;
  return `${Math.floor(h / 24 / 365)} years`;
}

function created(iso: string | undefined, now: number): string {
  if (!iso) return 'N/A';
  const t = Date.parse(iso);
  if (!Number.isFinite(t) || t <= 0) return 'N/A';
  return `${humanDuration(Math.max(0, now - t))} ago`;
}

function formatTable(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd((widths[i] ?? 0) + 3))).join('').trimEnd())
    .join('\n');
}

function matches(img: ImageSummary, filter: string | undefined): boolean {
  if (!filter) return true;
  const f = parseReference(filter, { defaultTag: false });
  if (f.name !== img.name) return false;
  if (f.tag && f.tag !== img.tag) return false;
  if (f.digest && f.digest !== img.digest) return false;
  return true;
}

export default defineCommand({
  meta: {
    name: 'images',
    description: 'list the images in the local store',
    examples: ['dhe-cli images', 'dhe-cli images -q dhe.yourdomain.com/yourusername/hello-mine', 'dhe-cli images --format json'],
  },
  args: { repo: { description: 'REPO[:TAG] to list only matching images' } },
  options: {
    digests: { type: 'boolean', description: 'show digests' },
    trunc: { type: 'boolean', negated: true, description: "don't truncate output" },
    format: { type: 'string', default: 'table', description: "table, json, or a Go template as docker's ('{{.Repository}}:{{.Tag}}', 'table {{.ID}}\\t{{.Size}}')" },
    filter: { type: 'repeatable', value: 'KEY=VALUE', description: 'reference=PATTERN, before=REF, since=REF, label=KEY[=VALUE], dangling=true|false (repeatable)' },
  },
  async run(ctx, { repo, ...opts }) {
    const { listImageSummaries } = await import('../../transfer/images.js');
    const { applyImageFilters, parseImageFilters } = await import('../image-filter.js');
    const filters = parseImageFilters(opts.filter ?? []);
    const template = isTemplate(opts.format) ? checkTemplate(opts.format) : undefined;
    const store = await openStore(ctx);
    const listed = (await listImageSummaries(store)).filter((i) => matches(i, repo));
    const all = await applyImageFilters(listed, filters, async (ref) => createdOf(listed, (await findLocalImage(store, ref)).descriptor.digest));
    const noTrunc = opts.trunc === false;
    const id = (i: ImageSummary) => (noTrunc ? i.configDigest : i.id);
    const now = Date.now();
    if (template) {
      const { imageRow, IMAGE_HEADERS } = await import('../image-rows.js');
      const rows = all.map((i) => imageRow(i, { noTrunc, createdSince: created(i.created, now) }));
      const text = formatRows(template, rows, IMAGE_HEADERS);
      if (text) ctx.out.result(text.replace(/\n$/, ''));
      return 0;
    }
    if (opts.format === 'json') {
      ctx.out.json(all);
      return 0;
    }
    if (ctx.out.quiet) {
      for (const i of all) ctx.out.result(id(i));
      return 0;
    }
    const header = ['REPOSITORY', 'TAG', ...(opts.digests ? ['DIGEST'] : []), 'IMAGE ID', 'CREATED', 'SIZE'];
    const rows = all.map((i) => [
      i.repository,
      i.tag ?? '<none>',
      ...(opts.digests ? [i.digest] : []),
      id(i),
      created(i.created, now),
      humanBytes(i.size),
    ]);
    ctx.out.result(formatTable([header, ...rows]));
    return 0;
  },
});
