import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    // A temp directory for the run, which must be empty at the end (test/temp-dir.ts).
    globalSetup: ['test/temp-dir.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: 'forks',
    poolOptions: {
      // vitest's default (cores - 1) is one fork on a 2-core machine, where the end-to-end files mostly wait (on the
      // virtual clock, child processes, Chromium): three forks run the suite in about 60% of the time there.
      forks: { maxForks: Math.max(3, availableParallelism() - 1) },
    },
  },
});
