// Cross-check of parseReference against docker 28 itself, on every row of test/unit/reference-cases.ts.
//
// The docker 28 client parses a name before it talks to the daemon, so no daemon and no registry are needed: with
// DOCKER_HOST pointing at a socket that does not exist, `docker pull NAME` prints docker's parse error for a name
// it refuses and "Cannot connect to the Docker daemon" for a name it accepts (after "Using default tag: latest"
// when it added the tag), and `docker manifest rm NAME` prints "No such manifest: <the normalized name>" (its
// manifest store is an empty folder). Only /usr/local/bin/docker is used: Debian's /usr/bin/docker is 20.10, whose
// parser is older.
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseReference } from 'dhe-cli';
import { referenceCases, type ReferenceCase } from '../unit/reference-cases.js';

const DOCKER = '/usr/local/bin/docker';
const PARALLEL = 4;
const CANNOT_CONNECT = 'Cannot connect to the Docker daemon';
const DEFAULT_TAG_LINE = 'Using default tag: latest';
const NO_SUCH_MANIFEST = /^No such manifest: (.*)$/m;
/** What docker 28 prints for a name it refuses (reference.ParseNormalizedNamed and go-digest errors). */
const DOCKER_REFUSAL = /invalid reference format|invalid repository name|repository name must|digest/;

interface Run {
  stdout: string;
  stderr: string;
}

interface DockerSays {
  accepted: boolean;
  /** "Using default tag: latest" was printed by docker pull. */
  addedTag: boolean;
  /** The name `docker manifest rm` printed, for an accepted name. */
  normalized: string | undefined;
}

const home = mkdtempSync(join(tmpdir(), 'dhe-docker-ref-'));
const env: NodeJS.ProcessEnv = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: home,
  DOCKER_CONFIG: home,
  DOCKER_HOST: `unix://${join(home, 'no-daemon.sock')}`,
};

function docker(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(DOCKER, args, { env, timeout: 20_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') reject(new Error(`${DOCKER} ${args.join(' ')}: ${err.message}`));
      else resolve({ stdout, stderr });
    });
  });
}

/** The one-line reason this machine's docker cannot be the reference, or undefined. */
async function dockerProblem(): Promise<string | undefined> {
  try {
    const v = await docker(['--version']);
    return /^Docker version 28\./.test(v.stdout) ? undefined : `${DOCKER} is not docker 28.x: ${v.stdout.trim() || v.stderr.trim()}`;
  } catch (e) {
    return `${DOCKER} is missing or does not run (docker 28.x is needed there): ${(e as Error).message.split('\n')[0]}`;
  }
}

function verdictOf(name: string, pull: Run): boolean {
  if (pull.stderr.includes(CANNOT_CONNECT)) return true;
  if (DOCKER_REFUSAL.test(pull.stderr)) return false;
  throw new Error(`docker pull ${JSON.stringify(name)} printed neither a parse error nor "${CANNOT_CONNECT}": ${pull.stderr.trim()}`);
}

async function ask(name: string): Promise<DockerSays> {
  const pull = await docker(['pull', '--', name]);
  const rm = await docker(['manifest', 'rm', '--', name]);
  return {
    accepted: verdictOf(name, pull),
    addedTag: pull.stdout.includes(DEFAULT_TAG_LINE),
    normalized: NO_SUCH_MANIFEST.exec(rm.stderr)?.[1],
  };
}

/** Runs fn over items, at most `limit` at a time, keeping their order. */
async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

let answers: Promise<Map<string, DockerSays>> | undefined;

/** docker's answer for every row, asked once; fails with one line when docker 28 is not there. */
function dockerAnswers(): Promise<Map<string, DockerSays>> {
  answers ??= (async () => {
    const problem = await dockerProblem();
    if (problem !== undefined) throw new Error(problem);
    const says = await mapBounded(referenceCases, PARALLEL, (c) => ask(c.input));
    return new Map(referenceCases.map((c, i) => [c.input, says[i] as DockerSays]));
  })();
  return answers;
}

function ours(input: string): { accepted: boolean; full?: string; addedTag?: boolean } {
  try {
    const ref = parseReference(input);
    const bare = parseReference(input, { defaultTag: false });
    return { accepted: true, full: ref.toString(), addedTag: bare.tag === undefined && bare.digest === undefined };
  } catch {
    return { accepted: false };
  }
}

const shown = (c: ReferenceCase): string => JSON.stringify(c.input.length > 80 ? `${c.input.slice(0, 80)}…(${c.input.length})` : c.input);

describe('docker 28 parses names as parseReference does (every row of test/unit/reference-cases.ts)', () => {
  it(`the docker client at ${DOCKER} is docker 28.x`, async () => {
    const problem = await dockerProblem();
    if (problem !== undefined) throw new Error(problem);
  });

  it('docker pull accepts exactly the names we accept, except the rows marked dockerAccepts', async () => {
    const says = await dockerAnswers();
    const disagree = referenceCases.flatMap((c) => {
      const dockerAccepts = says.get(c.input)?.accepted;
      const expected = 'want' in c || c.dockerAccepts !== undefined;
      const weAccept = ours(c.input).accepted;
      return dockerAccepts === expected && weAccept === ('want' in c) ? [] : [`${shown(c)}: docker ${dockerAccepts ? 'accepts' : 'refuses'}, we ${weAccept ? 'accept' : 'refuse'}`];
    });
    expect(disagree).toEqual([]);
  });

  it('docker manifest rm names every accepted reference as toString() does', async () => {
    const says = await dockerAnswers();
    const differ = referenceCases.flatMap((c) => {
      const docker = says.get(c.input)?.normalized;
      const expected = 'want' in c ? ours(c.input).full : 'dockerAccepts' in c ? c.dockerAccepts : undefined;
      return docker === expected ? [] : [`${shown(c)}: docker ${docker ?? '(refused)'}, expected ${expected ?? '(refused)'}`];
    });
    expect(differ).toEqual([]);
  });

  it('docker pull adds the default tag exactly when we do', async () => {
    const says = await dockerAnswers();
    const differ = referenceCases.flatMap((c) => {
      if (!('want' in c)) return [];
      const docker = says.get(c.input)?.addedTag;
      const we = ours(c.input).addedTag;
      return docker === we ? [] : [`${shown(c)}: docker ${docker ? 'adds' : 'does not add'} latest, we ${we ? 'do' : 'do not'}`];
    });
    expect(differ).toEqual([]);
  });
});
