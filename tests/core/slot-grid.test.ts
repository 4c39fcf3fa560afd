/**
 * The slot grid with per-agent phase offsets (shared/core/registry.ts): slots of an agent start
 * at `k × period + slotOffsetMs(name, period)`, so same-period agents spread over the period;
 * agents whose stored nextRunAt is on the grid of an older release (multiples of the period) move
 * to their grid with no slot run twice and none lost.
 */
import { describe, expect, it } from 'vitest';
import { latestSlotAtOrBefore, nextSlotAtOrAfter, slotOffsetMs, slotPeriodMs } from '../../shared/core/registry';
import { planSlots } from '../../shared/core/scheduler/service';
import { shardOf } from '../../shared/definitions/tables';

const T0 = Date.UTC(2026, 0, 1);
const names = (n: number) => Array.from({ length: n }, (_, i) => `agent-${String(i).padStart(4, '0')}`);

describe('slot grid with phase offsets', () => {
  it('the offset is stable, inside the period, and the grid is k × period + offset', () => {
    for (const [name, cycleSeconds] of [
      ['alpha', 60],
      ['beta', 1],
      ['gamma', 1.5],
      ['a-very-long-agent-name-0123456789', 86_400],
    ] as const) {
      const p = slotPeriodMs(cycleSeconds);
      const off = slotOffsetMs(name, cycleSeconds);
      expect(slotOffsetMs(name, cycleSeconds)).toBe(off);
      expect(Number.isInteger(off) && off >= 0 && off < p).toBe(true);
      for (const t of [T0, T0 + 1, T0 + off, T0 + off + 1, T0 + 7 * p + 123]) {
        const next = nextSlotAtOrAfter(t, cycleSeconds, name);
        expect(next).toBeGreaterThanOrEqual(t);
        expect(next - t).toBeLessThan(p);
        expect((((next - off) % p) + p) % p).toBe(0);
        const latest = latestSlotAtOrBefore(t, cycleSeconds, name);
        expect(latest).toBeLessThanOrEqual(t);
        expect(t - latest).toBeLessThan(p);
        expect(next === t ? latest === t : next - latest === p).toBe(true);
      }
    }
  });

  it('1 000 agents of the same period: the busiest second holds at most 2× the average', () => {
    // before phase offsets, all 1 000 started in the same second (T0 is a multiple of every period)
    const busiestOf = (cycleSeconds: number, binMs: number) => {
      const perBin = new Map<number, number>();
      for (const n of names(1000)) {
        const bin = Math.floor((nextSlotAtOrAfter(T0, cycleSeconds, n) - T0) / binMs);
        perBin.set(bin, (perBin.get(bin) ?? 0) + 1);
      }
      return { busiest: Math.max(...perBin.values()), bins: perBin.size };
    };
    for (const cycleSeconds of [60, 30, 10]) {
      const { busiest, bins } = busiestOf(cycleSeconds, 1000);
      expect(busiest, `${cycleSeconds} s`).toBeLessThanOrEqual(2 * (1000 / cycleSeconds));
      expect(bins, `${cycleSeconds} s`).toBe(cycleSeconds);
    }
    // longer periods (fewer than 10 agents a second on average): spread over the whole period, no
    // 60th of the period holds more than 2× its share
    for (const cycleSeconds of [300, 3600, 86_400]) {
      const { busiest, bins } = busiestOf(cycleSeconds, (cycleSeconds * 1000) / 60);
      expect(busiest, `${cycleSeconds} s`).toBeLessThanOrEqual(2 * (1000 / 60));
      expect(bins, `${cycleSeconds} s`).toBe(60);
    }
  });

  it('the offset is not correlated with the dueShard: each shard spreads over the period too', () => {
    const shards = 4;
    for (let s = 0; s < shards; s++) {
      const inShard = names(4000).filter((n) => shardOf(n, shards) === String(s));
      const perTenSeconds = new Array(6).fill(0) as number[];
      for (const n of inShard) perTenSeconds[Math.floor(slotOffsetMs(n, 60) / 10_000)]!++;
      expect(Math.max(...perTenSeconds)).toBeLessThanOrEqual((2 * inShard.length) / 6);
      expect(Math.min(...perTenSeconds)).toBeGreaterThan(0);
    }
  });
});

describe('agents scheduled on the old grid (multiples of the period) move to their own grid', () => {
  /** Ticks every `tick` ms from `from` to `to` (horizon 1.5 ticks), advancing nextRunAt like the store does. */
  function run(name: string, cycleSeconds: number, nextRunAt: number, from: number, to: number, tick: number): number[] {
    const slots: number[] = [];
    let stored = nextRunAt;
    for (let now = from; now <= to; now += tick) {
      if (stored > now + 1.5 * tick) continue;
      const plan = planSlots({ name, cycleSeconds, nextRunAt: stored }, now, now + 1.5 * tick);
      slots.push(...plan.slots.map((s) => s.slot));
      stored = plan.next;
    }
    return slots;
  }

  it('the stored old-grid slot runs once, every later slot is on the new grid, none twice, none lost, never closer than the period', () => {
    for (const [cycleSeconds, tick] of [
      [60, 60_000],
      [1, 1000],
      [10, 1000],
      [600, 60_000],
    ] as const) {
      const p = slotPeriodMs(cycleSeconds);
      for (const name of names(50)) {
        const oldSlot = Math.ceil((T0 + 1) / p) * p; // what the release before phase offsets stored
        const slots = run(name, cycleSeconds, oldSlot, T0, T0 + 20 * p, tick);
        expect(slots[0]).toBe(oldSlot);
        // the move costs at most one period's delay, once: the next run is a period or less
        // later than the old grid's next slot would have been
        const firstNew = nextSlotAtOrAfter(oldSlot + p, cycleSeconds, name);
        expect(firstNew - oldSlot).toBeGreaterThanOrEqual(p);
        expect(firstNew - oldSlot).toBeLessThan(2 * p);
        // then every slot of the new grid, up to the end, each once: none lost, none twice
        const expected = [];
        for (let s = firstNew; s <= (slots.at(-1) ?? 0); s += p) expected.push(s);
        expect(expected.length).toBeGreaterThan(15);
        expect(slots.slice(1)).toEqual(expected);
        for (const s of expected) expect(nextSlotAtOrAfter(s, cycleSeconds, name)).toBe(s);
      }
    }
  });

  it('an overdue old-grid slot collapses into the latest slot of either grid, then the new grid', () => {
    const name = names(1)[0]!;
    const p = 60_000;
    const off = slotOffsetMs(name, 60);
    const oldSlot = T0 + 10 * p;
    // the scheduler comes back 5 minutes later: one run now (the latest new-grid slot), then the grid
    const now = oldSlot + 5 * p + 1;
    const plan = planSlots({ name, cycleSeconds: 60, nextRunAt: oldSlot }, now, now + 90_000);
    expect(plan.overdue).toBe(true);
    expect(plan.slots[0]).toEqual({ slot: latestSlotAtOrBefore(now, 60, name), notBefore: now });
    expect(plan.slots[0]!.slot).toBeGreaterThan(oldSlot);
    for (const s of plan.slots.slice(1)) expect((s.slot - off) % p).toBe(0);
    expect(plan.next - plan.slots.at(-1)!.slot).toBe(p);
    // overdue by less than the distance to the first new-grid slot: the old slot itself runs
    const soon = oldSlot + 1;
    const early = planSlots({ name, cycleSeconds: 60, nextRunAt: oldSlot }, soon, soon + 90_000);
    expect(early.slots[0]).toEqual({ slot: oldSlot + off <= soon ? latestSlotAtOrBefore(soon, 60, name) : oldSlot, notBefore: soon });
  });
});
