#!/usr/bin/env node
// Tiny launcher: everything lives in the built CLI (dist/cli-bundle/main.js, else dist/cli/main.js), loaded only when
// needed. CommonJS (bin/package.json): `--version` then pays for no ES module loader (~4 ms of a 50 ms start here).
'use strict';

const { existsSync, readFileSync } = require('node:fs');
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');

const args = process.argv.slice(2);

// `dhe-cli --version` / `-v` alone: answer from package.json without loading the CLI (commander and friends),
// so scripts that probe the version pay only for node's own start-up. Same output as commander's: "X.Y.Z\n".
let version;
if (args.length === 1 && (args[0] === '--version' || args[0] === '-v')) {
  try {
    version = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')).version;
  } catch {
    version = undefined; // let the CLI answer
  }
}

if (typeof version === 'string') {
  process.stdout.write(`${version}\n`);
} else {
  // --debug stack traces name the TypeScript sources (the bundle keeps its source maps)
  if (args.includes('--debug') || process.env.DHE_DEBUG === '1') process.setSourceMapsEnabled(true);
  // the CLI bundled into a few files (npm run build; faster to start), else the modules tsc built
  const bundle = join(__dirname, '..', 'dist', 'cli-bundle', 'main.js');
  const entry = existsSync(bundle) ? bundle : join(__dirname, '..', 'dist', 'cli', 'main.js');
  import(pathToFileURL(entry).href).then(async ({ main, tuneForCli }) => {
    tuneForCli(); // V8 settings of the CLI process (src/runtime/cli-runtime.ts)
    process.exitCode = await main(process.argv);
  });
}
