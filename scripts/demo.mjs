#!/usr/bin/env node
// The demo: starts a local "Docker Hub" (plain registry) and a DHE-shaped registry (nginx + token auth + TLS
// with a CA made on the spot), then runs what the DHE user guide shows: pull → login → tag → push → pull → images.
// Run with `npm run demo` (it builds first). Needs docker-registry, nginx-light and openssl (see .ci/run).

import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'bin', 'dhe-cli.js');
const { startHarness } = await import(join(root, '.tmp', 'harness-dist', 'harness.js'));

const sha256 = (b) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A one-file tar (ustar), enough for a hello-world layer. */
function tarOf(name, content) {
  const header = Buffer.alloc(512);
  header.write(name, 0, 'utf8');
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(content.length.toString(8).padStart(11, '0') + '\0', 124);
  header.write('00000000000\0', 136);
  header.write('        ', 148);
  header.write('0', 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  const pad = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([header, content, pad, Buffer.alloc(1024)]);
}

async function seedHelloWorld(registryUrl) {
  const tar = tarOf('hello', Buffer.from('Hello from dhe-cli!\n' + randomBytes(4).toString('hex') + '\n'));
  const layer = gzipSync(tar);
  const config = Buffer.from(
    JSON.stringify({
      created: new Date().toISOString(),
      architecture: 'amd64',
      os: 'linux',
      config: { Cmd: ['/hello'] },
      rootfs: { type: 'layers', diff_ids: [sha256(tar)] },
      history: [{ created_by: 'COPY hello /' }],
    }),
  );
  for (const blob of [layer, config]) {
    const start = await fetch(`${registryUrl}/v2/library/hello-world/blobs/uploads/`, { method: 'POST' });
    const loc = new URL(start.headers.get('location'), registryUrl);
    loc.searchParams.set('digest', sha256(blob));
    const put = await fetch(loc, { method: 'PUT', body: blob, headers: { 'content-type': 'application/octet-stream' } });
    if (put.status !== 201) throw new Error(`seeding failed: ${put.status} ${await put.text()}`);
  }
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: sha256(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: sha256(layer), size: layer.length }],
  });
  const res = await fetch(`${registryUrl}/v2/library/hello-world/manifests/latest`, {
    method: 'PUT',
    body: manifest,
    headers: { 'content-type': 'application/vnd.docker.distribution.manifest.v2+json' },
  });
  if (res.status !== 201) throw new Error(`seeding failed: ${res.status} ${await res.text()}`);
}

function run(args, env, input) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env, stdio: ['pipe', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status }));
    child.stdin.end(input);
  });
}

const work = mkdtempSync(join(tmpdir(), 'dhe-demo-'));
const harness = await startHarness({ flavours: ['plain', 'dhe'], workDir: join(work, 'servers') });
let failed = false;
try {
  await seedHelloWorld(harness.plain.url);
  const hub = harness.plain.host;
  const dhe = harness.dhe.host;
  const user = harness.users.full;
  const env = {
    ...process.env,
    DHE_CONFIG: join(work, 'dhe-cli'),
    DOCKER_CONFIG: join(work, 'docker'),
    DHE_CA_CERT: harness.caCert,
  };
  console.log(`# A local "Docker Hub" at ${hub} (plain HTTP) and a DHE at https://${dhe} (nginx, token auth,`);
  console.log(`# a CA made just now: ${harness.caCert}, given to dhe-cli through DHE_CA_CERT).`);
  console.log(`# dhe-cli keeps its config and store in ${env.DHE_CONFIG}.\n`);
  const steps = [
    { args: ['pull', `${hub}/library/hello-world`] },
    { args: ['login', dhe, '-u', user.username, '--password-stdin'], input: user.password + '\n', show: `echo "$PASSWORD" | dhe-cli login ${dhe} -u ${user.username} --password-stdin` },
    { args: ['tag', `${hub}/library/hello-world:latest`, `${dhe}/${user.username}/hello-mine:latest`] },
    { args: ['push', `${dhe}/${user.username}/hello-mine:latest`] },
    { args: ['rmi', `${dhe}/${user.username}/hello-mine:latest`] },
    { args: ['pull', `${dhe}/${user.username}/hello-mine:latest`] },
    { args: ['images'] },
  ];
  for (const step of steps) {
    console.log(`$ ${step.show ?? ['dhe-cli', ...step.args].join(' ')}`);
    // Asynchronously: the token server runs in this process and must keep answering.
    const r = await run(step.args, env, step.input ?? '');
    if (r.status !== 0) {
      console.log(`(exit ${r.status})`);
      failed = true;
      break;
    }
    console.log('');
  }
} finally {
  await harness.stop();
  rmSync(work, { recursive: true, force: true });
}
console.log(failed ? 'Demo FAILED.' : 'Demo complete: login → tag → push → pull → images all succeeded.');
process.exit(failed ? 1 : 0);
