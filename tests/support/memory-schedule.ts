/**
 * An in-memory ScheduleStore with the semantics of DynamoSchedule (sparse `due` index by shard,
 * ordered by nextRunAt; conditional advance), instrumented: it counts the requests a tick makes
 * and the write units they would cost on DynamoDB, by the virtual second they happen in. Used
 * where a fleet is too large for DynamoDB Local on this machine (the 1 000 000-agent simulation);
 * the real adapter's request shapes and costs are measured against DynamoDB Local in
 * tests/capacity/scheduler-work.test.ts.
 *
 * With a VirtualTimer, requests take simulated time: each Query and UpdateItem sleeps its latency
 * on the virtual clock, so the SchedulerService's pacing and budget run as they would against a
 * store with that latency, without waiting for it.
 */
import type { DueAgent } from '../../shared/core/registry';
import type { ScheduleStore } from '../../shared/core/ports';
import type { PaceTimer } from '../../shared/core/scheduler/service';

/**
 * Virtual time: `sleep(ms)` resolves once every sleeper due earlier has resumed, with the clock
 * at its wake time. Concurrent sleepers interleave as on a real clock.
 */
export class VirtualTimer implements PaceTimer {
  private t = 0;
  private readonly sleepers: { at: number; seq: number; wake: () => void }[] = [];
  private seq = 0;
  private scheduled = false;

  now(): number {
    return this.t;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.sleepers.push({ at: this.t + Math.max(0, ms), seq: this.seq++, wake: resolve });
      this.schedule();
    });
  }

  /** Wakes the earliest sleeper once the running code has settled (a macrotask later). */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.sleepers.length === 0) return;
      this.sleepers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.sleepers.shift()!;
      this.t = Math.max(this.t, next.at);
      next.wake();
      if (this.sleepers.length > 0) this.schedule();
    });
  }
}

export interface StoreLatency {
  queryMs: number;
  updateMs: number;
}

export class MemorySchedule implements ScheduleStore {
  private readonly byShard = new Map<string, (DueAgent & { shard: string })[]>();
  private readonly agents = new Map<string, DueAgent & { shard: string }>();
  readonly requests = { Query: 0, UpdateItem: 0 };
  itemsRead = 0;
  /** write units by shard (the `due` index partition) and virtual second: 2 per advance (the entry's delete and put) */
  readonly indexWrites = new Map<string, Map<number, number>>();
  /** write units on the registry table (1 per advance: the item is < 1 KB) */
  tableWrites = 0;

  constructor(
    private readonly timer?: VirtualTimer,
    private readonly latency: StoreLatency = { queryMs: 0, updateMs: 0 },
  ) {}

  put(agent: DueAgent, shard: string): void {
    const item = { ...agent, shard };
    this.agents.set(agent.name, item);
    const list = this.byShard.get(shard) ?? [];
    list.push(item);
    this.byShard.set(shard, list);
  }

  get(name: string): DueAgent | undefined {
    const a = this.agents.get(name);
    return a && { name: a.name, status: a.status, nextRunAt: a.nextRunAt, cycleSeconds: a.cycleSeconds, generation: a.generation };
  }

  async queryDue(shard: string, before: number, limit: number): Promise<DueAgent[]> {
    this.requests.Query++;
    if (this.timer) await this.timer.sleep(this.latency.queryMs);
    const due = (this.byShard.get(shard) ?? [])
      .filter((a) => a.nextRunAt <= before && (a.status === 'active' || a.status === 'restarting'))
      .sort((a, b) => a.nextRunAt - b.nextRunAt)
      .slice(0, limit)
      .map(({ shard: _s, ...a }) => a);
    this.itemsRead += due.length;
    return due;
  }

  async advance(name: string, expectNextRunAt: number, nextRunAt: number, opts: { activate: boolean; at: number }): Promise<boolean> {
    this.requests.UpdateItem++;
    const at = this.timer?.now() ?? 0;
    if (this.timer) await this.timer.sleep(this.latency.updateMs);
    const a = this.agents.get(name);
    if (!a || a.nextRunAt !== expectNextRunAt) return false;
    a.nextRunAt = nextRunAt;
    if (opts.activate) a.status = 'active';
    this.tableWrites += 1;
    const second = Math.floor(at / 1000);
    const perSecond = this.indexWrites.get(a.shard) ?? new Map<number, number>();
    perSecond.set(second, (perSecond.get(second) ?? 0) + 2);
    this.indexWrites.set(a.shard, perSecond);
    return true;
  }

  /** The highest write units one `due` index partition took in one virtual second. */
  peakIndexWritesPerSecond(): number {
    let peak = 0;
    for (const perSecond of this.indexWrites.values()) for (const w of perSecond.values()) peak = Math.max(peak, w);
    return peak;
  }
}
