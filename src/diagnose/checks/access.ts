// Repository access (--repo): pull (list the tags) and push (start an upload session and cancel it: nothing is
// written), with one token for both, as a push asks for it.

import { findChallenge, parseWwwAuthenticate } from '../../auth/challenge.js';
import { credentialProvider } from '../../auth/credentials/index.js';
import { isDheError } from '../../errors.js';
import { RegistryClient } from '../../registry/client.js';
import { ERROR_BODY_LIMIT, parseErrorBody, registryError } from '../../registry/errors.js';
import type { HttpResponse } from '../../transport/http.js';
import { resolveTarget } from '../../transport/origin-guard.js';
import { fromError, type DoctorRun } from '../run.js';

export async function accessChecks(run: DoctorRun, repo: string): Promise<void> {
  const { opts } = run;
  const client = new RegistryClient({
    registry: run.registry,
    tls: opts.tls,
    proxy: opts.proxy,
    credentials: credentialProvider(run.credOpts),
    trace: run.trace,
    userAgent: opts.userAgent ?? 'dhe-cli-doctor',
    retry: { attempts: 1 },
    timeouts: { connectMs: run.timeoutMs },
  });
  client.intendPush(repo); // one token for pull and push, as push asks for it
  try {
    await tagsCheck(run, client, repo);
    await pushCheck(run, client, repo);
  } finally {
    await client.close();
  }
}

async function tagsCheck(run: DoctorRun, client: RegistryClient, r: string): Promise<void> {
  const { hp } = run;
  try {
    const tags = await client.listTags(r);
    run.add({ id: 'access.tags', area: 'access', status: 'pass', title: 'Pull: list tags', finding: `${r}: ${tags.length} tag${tags.length === 1 ? '' : 's'}${tags.length ? ` (${tags.slice(0, 5).join(', ')}${tags.length > 5 ? ', …' : ''})` : ''}`, details: { count: tags.length } });
  } catch (e) {
    if (isDheError(e) && (e.code === 'NAME_UNKNOWN' || e.code === 'NOT_FOUND')) {
      run.add({ id: 'access.tags', area: 'access', status: 'warn', title: 'Pull: list tags', finding: `${r} does not exist on ${hp} yet (a push creates it)`, fix: `check the repository name if you expected it there: dhe-cli catalog ${hp}` });
    } else {
      run.add(fromError('access.tags', 'access', 'Pull: list tags', e));
    }
  }
}

/** A request with the client's credentials for `scopes`, once more with a fresh token after a 401 that asks for one. */
async function authorized(run: DoctorRun, client: RegistryClient, scopes: string[], url: URL, send: (authz: string | undefined) => Promise<HttpResponse>): Promise<{ res: HttpResponse; authz: string | undefined }> {
  let authz = await client.auth.header(scopes, url, run.opts.signal);
  let res = await send(authz);
  if (res.status === 401) {
    const d = await client.auth.onUnauthorized(parseWwwAuthenticate(res.headers['www-authenticate']), scopes, authz);
    if (d.retry) {
      await res.dump();
      authz = await client.auth.header(d.scopes, url, run.opts.signal);
      res = await send(authz);
    }
  }
  return { res, authz };
}

async function pushCheck(run: DoctorRun, client: RegistryClient, r: string): Promise<void> {
  const title = 'Push: start an upload';
  const scopes = [`repository:${r}:pull,push`];
  try {
    const url = new URL(`/v2/${r}/blobs/uploads/`, await client.baseUrl());
    const post = (authz: string | undefined) => client.transport.request({ method: 'POST', url, headers: { authorization: authz, 'content-length': '0' }, retry: false, followRedirects: false });
    const { res, authz } = await authorized(run, client, scopes, url, post);
    if (res.status !== 202) return await pushDenied(run, res, r, scopes, authz);
    await res.dump();
    const loc = res.header('location');
    const cancelled = loc ? await cancelUpload(run, client, scopes, loc, res.url, authz) : 'no Location to cancel';
    run.add({ id: 'access.push', area: 'access', status: 'pass', title, finding: `push allowed: POST /v2/${r}/blobs/uploads/ → 202, ${cancelled}; no content written` });
  } catch (e) {
    run.add(fromError('access.push', 'access', title, e));
  }
}

/**
 * Cancels the empty upload session. distribution wants the `delete` action to cancel an upload: it is asked for
 * when the 401 says so. The Location is guarded like every one the client follows; on another origin it gets no
 * credentials, and its challenge is not taken (credentials go only to the registry and its realm).
 */
async function cancelUpload(run: DoctorRun, client: RegistryClient, scopes: string[], loc: string, from: string, authz: string | undefined): Promise<string> {
  const delUrl = resolveTarget(loc, from, 'an upload Location');
  const home = delUrl.origin === new URL(from).origin;
  let del = await client.transport.request({ method: 'DELETE', url: delUrl, headers: home ? { authorization: authz } : {}, retry: false });
  if (del.status === 401 && home) {
    const d = await client.auth.onUnauthorized(parseWwwAuthenticate(del.headers['www-authenticate']), scopes, authz).catch(() => ({ retry: false, scopes }));
    if (d.retry) {
      await del.dump();
      const again = await client.auth.header(d.scopes, delUrl, run.opts.signal).catch(() => undefined);
      if (again) del = await client.transport.request({ method: 'DELETE', url: delUrl, headers: { authorization: again }, retry: false });
    }
  }
  await del.dump();
  return del.status < 300
    ? `cancelled with DELETE → ${del.status}`
    : `the empty session could not be cancelled (DELETE → ${del.status}; the registry purges stale uploads itself)`;
}

async function pushDenied(run: DoctorRun, res: HttpResponse, r: string, scopes: string[], authz: string | undefined): Promise<void> {
  const { hp } = run;
  const text = await res.text(ERROR_BODY_LIMIT).catch(() => '');
  const bearerErr = findChallenge(parseWwwAuthenticate(res.headers['www-authenticate']), 'bearer')?.params.error;
  const e = registryError(res.status, text, { registry: hp, what: `starting an upload to ${r}`, repo: r, sentAuth: !!authz, challengeError: bearerErr, scopes });
  const denied = res.status === 401 || res.status === 403;
  const said = parseErrorBody(text).map((x) => `${x.code}${x.message ? ` (${x.message})` : ''}`).join('; ');
  run.add({
    id: 'access.push', area: 'access', status: 'fail', title: 'Push: start an upload',
    finding: `push denied: POST /v2/${r}/blobs/uploads/ → ${res.status}${bearerErr ? ` (${bearerErr})` : ''}${said ? `: ${said}` : ''}`,
    fix: denied ? (authz ? `the account lacks push on ${r}: ask the registry's administrator, or log in as a user who has it: dhe-cli login ${hp}` : `log in first: dhe-cli login ${hp}`) : e.hint,
    code: denied ? (bearerErr === 'insufficient_scope' || res.status === 403 ? 'INSUFFICIENT_SCOPE' : 'UNAUTHORIZED') : e.code,
    details: { status: res.status },
  });
}
