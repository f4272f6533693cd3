// Registry access for seeding and checking, independent of our client: a bearer token asked directly of a harness
// token server, and Targets (images.ts) carrying it or Basic credentials.
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { inject } from 'vitest';
import type { UserCredentials } from '../harness/types.js';
import type { Target } from './images.js';

function harness() {
  const h = inject('harness');
  if (!h) throw new Error('harness not provided: is test/harness/global-setup.ts in vitest globalSetup?');
  return h;
}

const basic = (u: UserCredentials) => `Basic ${Buffer.from(`${u.username}:${u.password}`).toString('base64')}`;

/** A token for `scopes` from a token server (GET realm?service&scope…, Basic as `user`, default the full user). */
export async function fetchToken(ep: { realm: string; service: string }, scopes: string[], user: UserCredentials = harness().users.full): Promise<string> {
  const u = new URL(ep.realm);
  u.searchParams.set('service', ep.service);
  for (const s of scopes) u.searchParams.append('scope', s);
  const agent = new Agent({ connect: { ca: readFileSync(harness().caCert, 'utf8') } });
  try {
    const res = await request(u, { dispatcher: agent, headers: { authorization: basic(user) } });
    const body = (await res.body.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (res.statusCode !== 200 || !token) throw new Error(`token from ${ep.realm}: ${res.statusCode}`);
    return token;
  } finally {
    await agent.close();
  }
}

/** A Target on a token-auth registry (token, dhe) with a bearer token for `repo` (`actions`, e.g. "pull,push"). */
export async function bearerTarget(ep: { url: string; realm: string; service: string }, repo: string, actions = 'pull', user?: UserCredentials): Promise<Target> {
  const token = await fetchToken(ep, [`repository:${repo}:${actions}`], user);
  return { url: ep.url, ca: readFileSync(harness().caCert, 'utf8'), headers: { authorization: `Bearer ${token}` } };
}

/** A Target on a Basic-auth registry (basic), as `user` (default the full user). */
export function basicTarget(ep: { url: string }, user: UserCredentials = harness().users.full): Target {
  return { url: ep.url, ca: readFileSync(harness().caCert, 'utf8'), headers: { authorization: basic(user) } };
}
