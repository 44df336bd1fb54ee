import { defineConfig } from 'vitest/config';

// Tiers: unit (no root, no Docker), integration (real tools in the Docker worker), end to end
// (images booted in QEMU) — `npm test` runs these three — and full (`npm run test:full`: adds the
// scenario matrix's other slot direction and the arm64 boots, too slow for every CI run). None skips.
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
      {
        test: {
          name: 'full',
          include: ['test/full/**/*.test.ts'],
          testTimeout: 120 * 60_000,
          hookTimeout: 120 * 60_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
