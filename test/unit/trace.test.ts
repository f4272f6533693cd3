// The --debug trace's redaction rules, by structure: the origin decides whether a query is shown at all, names
// decide which values are hidden on every origin, and every line is terminal-safe.

import { describe, expect, it } from 'vitest';
import { redactHeader, redactText, redactUrl, streamTrace } from '../../src/trace.js';

const SIGNED =
  'verify=1700000000-abcdef0123456789&X-Amz-Signature=a1b2c3d4e5f6&X-Amz-Credential=AKIAEXAMPLE%2F20240101&x-goog-signature=goog0123&sig=azure0123&Expires=1700009999&Key-Pair-Id=APKAEXAMPLE&Policy=eyJwb2xpY3kiOjF9';
const SECRETS = ['1700000000-abcdef0123456789', 'a1b2c3d4e5f6', 'AKIAEXAMPLE', 'goog0123', 'azure0123', '1700009999', 'APKAEXAMPLE', 'eyJwb2xpY3kiOjF9'];

function traced(lines: string[], opts?: { registryOrigins?: string[] }): string {
  const out: string[] = [];
  const t = streamTrace((s) => out.push(s), opts);
  for (const l of lines) t.log(l);
  return out.join('');
}

describe('redactUrl', () => {
  it('a URL on another origin than the registry shows scheme, host and path only', () => {
    const cdn = `https://production.cloudflare.docker.com/registry-v2/docker/registry/v2/blobs/sha256/ab/abc/data?${SIGNED}#frag`;
    expect(redactUrl(cdn, 'https://registry-1.docker.io')).toBe('https://production.cloudflare.docker.com/registry-v2/docker/registry/v2/blobs/sha256/ab/abc/data');
    // another port is another origin
    expect(redactUrl(`http://127.0.0.1:5001/x?a=1&b=2`, 'http://127.0.0.1:5000')).toBe('http://127.0.0.1:5001/x');
    // the registry given as host[:port]
    expect(redactUrl(`https://s3.amazonaws.com/bucket/blob?${SIGNED}`, 'registry.example:443')).toBe('https://s3.amazonaws.com/bucket/blob');
    // a set of registry origins, or a decision per URL
    expect(redactUrl('https://a.example/v2/?n=1', new Set(['https://b.example']))).toBe('https://a.example/v2/');
    expect(redactUrl('https://a.example/x?n=1', () => true)).toBe('https://a.example/x?n=1');
  });

  it('without a registry origin, the registry API path (/v2/…) is the registry, anything else another origin', () => {
    expect(redactUrl('https://reg.example/v2/team/app/tags/list?n=100&last=v1')).toBe('https://reg.example/v2/team/app/tags/list?n=100&last=v1');
    expect(redactUrl(`https://cdn.example/registry-v2/docker/registry/v2/blobs/x?${SIGNED}`)).toBe('https://cdn.example/registry-v2/docker/registry/v2/blobs/x');
    expect(redactUrl('https://auth.example/token?scope=repository:a:pull&service=reg')).toBe('https://auth.example/token');
  });

  it('on the registry origin, query values named like secrets are redacted, case-insensitively; the others stay', () => {
    const u = redactUrl(`https://reg.example/v2/a/blobs/uploads/1?_state=abc&digest=sha256:1&${SIGNED}&access_token=t0k&MyToken=x&apikey=k&client_credential=c&refresh_TOKEN=r&password=p`, 'https://reg.example');
    for (const s of [...SECRETS, 't0k', 'apikey=k', 'client_credential=c', 'MyToken=x', 'refresh_TOKEN=r', 'password=p']) expect(u).not.toContain(s);
    expect(u).toContain('_state=abc');
    expect(u).toContain('digest=sha256%3A1');
    expect(u).toContain('verify=REDACTED');
    expect(u).toContain('Expires=REDACTED');
    expect(u).toContain('X-Amz-Signature=REDACTED');
    expect(u).toContain('x-goog-signature=REDACTED');
    expect(u).toContain('sig=REDACTED');
  });

  it('userinfo is redacted on every origin; a URL with nothing to hide is returned as given', () => {
    expect(redactUrl('http://alice:s3cret@proxy.example:3128')).toBe('http://REDACTED@proxy.example:3128/');
    expect(redactUrl('https://alice:s3cret@reg.example/v2/', 'https://reg.example')).toBe('https://REDACTED@reg.example/v2/');
    expect(redactUrl('http://proxy.example:3128')).toBe('http://proxy.example:3128');
    expect(redactUrl('not a url ?token=abc')).toBe('not a url ');
  });
});

describe('redactText', () => {
  it('Bearer and Basic credentials in any case; prose and challenges stay readable', () => {
    expect(redactText('Authorization: Bearer abc.def')).toBe('Authorization: Bearer [REDACTED]');
    expect(redactText('authorization: bearer abc')).toBe('authorization: bearer [REDACTED]');
    expect(redactText('BASIC abc=')).toBe('BASIC [REDACTED]');
    expect(redactText('Basic YWxpY2U6czNjcmV0')).toBe('Basic [REDACTED]');
    expect(redactText('www-authenticate: Basic realm="reg"')).toBe('www-authenticate: Basic realm="reg"');
    expect(redactText('the registry wants basic auth')).toBe('the registry wants basic auth');
  });

  it('refresh tokens, identitytoken, registrytoken and other token/secret fields in JSON bodies', () => {
    const body = JSON.stringify({
      token: 'tok1',
      access_token: 'tok2',
      refresh_token: 'ref3',
      identitytoken: 'id4',
      IdentityToken: 'id5',
      registrytoken: 'reg6',
      RegistryToken: 'reg7',
      password: 'pw8',
      client_secret: 'cs9',
      expires_in: 300,
      errors: [{ code: 'DENIED', message: 'no "token" here' }],
    });
    const r = redactText(`body ${body}`);
    for (const s of ['tok1', 'tok2', 'ref3', 'id4', 'id5', 'reg6', 'reg7', 'pw8', 'cs9']) expect(r).not.toContain(s);
    expect(r).toContain('"refresh_token":"[REDACTED]"');
    expect(r).toContain('"code":"DENIED"');
    expect(r).toContain('"expires_in":300');
    expect(redactText('{"refresh_token": "a\\"b\\"c"}')).toBe('{"refresh_token": "[REDACTED]"}');
  });

  it('form bodies and name=value pairs with secret names; JWT-shaped strings', () => {
    const r = redactText('POST grant_type=refresh_token&refresh_token=r3fr3sh&password=pw&client_id=dhe-cli&scope=repository:a:pull');
    expect(r).not.toContain('r3fr3sh');
    expect(r).not.toContain('=pw');
    expect(r).toContain('grant_type=refresh_token');
    expect(r).toContain('client_id=dhe-cli');
    expect(redactText('got eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl')).toBe('got [REDACTED-JWT]');
  });

  it('URLs inside text follow the URL rules, trailing punctuation kept', () => {
    const r = redactText(`HTTP GET https://cdn.example/blobs/x?${SIGNED}: failed (https://reg.example/v2/?n=1).`);
    for (const s of SECRETS) expect(r).not.toContain(s);
    expect(r).toBe('HTTP GET https://cdn.example/blobs/x: failed (https://reg.example/v2/?n=1).');
  });
});

describe('streamTrace', () => {
  it('learns the registry origin from its /v2/ URLs: its queries are kept (names redacted), another origin loses its query', () => {
    const t = traced([
      'HTTP GET https://reg.example/v2/ → 401 (3 ms)',
      'HTTP GET https://reg.example/v2/a/blobs/sha256:1 → 307 (3 ms)',
      `redirect to https://cdn.example/registry-v2/docker/registry/v2/blobs/sha256/1/data?${SIGNED} (another origin: Authorization not sent)`,
      `HTTP GET https://cdn.example/registry-v2/docker/registry/v2/blobs/sha256/1/data?${SIGNED} → 200 (5 ms)`,
      'HTTP GET https://reg.example/auth/token?scope=repository:a:pull&service=reg&token=x → 200',
      'HTTP GET https://reg.example/v2/a/tags/list?n=50&sig=abc → 200',
    ]);
    for (const s of SECRETS) expect(t).not.toContain(s);
    expect(t).toContain('DEBUG redirect to https://cdn.example/registry-v2/docker/registry/v2/blobs/sha256/1/data (another origin: Authorization not sent)');
    expect(t).toContain('DEBUG HTTP GET https://cdn.example/registry-v2/docker/registry/v2/blobs/sha256/1/data → 200');
    expect(t).toContain('https://reg.example/auth/token?scope=repository%3Aa%3Apull&service=reg&token=REDACTED');
    expect(t).toContain('https://reg.example/v2/a/tags/list?n=50&sig=REDACTED');
  });

  it('a line may name its registry origin; registry origins may be given up front', () => {
    const out: string[] = [];
    const t = streamTrace((s) => out.push(s), { registryOrigins: ['reg.example:5000'] });
    t.log('GET https://reg.example:5000/x?n=1');
    t.log('GET https://other.example/v2/x?n=1', { registryOrigin: 'https://reg.example:5000' });
    expect(out).toEqual(['DEBUG GET https://reg.example:5000/x?n=1\n', 'DEBUG GET https://other.example/v2/x\n']);
  });

  it('every line is one terminal-safe line: no ESC, CR, C1, DEL, bidi control or forged newline', () => {
    const t = traced(['mount refused (401): \x1b]0;pwned\x07\x1b[2J\r\nDEBUG Login Succeeded\u009b\u007f\u202e']);
    expect(t).toBe('DEBUG mount refused (401): \\x1b]0;pwned\\x07\\x1b[2J\\r\\nDEBUG Login Succeeded\\x9b\\x7f\\u202e\n');
  });

  it('redactHeader: structural names, the scheme kept', () => {
    expect(redactHeader('Authorization', 'Bearer abc')).toBe('Bearer [REDACTED]');
    expect(redactHeader('X-Registry-Auth', 'abc')).toBe('[REDACTED]');
    expect(redactHeader('X-Amz-Security-Token', 'abc')).toBe('[REDACTED]');
    expect(redactHeader('Cookie', 'a=b; c=d')).toBe('[REDACTED]');
    expect(redactHeader('X-Api-Key', 'k')).toBe('[REDACTED]');
    expect(redactHeader('Content-Type', 'application/json')).toBe('application/json');
  });
});
