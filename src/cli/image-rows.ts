// What `images --format '{{…}}'` sees: one row per image with docker's field names and docker's renderings
// (docker/cli formatter/image.go): .Repository .Tag .ID .Digest .CreatedSince .CreatedAt .Size.

import type { ImageSummary } from '../transfer/images.js';

export interface ImageRow {
  Repository: string;
  Tag: string;
  ID: string;
  Digest: string;
  CreatedSince: string;
  CreatedAt: string;
  Size: string;
}

/** The header `table {{…}}` prints for each field, as docker's. */
export const IMAGE_HEADERS: Record<keyof ImageRow, string> = {
  Repository: 'REPOSITORY',
  Tag: 'TAG',
  ID: 'IMAGE ID',
  Digest: 'DIGEST',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  Size: 'SIZE',
};

/** go-units HumanSizeWithPrecision(size, 3): decimal units, three significant digits (`%.3g`), e.g. 7.8MB, 1.02kB. */
export function dockerSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toPrecision(3))}${units[i]}`;
}

/** Go's time.Time.String() of the creation second in the local zone: `2024-01-02 15:04:05 +0000 UTC`. */
export function goTime(ms: number): string {
  const d = new Date(Math.floor(ms / 1000) * 1000);
  const p = (n: number, w = 2) => String(Math.abs(n)).padStart(w, '0');
  const off = -d.getTimezoneOffset();
  const zone = off === 0 ? 'UTC' : (new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(d).find((x) => x.type === 'timeZoneName')?.value ?? '');
  const offset = `${off < 0 ? '-' : '+'}${p(Math.trunc(off / 60))}${p(off % 60)}`;
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${offset} ${zone}`;
}

export function imageRow(i: ImageSummary, opts: { noTrunc: boolean; createdSince: string }): ImageRow {
  const t = i.created ? Date.parse(i.created) : NaN;
  return {
    Repository: i.repository,
    Tag: i.tag ?? '<none>',
    ID: opts.noTrunc ? i.configDigest : i.id,
    Digest: i.digest,
    CreatedSince: opts.createdSince,
    CreatedAt: Number.isFinite(t) ? goTime(t) : 'N/A',
    Size: dockerSize(i.size),
  };
}
