/**
 * Heartbeat records: one per agent in the Heartbeats table, written by the runner once per run
 * (claim) and once at its end (heartbeat + outcome + counters + state in one UpdateItem).
 */
import { z } from 'zod';

export const RunOutcomeSchema = z.enum(['ok', 'error', 'timeout', 'crashed', 'oom']);
export type RunOutcome = z.infer<typeof RunOutcomeSchema>;

/** Upper bounds (ms) of the cycle-duration histogram buckets (Prometheus `le`), +Inf implied. */
export const DURATION_BUCKETS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000] as const;

export const HeartbeatRecordSchema = z.object({
  name: z.string(),
  /** epoch ms of the last finished run (any outcome); null before the first */
  lastHeartbeat: z.number().nullable().default(null),
  /** start (epoch ms) of the last claimed scheduled slot: the at-most-once guard for cycles */
  lastSlot: z.number().nullable().default(null),
  cycles: z.number().int().nonnegative().default(0),
  failures: z.number().int().nonnegative().default(0),
  consecutiveErrors: z.number().int().nonnegative().default(0),
  lastOutcome: RunOutcomeSchema.nullable().default(null),
  /** the last failure's error, kept after later successes (history; see lastErrorIsCurrent) */
  lastError: z.string().nullable().default(null),
  /** its stack (frames naming the bundle key, bounded: shared/core/stack.ts) */
  lastErrorStack: z.string().nullable().default(null),
  /** epoch ms it happened */
  lastErrorAt: z.number().nullable().default(null),
  /** the agent version that failed */
  lastErrorVersion: z.string().nullable().default(null),
  lastDurationMs: z.number().nullable().default(null),
  /** cumulative histogram: bucket upper bound (ms, as string) → count of cycles with duration <= it */
  durationBuckets: z.record(z.string(), z.number()).default({}),
  durationSumMs: z.number().default(0),
  /** the run in progress, if any */
  running: z.object({ runId: z.string(), startedAt: z.number(), deadline: z.number() }).nullable().default(null),
  /** epoch ms by which the next heartbeat is expected; null when none is (paused, quarantined) */
  expectBy: z.number().nullable().default(null),
  /** generation of the registry record the last run used */
  generation: z.number().int().nonnegative().default(0),
});
export type HeartbeatRecord = z.infer<typeof HeartbeatRecordSchema>;

/** `ctx.state` is persisted per key; keys are restricted so they map to DynamoDB attribute names safely. */
export const STATE_KEY_RE = /^[A-Za-z0-9_.-]{1,64}$/;
export const MAX_STATE_BYTES = 64 * 1024;

/**
 * How long an agent may go without a heartbeat before it is stuck (contract: 3 periods, or
 * period + timeout + grace, whichever is larger).
 */
export function stuckAfterMs(cycleSeconds: number, timeoutSeconds: number, graceSeconds: number): number {
  return Math.max(3 * cycleSeconds, cycleSeconds + timeoutSeconds + graceSeconds) * 1000;
}
