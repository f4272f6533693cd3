// npm run build:bundle: the whole CLI as one CommonJS file (dist-bin/dhe-cli.cjs, with a source map), the input of
// the single executable (scripts/build-binary.mjs). @napi-rs/keyring is a native module and stays out: in the
// binary its import fails and the keychain store reports itself unavailable (credential helpers and the 0600 file
// store still work). The version is built in, since there is no package.json next to the binary.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

await build({
  entryPoints: [new URL('./sea-entry.mjs', import.meta.url).pathname],
  outfile: new URL('../dist-bin/dhe-cli.cjs', import.meta.url).pathname,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: true,
  minify: false,
  legalComments: 'none',
  external: ['@napi-rs/keyring'],
  define: { 'import.meta.url': '__dhe_import_meta_url', DHE_BUNDLED_VERSION: JSON.stringify(version) },
  banner: { js: "const __dhe_import_meta_url = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
});
