// What scripts and CI logs get: plain lines without colour or spinner frames, one JSON document with
// --format json, only the result with --quiet, one-line errors with hints, helpful usage errors.

import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { getHarness } from '../harness/index.js';
import { freshHome, runCli } from '../helpers/cli.js';
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

describe('output for machines and logs', () => {
  for (const [label, env] of [
    ['CI=true', { CI: 'true' }],
    ['NO_COLOR', { NO_COLOR: '1', CI: undefined }],
    ['no TTY', { CI: undefined, NO_COLOR: undefined, FORCE_COLOR: undefined }],
  ] as const) {
    it(`pull and push print plain lines under ${label}`, async () => {
      const { ref, repo } = await seeded();
      const home = freshHome();
      const e = { ...home.env, ...env };
      const pull = await runCli(['pull', ref], { env: e });
      expect(pull.code).toBe(0);
      const target = `${h.plain.host}/${repo}-copy:v1`;
      await runCli(['tag', ref, target], { env: e });
      const push = await runCli(['push', target], { env: e });
      expect(push.code).toBe(0);
      for (const text of [pull.stdout, pull.stderr, push.stdout, push.stderr]) {
        expect(text).not.toMatch(ANSI);
        expect(text).not.toMatch(SPINNER);
        expect(text).not.toContain('\r');
      }
      // every line is a complete status line
      for (const line of pull.stdout.trim().split('\n')) {
        expect(line).toMatch(/^(v1: Pulling from |[0-9a-f]{12}: (Pull complete|Already exists|Downloading \d[\d.]*[kMG]?B)|Digest: sha256:|Status: |127\.0\.0\.1:)/);
      }
    });
  }

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
