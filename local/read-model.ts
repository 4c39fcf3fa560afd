/**
 * Local mode's read model: write-through caching decorators of the registry, schedule and
 * heartbeat store ports, so that the API's reads (`GET /agents` pages, the summary, `/metrics`)
 * are answered from memory instead of DynamoDB Local.
 *
 * It is sound only where every writer of the two tables goes through these decorators: local
 * mode runs the manager, scheduler, runner, health monitor and API in one process, all on the
 * stores the composition root builds (functions/compose.ts), which local/platform.ts wraps here.
 * The cloud never uses it (many Lambdas write the tables).
 *
 * - Loaded once at start (`load()`: one scan of the registry, one batch read of the heartbeats).
 * - Writes go to DynamoDB first; the cache changes only after a write succeeded, before the
 *   write's promise resolves, so a read that starts after a write returned sees it (never stale).
 *   A write whose outcome is unknown (it threw) is followed by a consistent read of the item.
 * - Writes of one agent's item are serialized per table (a per-name queue): the cache is updated
 *   in the order DynamoDB applied them. Different agents' writes run concurrently as before.
 * - What is served from memory: the registry's `get`, `list`, `page`, `counts`; the heartbeats'
 *   `getMany`, `erroringCount`, `earliestExpected`; and the fleet aggregates of `/metrics`
 *   (kept incrementally: O(1) per write, O(1) per read). Everything else (heartbeat `get`s,
 *   claims, the due and overdue queries) goes to DynamoDB as before.
 */
import type {
  HeartbeatClaimReader,
  HeartbeatStore,
  RegistryStore,
  RunClaim,
  RunCompletion,
  ScheduleStore,
  StubCounter,
} from '../shared/core/ports';
import type {
  AgentLogEntry,
  ClaimOutcome,
  CommitResult,
  CompletionStatus,
  LedgerCommit,
  LedgerHead,
  LedgerStore,
  RunLog,
} from '../shared/core/ports';
import {
  AgentStatusSchema,
  type AgentPageQuery,
  type AgentRecord,
  type AgentRecordPage,
  type DueAgent,
  type NewRegistration,
  type RegisterOutcome,
  type StatusCounts,
  type Transition,
} from '../shared/core/registry';
import { DURATION_BUCKETS_MS, HeartbeatRecordSchema, type HeartbeatRecord } from '../shared/core/heartbeat';
import { agentContribution, emptyFleet, type FleetMetrics } from '../functions/api/metrics';

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** First index in the sorted array whose name is > `after` (or >= `from`). */
function lowerBound(names: string[], key: string, strict: boolean): number {
  let lo = 0;
  let hi = names.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const n = names[mid] as string;
    if (n < key || (strict && n === key)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Runs writes of one key one after another (the cache follows DynamoDB's order). */
class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();
  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }
}

/** The in-memory state both decorators share: the records, the heartbeats, the fleet aggregates. */
export class ReadModel {
  private readonly records = new Map<string, AgentRecord>();
  private names: string[] = [];
  private readonly beats = new Map<string, HeartbeatRecord>();
  private fleetSums: FleetMetrics = emptyFleet();
  /** bumped by every change (tests, and a cheap "did anything change" for callers) */
  version = 0;
  readonly registry: CachedRegistry;
  readonly schedule: CachedSchedule;
  readonly heartbeats: CachedHeartbeats;

  constructor(inner: {
    registry: RegistryStore;
    schedule: ScheduleStore;
    heartbeats: HeartbeatStore & Partial<HeartbeatClaimReader & StubCounter>;
  }) {
    const queue = new KeyedQueue();
    this.registry = new CachedRegistry(inner.registry, this, queue);
    this.schedule = new CachedSchedule(inner.schedule, this, queue);
    this.heartbeats = new CachedHeartbeats(inner.heartbeats, this, new KeyedQueue());
  }

  /** Reads every agent and heartbeat once (start-up), before anything is served. */
  async load(): Promise<void> {
    const recs = await this.registry.inner.list();
    const hbs = await this.heartbeats.inner.getMany(recs.map((r) => r.name));
    for (const r of recs) this.setRecord(r.name, r);
    for (const [n, hb] of hbs) this.setBeat(n, hb);
  }

  // --- changes (each keeps the aggregates: the agent's old contribution out, its new one in)

  private change(name: string, apply: () => void): void {
    const before = agentContribution(this.records.get(name), this.beats.get(name));
    apply();
    const after = agentContribution(this.records.get(name), this.beats.get(name));
    const f = this.fleetSums;
    f.agents += after.agents - before.agents;
    for (const st of AgentStatusSchema.options) f.byStatus[st] += after.byStatus[st] - before.byStatus[st];
    f.up += after.up - before.up;
    f.erroring += after.erroring - before.erroring;
    f.cycles += after.cycles - before.cycles;
    f.failures += after.failures - before.failures;
    f.restarts += after.restarts - before.restarts;
    f.durationCount += after.durationCount - before.durationCount;
    f.durationSumMs += after.durationSumMs - before.durationSumMs;
    for (let i = 0; i < f.durationBuckets.length; i++)
      f.durationBuckets[i]! += (after.durationBuckets[i] ?? 0) - (before.durationBuckets[i] ?? 0);
    this.version++;
  }

  setRecord(name: string, rec: AgentRecord | null): void {
    this.change(name, () => {
      const had = this.records.has(name);
      if (rec) {
        this.records.set(name, rec);
        if (!had) this.names.splice(lowerBound(this.names, name, false), 0, name);
      } else if (had) {
        this.records.delete(name);
        const i = lowerBound(this.names, name, false);
        if (this.names[i] === name) this.names.splice(i, 1);
      }
    });
  }

  patchRecord(name: string, patch: Partial<AgentRecord>): void {
    const cur = this.records.get(name);
    if (cur) this.setRecord(name, { ...cur, ...patch });
  }

  setBeat(name: string, hb: HeartbeatRecord | null): void {
    this.change(name, () => {
      if (hb) this.beats.set(name, hb);
      else this.beats.delete(name);
    });
  }

  beat(name: string): HeartbeatRecord {
    return this.beats.get(name) ?? HeartbeatRecordSchema.parse({ name });
  }

  // --- reads

  record(name: string): AgentRecord | undefined {
    return this.records.get(name);
  }

  list(): AgentRecord[] {
    return this.names.map((n) => this.records.get(n) as AgentRecord);
  }

  page(q: AgentPageQuery): AgentRecordPage {
    const prefix = q.prefix ?? '';
    let i = q.after !== undefined && q.after >= prefix ? lowerBound(this.names, q.after, true) : lowerBound(this.names, prefix, false);
    const agents: AgentRecord[] = [];
    let more = false;
    for (; i < this.names.length; i++) {
      const n = this.names[i] as string;
      if (!n.startsWith(prefix)) break;
      const rec = this.records.get(n) as AgentRecord;
      if (q.status && rec.status !== q.status) continue;
      if (agents.length === q.limit) {
        more = true;
        break;
      }
      agents.push(rec);
    }
    return { agents, last: more ? (agents[agents.length - 1]?.name ?? null) : null };
  }

  counts(): StatusCounts {
    return { ...this.fleetSums.byStatus };
  }

  getBeats(names: string[]): Map<string, HeartbeatRecord> {
    const out = new Map<string, HeartbeatRecord>();
    for (const n of names) {
      const hb = this.beats.get(n);
      if (hb) out.set(n, hb);
    }
    return out;
  }

  erroring(): number {
    return this.fleetSums.erroring;
  }

  earliestExpected(): { name: string; expectBy: number; lastHeartbeat: number | null } | null {
    let best: HeartbeatRecord | null = null;
    for (const hb of this.beats.values()) {
      if (hb.expectBy === null) continue;
      const b = best?.expectBy as number;
      if (!best || hb.expectBy < b || (hb.expectBy === b && byName(hb.name, best.name) < 0)) best = hb;
    }
    return best ? { name: best.name, expectBy: best.expectBy as number, lastHeartbeat: best.lastHeartbeat } : null;
  }

  /** The fleet's aggregate metrics (a copy). */
  fleet(): FleetMetrics {
    const f = this.fleetSums;
    return { ...f, byStatus: { ...f.byStatus }, durationBuckets: [...f.durationBuckets] };
  }
}

/** After a write whose outcome is unknown, the item as DynamoDB has it. */
async function settle<T>(write: () => Promise<T>, reread: () => Promise<void>): Promise<T> {
  try {
    return await write();
  } catch (e) {
    await reread().catch(() => undefined);
    throw e;
  }
}

export class CachedRegistry implements RegistryStore {
  constructor(
    readonly inner: RegistryStore,
    private readonly model: ReadModel,
    private readonly queue: KeyedQueue,
  ) {}

  /**
   * Agents whose cached record may be stale: a write failed without an answer (it may have been
   * applied) and reading the record back failed too (the store was down). Their `get` reads
   * through until a read or a write succeeds.
   */
  private readonly uncertain = new Set<string>();

  /** Reads the record back from the store (after a write whose outcome is unknown). */
  async reread(name: string): Promise<void> {
    try {
      this.model.setRecord(name, await this.inner.get(name));
      this.uncertain.delete(name);
    } catch (e) {
      this.uncertain.add(name);
      throw e;
    }
  }

  private known(name: string, rec: AgentRecord | null): void {
    this.model.setRecord(name, rec);
    this.uncertain.delete(name);
  }

  /**
   * From memory (every registry write passes here): the runner's admit, the manager's and the
   * monitor's reads. A copy. A record left uncertain by a write whose outcome is unknown is read
   * from the store (in order with the agent's writes) until the store answers.
   */
  async get(name: string): Promise<AgentRecord | null> {
    if (this.uncertain.has(name))
      await this.queue.run(name, async () => {
        if (this.uncertain.has(name)) await this.reread(name);
      });
    const rec = this.model.record(name);
    return rec ? structuredClone(rec) : null;
  }
  async list(): Promise<AgentRecord[]> {
    return this.model.list();
  }
  async page(q: AgentPageQuery): Promise<AgentRecordPage> {
    return this.model.page(q);
  }
  async counts(): Promise<StatusCounts> {
    return this.model.counts();
  }
  register(reg: NewRegistration): Promise<RegisterOutcome> {
    return this.queue.run(reg.name, () =>
      settle(
        async () => {
          const out = await this.inner.register(reg);
          if (out.outcome === 'registered') await this.reread(reg.name);
          return out;
        },
        () => this.reread(reg.name),
      ),
    );
  }
  deregister(name: string, version: string): Promise<boolean> {
    return this.queue.run(name, () =>
      settle(
        async () => {
          const removed = await this.inner.deregister(name, version);
          if (removed) this.known(name, null);
          return removed;
        },
        () => this.reread(name),
      ),
    );
  }
  transition(name: string, t: Transition): Promise<AgentRecord> {
    return this.queue.run(name, () =>
      settle(
        async () => {
          const rec = await this.inner.transition(name, t);
          this.known(name, rec);
          return rec;
        },
        () => this.reread(name),
      ),
    );
  }
}

export class CachedSchedule implements ScheduleStore {
  constructor(
    readonly inner: ScheduleStore,
    private readonly model: ReadModel,
    private readonly queue: KeyedQueue,
  ) {}

  queryDue(shard: string, before: number, limit: number): Promise<DueAgent[]> {
    return this.inner.queryDue(shard, before, limit);
  }

  /** The per-cycle advance: the cached record's nextRunAt (and status, when it activates) follow it. */
  advance(name: string, expectNextRunAt: number, nextRunAt: number, opts: { activate: boolean; at: number }): Promise<boolean> {
    return this.queue.run(name, () =>
      settle(
        async () => {
          const ok = await this.inner.advance(name, expectNextRunAt, nextRunAt, opts);
          if (!ok) return false;
          const at = new Date(opts.at).toISOString();
          // the advance changed the status only if the agent was restarting (see DynamoSchedule.advance);
          // the writes of this agent are queued, so the cached status is the one the advance met
          const activated = opts.activate && this.model.record(name)?.status === 'restarting';
          this.model.patchRecord(name, activated ? { nextRunAt, status: 'active', statusChangedAt: at, updatedAt: at } : { nextRunAt });
          return true;
        },
        () => this.model.registry.reread(name),
      ),
    );
  }
}

export class CachedHeartbeats implements HeartbeatStore, HeartbeatClaimReader, StubCounter {
  constructor(
    readonly inner: HeartbeatStore & Partial<HeartbeatClaimReader & StubCounter>,
    private readonly model: ReadModel,
    private readonly queue: KeyedQueue,
  ) {}

  private async reread(name: string): Promise<void> {
    this.model.setBeat(name, await this.inner.get(name));
  }

  get(name: string): Promise<HeartbeatRecord | null> {
    return this.inner.get(name);
  }
  /**
   * From memory. The lease fields (`running`, `lastSlot`) are as of the last completion, not the
   * last claim (claims are not cached): the API's views and metrics do not show them; anything
   * that needs the live lease reads `get`.
   */
  async getMany(names: string[]): Promise<Map<string, HeartbeatRecord>> {
    return this.model.getBeats(names);
  }
  getState(name: string): Promise<Record<string, unknown>> {
    return this.inner.getState(name);
  }
  async erroringCount(): Promise<number> {
    return this.model.erroring();
  }
  async earliestExpected(): Promise<{ name: string; expectBy: number; lastHeartbeat: number | null } | null> {
    return this.model.earliestExpected();
  }
  queryOverdue(shard: string, now: number, limit: number) {
    return this.inner.queryOverdue(shard, now, limit);
  }

  /** Claims change only the lease fields, which the read model does not serve: not cached. */
  claim(name: string, claim: RunClaim): Promise<boolean> {
    return this.queue.run(name, () => this.inner.claim(name, claim));
  }
  claimAndRead(name: string, claim: RunClaim): Promise<ClaimOutcome> {
    const inner = this.inner;
    if (!inner.claimAndRead) throw new Error('the heartbeat store cannot claim and read in one request');
    return this.queue.run(name, () => (inner.claimAndRead as HeartbeatClaimReader['claimAndRead']).call(inner, name, claim));
  }
  async recordDropped(name: string, at: number): Promise<void> {
    await this.inner.recordDropped?.(name, at);
  }

  /** An agent's kept log lines are not part of the read model: straight to the store. */
  putRunLog(name: string, log: RunLog, opts?: { signal?: AbortSignal }): Promise<void> {
    return this.inner.putRunLog(name, log, opts);
  }
  recentLogs(name: string, limit: number): Promise<AgentLogEntry[]> {
    return this.inner.recentLogs(name, limit);
  }

  /**
   * The completion's effect on the cached heartbeat, as DynamoHeartbeats writes it (counters,
   * heartbeat, outcome, histogram, expectation); the count of consecutive errors as the store
   * returned it. `already` (an earlier attempt applied it, unseen here) and an error: read back.
   */
  complete(name: string, done: RunCompletion): Promise<{ consecutiveErrors: number; status: CompletionStatus }> {
    return this.queue.run(name, () =>
      settle(
        async () => {
          const out = await this.inner.complete(name, done);
          if (out.status === 'already') await this.reread(name);
          else if (out.status === 'applied') this.model.setBeat(name, applyCompletion(this.model.beat(name), done, out.consecutiveErrors));
          return out;
        },
        () => this.reread(name),
      ),
    );
  }
  resetHealth(name: string, opts: { expectBy: number | null }): Promise<void> {
    return this.queue.run(name, () =>
      settle(
        async () => {
          await this.inner.resetHealth(name, opts);
          this.model.setBeat(name, { ...this.model.beat(name), consecutiveErrors: 0, running: null, expectBy: opts.expectBy });
        },
        () => this.reread(name),
      ),
    );
  }
  setExpectedBy(name: string, expectBy: number | null): Promise<void> {
    return this.queue.run(name, () =>
      settle(
        async () => {
          await this.inner.setExpectedBy(name, expectBy);
          this.model.setBeat(name, { ...this.model.beat(name), expectBy });
        },
        () => this.reread(name),
      ),
    );
  }
  remove(name: string): Promise<void> {
    return this.queue.run(name, () =>
      settle(
        async () => {
          await this.inner.remove(name);
          this.model.setBeat(name, null);
        },
        () => this.reread(name),
      ),
    );
  }
}

/** DynamoHeartbeats.completionUpdate applied to a record in memory. */
export function applyCompletion(hb: HeartbeatRecord, done: RunCompletion, consecutiveErrors: number): HeartbeatRecord {
  const next: HeartbeatRecord = { ...hb, generation: done.generation, consecutiveErrors, durationBuckets: { ...hb.durationBuckets } };
  if (done.outcome !== 'ok') {
    next.lastError = (done.error ?? done.outcome).slice(0, 1000);
    next.lastErrorAt = done.at;
    next.lastErrorStack = done.stack ?? null;
    next.lastErrorVersion = done.version ?? null;
    next.failures += 1;
  }
  if (done.countsAsCycle) {
    next.lastHeartbeat = done.at;
    next.lastOutcome = done.outcome;
    next.lastDurationMs = done.durationMs;
    next.cycles += 1;
    next.durationSumMs += done.durationMs;
    for (const le of [...DURATION_BUCKETS_MS.filter((b) => done.durationMs <= b).map(String), '+Inf'])
      next.durationBuckets[le] = (next.durationBuckets[le] ?? 0) + 1;
    next.expectBy = done.expectBy;
  }
  if (done.lease?.slot !== undefined || (!done.lease && done.countsAsCycle)) next.running = null;
  return next;
}

/**
 * The ledger's tail, kept in memory (local mode: the only ledger writer is this process's
 * LedgerService): `readTail` reads DynamoDB once, then answers the head of the last successful
 * commit. A commit that was refused (another writer got there) or failed forgets it, so the next
 * `readTail` reads DynamoDB again. Everything else goes to the store.
 */
export class CachedLedgerTail implements LedgerStore {
  private tail: LedgerHead | null | undefined;
  /** commits started: a read that saw none start meanwhile may be kept */
  private commits = 0;
  readonly maxEntriesPerCommit: number;
  readonly maxBytesPerCommit: number;

  constructor(private readonly inner: LedgerStore) {
    this.maxEntriesPerCommit = inner.maxEntriesPerCommit;
    this.maxBytesPerCommit = inner.maxBytesPerCommit;
  }

  async readTail(): Promise<LedgerHead | null> {
    if (this.tail !== undefined) return this.tail;
    const before = this.commits;
    const read = await this.inner.readTail();
    if (before === this.commits && this.tail === undefined) this.tail = read;
    return this.tail === undefined ? read : this.tail;
  }

  async commit(c: LedgerCommit): Promise<CommitResult> {
    this.commits++;
    try {
      const r = await this.inner.commit(c);
      // a commit lands only on top of the tail it expects: its head is the tail now (unless a later one landed)
      if (!r.ok) this.tail = undefined;
      else if (this.tail === undefined || this.tail === null || c.head.seq > this.tail.seq) this.tail = c.head;
      return r;
    } catch (e) {
      this.tail = undefined;
      throw e;
    }
  }

  readHint(): Promise<LedgerHead | null> {
    return this.inner.readHint();
  }
  scan(fromSeq: number, toSeq: number) {
    return this.inner.scan(fromSeq, toSeq);
  }
  blocksAfter(seq: number) {
    return this.inner.blocksAfter(seq);
  }
  blocksBefore(seq: number) {
    return this.inner.blocksBefore(seq);
  }
  legacyIds(ids: string[]) {
    return this.inner.legacyIds(ids);
  }
  checkpoints() {
    return this.inner.checkpoints();
  }
}
