import { defineConfig } from 'vitest/config';

// Integration tests start real emulators (DynamoDB Local on Java, s3rver), so they run in
// forked processes with generous timeouts; the machine has 2 cores, so at most 2 files at once.
export default defineConfig({
  test: {
    pool: 'forks',
    maxWorkers: 2,
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
