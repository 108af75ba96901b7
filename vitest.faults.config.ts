import { defineConfig } from 'vitest/config';

/**
 * The fault suite (`npm run test:faults`): faults injected from outside into real processes, databases and disks.
 * Files run one after another: each stages its own servers and disks, and two at once on these 2 cores would turn the
 * faults they measure into faults of their own.
 */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    setupFiles: ['test/support/contract-setup.ts'],
    globalSetup: ['test/faults/support/global-setup.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 60_000,
  },
});
