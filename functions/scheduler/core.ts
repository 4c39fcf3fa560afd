/**
 * The scheduler's handler: EventBridge Scheduler `rate(1 minute)` with input `{"action":"tick"}`
 * (the input is passed as the event itself); a rule-driven "Scheduled Event" is accepted too.
 * Thin: validates the event, runs one tick of the core, returns its report. The Lambda entry
 * (handler.ts) and local mode's timers call the same handler (built by functions/compose.ts).
 *
 * Fan-out by shard: given a `fanOut` (the cloud: asynchronous invocations of this same function),
 * a tick event without a shard starts one tick per shard, `{"action":"tick","shard":n}`, and
 * returns; each shard's invocation ticks that shard only. Without one (local mode) a tick covers
 * every shard in one call, the shards concurrently: the same per-shard work.
 */
import { z } from 'zod';
import { ValidationError } from '../../shared/core/errors';
import { SchedulerFanOutError } from '../../shared/core/scheduler/errors';
import { systemClock, type Clock } from '../../shared/core/clock';
import { silentLogger, type Logger } from '../../shared/core/logger';
import type { Dispatcher, ScheduleStore, ShardFanOut } from '../../shared/core/ports';
import { SchedulerService, type PaceTimer, type TickReport } from '../../shared/core/scheduler/service';
import { SCHEDULES } from '../../shared/definitions/routing';

/** The schedule's input; with `shard`, a fanned-out invocation that ticks that shard only. */
export const TickEventSchema = z
  .object({
    action: z.literal('tick'),
    /** tick this shard only (a fanned-out invocation); absent: every shard, or fan out */
    shard: z.number().int().nonnegative().optional(),
  })
  .strict();

export const SchedulerEventSchema = z.union([
  TickEventSchema,
  z.object({ source: z.literal('aws.events'), 'detail-type': z.literal('Scheduled Event') }).loose(),
]);

/**
 * How far ahead a tick dispatches: 1.5 tick periods, so a tick that fires late (EventBridge
 * Scheduler, a busy event loop) still finds the next slots dispatched by the previous tick
 * instead of overdue. The conditional advance keeps the overlap from dispatching twice.
 */
export function schedulerHorizonMs(tickEverySeconds: number): number {
  return Math.round(tickEverySeconds * 1500);
}

/**
 * The cloud's fill-ahead (SchedulerOptions.fillAheadMs): slots up to 5 minutes ahead for an agent
 * a tick picks, so a 60 s agent's schedule is advanced about once every 4 slots (the advance was
 * the largest part of a cycle's DynamoDB cost: docs/scheduling.md "Fill-ahead"). Local mode keeps
 * the horizon (its writes cost nothing, and a 1 s tick keeps it exact).
 */
export const CLOUD_FILL_AHEAD_SECONDS = 300;

const TICK = SCHEDULES.find((s) => s.id === 'SchedulerTick');
export const CLOUD_TICK_SECONDS = TICK?.everySeconds ?? 60;
export const LOCAL_TICK_SECONDS = TICK?.localEverySeconds ?? 1;

/**
 * A shard's time budget: no new query page after half the tick period (at least 10 s), so a
 * shard's tick ends well inside its period and inside the function's timeout, with its slots
 * dispatched.
 */
export function schedulerBudgetMs(tickEverySeconds: number): number {
  return Math.max(10_000, Math.round(tickEverySeconds * 500));
}

/**
 * Conditional advances per second per shard: each moves the agent's entry in the `due` index
 * (2 write units in the shard's index partition); 400/s keeps that partition at ≤ 800 WRU/s,
 * under DynamoDB's 1 000 WRU/s per partition. docs/capacity.md sizes the shard count from it.
 */
export const SCHEDULER_ADVANCES_PER_SECOND = 400;

export interface SchedulerHandlerDeps {
  schedule: ScheduleStore;
  dispatcher: Dispatcher;
  clock?: Clock;
  logger?: Logger;
  /** starts one tick per shard elsewhere (cloud); absent: a tick covers every shard itself */
  fanOut?: ShardFanOut;
  /** real time for the pacing and the budget (simulations inject theirs) */
  timer?: PaceTimer;
  config: {
    shards: number;
    horizonMs: number;
    fillAheadMs?: number;
    budgetMs?: number;
    maxAdvancesPerSecond?: number;
    pageSize?: number;
    maxPerShard?: number;
    concurrency?: number;
  };
}

/** What a tick that fanned out returns: the shards it started, and those whose start failed. */
export interface FanOutReport {
  fannedOut: number;
  failed: number[];
}

export function createSchedulerHandler(deps: SchedulerHandlerDeps): (event: unknown) => Promise<TickReport | FanOutReport> {
  const log = deps.logger ?? silentLogger;
  const { shards, horizonMs, ...limits } = deps.config;
  const service = new SchedulerService(
    {
      schedule: deps.schedule,
      dispatcher: deps.dispatcher,
      clock: deps.clock ?? systemClock,
      logger: log,
      ...(deps.timer ? { timer: deps.timer } : {}),
    },
    { shards, horizonMs, ...limits },
  );
  return async (event: unknown) => {
    const parsed = SchedulerEventSchema.safeParse(event);
    if (!parsed.success) throw new ValidationError(`unsupported scheduler event: ${z.prettifyError(parsed.error)}`);
    const tickEvent = TickEventSchema.safeParse(event);
    const shard = tickEvent.success ? tickEvent.data.shard : undefined;
    if (shard !== undefined && shard >= shards) throw new ValidationError(`no shard ${shard}: AGENT_SCHEDULE_SHARDS is ${shards}`);
    if (shard === undefined && deps.fanOut && shards > 1) {
      const all = Array.from({ length: shards }, (_, i) => i);
      const { failed } = await deps.fanOut.tickShards(all);
      if (failed.length > 0) {
        // those shards are picked up by the next tick (their agents overdue: the latest slot runs)
        throw new SchedulerFanOutError(`starting the tick of ${failed.length} of ${shards} shards failed (shards ${failed.join(', ')})`, {
          failed,
        });
      }
      return { fannedOut: all.length, failed };
    }
    const report = await service.tick(undefined, shard === undefined ? undefined : [String(shard)]);
    if (report.due > 0 || report.lost > 0 || report.truncated > 0) log.info('tick', { ...report });
    return report;
  };
}
