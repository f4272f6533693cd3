// The credential check of `login`: Basic → an authenticated GET /v2/; Bearer → a token request with the
// credentials (offlineToken: ask for a refresh token, returned as identityToken). Wrong credentials → BAD_CREDENTIALS.

import { DheError, isDheError } from '../errors.js';
import type { Credential } from '../auth/types.js';
import { registryError } from './errors.js';
import { recoded, registryWords, type Exchange } from './exchange.js';

export async function checkLogin(x: Exchange, cred: Credential, opts: { offlineToken?: boolean } = {}): Promise<{ identityToken?: string }> {
  await x.endpoint.ensureRegistry();
  const { ping } = await x.endpoint.discover();
  x.auth.useCredential(cred);
  if (ping.status === 200) {
    x.trace.log(`${x.registry} needs no authentication (GET /v2/ answered 200)`);
    return {};
  }
  if (x.auth.scheme === 'bearer' && !cred.registryToken) return tokenLogin(x, cred, opts.offlineToken);
  const res = await x.send({ method: 'GET', url: '/v2/', scopes: [], what: 'login' });
  if (res.status === 200) {
    await res.dump();
    return {};
  }
  const text = await x.errorText(res);
  const ctx = { registry: x.registry, what: 'login', sentAuth: res.sentAuth, sentCredentials: res.sentCredentials };
  if (res.status === 401) {
    const err = registryError(401, text, ctx);
    throw recoded(err, 'BAD_CREDENTIALS', res.sentAuth ? `${x.registry} rejected the credentials${registryWords(err)}` : err.message, `check the user name and password`);
  }
  throw registryError(res.status, text, { ...ctx, certsDirs: x.certsDirs });
}

async function tokenLogin(x: Exchange, cred: Credential, offlineToken: boolean | undefined): Promise<{ identityToken?: string }> {
  try {
    const t = await x.auth.token([], undefined, { offlineToken });
    return t.refreshToken ? { identityToken: t.refreshToken } : {};
  } catch (e) {
    if (isDheError(e) && e.code === 'UNAUTHORIZED' && cred.username) {
      throw new DheError('BAD_CREDENTIALS', e.message, { hint: e.hint, cause: e, details: e.details });
    }
    throw e;
  }
}
