#!/usr/bin/env node
// Tiny launcher: everything lives in the built CLI (dist/cli/main.js).
import { main } from '../dist/cli/main.js';
main(process.argv).then((code) => {
  process.exitCode = code;
});
