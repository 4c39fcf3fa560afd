/**
 * Local mode's read model (local/read-model.ts): the write-through decorators of the registry,
 * schedule and heartbeat stores over the real DynamoDB adapters on DynamoDB Local. After every
 * write returns, what the model serves (pages, the full list, counts, heartbeats, erroring, the
 * earliest expected heartbeat, the fleet's metric sums) equals what DynamoDB holds, read back by
 * adapters with no cache; the same after concurrent writes and after a write that failed. And
 * `/metrics` from it: per agent up to METRICS_PER_AGENT_MAX agents, aggregate-only above (or
 * with METRICS_PER_AGENT=false), a valid Prometheus exposition either way.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { CachedLedgerTail, ReadModel } from '../../local/read-model';
import { DynamoLedgerStore } from '../../shared/adapters/aws/dynamo-ledger';
import { LedgerService } from '../../shared/core/ledger/service';
import { env } from '../bus/helpers';
import { DynamoRegistry, DynamoSchedule } from '../../shared/adapters/aws/dynamo-registry';
import { DynamoHeartbeats } from '../../shared/adapters/aws/dynamo-heartbeats';
import { ControlService } from '../../shared/core/control/service';
import { FakeClock } from '../../shared/core/clock';
import { AgentStatusSchema } from '../../shared/core/registry';
import type { RunCompletion } from '../../shared/core/ports';
import { collectMetrics, fleetOf, METRICS_PER_AGENT_MAX, prometheusText, type MetricsSources } from '../../functions/api/metrics';
import { RecordingDispatcher, registration, testPolicy, withFaults } from '../runtime/helpers';
import { createTestTables, type TestTables } from '../support/env';
import { parsePrometheus } from '../api/prometheus';

const NOW = Date.UTC(2030, 0, 1, 12, 0, 0);
let t: TestTables;
let model: ReadModel;
let truth: { registry: DynamoRegistry; heartbeats: DynamoHeartbeats };
let control: ControlService;

function fresh() {
  return {
    registry: new DynamoRegistry(t.clients.ddb, t.names.Registry, { shards: 2 }),
    schedule: new DynamoSchedule(t.clients.ddb, t.names.Registry),
    heartbeats: new DynamoHeartbeats(t.clients.ddb, t.names.Heartbeats, { shards: 2 }),
  };
}

const done = (over: Partial<RunCompletion> = {}): RunCompletion => ({
  runId: `r-${Math.random()}`,
  at: NOW,
  outcome: 'ok',
  error: null,
  durationMs: 30,
  generation: 1,
  stateChanges: {},
  expectBy: NOW + 200_000,
  countsAsCycle: true,
  ...over,
});

/** What the model serves equals what DynamoDB holds now. */
async function expectCurrent(): Promise<void> {
  const recs = await truth.registry.list();
  const names = recs.map((r) => r.name);
  expect(await model.registry.list()).toEqual(recs);
  for (const r of recs) expect(await model.registry.get(r.name)).toEqual(r);
  expect(await model.registry.get('nobody')).toBeNull();
  const hbs = await truth.heartbeats.getMany(names);
  expect(await model.heartbeats.getMany(names)).toEqual(hbs);
  expect(await model.registry.counts()).toEqual(await truth.registry.counts());
  expect(await model.heartbeats.erroringCount()).toBe(await truth.heartbeats.erroringCount());
  // the earliest expectation (agents with equal ones are a tie: either may be named)
  const [e, me] = [await truth.heartbeats.earliestExpected(), await model.heartbeats.earliestExpected()];
  expect(me?.expectBy).toBe(e?.expectBy);
  if (me) expect(hbs.get(me.name)?.expectBy).toBe(me.expectBy);
  for (const q of [{ limit: 2 }, { limit: 3, status: 'paused' as const }, { limit: 100, prefix: 'b' }, { limit: 2, after: 'a-1' }])
    expect(await model.registry.page(q)).toEqual(await truth.registry.page(q));
  const src = (r: { registry: DynamoRegistry; heartbeats: DynamoHeartbeats }): MetricsSources => ({
    ...r,
    ledger: { head: async () => ({ seq: 0, hash: '' }) },
    clock: new FakeClock(NOW),
  });
  expect(model.fleet()).toEqual(fleetOf(await collectMetrics(src(truth))));
}

beforeEach(async () => {
  t = await createTestTables();
  truth = fresh();
  // some agents exist before the model loads
  for (const n of ['a-0', 'a-1', 'b-0']) await truth.registry.register(registration(n, { firstRunAt: NOW + 60_000 }));
  await truth.heartbeats.complete('a-0', done({ outcome: 'error', error: 'boom' }));
  model = new ReadModel(fresh());
  await model.load();
  control = new ControlService({
    registry: model.registry,
    heartbeats: model.heartbeats,
    dispatcher: new RecordingDispatcher(),
    events: { publish: async () => {} },
    policy: testPolicy(),
    clock: new FakeClock(NOW),
  });
});

describe('the read model serves what DynamoDB holds once a write returned', () => {
  it('after loading, and after each kind of write', async () => {
    await expectCurrent();
    await model.registry.register(registration('a-2', { firstRunAt: NOW + 10_000 }));
    await expectCurrent();
    await model.registry.register(registration('a-2', { version: '1.1.0', firstRunAt: NOW }));
    await expectCurrent();
    await control.pause('a-1');
    await expectCurrent();
    await control.quarantine('b-0');
    await expectCurrent();
    await model.heartbeats.complete('a-2', done({ outcome: 'timeout', durationMs: 5000 }));
    await expectCurrent();
    await model.heartbeats.complete('a-2', done({ outcome: 'error', countsAsCycle: false }));
    await expectCurrent();
    // a restart: restarting, then the scheduler's advance activates it (a transaction with the counts)
    await model.registry.transition('a-2', { to: 'restarting', from: ['active'], at: NOW, reason: 'test', nextRunAt: NOW + 5_000 });
    await model.heartbeats.resetHealth('a-2', { expectBy: NOW + 90_000 });
    await expectCurrent();
    expect(await model.schedule.advance('a-2', NOW + 5_000, NOW + 65_000, { activate: true, at: NOW + 5_000 })).toBe(true);
    await expectCurrent();
    expect((await model.registry.page({ limit: 1, prefix: 'a-2' })).agents[0]).toMatchObject({ status: 'active', nextRunAt: NOW + 65_000 });
    // a lost race changes nothing
    expect(await model.schedule.advance('a-2', NOW + 5_000, NOW + 65_000, { activate: false, at: NOW })).toBe(false);
    await model.heartbeats.complete('a-0', done());
    await model.heartbeats.setExpectedBy('a-0', NOW - 1);
    await expectCurrent();
    expect(await model.registry.deregister('a-2', '1.1.0')).toBe(true);
    await model.heartbeats.remove('a-2');
    await expectCurrent();
  });

  it('after concurrent writes of many agents (and of one agent)', async () => {
    const names = Array.from({ length: 12 }, (_, i) => `c-${String(i).padStart(2, '0')}`);
    await Promise.all(names.map((n) => model.registry.register(registration(n, { firstRunAt: NOW + 60_000 }))));
    await Promise.all([
      ...names.map((n, i) => (i % 2 ? control.pause(n) : control.quarantine(n))),
      // distinct expectations: the earliest is one agent, not a tie
      ...names.flatMap((n, i) =>
        [1, 2, 3].map((k) =>
          model.heartbeats.complete(n, done({ outcome: k === 2 ? 'error' : 'ok', at: NOW + k, expectBy: NOW + 100_000 + 10 * i + k })),
        ),
      ),
    ]);
    await expectCurrent();
    await Promise.all(names.map((n, i) => (i % 2 ? control.resume(n) : control.release(n))));
    await expectCurrent();
  });

  it('a write that fails leaves the model as DynamoDB is (the item is read back)', async () => {
    const broken = new ReadModel({
      ...fresh(),
      registry: withFaults(fresh().registry, {
        transition: async (name, tr) => {
          await truth.registry.transition(name, tr);
          throw new Error('the answer was lost');
        },
      }),
    });
    await broken.load();
    await expect(
      broken.registry.transition('a-1', { to: 'paused', from: ['active'], at: NOW, reason: 'x', nextRunAt: null }),
    ).rejects.toThrow('the answer was lost');
    expect((await broken.registry.list()).find((r) => r.name === 'a-1')?.status).toBe('paused');
    expect((await broken.registry.counts()).paused).toBe(1);
  });

  it('a write whose answer is lost while the store is down: get reads through until the store answers', async () => {
    let down = false;
    const inner = fresh().registry;
    const broken = new ReadModel({
      ...fresh(),
      registry: withFaults(inner, {
        transition: async (name, tr) => {
          const rec = await truth.registry.transition(name, tr);
          down = true; // applied, then the store went away: no answer, no read-back
          throw new Error(`the answer was lost (${rec.status})`);
        },
        get: async (name) => {
          if (down) throw new Error('connect ECONNREFUSED');
          return inner.get(name);
        },
      }),
    });
    await broken.load();
    await expect(
      broken.registry.transition('a-1', { to: 'paused', from: ['active'], at: NOW, reason: 'x', nextRunAt: null }),
    ).rejects.toThrow('the answer was lost');
    // the cache cannot know: the store is asked, and while it is down the read fails (not a stale answer)
    await expect(broken.registry.get('a-1')).rejects.toThrow('ECONNREFUSED');
    down = false;
    expect(await broken.registry.get('a-1')).toMatchObject({ status: 'paused' });
    expect((await broken.registry.list()).find((r) => r.name === 'a-1')?.status).toBe('paused');
    // settled: served from memory again (the store is not asked)
    down = true;
    expect(await broken.registry.get('a-1')).toMatchObject({ status: 'paused' });
  });
});

describe('/metrics from the read model', () => {
  const sources = (perAgent: 'auto' | 'true' | 'false'): MetricsSources => ({
    registry: model.registry,
    heartbeats: model.heartbeats,
    ledger: { head: async () => ({ seq: 7, hash: 'h' }) },
    fleet: () => model.fleet(),
    perAgent,
    clock: new FakeClock(NOW),
  });

  it('auto: per-agent series for a small fleet; false: aggregates only, with the same sums', async () => {
    const per = parsePrometheus(await prometheusText(sources('auto')));
    expect(per.get('agent_cycles_total')?.samples.map((s) => s.labels.agent)).toEqual(['a-0', 'a-1', 'b-0']);
    const agg = parsePrometheus(await prometheusText(sources('false')));
    expect(agg.has('agent_cycles_total')).toBe(false);
    expect(agg.get('agents_registered')?.samples[0]?.value).toBe(3);
    expect(agg.get('agents_erroring')?.samples[0]?.value).toBe(1);
    expect(agg.get('agents_failures_total')?.samples[0]?.value).toBe(1);
    expect(agg.get('agents_cycles_total')?.samples[0]?.value).toBe(1);
    expect(Object.fromEntries(agg.get('agents_by_status')!.samples.map((s) => [s.labels.status, s.value]))).toEqual({
      active: 3,
      paused: 0,
      restarting: 0,
      quarantined: 0,
    });
    expect(
      agg.get('agents_cycle_duration_seconds_count')?.samples[0]?.value ?? agg.get('agents_cycle_duration_seconds')?.type,
    ).toBeTruthy();
    expect(agg.get('ledger_head_seq')?.samples[0]?.value).toBe(7);
  });

  it(`auto above ${METRICS_PER_AGENT_MAX} agents: aggregate-only and bounded; true keeps every agent`, async () => {
    const big = new ReadModel(fresh());
    const rec = (await truth.registry.list())[0]!;
    for (let i = 0; i <= METRICS_PER_AGENT_MAX; i++) big.setRecord(`x-${i}`, { ...rec, name: `x-${i}` });
    const src = { ...sources('auto'), registry: big.registry, heartbeats: big.heartbeats, fleet: () => big.fleet() };
    const text = await prometheusText(src);
    const fams = parsePrometheus(text);
    expect(fams.has('agent_cycles_total')).toBe(false);
    expect(fams.get('agents_registered')?.samples[0]?.value).toBe(METRICS_PER_AGENT_MAX + 1);
    expect(text.length).toBeLessThan(4096);
    const all = parsePrometheus(await prometheusText({ ...src, perAgent: 'true' }));
    expect(all.get('agent_cycles_total')?.samples).toHaveLength(METRICS_PER_AGENT_MAX + 1);
    for (const st of AgentStatusSchema.options)
      expect(fams.get('agents_by_status')?.samples.some((s) => s.labels.status === st)).toBe(true);
  });

  it('without a read model (the cloud), auto above the limit sums the fleet from one full read', async () => {
    const big = new ReadModel(fresh());
    const rec = (await truth.registry.list())[0]!;
    for (let i = 0; i <= METRICS_PER_AGENT_MAX; i++) big.setRecord(`x-${i}`, { ...rec, name: `x-${i}` });
    const fams = parsePrometheus(
      await prometheusText({ ...sources('auto'), registry: big.registry, heartbeats: big.heartbeats, fleet: undefined }),
    );
    expect(fams.has('agent_cycles_total')).toBe(false);
    expect(fams.get('agents_registered')?.samples[0]?.value).toBe(METRICS_PER_AGENT_MAX + 1);
  });
});

describe("the ledger's tail kept in memory", () => {
  it('head() after each append is what the table holds; two writers: the refused one reads the tail again', async () => {
    const store = () => new DynamoLedgerStore(t.clients.ddb, t.names.Ledger);
    const cached = new LedgerService({ store: new CachedLedgerTail(store()) });
    const plain = new LedgerService({ store: store() });
    expect(await cached.head()).toEqual(await plain.head());
    for (let i = 0; i < 3; i++) {
      await cached.append([env('t.a', 'tester', { i })]);
      expect(await cached.head()).toEqual(await plain.head());
    }
    // another writer (not in local mode, but the store must not be fooled): the next commit is refused, read again
    await plain.append([env('t.b', 'tester', {})]);
    await cached.append([env('t.c', 'tester', {})]);
    expect(await cached.head()).toEqual(await plain.head());
    expect((await plain.head()).seq).toBe(5);
    expect((await cached.verify()).ok).toBe(true);
  });
});
