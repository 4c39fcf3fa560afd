/**
 * Scheduling in local mode (DynamoDB Local, s3rver, real worker runs, fake clock): slot grid,
 * at-most-once slots under racing schedulers and duplicate deliveries, overdue policy, and the
 * operator's pause / resume / trigger.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planSlots, SchedulerService } from '../../shared/core/scheduler/service';
import { SchedulerDispatchError, SchedulerStoreError } from '../../shared/core/scheduler/errors';
import { RunLeaseHeldError } from '../../shared/core/runner/errors';
import { shardOf } from '../../shared/definitions/tables';
import { latestSlotAtOrBefore, nextSlotAtOrAfter, slotOffsetMs } from '../../shared/core/registry';
import { createSchedulerHandler, schedulerHorizonMs } from '../../functions/scheduler/core';
import { ValidationError } from '../../shared/core/errors';
import type { Dispatcher, ScheduleStore } from '../../shared/core/ports';
import { startRuntime, type Runtime } from './harness';
import { RecordingDispatcher, T0, registration } from './helpers';

describe('planSlots (slot grid and overdue policy)', () => {
  // G: a slot of agent `a`'s grid (period 1 s and 60 s: offsets slotOffsetMs('a', ...))
  const g1 = nextSlotAtOrAfter(T0, 1, 'a');
  const g60 = nextSlotAtOrAfter(T0, 60, 'a');

  it('dispatches every grid slot inside the window, inclusive', () => {
    expect(planSlots({ name: 'a', nextRunAt: g1, cycleSeconds: 1 }, g1, g1 + 1500)).toEqual({
      slots: [
        { slot: g1, notBefore: g1 },
        { slot: g1 + 1000, notBefore: g1 + 1000 },
      ],
      next: g1 + 2000,
      overdue: false,
    });
    expect(planSlots({ name: 'a', nextRunAt: g60 + 60_000, cycleSeconds: 60 }, g60, g60 + 90_000).slots.map((s) => s.slot)).toEqual([
      g60 + 60_000,
    ]);
    expect(planSlots({ name: 'a', nextRunAt: g60 + 120_000, cycleSeconds: 60 }, g60, g60 + 90_000)).toEqual({
      slots: [],
      next: g60 + 120_000,
      overdue: false,
    });
  });

  it('collapses overdue slots into the latest one, run at once, then continues on the grid', () => {
    // scheduler was away for 10 s: slots g1..g1+10 s missed; only g1+10 s runs, now
    const p = planSlots({ name: 'a', nextRunAt: g1, cycleSeconds: 1 }, g1 + 10_400, g1 + 11_900);
    expect(p.overdue).toBe(true);
    expect(p.slots).toEqual([
      { slot: g1 + 10_000, notBefore: g1 + 10_400 },
      { slot: g1 + 11_000, notBefore: g1 + 11_000 },
    ]);
    expect(p.next).toBe(g1 + 12_000);
  });

  it('same-period agents have different grids (phase offsets)', () => {
    const offsets = new Set(['a', 'b', 'c', 'd', 'e'].map((n) => slotOffsetMs(n, 60)));
    expect(offsets.size).toBe(5);
    expect(planSlots({ name: 'b', nextRunAt: T0, cycleSeconds: 60 }, T0, T0 + 1).next).toBe(nextSlotAtOrAfter(T0 + 60_000, 60, 'b'));
  });

  it('an off-grid first slot (after a restart backoff) runs once, then the grid resumes a full period later', () => {
    const g2 = nextSlotAtOrAfter(T0 + 5_000, 2, 'a');
    const p = planSlots({ name: 'a', nextRunAt: g2 + 300, cycleSeconds: 2 }, g2, g2 + 6_000);
    expect(p.slots.map((s) => s.slot)).toEqual([g2 + 300, g2 + 4_000, g2 + 6_000]);
  });
});

describe('scheduler handler', () => {
  it('accepts the tick input and the EventBridge scheduled-event shape; refuses anything else', async () => {
    const disp = new RecordingDispatcher();
    const h = createSchedulerHandler({
      schedule: { queryDue: async () => [], advance: async () => true },
      dispatcher: disp,
      config: { shards: 2, horizonMs: 1000 },
    });
    await expect(h({ action: 'tick' })).resolves.toMatchObject({ due: 0, dispatched: 0 });
    await expect(h({ source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} })).resolves.toMatchObject({ due: 0 });
    await expect(h({ action: 'sweep' })).rejects.toBeInstanceOf(ValidationError);
    await expect(h(null)).rejects.toBeInstanceOf(ValidationError);
    expect(schedulerHorizonMs(60)).toBe(90_000);
  });
});

describe('scheduling in local mode (DynamoDB Local + real runs)', () => {
  let rt: Runtime;
  beforeAll(async () => {
    rt = await startRuntime();
  });
  afterAll(async () => rt?.stop());

  it('a healthy agent with cycleSeconds 1 runs once a second for a minute, no missed or doubled slot', async () => {
    await rt.publish('steady', 'healthy.mjs');
    // the clock moves to the agent's first slot (its phase offset), then ticks every second
    const first = nextSlotAtOrAfter(rt.clock.now(), 1, 'steady');
    expect((await rt.registry.get('steady'))?.nextRunAt).toBe(first);
    rt.clock.advance(first - rt.clock.now());
    for (let s = 0; s < 60; s++) await rt.step(1000);
    const runs = rt.runsOf('steady');
    expect(runs.map((e) => e.topic).every((t) => t === 'agent.cycle')).toBe(true);
    const slots = runs.map((e) => e.payload.slot as number);
    // 60 seconds from the first slot: each exactly once, in order
    expect(slots).toEqual(Array.from({ length: 60 }, (_, i) => first + i * 1000));
    expect(runs.map((e) => e.payload.cycle)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    // state persisted across all 60 isolated runs; the agent's own envelopes were published
    expect(await rt.heartbeats.getState('steady')).toEqual({ n: 60 });
    expect(rt.ledgerOf('healthy.tick').map((e) => e.payload.n)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    expect(await rt.heartbeats.get('steady')).toMatchObject({ cycles: 60, failures: 0, lastSlot: first + 59_000 });
  });

  it('two schedulers ticking at once never run the same slot twice', async () => {
    await rt.publish('raced', 'healthy.mjs');
    const a = new SchedulerService({ schedule: rt.schedule, dispatcher: rt.pool, clock: rt.clock }, { shards: 3, horizonMs: 1500 });
    const b = new SchedulerService({ schedule: rt.schedule, dispatcher: rt.pool, clock: rt.clock }, { shards: 3, horizonMs: 1500 });
    const start = rt.clock.now();
    let lost = 0;
    for (let s = 0; s < 15; s++) {
      const [ra, rb] = await Promise.all([a.tick(), b.tick()]);
      lost += ra.lost + rb.lost;
      await rt.settle();
      rt.clock.advance(1000);
    }
    const slots = rt.runsOf('raced').map((e) => e.payload.slot as number);
    // the slots of its grid from the start to the last tick (14 s later)
    const first = nextSlotAtOrAfter(start, 1, 'raced');
    expect(slots).toEqual(Array.from({ length: 15 }, (_, i) => first + i * 1000).filter((s) => s <= start + 14_000));
    expect(new Set(slots).size).toBe(slots.length);
    // the race really happened: for every tick of both, one of them lost the advance
    expect(lost).toBeGreaterThanOrEqual(15);
  });

  it('a duplicate delivery of a slot runs once (conditional claim on the slot)', async () => {
    await rt.step(1000);
    const rec = await rt.registry.get('raced');
    const slot = rt.clock.now() + 5000;
    const msg = { kind: 'cycle' as const, agent: 'raced', runId: `raced@${slot}`, slot, generation: rec!.generation };
    const settled = await Promise.allSettled([rt.core(msg), rt.core(msg), rt.core(msg)]);
    // one copy runs; a copy that claims while it holds the run goes back to the queue
    // (RunLeaseHeldError), one that claims after it finished is refused as a duplicate: which of
    // the two depends on how fast the first run is, never both running
    const ran = settled.filter((r) => r.status === 'fulfilled' && (r.value as { status: string }).status === 'ran');
    expect(ran).toHaveLength(1);
    for (const r of settled.filter((x) => !ran.includes(x))) {
      if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(RunLeaseHeldError);
      else expect(r.value).toMatchObject({ status: 'skipped', reason: 'duplicate' });
    }
    expect(await rt.heartbeats.get('raced')).toMatchObject({ lastSlot: slot, running: null });
    // redelivered once it is done: refused as duplicates
    expect(await rt.core(msg)).toMatchObject({ status: 'skipped', reason: 'duplicate' });
    // an older slot delivered late is refused too
    expect(await rt.core({ ...msg, slot: slot - 3000, runId: `raced@${slot - 3000}` })).toMatchObject({
      status: 'skipped',
      reason: 'duplicate',
    });
  });

  it('paused agents do not run; resume continues on the grid without a burst; trigger runs one extra cycle now', async () => {
    await rt.control.pause('raced');
    await rt.control.pause('steady');
    const before = rt.runsOf('steady').length;
    for (let s = 0; s < 5; s++) await rt.step(1000);
    expect(rt.runsOf('steady').length).toBe(before);
    expect((await rt.registry.get('steady'))?.nextRunAt).toBeNull();

    // trigger while paused: exactly one extra cycle, now, status unchanged
    const { runId } = await rt.control.trigger('steady');
    await rt.settle();
    const trig = rt.runsOf('steady').slice(before);
    expect(trig).toHaveLength(1);
    expect(trig[0]?.payload).toMatchObject({ kind: 'trigger', runId, outcome: 'ok' });
    expect((await rt.registry.get('steady'))?.status).toBe('paused');

    // resume: the next grid slot, no replay of the paused seconds (the clock is on steady's grid)
    const resumeAt = rt.clock.now();
    expect(nextSlotAtOrAfter(resumeAt, 1, 'steady')).toBe(resumeAt);
    await rt.control.resume('steady');
    for (let s = 0; s < 3; s++) await rt.step(1000);
    const after = rt
      .runsOf('steady')
      .slice(before + 1)
      .map((e) => e.payload.slot as number);
    expect(after).toEqual([resumeAt, resumeAt + 1000, resumeAt + 2000]);
  });

  it('overdue slots after a scheduler outage run once (the latest), not in a burst', async () => {
    await rt.settle(); // the slot dispatched by the last tick before the outage runs
    const before = rt.runsOf('steady').length;
    rt.clock.advance(30_000); // the scheduler did not tick for 30 s
    const tick = await rt.step(1000);
    expect(tick.overdue).toBeGreaterThanOrEqual(1);
    const runs = rt.runsOf('steady').slice(before);
    expect(runs).toHaveLength(1);
    expect(runs[0]?.payload.slot).toBe(latestSlotAtOrBefore(rt.clock.now() - 1000, 1, 'steady'));
  });

  it('an agent scheduled before phase offsets (nextRunAt a multiple of its period) moves to its grid: no slot twice, none lost', async () => {
    await rt.publish('legacy', 'healthy.mjs');
    expect(slotOffsetMs('legacy', 1)).toBeGreaterThan(0);
    // what the release before phase offsets stored: the next whole second
    const rec = await rt.registry.get('legacy');
    const old = Math.ceil((rt.clock.now() + 1) / 1000) * 1000;
    expect(await rt.schedule.advance('legacy', rec!.nextRunAt!, old, { activate: false, at: rt.clock.now() })).toBe(true);
    const from = rt.clock.now();
    for (let s = 0; s < 8; s++) await rt.step(1000);
    const last = from + 7000; // the last tick: runs whose slot started by then have run
    const slots = rt.runsOf('legacy').map((e) => e.payload.slot as number);
    // the first slot of its grid at least a period after the old one
    const firstNew = nextSlotAtOrAfter(old + 1000, 1, 'legacy');
    expect(firstNew - old).toBe(1000 + slotOffsetMs('legacy', 1));
    const grid = Array.from({ length: 8 }, (_, i) => firstNew + i * 1000).filter((s) => s <= last);
    expect(slots).toEqual([old, ...grid]);
    expect((await rt.heartbeats.get('legacy'))?.cycles).toBe(slots.length);
  });
});

describe('scheduler against DynamoDB Local only', () => {
  let rt: Runtime;
  beforeAll(async () => {
    rt = await startRuntime({ start: T0 });
  });
  afterAll(async () => rt?.stop());

  it('reads only due agents (sparse index): idle agents far in the future cost nothing per tick', async () => {
    for (let i = 0; i < 40; i++) await rt.registry.register(registration(`idle-${i}`, { cycleSeconds: 3600, firstRunAt: T0 + 3_600_000 }));
    const first = nextSlotAtOrAfter(T0, 10, 'due-now');
    await rt.registry.register(registration('due-now', { cycleSeconds: 10, firstRunAt: first }));
    const disp = new RecordingDispatcher();
    const svc = new SchedulerService({ schedule: rt.schedule, dispatcher: disp, clock: rt.clock }, { shards: 3, horizonMs: 60_000 });
    const r = await svc.tick(first);
    // window [T0, T0 + 60 s] inclusive: 7 slots of a 10 s agent
    expect(r).toMatchObject({ due: 1, advanced: 1, dispatched: 7 });
    expect(disp.items.map((i) => i.message)).toEqual(
      Array.from({ length: 7 }, (_, k) => ({
        kind: 'cycle',
        agent: 'due-now',
        runId: `due-now@${first + k * 10_000}`,
        slot: first + k * 10_000,
        generation: 1,
      })),
    );
    expect((await rt.registry.get('due-now'))?.nextRunAt).toBe(first + 70_000);
    // the next tick inside the window finds nothing to do
    expect(await svc.tick(first + 1000)).toMatchObject({ due: 0, dispatched: 0 });
  });

  it('a failed dispatch rolls the advance back, so the next tick runs the (overdue) slot', async () => {
    const F = nextSlotAtOrAfter(T0 + 100_000, 5, 'rollback');
    await rt.registry.register(registration('rollback', { cycleSeconds: 5, firstRunAt: F }));
    const failing: Dispatcher = {
      dispatch: async () => {
        throw new Error('queue unavailable');
      },
    };
    const svc = new SchedulerService({ schedule: rt.schedule, dispatcher: failing }, { shards: 3, horizonMs: 4000 });
    await expect(svc.tick(F - 1000)).rejects.toBeInstanceOf(SchedulerDispatchError);
    expect((await rt.registry.get('rollback'))?.nextRunAt).toBe(F);
    const disp = new RecordingDispatcher();
    const ok = new SchedulerService({ schedule: rt.schedule, dispatcher: disp }, { shards: 3, horizonMs: 4000 });
    await ok.tick(F + 1000);
    // the missed slot runs at once, then the grid continues inside the window
    expect(
      disp.items.filter((i) => i.message.agent === 'rollback').map((i) => [i.message.kind === 'cycle' ? i.message.slot : 0, i.notBefore]),
    ).toEqual([
      [F, F + 1000],
      [F + 5000, F + 5000],
    ]);
  });

  it('a failing advance or shard query does not cost the other agents their slots; an uncertain advance is dispatched anyway', async () => {
    // each on its grid, first slot in [T0 + 300 s, T0 + 305 s); the first tick's window covers all three
    const F = (n: string) => nextSlotAtOrAfter(T0 + 300_000, 5, n);
    for (const n of ['sf-a', 'sf-b', 'sf-c']) await rt.registry.register(registration(n, { cycleSeconds: 5, firstRunAt: F(n) }));
    const flaky: ScheduleStore = {
      queryDue: (shard, before, limit) => rt.schedule.queryDue(shard, before, limit),
      advance: async (name, expect, next, opts) => {
        if (name === 'sf-b') throw new Error('ECONNREFUSED');
        return rt.schedule.advance(name, expect, next, opts);
      },
    };
    const disp = new RecordingDispatcher();
    const svc = new SchedulerService({ schedule: flaky, dispatcher: disp }, { shards: 3, horizonMs: 5999 });
    const r = await svc.tick(T0 + 299_000);
    expect(r.uncertain).toBe(1);
    const slots = (n: string) =>
      disp.items.filter((i) => i.message.agent === n).map((i) => (i.message.kind === 'cycle' ? i.message.slot : 0));
    expect(slots('sf-a')).toEqual([F('sf-a')]);
    expect(slots('sf-c')).toEqual([F('sf-c')]);
    // unknown whether sf-b's advance happened (here: it did not): its slot is dispatched now and
    // again by the next tick; the runner's slot claim makes that one run
    expect(slots('sf-b')).toEqual([F('sf-b')]);
    expect((await rt.registry.get('sf-b'))?.nextRunAt).toBe(F('sf-b'));

    // a shard whose query fails: the other shards' slots still go out, then the tick reports it
    const broken = shardOf('sf-a', 3);
    const partial: ScheduleStore = {
      queryDue: async (shard, before, limit) => {
        if (shard === broken) throw new Error('ECONNREFUSED');
        return rt.schedule.queryDue(shard, before, limit);
      },
      advance: (name, expect, next, opts) => rt.schedule.advance(name, expect, next, opts),
    };
    const disp2 = new RecordingDispatcher();
    const svc2 = new SchedulerService({ schedule: partial, dispatcher: disp2 }, { shards: 3, horizonMs: 6000 });
    await expect(svc2.tick(T0 + 306_000)).rejects.toBeInstanceOf(SchedulerStoreError);
    const others = ['sf-b', 'sf-c'].filter((n) => shardOf(n, 3) !== broken);
    for (const n of others) expect(disp2.items.some((i) => i.message.agent === n)).toBe(true);
    expect(disp2.items.some((i) => i.message.agent === 'sf-a')).toBe(false);
  });

  it('flips restarting agents back to active when it dispatches their first slot after the backoff', async () => {
    await rt.registry.register(registration('backoff', { cycleSeconds: 1, firstRunAt: T0 }));
    await rt.registry.transition('backoff', {
      to: 'restarting',
      from: ['active'],
      at: T0,
      reason: 'test',
      nextRunAt: T0 + 200_500,
      bumpGeneration: true,
    });
    const disp = new RecordingDispatcher();
    const svc = new SchedulerService({ schedule: rt.schedule, dispatcher: disp }, { shards: 3, horizonMs: 1500 });
    expect((await svc.tick(T0 + 198_000)).activated).toBe(0);
    expect((await rt.registry.get('backoff'))?.status).toBe('restarting');
    const r = await svc.tick(T0 + 199_500);
    expect(r.activated).toBe(1);
    const rec = await rt.registry.get('backoff');
    expect(rec?.status).toBe('active');
    // the off-grid first slot after the backoff, under the new generation; then the grid, a period on
    expect(disp.items.filter((i) => i.message.agent === 'backoff').map((i) => i.message)).toEqual([
      { kind: 'cycle', agent: 'backoff', runId: `backoff@${T0 + 200_500}`, slot: T0 + 200_500, generation: rec?.generation },
    ]);
    expect(rec?.nextRunAt).toBe(nextSlotAtOrAfter(T0 + 201_500, 1, 'backoff'));
  });
});
