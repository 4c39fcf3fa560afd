/**
 * The tick by shard (shared/core/scheduler/service.ts, functions/scheduler/core.ts): a tick of
 * some shards touches only those; each shard's work is bounded (maxPerShard, the time budget) and
 * its advances paced (the `due` index partition's write rate); a tick event without a shard fans
 * out through the ShardFanOut port when one is given. The store is the in-memory ScheduleStore
 * with virtual time (tests/support/memory-schedule.ts); the real adapter is covered against
 * DynamoDB Local in tests/runtime/schedule.test.ts and tests/capacity.
 */
import { describe, expect, it } from 'vitest';
import { SchedulerService } from '../../shared/core/scheduler/service';
import { SchedulerConfigError } from '../../shared/core/scheduler/errors';
import { createSchedulerHandler, schedulerBudgetMs } from '../../functions/scheduler/core';
import { ValidationError } from '../../shared/core/errors';
import { nextSlotAtOrAfter } from '../../shared/core/registry';
import type { DispatchItem } from '../../shared/core/dispatch';
import type { Dispatcher, ShardFanOut } from '../../shared/core/ports';
import { MemorySchedule, VirtualTimer } from '../support/memory-schedule';

const T0 = Date.UTC(2026, 0, 1);

class Recording implements Dispatcher {
  readonly items: DispatchItem[] = [];
  async dispatch(items: DispatchItem[]): Promise<void> {
    this.items.push(...items);
  }
}

/** `n` agents of 60 s per shard, each due at its first grid slot after T0 (one slot each in a tick at T0 with a horizon under 60 s). */
function fleet(shards: number, n: number, timer?: VirtualTimer): MemorySchedule {
  const store = new MemorySchedule(timer, { queryMs: 10, updateMs: 5 });
  for (let s = 0; s < shards; s++)
    for (let i = 0; i < n; i++) {
      const name = `s${s}-agent-${i}`;
      store.put({ name, status: 'active', cycleSeconds: 60, generation: 1, nextRunAt: nextSlotAtOrAfter(T0, 60, name) }, String(s));
    }
  return store;
}

describe('tick by shard', () => {
  it('a tick of one shard reads and advances only that shard', async () => {
    const store = fleet(3, 20);
    const disp = new Recording();
    const svc = new SchedulerService({ schedule: store, dispatcher: disp }, { shards: 3, horizonMs: 59_999 });
    const r = await svc.tick(T0, ['1']);
    expect(r).toMatchObject({ shards: 1, due: 20, advanced: 20, dispatched: 20, truncated: 0 });
    expect(store.requests.Query).toBe(1);
    expect(new Set(disp.items.map((i) => i.message.agent.split('-')[0]))).toEqual(new Set(['s1']));
    await expect(svc.tick(T0, ['3'])).rejects.toBeInstanceOf(SchedulerConfigError);
  });

  it('paces a shard’s advances: never more than maxAdvancesPerSecond in any virtual second', async () => {
    const timer = new VirtualTimer();
    const store = fleet(1, 1000, timer);
    const svc = new SchedulerService(
      { schedule: store, dispatcher: new Recording(), timer },
      { shards: 1, horizonMs: 59_999, maxAdvancesPerSecond: 200, concurrency: 16 },
    );
    const r = await svc.tick(T0);
    expect(r).toMatchObject({ due: 1000, advanced: 1000, truncated: 0 });
    // 2 write units of the `due` partition per advance: at most 400 a second
    expect(store.peakIndexWritesPerSecond()).toBeLessThanOrEqual(2 * 200);
    // 1 000 advances at 200/s: about 5 virtual seconds
    expect(timer.now()).toBeGreaterThanOrEqual(4_990);
    expect(timer.now()).toBeLessThan(5_200);
  });

  it('stops reading pages once the budget is used (the rest run next tick), and at maxPerShard', async () => {
    const timer = new VirtualTimer();
    const store = fleet(1, 1000, timer);
    const disp = new Recording();
    const svc = new SchedulerService(
      { schedule: store, dispatcher: disp, timer },
      { shards: 1, horizonMs: 59_999, maxAdvancesPerSecond: 100, pageSize: 100, budgetMs: 2_500 },
    );
    const r = await svc.tick(T0);
    // each page of 100 takes about 1 s at 100/s: the third page ends past the 2.5 s budget
    expect(r).toMatchObject({ due: 300, advanced: 300, dispatched: 300, truncated: 1 });
    const capped = new SchedulerService(
      { schedule: store, dispatcher: disp },
      { shards: 1, horizonMs: 59_999, pageSize: 100, maxPerShard: 250 },
    );
    expect(await capped.tick(T0)).toMatchObject({ due: 250, advanced: 250, truncated: 1 });
    // the next tick picks the rest up
    expect(await capped.tick(T0)).toMatchObject({ due: 250, truncated: 1 });
    expect(await capped.tick(T0)).toMatchObject({ due: 200, truncated: 0 });
    expect(schedulerBudgetMs(60)).toBe(30_000);
    expect(schedulerBudgetMs(1)).toBe(10_000);
  });
});

describe('scheduler handler: shard events and the fan-out', () => {
  class RecordingFanOut implements ShardFanOut {
    readonly calls: number[][] = [];
    constructor(private readonly fail: number[] = []) {}
    async tickShards(shards: number[]) {
      this.calls.push(shards);
      return { failed: shards.filter((s) => this.fail.includes(s)) };
    }
  }

  it('with a fan-out, a tick without a shard starts one tick per shard and reads nothing itself', async () => {
    const store = fleet(4, 5);
    const fanOut = new RecordingFanOut();
    const h = createSchedulerHandler({ schedule: store, dispatcher: new Recording(), fanOut, config: { shards: 4, horizonMs: 59_999 } });
    expect(await h({ action: 'tick' })).toEqual({ fannedOut: 4, failed: [] });
    expect(fanOut.calls).toEqual([[0, 1, 2, 3]]);
    expect(store.requests).toEqual({ Query: 0, UpdateItem: 0 });
    // the scheduled-event shape fans out too
    await h({ source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} });
    expect(fanOut.calls).toHaveLength(2);
    // a shard invocation ticks its shard
    expect(await h({ action: 'tick', shard: 2 })).toMatchObject({ shards: 1, due: 5, advanced: 5 });
    expect(store.requests.Query).toBe(1);
    await expect(h({ action: 'tick', shard: 4 })).rejects.toBeInstanceOf(ValidationError);
    await expect(h({ action: 'tick', shard: -1 })).rejects.toBeInstanceOf(ValidationError);
    await expect(h({ action: 'tick', shard: 1.5 })).rejects.toBeInstanceOf(ValidationError);
  });

  it('a failed start fails the fanning tick, naming the shards (the next tick covers them)', async () => {
    const h = createSchedulerHandler({
      schedule: fleet(3, 1),
      dispatcher: new Recording(),
      fanOut: new RecordingFanOut([1]),
      config: { shards: 3, horizonMs: 59_999 },
    });
    await expect(h({ action: 'tick' })).rejects.toMatchObject({ name: 'SchedulerFanOutError', details: { failed: [1] } });
  });

  it('without a fan-out (local mode), or with one shard, a tick covers every shard itself', async () => {
    const store = fleet(3, 2);
    const h = createSchedulerHandler({ schedule: store, dispatcher: new Recording(), config: { shards: 3, horizonMs: 59_999 } });
    expect(await h({ action: 'tick' })).toMatchObject({ shards: 3, due: 6 });
    const one = fleet(1, 2);
    const fanOut = new RecordingFanOut();
    const h1 = createSchedulerHandler({ schedule: one, dispatcher: new Recording(), fanOut, config: { shards: 1, horizonMs: 59_999 } });
    expect(await h1({ action: 'tick' })).toMatchObject({ shards: 1, due: 2 });
    expect(fanOut.calls).toEqual([]);
  });
});
