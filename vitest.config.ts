import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // No root `include`: projects extend the root config and vitest concatenates arrays, so a
    // root include would put every test file into every project.
    setupFiles: ['node/polyfills.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Multi-peer and multi-process tests compete for 2 cores; they live under test/net and
    // test/proc and run one file at a time (see the `projects` below).
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts', 'test/sim/**/*.test.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/net/**/*.test.ts', 'test/proc/**/*.test.ts'],
          fileParallelism: false,
        },
      },
      {
        extends: true,
        // The web explorer in a real headless Chromium (Debian's chromium) against real peers.
        test: { name: 'browser', include: ['test/browser/**/*.test.ts'], fileParallelism: false },
      },
    ],
    reporters: ['default'],
    slowTestThreshold: 5_000,
  },
});
