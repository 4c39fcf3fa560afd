/**
 * SchedulerService: one tick dispatches every slot that starts before `now + horizon`.
 *
 * Per shard it queries the sparse `due` index (only scheduled agents whose nextRunAt is inside
 * the window, never every agent), computes each agent's slots on its grid, moves its nextRunAt
 * past them with a conditional write (`nextRunAt = :expected`), and only for the advances it won
 * dispatches the slots with `notBefore = slot start`. Two schedulers ticking at once: for each
 * agent exactly one advance wins, so each slot is dispatched once (and the runner's claim on
 * the slot guards against a duplicate delivery on top).
 *
 * Overdue slots (scheduler stopped, agent resumed late) are not replayed in a burst: only the
 * latest overdue slot runs, at once; the grid continues after it.
 *
 * If the dispatcher fails, the advances this tick won are rolled back (conditionally), so the
 * next tick finds those agents overdue and runs their latest slot.
 *
 * A tick covers every shard, or the shards it is given (the cloud fans the tick out: one
 * invocation per shard). Each shard's work is bounded: at most `maxPerShard` agents, no new page
 * once `budgetMs` has passed, and at most `maxAdvancesPerSecond` conditional advances a second
 * (each moves the agent's entry in the `due` index, whose partition is the shard: this keeps the
 * partition under DynamoDB's per-partition write limit). Agents left over are picked up by the
 * next tick (overdue: their latest slot runs).
 */
import { latestSlotAtOrBefore, nextSlotAtOrAfter, slotPeriodMs, type DueAgent } from '../registry';
import { cycleRunId, type DispatchItem } from '../dispatch';
import type { Dispatcher, ScheduleStore } from '../ports';
import { systemClock, type Clock } from '../clock';
import { silentLogger, type Logger } from '../logger';
import { errorMessage } from '../errors';
import { SchedulerConfigError, SchedulerDispatchError, SchedulerStoreError } from './errors';

/** The longest a slot may be dispatched ahead of its start: SQS's longest per-message delay (15 min). */
export const MAX_FILL_AHEAD_MS = 900_000;

export interface SchedulerOptions {
  /** number of `dueShard` values (AGENT_SCHEDULE_SHARDS) */
  shards: number;
  /** agents due before now + horizonMs are picked by this tick */
  horizonMs: number;
  /**
   * An agent the tick picks gets its slots up to now + fillAheadMs (at least the horizon; default:
   * the horizon). Above the horizon, one advance (3 write units: the item and its `due` index
   * entry moved) covers several slots of a short-period agent, which the tick then leaves alone
   * until its next slot is inside the horizon again: a 60 s agent with a 60 s tick, a 90 s
   * horizon and 300 s of fill-ahead is advanced about once every 4 slots instead of every slot.
   * The slots wait in the dispatch queue meanwhile (their runs re-check status and generation),
   * so at most MAX_DISPATCH_AHEAD_MS (the queue's longest delay).
   */
  fillAheadMs?: number;
  /** due agents read per query page (default 500) */
  pageSize?: number;
  /** at most this many agents per shard per tick; the rest are picked up (overdue) next tick (default 20 000) */
  maxPerShard?: number;
  /** cap on the slots one agent gets per tick (default 1000) */
  maxSlotsPerAgent?: number;
  /** parallel conditional advances per shard (default 16) */
  concurrency?: number;
  /** no further query page once a shard's tick has run this long (ms; default: no limit) */
  budgetMs?: number;
  /** pace each shard's advances to at most this many per second (default: unpaced) */
  maxAdvancesPerSecond?: number;
}

/** Real time for pacing and the budget (monotonic ms, sleep); tests and simulations inject their own. */
export interface PaceTimer {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realPaceTimer: PaceTimer = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export interface SchedulerDeps {
  schedule: ScheduleStore;
  dispatcher: Dispatcher;
  clock?: Clock;
  logger?: Logger;
  timer?: PaceTimer;
}

export interface TickReport {
  at: number;
  horizonMs: number;
  /** due agents read from the index */
  due: number;
  /** conditional advances won (agents this tick scheduled) */
  advanced: number;
  /** advances lost to another scheduler or a concurrent status change */
  lost: number;
  /** slots dispatched */
  dispatched: number;
  /** agents that had overdue slots (only the latest ran) */
  overdue: number;
  /** `restarting` agents flipped back to `active` (their backoff ended) */
  activated: number;
  /** advances that failed with an error (store unreachable): their slots were dispatched anyway */
  uncertain: number;
  /** shards this tick covered */
  shards: number;
  /** shards that stopped at maxPerShard or budgetMs with a full last page: agents left over run next tick */
  truncated: number;
}

export interface SlotPlan {
  slots: { slot: number; notBefore: number }[];
  /** nextRunAt after the planned slots */
  next: number;
  overdue: boolean;
}

/**
 * Slots of one due agent for a tick at `now` with window end `before` (inclusive), on the agent's
 * grid (`k × period + slotOffsetMs(name)`). A nextRunAt in the past collapses to the latest
 * overdue slot, run at once; then the grid continues. A nextRunAt off the grid (the first slot
 * after a restart backoff, or one stored on the grid of an older release, before phase offsets)
 * is one slot of its own: it runs once, and the slots after it are on the grid, the first of them
 * at least a period later.
 */
export function planSlots(
  agent: Pick<DueAgent, 'name' | 'nextRunAt' | 'cycleSeconds'>,
  now: number,
  before: number,
  maxSlots = 1000,
): SlotPlan {
  // the next slot at least a period later: the grid's next slot after a grid slot; after an
  // off-grid one, the first grid slot a full period on (two runs of an agent are never closer
  // than its period, so a late older slot is never refused for a newer one that ran first)
  const after = (t: number) => nextSlotAtOrAfter(t + slotPeriodMs(agent.cycleSeconds), agent.cycleSeconds, agent.name);
  const slots: SlotPlan['slots'] = [];
  let s = agent.nextRunAt;
  let overdue = false;
  if (s < now) {
    const latest = Math.max(s, latestSlotAtOrBefore(now, agent.cycleSeconds, agent.name));
    slots.push({ slot: latest, notBefore: now });
    overdue = true;
    s = after(latest);
  }
  while (s <= before && slots.length < maxSlots) {
    slots.push({ slot: s, notBefore: s });
    s = after(s);
  }
  return { slots, next: s, overdue };
}

async function mapLimit<T>(items: T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (i < items.length) {
      const item = items[i++] as T;
      await fn(item);
    }
  });
  await Promise.all(workers);
}

interface Won {
  agent: DueAgent;
  plan: SlotPlan;
}

export class SchedulerService {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly pageSize: number;
  private readonly maxPerShard: number;
  private readonly maxSlotsPerAgent: number;
  private readonly concurrency: number;
  private readonly timer: PaceTimer;

  constructor(
    private readonly deps: SchedulerDeps,
    private readonly opts: SchedulerOptions,
  ) {
    if (!Number.isInteger(opts.shards) || opts.shards < 1)
      throw new SchedulerConfigError(`shards must be a positive integer, got ${opts.shards}`);
    if (!(opts.horizonMs >= 0)) throw new SchedulerConfigError(`horizonMs must be >= 0, got ${opts.horizonMs}`);
    if (opts.fillAheadMs !== undefined && !(opts.fillAheadMs >= 0 && opts.fillAheadMs <= MAX_FILL_AHEAD_MS))
      throw new SchedulerConfigError(
        `fillAheadMs must be between 0 and ${MAX_FILL_AHEAD_MS} (the queue's longest delay), got ${opts.fillAheadMs}`,
      );
    this.clock = deps.clock ?? systemClock;
    this.log = deps.logger ?? silentLogger;
    this.pageSize = opts.pageSize ?? 500;
    this.maxPerShard = opts.maxPerShard ?? 20_000;
    this.maxSlotsPerAgent = opts.maxSlotsPerAgent ?? 1000;
    this.concurrency = opts.concurrency ?? 16;
    this.timer = deps.timer ?? realPaceTimer;
    if (opts.maxAdvancesPerSecond !== undefined && !(opts.maxAdvancesPerSecond > 0))
      throw new SchedulerConfigError(`maxAdvancesPerSecond must be > 0, got ${opts.maxAdvancesPerSecond}`);
  }

  /** The shard names, "0" … String(shards - 1). */
  get shardNames(): string[] {
    return Array.from({ length: this.opts.shards }, (_, i) => String(i));
  }

  /** One tick of the given shards (default: all of them). */
  async tick(now: number = this.clock.now(), shards: readonly string[] = this.shardNames): Promise<TickReport> {
    for (const sh of shards)
      if (!this.shardNames.includes(sh)) throw new SchedulerConfigError(`no shard ${sh}: shards are 0..${this.opts.shards - 1}`);
    const horizonMs = this.opts.horizonMs;
    const before = now + horizonMs;
    const report: TickReport = {
      at: now,
      horizonMs,
      due: 0,
      advanced: 0,
      lost: 0,
      dispatched: 0,
      overdue: 0,
      activated: 0,
      uncertain: 0,
      shards: shards.length,
      truncated: 0,
    };
    const won: Won[] = [];
    // a shard whose query fails (store unreachable mid-tick) does not cost the other shards the
    // slots they won: those are dispatched first, then the tick reports the failure
    const shardErrors: unknown[] = [];
    const fillUntil = now + Math.max(horizonMs, this.opts.fillAheadMs ?? horizonMs);
    await Promise.all(
      shards.map((sh) => this.tickShard(sh, now, before, fillUntil, report, won).catch((e: unknown) => void shardErrors.push(e))),
    );
    const items: DispatchItem[] = [];
    for (const w of won) {
      for (const s of w.plan.slots) {
        items.push({
          message: {
            kind: 'cycle',
            agent: w.agent.name,
            runId: cycleRunId(w.agent.name, s.slot),
            slot: s.slot,
            generation: w.agent.generation,
          },
          notBefore: s.notBefore,
        });
      }
    }
    items.sort((a, b) => a.notBefore - b.notBefore);
    if (items.length > 0) {
      try {
        await this.deps.dispatcher.dispatch(items);
      } catch (e) {
        await this.rollback(won, now);
        throw new SchedulerDispatchError(
          `dispatching ${items.length} slots failed; ${won.length} schedules rolled back: ${errorMessage(e)}`,
          { slots: items.length },
        );
      }
    }
    report.dispatched = items.length;
    if (shardErrors.length > 0)
      throw new SchedulerStoreError(
        `${shardErrors.length} of ${shards.length} shards failed this tick (the rest dispatched ${items.length} slots): ${errorMessage(shardErrors[0])}`,
        { shards: shardErrors.length, dispatched: items.length },
      );
    if (report.due > 0) this.log.debug('tick', { ...report });
    return report;
  }

  private async tickShard(shard: string, now: number, before: number, fillUntil: number, report: TickReport, won: Won[]): Promise<void> {
    let seen = 0;
    const started = this.timer.now();
    const rate = this.opts.maxAdvancesPerSecond;
    const interval = rate === undefined ? 0 : 1000 / rate;
    let nextStart = started;
    // the k-th advance of the shard starts no earlier than k / rate seconds into the tick
    const pace = async () => {
      if (interval === 0) return;
      const t = this.timer.now();
      const at = Math.max(nextStart, t);
      nextStart = at + interval;
      if (at > t) await this.timer.sleep(at - t);
    };
    for (;;) {
      const limit = Math.min(this.pageSize, this.maxPerShard - seen);
      const due = await this.deps.schedule.queryDue(shard, before, limit);
      report.due += due.length;
      seen += due.length;
      await mapLimit(due, this.concurrency, async (agent) => {
        const plan = planSlots(agent, now, fillUntil, this.maxSlotsPerAgent);
        await pace();
        const activate = agent.status === 'restarting';
        let ok: boolean;
        try {
          ok = await this.deps.schedule.advance(agent.name, agent.nextRunAt, plan.next, { activate, at: now });
        } catch (e) {
          // unknown whether the advance was applied: dispatch its slots anyway. If it was not,
          // the next tick dispatches the same slots again and the runner's slot claim runs each
          // once; if it was and they were not dispatched, they would be lost.
          this.log.warn('advance failed; dispatching its slots anyway', { agent: agent.name, error: errorMessage(e) });
          report.uncertain++;
          ok = true;
        }
        if (!ok) {
          report.lost++;
          return;
        }
        report.advanced++;
        if (plan.overdue) report.overdue++;
        if (activate) report.activated++;
        won.push({ agent, plan });
      });
      // a full page may hide more due agents (every agent read has moved past `before` or left the index)
      if (due.length < limit) return;
      if (seen >= this.maxPerShard) {
        report.truncated++;
        this.log.warn('tick reached maxPerShard; the rest run next tick', { shard, maxPerShard: this.maxPerShard });
        return;
      }
      if (this.opts.budgetMs !== undefined && this.timer.now() - started >= this.opts.budgetMs) {
        report.truncated++;
        this.log.warn('tick used its time budget; the rest run next tick', { shard, budgetMs: this.opts.budgetMs, seen });
        return;
      }
    }
  }

  private async rollback(won: Won[], now: number): Promise<void> {
    await mapLimit(won, this.concurrency, async (w) => {
      try {
        await this.deps.schedule.advance(w.agent.name, w.plan.next, w.agent.nextRunAt, { activate: false, at: now });
      } catch (e) {
        this.log.error('schedule rollback failed', { agent: w.agent.name, error: e });
      }
    });
  }
}
