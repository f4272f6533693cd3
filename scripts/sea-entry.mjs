// The single executable's entry: what bin/dhe-cli.js does, minus reading package.json (the version is built in).
import { setFlagsFromString } from 'node:v8';
import { main } from '../src/cli/main.ts';

const major = Number(process.versions.node.split('.')[0]);
if (major >= 18 && major <= 24) setFlagsFromString('--liftoff-only');
main(process.argv).then((code) => {
  process.exitCode = code;
});
