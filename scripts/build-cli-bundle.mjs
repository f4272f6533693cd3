// Part of `npm run build`: the CLI's own modules bundled by esbuild into dist/cli-bundle/ (main.js and the chunks of
// what commands import lazily), so that start-up resolves and compiles a handful of files, not ~150 (a no-op pull
// 0.18 → 0.16 s here). Packages (undici, commander, chalk, ora, tar-stream, the keychain binding) stay external: they
// load from node_modules as they do from dist/. bin/dhe-cli.js uses this bundle when it is there, else dist/cli/.
// Source maps are kept; bin turns them on for --debug / DHE_DEBUG stack traces. The version is built in (the bundle
// sits one folder deeper than version.ts expects package.json to be).
import { build } from 'esbuild';
import { readFileSync, rmSync } from 'node:fs';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const outdir = new URL('../dist/cli-bundle/', import.meta.url).pathname;
rmSync(outdir, { recursive: true, force: true });

await build({
  entryPoints: [new URL('../src/cli/main.ts', import.meta.url).pathname],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  minify: false,
  legalComments: 'none',
  define: { DHE_BUNDLED_VERSION: JSON.stringify(version) },
  logLevel: 'warning',
});
