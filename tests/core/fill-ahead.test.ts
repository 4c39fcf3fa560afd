/**
 * Fill-ahead (SchedulerOptions.fillAheadMs): an agent a tick picks (due inside the horizon) gets
 * its slots up to now + fillAheadMs, so one advance covers several slots of a short-period agent.
 * Over 30 minutes of 60 s ticks, with the cloud's horizon (90 s) and fill-ahead (300 s): every
 * slot is dispatched exactly once, in order, none missing, and the advances (the tick's only
 * writes) fall from one per slot to about one per four. The store is the in-memory ScheduleStore
 * with DynamoSchedule's semantics (tests/support/memory-schedule.ts); the real adapter's advance
 * is measured against DynamoDB Local in tests/capacity/scheduler-work.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { MAX_FILL_AHEAD_MS, SchedulerService } from '../../shared/core/scheduler/service';
import { SchedulerConfigError } from '../../shared/core/scheduler/errors';
import { CLOUD_FILL_AHEAD_SECONDS, CLOUD_TICK_SECONDS, schedulerHorizonMs } from '../../functions/scheduler/core';
import { nextSlotAtOrAfter } from '../../shared/core/registry';
import type { DispatchItem } from '../../shared/core/dispatch';
import type { Dispatcher } from '../../shared/core/ports';
import { MemorySchedule } from '../support/memory-schedule';

const T0 = Date.UTC(2026, 0, 1);
const AGENTS = 100;
const MINUTES = 30;

class Recording implements Dispatcher {
  readonly items: DispatchItem[] = [];
  async dispatch(items: DispatchItem[]): Promise<void> {
    this.items.push(...items);
  }
}

async function simulate(fillAheadMs: number | undefined) {
  const store = new MemorySchedule();
  for (let i = 0; i < AGENTS; i++) {
    const name = `agent-${i}`;
    store.put({ name, status: 'active', cycleSeconds: 60, generation: 1, nextRunAt: nextSlotAtOrAfter(T0, 60, name) }, String(i % 4));
  }
  const disp = new Recording();
  const svc = new SchedulerService(
    { schedule: store, dispatcher: disp },
    { shards: 4, horizonMs: schedulerHorizonMs(CLOUD_TICK_SECONDS), ...(fillAheadMs !== undefined ? { fillAheadMs } : {}) },
  );
  for (let m = 0; m < MINUTES; m++) {
    const now = T0 + m * CLOUD_TICK_SECONDS * 1000;
    const before = disp.items.length;
    await svc.tick(now);
    // nothing is dispatched for a slot that already started, nor further ahead than asked
    for (const it of disp.items.slice(before)) {
      expect(it.notBefore).toBeGreaterThanOrEqual(now);
      expect(it.notBefore - now).toBeLessThanOrEqual(Math.max(fillAheadMs ?? 0, schedulerHorizonMs(CLOUD_TICK_SECONDS)));
    }
  }
  // the slots that start within the simulated half hour (later ones may be dispatched already)
  const end = T0 + MINUTES * 60_000;
  const byAgent = new Map<string, number[]>();
  for (const it of disp.items) {
    if (it.message.kind !== 'cycle') continue;
    const list = byAgent.get(it.message.agent) ?? [];
    list.push(it.message.slot);
    byAgent.set(it.message.agent, list);
  }
  let slots = 0;
  for (const [name, list] of byAgent) {
    // each slot once, in order, 60 s apart: none twice, none missing
    expect(new Set(list).size).toBe(list.length);
    expect([...list].sort((a, b) => a - b)).toEqual(list);
    for (let k = 1; k < list.length; k++) expect((list[k] as number) - (list[k - 1] as number)).toBe(60_000);
    expect(list[0]).toBe(nextSlotAtOrAfter(T0, 60, name));
    slots += list.filter((s) => s < end).length;
  }
  expect(byAgent.size).toBe(AGENTS);
  // every slot of the half hour was dispatched (each agent's grid has MINUTES or MINUTES - 1 of them)
  expect(slots).toBeGreaterThanOrEqual(AGENTS * (MINUTES - 1));
  return { advances: store.requests.UpdateItem, slots };
}

describe('scheduler fill-ahead', () => {
  it('the cloud setting dispatches every slot once and advances about once per four slots', async () => {
    const plain = await simulate(undefined);
    const filled = await simulate(CLOUD_FILL_AHEAD_SECONDS * 1000);
    // without fill-ahead every slot costs an advance; with it, at most one in three
    expect(plain.advances / plain.slots).toBeGreaterThan(0.9);
    expect(filled.advances / filled.slots).toBeLessThan(1 / 3);
  });

  it('refuses a fill-ahead beyond the queue’s longest delay', () => {
    const deps = { schedule: new MemorySchedule(), dispatcher: new Recording() };
    expect(() => new SchedulerService(deps, { shards: 1, horizonMs: 1000, fillAheadMs: MAX_FILL_AHEAD_MS + 1 })).toThrow(
      SchedulerConfigError,
    );
    expect(() => new SchedulerService(deps, { shards: 1, horizonMs: 1000, fillAheadMs: -1 })).toThrow(SchedulerConfigError);
  });
});
