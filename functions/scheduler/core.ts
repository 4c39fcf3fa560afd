/**
 * The scheduler's handler: EventBridge Scheduler `rate(1 minute)` with input `{"action":"tick"}`
 * (the input is passed as the event itself); a rule-driven "Scheduled Event" is accepted too.
 * Thin: validates the event, runs one tick of the core, returns its report. The Lambda entry
 * (handler.ts) and local mode's timers call the same handler (built by functions/compose.ts).
 */
import { z } from 'zod';
import { ValidationError } from '../../shared/core/errors';
import { systemClock, type Clock } from '../../shared/core/clock';
import { silentLogger, type Logger } from '../../shared/core/logger';
import type { Dispatcher, ScheduleStore } from '../../shared/core/ports';
import { SchedulerService, type TickReport } from '../../shared/core/scheduler/service';
import { SCHEDULES } from '../../shared/definitions/routing';

export const SchedulerEventSchema = z.union([
  z.object({ action: z.literal('tick') }).strict(),
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

const TICK = SCHEDULES.find((s) => s.id === 'SchedulerTick');
export const CLOUD_TICK_SECONDS = TICK?.everySeconds ?? 60;
export const LOCAL_TICK_SECONDS = TICK?.localEverySeconds ?? 1;

export interface SchedulerHandlerDeps {
  schedule: ScheduleStore;
  dispatcher: Dispatcher;
  clock?: Clock;
  logger?: Logger;
  config: { shards: number; horizonMs: number };
}

export function createSchedulerHandler(deps: SchedulerHandlerDeps): (event: unknown) => Promise<TickReport> {
  const log = deps.logger ?? silentLogger;
  const service = new SchedulerService(
    { schedule: deps.schedule, dispatcher: deps.dispatcher, clock: deps.clock ?? systemClock, logger: log },
    { shards: deps.config.shards, horizonMs: deps.config.horizonMs },
  );
  return async (event: unknown) => {
    const parsed = SchedulerEventSchema.safeParse(event);
    if (!parsed.success) throw new ValidationError(`unsupported scheduler event: ${z.prettifyError(parsed.error)}`);
    const report = await service.tick();
    if (report.due > 0 || report.lost > 0) log.info('tick', { ...report });
    return report;
  };
}
