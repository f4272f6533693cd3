// Attacks on the terminal of whoever runs dhe-cli, from a hostile registry (test/harness/terminal-hostile.ts):
// tags, error messages, annotations and labels with ESC sequences, carriage returns forging "Login Succeeded",
// C1 controls, DEL and bidi overrides. The real CLI runs against it; nothing of that may reach stdout or stderr,
// while the user still sees what the registry said, escaped. And under --debug, a redirect to another origin
// with a signed query (Docker Hub's verify=, S3, GCS, Azure) shows host and path, never the signature.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshHome, runCli, type CliResult } from '../helpers/cli.js';
import { ATTACK, HOSTILE_TAGS, SIGNED_SECRETS, startHostileRegistry, type HostileRegistry } from '../harness/terminal-hostile.js';

/** What a terminal would act on: C0 except \n and \t, ESC, DEL, C1, bidi controls. */
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

function expectTerminalSafe(r: CliResult): void {
  for (const [name, text] of Object.entries({ stdout: r.stdout, stderr: r.stderr })) {
    const at = text.search(UNSAFE);
    expect(at, `${name} has an unsafe character at ${at}: ${JSON.stringify(text.slice(Math.max(0, at - 40), at + 10))}`).toBe(-1);
    expect(text, name).not.toMatch(/^Login Succeeded/m);
  }
}

/** The words of HOSTILE_MESSAGE, as the user must still see them: escaped, in order. */
const SEEN_MESSAGE = /\\x1b\]0;pwned\\x07denied\\x1b\[2J.*Login Succeeded\\rc1\\x9b31mred\\x85next \\x7f|denied\\x1b\[2J/;

let reg: HostileRegistry;
let basic: HostileRegistry;
let bearer: HostileRegistry;
beforeAll(async () => {
  [reg, basic, bearer] = await Promise.all([startHostileRegistry(), startHostileRegistry({ auth: 'basic' }), startHostileRegistry({ auth: 'bearer' })]);
});
afterAll(async () => {
  await Promise.all([reg?.close(), basic?.close(), bearer?.close()]);
});

describe('a hostile registry cannot write to the terminal', () => {
  it('tags: a listing with a hostile tag is refused, and the tag is shown escaped in the error (JSON.stringify leaves C1, DEL and bidi raw: the sink escapes them)', async () => {
    const home = freshHome();
    // what the user sees of each tag: the registry client quotes it as a JSON string, the output escapes the rest
    const seen: Record<keyof typeof ATTACK, string> = {
      title: '"\\u001b]0;pwned\\u0007"',
      clear: '"\\u001b[2J"',
      forgedLine: '"v1\\rLogin Succeeded"',
      c1: '"c1\\x9b31mred\\x85next"',
      del: '"del\\x7fx"',
      bidi: '"bidi\\u202eevil\\u2066x\\u2069"',
      sgr: '"\\u001b[31mred\\u001b[0m"',
    };
    const runs = await Promise.all(
      (Object.keys(seen) as (keyof typeof ATTACK)[]).map(async (kind) => ({ kind, r: await runCli(['tags', `${reg.host}/kind/${kind.toLowerCase()}`], { env: home.env }) })),
    );
    for (const { kind, r } of runs) {
      expect(r.code, `${kind}: ${r.stderr}`).toBe(1);
      expectTerminalSafe(r);
      expect(r.stdout, kind).toBe('');
      expect(r.stderr, kind).toContain(`Error: ${reg.host} listed ${seen[kind]} among the tags of kind/${kind.toLowerCase()}, which is not a valid tag`);
    }
    const all = await runCli(['tags', `${reg.host}/team/app`, '--format', 'json'], { env: home.env });
    expect(all.code, all.stderr).toBe(1);
    expectTerminalSafe(all);
    expect(HOSTILE_TAGS.length).toBe(Object.keys(seen).length);
  });

  it('pull of a missing tag: the registry error message is shown escaped on the Error: line', async () => {
    const home = freshHome();
    const r = await runCli(['pull', `${reg.host}/missing/app:v1`], { env: home.env });
    expect(r.code, r.stderr).toBe(5);
    expectTerminalSafe(r);
    expect(r.stderr).toMatch(/^Error: .*MANIFEST_UNKNOWN/m);
    expect(r.stderr).toMatch(SEEN_MESSAGE);
    expect(r.stdout).not.toContain('Login Succeeded');
  });

  it('login refused by Basic auth: no forged "Login Succeeded", the refusal shown escaped (exit 3)', async () => {
    const home = freshHome();
    const password = 'hostile-pass-5150';
    const r = await runCli(['login', basic.host, '-u', 'alice', '--password-stdin'], {
      env: home.env,
      input: `${password}\n`,
      secrets: [password, Buffer.from(`alice:${password}`).toString('base64')],
    });
    expect(r.code, r.stderr).toBe(3);
    expectTerminalSafe(r);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^Error: login to 127\.0\.0\.1:\d+ as alice failed: /m);
    // --debug: the registry's own words, escaped, in the cause; its newline does not start a line of its own
    const dbg = await runCli(['--debug', 'login', basic.host, '-u', 'alice', '--password-stdin'], {
      env: home.env,
      input: `${password}\n`,
      secrets: [password, Buffer.from(`alice:${password}`).toString('base64')],
    });
    expect(dbg.code, dbg.stderr).toBe(3);
    expectTerminalSafe(dbg);
    expect(dbg.stdout).toBe('');
    expect(dbg.stderr).toMatch(SEEN_MESSAGE);
    expect(dbg.stderr).toMatch(/^Caused by: .*rejected the credentials.*\\x1b\]0;pwned\\x07denied\\x1b\[2J\\r\\nLogin Succeeded\\r/m);
  });

  it('login refused by a token server: its words shown escaped (exit 3)', async () => {
    const home = freshHome();
    const password = 'hostile-pass-6160';
    const r = await runCli(['--debug', 'login', bearer.host, '-u', 'alice', '--password-stdin'], {
      env: home.env,
      input: `${password}\n`,
      secrets: [password, Buffer.from(`alice:${password}`).toString('base64')],
    });
    expect(r.code, r.stderr).toBe(3);
    expectTerminalSafe(r);
    expect(r.stdout).toBe('');
    expect(bearer.requests.some((q) => q.url.startsWith('/token') && q.authorization)).toBe(true);
    expect(r.stderr).toMatch(/^Error: login to 127\.0\.0\.1:\d+ as alice failed: /m);
    expect(r.stderr).toMatch(/^Caused by: .*token server.*\\x1b\]0;pwned\\x07denied\\x1b\[2J\\r\\nLogin Succeeded/m);
    expect(r.stderr).toMatch(/^DEBUG HTTP GET http:\/\/127\.0\.0\.1:\d+\/token/m);
  });

  it('inspect --remote: hostile annotations, labels, author and history come out as terminal-safe JSON that parses to what the registry sent', async () => {
    const home = freshHome();
    const r = await runCli(['inspect', '--remote', `${reg.host}/team/app:latest`], { env: home.env });
    expect(r.code, r.stderr).toBe(0);
    expectTerminalSafe(r);
    const doc = JSON.parse(r.stdout) as { digest: string; manifest: { annotations: Record<string, string> }; config: { author?: string; config: { Labels: Record<string, string> } } };
    const sent = JSON.parse(reg.image.manifest.bytes.toString('utf8')) as { annotations: Record<string, string> };
    const sentConfig = JSON.parse(reg.image.config.bytes.toString('utf8')) as { author: string; config: { Labels: Record<string, string> } };
    expect(doc.digest).toBe(reg.image.manifest.digest);
    expect(doc.manifest.annotations).toEqual(sent.annotations);
    expect(doc.config.config.Labels).toEqual(sentConfig.config.Labels);
    expect(r.stdout).toContain('\\u001b]0;pwned\\u0007'); // JSON's escapes, not ours: valid JSON
    expect(r.stdout).toContain('\\u009b');
    expect(r.stdout).toContain('\\u202e');
  });

  it('--debug runs (tags, a failing pull): every DEBUG line is one terminal-safe line', async () => {
    const home = freshHome();
    const tags = await runCli(['--debug', 'tags', `${reg.host}/team/app`], { env: home.env });
    expect(tags.code, tags.stderr).toBe(1);
    expectTerminalSafe(tags);
    expect(tags.stderr).toMatch(/^DEBUG HTTP GET http:\/\/127\.0\.0\.1:\d+\/v2\/team\/app\/tags\/list/m);
    const pull = await runCli(['--debug', 'pull', `${reg.host}/missing/app:v1`], { env: home.env });
    expect(pull.code, pull.stderr).toBe(5);
    expectTerminalSafe(pull);
    // the stack trace (--debug) repeats the message: escaped there too
    expect(pull.stderr).toMatch(/\n\s+at /);
    expect(pull.stderr).toMatch(SEEN_MESSAGE);
  });
});

describe('--debug never shows a signed URL of another origin', () => {
  const secrets = Object.values(SIGNED_SECRETS);

  function expectNoSignature(text: string): void {
    for (const s of [...secrets, encodeURIComponent(SIGNED_SECRETS.amzCredential)]) expect(text, `shows ${s}`).not.toContain(s);
    expect(text).not.toMatch(/verify=\d/);
  }

  it('pull with manifest and blobs redirected to a storage origin with verify=, X-Amz-Signature, x-goog-signature, sig, Expires: host and path shown, no secret', async () => {
    const home = freshHome();
    const before = reg.requests.length;
    const r = await runCli(['--debug', 'pull', `${reg.host}/signed/app:latest`], { env: home.env, secrets });
    expect(r.code, r.stderr).toBe(0);
    expectTerminalSafe(r);
    expect(r.stdout).toContain(`Digest: ${reg.image.manifest.digest}`);
    // the redirects really happened, with the signed query, and reached the storage origin without Authorization
    const storageHits = reg.requests.slice(before).filter((q) => q.server === 'storage');
    expect(storageHits.length).toBeGreaterThanOrEqual(3);
    expect(storageHits.every((q) => q.url.includes(`verify=${SIGNED_SECRETS.verify}`) && !q.authorization)).toBe(true);
    // the trace names the storage host and path …
    const layerPath = `/registry-v2/docker/registry/v2/blobs/sha256/${reg.image.layer.digest.slice(7, 9)}/${reg.image.layer.digest}`;
    expect(r.stderr).toContain(`DEBUG redirect to http://${reg.storageHost}${layerPath} (another origin: Authorization not sent)`);
    expect(r.stderr).toContain(`DEBUG HTTP GET http://${reg.storageHost}${layerPath} → 200`);
    expect(r.stderr).toContain(`http://${reg.storageHost}/cdn/manifests/${reg.image.manifest.digest}`);
    // … and none of the signature
    expectNoSignature(r.stderr + r.stdout);
  });

  it('inspect --remote through the same redirects: the same', async () => {
    const home = freshHome();
    const r = await runCli(['--debug', 'inspect', '--remote', `${reg.host}/signed/app:latest`], { env: home.env, secrets });
    expect(r.code, r.stderr).toBe(0);
    expectTerminalSafe(r);
    expect(r.stderr).toContain(`DEBUG redirect to http://${reg.storageHost}/cdn/manifests/${reg.image.manifest.digest} (another origin: Authorization not sent)`);
    expectNoSignature(r.stderr + r.stdout);
  });
});
