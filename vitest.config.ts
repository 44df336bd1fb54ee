import { defineConfig } from 'vitest/config';

// Three tiers: unit (no root, no Docker), integration (real tools in the Docker worker), and
// end to end (images booted in QEMU). `npm test` runs all of them; none of them skips.
export default defineConfig({
  test: {
    // Integration and end-to-end tests share Docker and check that it is left clean: one file at a time.
    fileParallelism: false,
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 20_000 } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 20 * 60_000,
          hookTimeout: 20 * 60_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 60 * 60_000,
          hookTimeout: 60 * 60_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
