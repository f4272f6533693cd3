// npm run build:binary: dist-bin/dhe-cli-linux-x64, one file that runs without a Node installation — Node's single
// executable application (https://nodejs.org/api/single-executable-applications.html): the esbuild bundle
// (scripts/build-bundle.mjs) prepared as a SEA blob with its V8 code cache, injected with postject into a copy of
// this node binary. Cached: when the bundle and node are the ones the existing binary was made from, nothing is redone.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('../dist-bin/', import.meta.url));
const bundle = `${dir}dhe-cli.cjs`;
const binary = `${dir}dhe-cli-linux-x64`;
const blob = `${dir}sea-prep.blob`;
const keyFile = `${dir}.binary-key`;

execFileSync(process.execPath, [fileURLToPath(new URL('./build-bundle.mjs', import.meta.url))], { stdio: 'inherit' });
const key = createHash('sha256').update(readFileSync(bundle)).update(process.version).update(process.execPath).digest('hex');
if (existsSync(binary) && existsSync(keyFile) && readFileSync(keyFile, 'utf8') === key) {
  console.log(`${binary} is up to date`);
  process.exit(0);
}

const config = `${dir}sea-config.json`;
writeFileSync(config, JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true }));
execFileSync(process.execPath, ['--experimental-sea-config', config], { stdio: 'inherit' });
// built beside it and renamed into place: a failed build never leaves a half-made binary
const partial = `${binary}.partial`;
copyFileSync(process.execPath, partial);
chmodSync(partial, 0o755);
const { inject } = await import('postject');
await inject(partial, 'NODE_SEA_BLOB', readFileSync(blob), { sentinelFuse: 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2' });
renameSync(partial, binary);
rmSync(blob, { force: true });
writeFileSync(keyFile, key);
console.log(`built ${binary}`);
