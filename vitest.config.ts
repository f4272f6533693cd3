import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Tests import the library as users do (`from 'dhe-cli'`); in the test run that resolves to the sources.
    alias: { 'dhe-cli': fileURLToPath(new URL('./src/index.ts', import.meta.url)) },
  },
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    // Real registries (every TLS/auth flavour, nginx front, token servers) start once per run: see test/harness/.
    globalSetup: ['test/harness/global-setup.ts'],
    // Prints what the servers logged while a failing test ran.
    setupFiles: ['test/harness/log-on-failure.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Most tests wait on registries and child processes, not on the CPU: three files at once on a 2-core machine
    // roughly halve the wall time (vitest's default here would be one).
    maxWorkers: 3,
    // The usual terminal report, plus a JSON one that .ci/run sums up in one closing line.
    reporters: ['default', ['json', { outputFile: '.tmp/vitest-results.json' }]],
  },
});
