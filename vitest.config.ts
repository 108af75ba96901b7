import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.{ts,tsx}'],
    // The fault suite stages processes, servers and disks of its own: `npm run test:faults`.
    exclude: ['test/faults/**', '**/node_modules/**'],
    setupFiles: ['test/support/contract-setup.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    // Suites start real HTTP servers on loopback and real databases; keep files isolated but bounded to the 2 cores here.
    pool: 'forks',
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
