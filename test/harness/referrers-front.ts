// A registry WITH the OCI 1.1 referrers API, made of a real one without it: an in-process HTTP front, started by a
// test, in front of a plain-HTTP distribution 2.8. Every request is passed through unchanged, except that
//   - a manifest PUT the registry accepts (201) whose body has a `subject` is recorded as a referrer of that subject,
//     and the answer gets `OCI-Subject: <subject digest>` (as OCI 1.1 says a registry with the API answers);
//   - `GET /v2/NAME/referrers/DIGEST[?artifactType=T]` is answered by the front: an OCI image index of what was
//     recorded for DIGEST in NAME (with `OCI-Filters-Applied: artifactType` when filtered), an empty one if nothing;
//   - a manifest DELETE by digest forgets the referrer it was.
// What it serves comes only from what went through it; `requests` records method and path of every request, so a
// test can tell whether a client used the API or the referrers tag schema.
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenLocal } from './listen.js';

interface ReferrerEntry {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface ReferrersFront {
  /** "127.0.0.1:PORT": what a client uses as the registry. */
  host: string;
  requests: { method: string; path: string; status?: number }[];
  /** What the front serves as the referrers of `digest` in `repo`. */
  referrers(repo: string, digest: string): ReferrerEntry[];
  close(): Promise<void>;
}

const MANIFEST_PATH = /^\/v2\/(.+)\/manifests\/([^/?]+)$/;
const REFERRERS_PATH = /^\/v2\/(.+)\/referrers\/(sha256:[0-9a-f]{64})$/;

export async function startReferrersFront(upstreamUrl: string): Promise<ReferrersFront> {
  const upstream = new URL(upstreamUrl);
  const records = new Map<string, Map<string, ReferrerEntry>>(); // "repo@subject" → digest → entry
  const requests: ReferrersFront['requests'] = [];

  const serveReferrers = (res: ServerResponse, repo: string, digest: string, artifactType: string | null) => {
    const all = [...(records.get(`${repo}@${digest}`)?.values() ?? [])];
    const manifests = artifactType ? all.filter((e) => e.artifactType === artifactType) : all;
    const body = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests });
    res.writeHead(200, {
      'content-type': 'application/vnd.oci.image.index.v1+json',
      'content-length': Buffer.byteLength(body),
      'docker-distribution-api-version': 'registry/2.0',
      ...(artifactType ? { 'oci-filters-applied': 'artifactType' } : {}),
    });
    res.end(body);
  };

  const record = (repo: string, body: Buffer, contentType: string | undefined, digest: string): string | undefined => {
    let doc: { mediaType?: string; artifactType?: string; config?: { mediaType?: string }; subject?: { digest?: string }; annotations?: Record<string, string> };
    try {
      doc = JSON.parse(body.toString('utf8'));
    } catch {
      return undefined;
    }
    const subject = doc.subject?.digest;
    if (typeof subject !== 'string') return undefined;
    const artifactType = doc.artifactType ?? doc.config?.mediaType;
    const entry: ReferrerEntry = {
      mediaType: doc.mediaType ?? contentType ?? 'application/vnd.oci.image.manifest.v1+json',
      digest,
      size: body.length,
      ...(artifactType ? { artifactType } : {}),
      ...(doc.annotations ? { annotations: doc.annotations } : {}),
    };
    const key = `${repo}@${subject}`;
    if (!records.has(key)) records.set(key, new Map());
    records.get(key)!.set(digest, entry);
    return subject;
  };

  const forget = (repo: string, digest: string) => {
    for (const [key, entries] of records) if (key.startsWith(`${repo}@`)) entries.delete(digest);
  };

  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer, onAnswer?: (status: number, headers: IncomingMessage['headers']) => Record<string, string>) => {
    const headers = { ...req.headers, host: upstream.host };
    const up = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers }, (ures) => {
      const extra = onAnswer?.(ures.statusCode ?? 502, ures.headers) ?? {};
      res.writeHead(ures.statusCode ?? 502, { ...ures.headers, ...extra });
      ures.pipe(res);
      requests[requests.length - 1]!.status = ures.statusCode;
    });
    up.on('error', () => res.destroy());
    up.end(body);
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://front');
    requests.push({ method: req.method ?? '', path: `${url.pathname}${url.search}` });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const referrers = REFERRERS_PATH.exec(url.pathname);
      if (referrers && req.method === 'GET') {
        requests[requests.length - 1]!.status = 200;
        return serveReferrers(res, referrers[1]!, referrers[2]!, url.searchParams.get('artifactType'));
      }
      const manifest = MANIFEST_PATH.exec(url.pathname);
      if (manifest && req.method === 'PUT') {
        return forward(req, res, body, (status, headers) => {
          const digest = headers['docker-content-digest'];
          if (status !== 201 || typeof digest !== 'string') return {};
          const subject = record(manifest[1]!, body, req.headers['content-type'], digest);
          return subject ? { 'oci-subject': subject } : ({} as Record<string, string>);
        });
      }
      if (manifest && req.method === 'DELETE') {
        return forward(req, res, body, (status) => {
          if (status === 202) forget(manifest[1]!, decodeURIComponent(manifest[2]!));
          return {};
        });
      }
      forward(req, res, body);
    });
  });
  const listening = await listenLocal(server);
  return {
    host: listening.host,
    requests,
    referrers: (repo, digest) => [...(records.get(`${repo}@${digest}`)?.values() ?? [])],
    close: () => listening.close(),
  };
}
