import { defineConfig } from 'vitest/config';

/**
 * Whole-system tests: each runs all of local mode (its own DynamoDB Local JVM, s3rver, runner
 * pool, and in two of them `npm start` as a child process). They run one at a time, after the
 * rest, so that none of them competes with another for the 2 cores: what they wait for depends
 * on the machine's load, and no test may depend on that.
 */
const SYSTEM = [
  'tests/local/npm-start.test.ts',
  'tests/local/adversarial.test.ts',
  'tests/local/publish.test.ts',
  'tests/api/e2e.test.ts',
  'tests/api/grpc.test.ts',
  'tests/kafka/local-mode.test.ts',
  'tests/soak/soak.test.ts',
];

/**
 * Tests that load DynamoDB Local for minutes (the capacity test seeds 202 000 items) or depend on
 * its background work (an index added to an existing table): run after the parallel files, one
 * at a time, against a DynamoDB Local of their own.
 */
const HEAVY = [
  'tests/capacity/agent-reads.test.ts',
  // adds an index to an existing table: DynamoDB Local's background index build was seen to stall
  // while other files created and deleted tables around it
  'tests/manager/registry-upgrade.test.ts',
];

// Integration tests start real emulators (DynamoDB Local on Java, s3rver), so they run in forked
// processes with generous timeouts (bounds on waits, never measurements: a slower machine only
// waits longer); the machine has 2 cores, so at most 2 files at once.
export default defineConfig({
  test: {
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 180_000,
    reporters: ['default'],
    // expect.poll's default (1 s) is a wall-clock margin: a browser → API → render round trip on
    // a loaded machine can take longer
    expect: { poll: { timeout: 30_000, interval: 100 } },
    projects: [
      {
        extends: true,
        test: {
          name: 'parallel',
          include: ['tests/**/*.test.ts'],
          exclude: [...SYSTEM, ...HEAVY],
          // one DynamoDB Local (in memory) for these files, unique tables per file
          globalSetup: ['tests/support/global-setup.ts'],
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'heavy',
          include: HEAVY,
          globalSetup: ['tests/support/global-setup.ts'],
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        test: {
          name: 'system',
          include: SYSTEM,
          maxWorkers: 1,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
