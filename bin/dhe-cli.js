#!/usr/bin/env node
// Tiny launcher: everything lives in the built CLI (dist/cli-bundle/main.js, else dist/cli/main.js), loaded only when
// needed.

import { existsSync, readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';

const args = process.argv.slice(2);

// `dhe-cli --version` / `-v` alone: answer from package.json without loading the CLI (commander and friends),
// so scripts that probe the version pay only for node's own start-up. Same output as commander's: "X.Y.Z\n".
let version;
if (args.length === 1 && (args[0] === '--version' || args[0] === '-v')) {
  try {
    version = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;
  } catch {
    version = undefined; // let the CLI answer
  }
}

if (typeof version === 'string') {
  process.stdout.write(`${version}\n`);
} else {
  // The HTTP parser (undici's llhttp) is WebAssembly. V8 first compiles it with its baseline compiler (Liftoff),
  // then re-compiles hot functions with TurboFan on background threads; in a short-lived CLI that tier-up costs
  // ~35 MB of peak RSS and holds the exit for a few hundred ms while it finishes (bench/: a 50-layer re-pull peaks
  // at 104 MB with it, 69 MB without). Parsing is a small share of a transfer, so baseline code is enough here.
  // Only for the CLI process (the library leaves V8 alone), and only on Node versions known to have the flag.
  const major = Number(process.versions.node.split('.')[0]);
  if (major >= 18 && major <= 24) setFlagsFromString('--liftoff-only');
  // --debug stack traces name the TypeScript sources (the bundle keeps its source maps)
  if (args.includes('--debug') || process.env.DHE_DEBUG === '1') process.setSourceMapsEnabled(true);
  // the CLI bundled into a few files (npm run build; faster to start), else the modules tsc built
  const bundle = new URL('../dist/cli-bundle/main.js', import.meta.url);
  const { main } = existsSync(bundle) ? await import(bundle.href) : await import('../dist/cli/main.js');
  process.exitCode = await main(process.argv);
}
