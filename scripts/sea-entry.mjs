// The single executable's entry: what bin/dhe-cli.js does, minus reading package.json (the version is built in).
import { main, tuneForCli } from '../src/cli/main.ts';

tuneForCli();
main(process.argv).then((code) => {
  process.exitCode = code;
});
