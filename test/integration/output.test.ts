// What scripts and CI logs get: plain lines without colour or spinner frames, one JSON document with
// --format json, only the result with --quiet, one-line errors with hints, helpful usage errors.

import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getHarness } from '../harness/index.js';
import { startFaultProxy, type FaultProxy } from '../harness/fault-proxy.js';
import { freshHome, runCli } from '../helpers/cli.js';
import { runInTerminal } from '../helpers/pty.js';
import { buildImage, seedImage, uniqueRepo } from '../helpers/images.js';

const h = getHarness();
const ANSI = /\x1b\[/;
const SPINNER = /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏|]\s/u;

async function seeded() {
  const repo = uniqueRepo('out');
  const img = await buildImage({ layers: 2 });
  await seedImage({ url: h.plain.url }, repo, 'v1', img);
  return { ref: `${h.plain.host}/${repo}:v1`, repo, img };
}

/** SGR colour sequences (what NO_COLOR and CI turn off); cursor movement is not colour. */
const COLOUR = /\x1b\[[0-9;]*m/;
/** Live progress: a per-layer bar redrawn in place (cursor up, erase). */
const LIVE = /\x1b\[\d+A/;

describe('output for machines and logs', () => {
  let proxy: FaultProxy;
  beforeAll(async () => {
    proxy = await startFaultProxy(h.plain.url);
  });
  afterAll(async () => {
    await proxy?.close();
  });

  /** An image whose layer comes through the proxy at 1 MB/s (about 1.5 s): long enough for live progress to redraw. */
  async function slowSeeded() {
    const repo = uniqueRepo('out');
    const img = await buildImage({ layers: 1, layerSize: 1536 * 1024, salt: repo });
    await seedImage({ url: h.plain.url }, repo, 'v1', img);
    proxy.add({ kind: 'throttle', bytesPerSecond: 1_000_000, method: 'GET', path: img.layers[0]!.digest, times: Infinity });
    return { ref: `${proxy.host}/${repo}:v1`, repo, img };
  }

  /** pull (slow), push, and a command that fails, all on a terminal with `env`. */
  async function onTerminal(env: Record<string, string | undefined>) {
    const { ref, repo, img } = await slowSeeded();
    const home = freshHome();
    const e = { ...home.env, CI: undefined, ...env };
    const pull = await runInTerminal(['pull', ref], { env: e });
    expect(pull.code, pull.out).toBe(0);
    expect(pull.out).toContain(`Status: Downloaded newer image for ${ref}`);
    const target = `${h.plain.host}/${repo}-copy:v1`;
    expect((await runInTerminal(['tag', ref, target], { env: e })).code).toBe(0);
    const push = await runInTerminal(['push', target], { env: e });
    expect(push.code, push.out).toBe(0);
    const failed = await runInTerminal(['inspect', 'nothing/here:v1'], { env: e });
    expect(failed.code).toBe(5);
    expect(failed.out.replace(/\x1b\[[0-9;]*m/g, '')).toMatch(/^Error: .*nothing\/here:v1/m);
    // the layer really took a while (so a live display had time to redraw)
    const gets = proxy.hits.filter((x) => x.method === 'GET' && x.path.includes(img.layers[0]!.digest));
    expect(gets.map((x) => x.fault)).toContain('throttle');
    return { pull: pull.out, push: push.out, failed: failed.out };
  }

  it('on a terminal without CI or NO_COLOR (the control): live progress redrawn in place, a coloured Error:', async () => {
    const r = await onTerminal({});
    expect(r.pull).toMatch(LIVE);
    expect(r.pull).toMatch(/[0-9a-f]{12}: Downloading \[/);
    expect(r.failed).toMatch(/\x1b\[31mError: /);
  });

  it('CI=true on a terminal: plain lines, no colour, no live progress', async () => {
    const r = await onTerminal({ CI: 'true', NO_COLOR: undefined });
    for (const text of [r.pull, r.push, r.failed]) {
      expect(text).not.toMatch(ANSI);
      expect(text).not.toMatch(SPINNER);
      expect(text).not.toContain('\r');
    }
    // every line is a complete status line
    for (const line of r.pull.trim().split('\n')) {
      expect(line).toMatch(/^(v1: Pulling from |[0-9a-f]{12}: (Pull complete|Already exists|Downloading \d[\d.]*[kMG]?B)|Digest: sha256:|Status: |127\.0\.0\.1:)/);
    }
  });

  it('NO_COLOR on a terminal: no colour anywhere, the Error: line included', async () => {
    const r = await onTerminal({ NO_COLOR: '1' });
    for (const text of [r.pull, r.push, r.failed]) expect(text).not.toMatch(COLOUR);
    expect(r.failed).toMatch(/^Error: /m);
  });

  it('pull and push print plain lines when the output is no TTY (no CI, no NO_COLOR)', async () => {
    const { ref, repo } = await seeded();
    const home = freshHome();
    const e = { ...home.env, CI: undefined, NO_COLOR: undefined, FORCE_COLOR: undefined };
    const pull = await runCli(['pull', ref], { env: e });
    expect(pull.code).toBe(0);
    const target = `${h.plain.host}/${repo}-copy:v1`;
    await runCli(['tag', ref, target], { env: e });
    const push = await runCli(['push', target], { env: e });
    expect(push.code).toBe(0);
    const failed = await runCli(['inspect', 'nothing/here:v1'], { env: e });
    expect(failed.code).toBe(5);
    expect(failed.stderr).toMatch(/^Error: /);
    for (const text of [pull.stdout, pull.stderr, push.stdout, push.stderr, failed.stderr]) {
      expect(text).not.toMatch(ANSI);
      expect(text).not.toMatch(SPINNER);
      expect(text).not.toContain('\r');
    }
    for (const line of pull.stdout.trim().split('\n')) {
      expect(line).toMatch(/^(v1: Pulling from |[0-9a-f]{12}: (Pull complete|Already exists|Downloading \d[\d.]*[kMG]?B)|Digest: sha256:|Status: |127\.0\.0\.1:)/);
    }
  });

  it('--format json prints exactly one JSON document on stdout', async () => {
    const { ref, img } = await seeded();
    const home = freshHome();
    await runCli(['pull', ref], { env: home.env });
    const r = await runCli(['images', '--format', 'json'], { env: home.env });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const doc = JSON.parse(r.stdout);
    expect(Array.isArray(doc)).toBe(true);
    expect(doc[0].configDigest).toBe(img.config.digest);
    expect(doc[0].reference).toBe(ref);
    const inspect = await runCli(['inspect', ref, '--format', 'json'], { env: home.env });
    expect(JSON.parse(inspect.stdout).digest).toBe(img.manifest.digest);
  });

  it('--quiet prints only the essential result', async () => {
    const { ref, repo, img } = await seeded();
    const home = freshHome();
    const pull = await runCli(['--quiet', 'pull', ref], { env: home.env });
    expect(pull.stdout).toBe(`${ref}\n`);
    const target = `${h.plain.host}/${repo}-q:v1`;
    await runCli(['tag', ref, target], { env: home.env });
    const push = await runCli(['push', '-q', target], { env: home.env });
    expect(push.code).toBe(0);
    expect(push.stdout).toBe(`${h.plain.host}/${repo}-q@${img.manifest.digest}\n`);
    const ids = await runCli(['images', '-q'], { env: home.env });
    expect(ids.stdout.trim().split('\n')).toEqual([img.config.digest.slice(7, 19), img.config.digest.slice(7, 19)]);
  });

  it('an error is one Error: line and a Hint: line, with no stack unless --debug', async () => {
    const home = freshHome();
    const r = await runCli(['pull', '127.0.0.1:1/nothing/here:v1'], { env: { ...home.env } });
    expect(r.code).toBe(6);
    const lines = r.stderr.trim().split('\n');
    expect(lines[0]).toMatch(/^Error: .*127\.0\.0\.1:1/);
    expect(lines.slice(1).every((l) => l.startsWith('Hint: ') || l.startsWith('Run '))).toBe(true);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const dbg = await runCli(['--debug', 'pull', '127.0.0.1:1/nothing/here:v1'], { env: { ...home.env } });
    expect(dbg.code).toBe(6);
    expect(dbg.stderr).toMatch(/\n\s+at /);
  }, 60_000);
});

describe('usage help', () => {
  it('suggests the closest command and option, with exit 2', async () => {
    const cmd = await runCli(['pul', 'x']);
    expect(cmd.code).toBe(2);
    expect(cmd.stderr).toMatch(/unknown command 'pul'/);
    expect(cmd.stderr).toContain('Did you mean pull?');
    const opt = await runCli(['pull', '--all-platform', 'x']);
    expect(opt.code).toBe(2);
    expect(opt.stderr).toContain('Did you mean --all-platforms?');
  });

  it('every command has help with a description, its options and examples', async () => {
    for (const c of ['login', 'logout', 'tag', 'push', 'pull', 'images', 'rmi', 'prune', 'inspect', 'save', 'load', 'copy', 'tags', 'catalog', 'delete', 'mutate', 'append', 'doctor', 'completion']) {
      const r = await runCli(['help', c]);
      expect(r.code, c).toBe(0);
      expect(r.stdout, c).toContain(`Usage: dhe-cli ${c}`);
      expect(r.stdout, c).toContain('Examples:');
    }
    const pull = await runCli(['pull', '--help']);
    expect(pull.stdout).toContain('--all-platforms');
  }, 120_000);

  it('prints a bash completion script that bash accepts', async () => {
    const r = await runCli(['completion', 'bash']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('complete -F _dhe_cli dhe-cli');
    const file = join(freshHome().config + '-completion.bash');
    writeFileSync(file, r.stdout);
    execFileSync('bash', ['-n', file]);
    const words = execFileSync('bash', ['-c', `source ${file}; COMP_WORDS=(dhe-cli pu); COMP_CWORD=1; _dhe_cli; echo "\${COMPREPLY[@]}"`], {
      encoding: 'utf8',
    });
    expect(words.trim().split(' ').sort()).toEqual(['pull', 'push']);
    const zsh = await runCli(['completion', 'zsh']);
    expect(zsh.stdout).toContain('#compdef dhe-cli');
  });
});
