import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    reporters: ['default', './test/support/summary-reporter.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // PKCS#11 modules keep process-wide state: one fork per file, files in sequence on 2 cores.
    pool: 'forks',
    fileParallelism: false,
  },
});
