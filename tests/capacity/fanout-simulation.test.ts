/**
 * Simulation of the scheduler tick at 1 000 000 agents × 60 s with the settings docs/capacity.md
 * documents for that size (AGENT_SCHEDULE_SHARDS=128, the tick fanned out to one invocation per
 * shard, advances paced to SCHEDULER_ADVANCES_PER_SECOND, the time budget of a 60 s tick).
 *
 * The real SchedulerService and the real SqsDispatcher run one shard's tick — the largest of the
 * 128 shards of a 1 000 000-agent fleet (names agent-0000000 … agent-0999999) — against the
 * instrumented in-memory ScheduleStore (tests/support/memory-schedule.ts) on virtual time, where
 * every request takes a fixed latency: Query 20 ms, UpdateItem 10 ms, SendMessageBatch 20 ms
 * (conservative for DynamoDB and SQS in the same Region; what DynamoDB Local answers on this
 * machine is measured below and printed, not asserted: it depends on the machine). Three
 * consecutive ticks a minute apart; the first fills the 90 s horizon, the next two are the steady
 * state. Counted: requests per tick, write units per second on the shard's `due` index partition,
 * the tick's duration against its period and budget, and every slot dispatched exactly once.
 *
 * The per-advance write cost (1 write unit for the registry item, 2 for moving its `due` index
 * entry) is the one DynamoDB Local reports for the real adapter (measured here too).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { createClients } from '../../shared/adapters/aws/clients';
import { DynamoRegistry, DynamoSchedule } from '../../shared/adapters/aws/dynamo-registry';
import { RequestCounter } from '../../shared/adapters/aws/request-counter';
import { SqsDispatcher } from '../../shared/adapters/aws/sqs-dispatcher';
import { nextSlotAtOrAfter, slotOffsetMs } from '../../shared/core/registry';
import { SchedulerService, type TickReport } from '../../shared/core/scheduler/service';
import { FakeClock } from '../../shared/core/clock';
import { versionSortKey } from '../../shared/core/bundle/identity';
import { shardOf } from '../../shared/definitions/tables';
import { CLOUD_TICK_SECONDS, SCHEDULER_ADVANCES_PER_SECOND, schedulerBudgetMs, schedulerHorizonMs } from '../../functions/scheduler/core';
import { MemorySchedule, VirtualTimer } from '../support/memory-schedule';
import { createTestTables, ddbEndpoint } from '../support/env';

const AGENTS = 1_000_000;
const SHARDS = 128;
const PERIOD_S = 60;
const LATENCY = { queryMs: 20, updateMs: 10, sendBatchMs: 20 };
/** DynamoDB: write units one partition serves per second */
const PARTITION_WRU_PER_S = 1000;
/** Lambda: default concurrent executions of an account (Lambda quotas) */
const ACCOUNT_CONCURRENCY = 1000;
const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);

const name = (i: number) => `agent-${String(i).padStart(7, '0')}`;

interface TickFigures {
  report: TickReport;
  durationMs: number;
  requests: { Query: number; UpdateItem: number; SendMessageBatch: number };
  peakIndexWruPerS: number;
}

describe('simulation: one tick at 1 000 000 agents × 60 s, 128 shards, fanned out', () => {
  const shardSizes = new Map<string, number>();
  const offsetsPerSecond = new Array<number>(PERIOD_S).fill(0);
  let shard = '0';
  let members: string[] = [];
  const ticks: TickFigures[] = [];
  const slotsOf = new Map<string, number[]>();
  let local = { advanceP50: 0, advanceP99: 0, queryP50: 0, writeUnitsPerAdvance: 0 };

  beforeAll(async () => {
    // the fleet: its shards and its phase offsets
    const byShard = new Map<string, string[]>();
    for (let i = 0; i < AGENTS; i++) {
      const n = name(i);
      const s = shardOf(n, SHARDS);
      shardSizes.set(s, (shardSizes.get(s) ?? 0) + 1);
      const list = byShard.get(s) ?? [];
      list.push(n);
      byShard.set(s, list);
      offsetsPerSecond[Math.floor(slotOffsetMs(n, PERIOD_S) / 1000)]!++;
    }
    // the largest shard: the longest tick
    for (const [s, size] of shardSizes) if (size > (shardSizes.get(shard) ?? 0)) shard = s;
    members = byShard.get(shard)!;

    // one shard's invocation, three ticks a minute apart
    const timer = new VirtualTimer();
    const store = new MemorySchedule(timer, LATENCY);
    for (const n of members)
      store.put({ name: n, status: 'active', cycleSeconds: PERIOD_S, generation: 1, nextRunAt: nextSlotAtOrAfter(T0, PERIOD_S, n) }, shard);
    let sendBatches = 0;
    const sqs = {
      send: async (cmd: { input: { Entries?: { Id?: string }[] } }) => {
        sendBatches++;
        await timer.sleep(LATENCY.sendBatchMs);
        return { Successful: (cmd.input.Entries ?? []).map((e) => ({ Id: e.Id, MessageId: 'm', MD5OfMessageBody: 'x' })), Failed: [] };
      },
    } as unknown as SQSClient;
    const clock = new FakeClock(T0);
    const dispatcher = new SqsDispatcher(sqs, 'https://sqs.us-east-1.amazonaws.com/123456789012/dispatch', { clock });
    const recorder = {
      dispatch: async (items: Parameters<SqsDispatcher['dispatch']>[0]) => {
        for (const it of items)
          if (it.message.kind === 'cycle') slotsOf.set(it.message.agent, [...(slotsOf.get(it.message.agent) ?? []), it.message.slot]);
        await dispatcher.dispatch(items);
      },
    };
    const service = new SchedulerService(
      { schedule: store, dispatcher: recorder, clock, timer },
      {
        shards: SHARDS,
        horizonMs: schedulerHorizonMs(CLOUD_TICK_SECONDS),
        budgetMs: schedulerBudgetMs(CLOUD_TICK_SECONDS),
        maxAdvancesPerSecond: SCHEDULER_ADVANCES_PER_SECOND,
      },
    );
    for (let k = 0; k < 3; k++) {
      const before = { q: store.requests.Query, u: store.requests.UpdateItem, b: sendBatches, t: timer.now() };
      store.indexWrites.clear();
      clock.set(T0 + k * PERIOD_S * 1000);
      const report = await service.tick(clock.now(), [shard]);
      ticks.push({
        report,
        durationMs: timer.now() - before.t,
        requests: {
          Query: store.requests.Query - before.q,
          UpdateItem: store.requests.UpdateItem - before.u,
          SendMessageBatch: sendBatches - before.b,
        },
        peakIndexWruPerS: store.peakIndexWritesPerSecond(),
      });
    }

    // the real adapter on DynamoDB Local: latency (printed) and write units per advance (asserted)
    const { names } = await createTestTables();
    const clients = createClients({ region: 'us-east-1', endpoints: { dynamodb: ddbEndpoint() }, localCredentials: true });
    const registry = new DynamoRegistry(clients.ddb, names.Registry, { shards: SHARDS });
    for (let i = 0; i < 20; i++)
      await registry.register({
        name: name(i),
        version: '1.0.0',
        versionKey: versionSortKey('1.0.0'),
        bundleKey: `agents/${name(i)}/1.0.0.mjs`,
        sha256: 'a'.repeat(64),
        size: 1000,
        signer: null,
        manifest: { cycleSeconds: PERIOD_S, timeoutSeconds: 30, subscriptions: [], hasOnEnvelope: false },
        at: new Date(T0).toISOString(),
        firstRunAt: T0,
      });
    const counter = new RequestCounter();
    counter.count(clients.ddbRaw, 'DynamoDB', { capacity: true });
    const schedule = new DynamoSchedule(clients.ddb, names.Registry);
    const advanceMs: number[] = [];
    const next = new Map<string, number>();
    for (let r = 0; r < 10; r++)
      for (let i = 0; i < 20; i++) {
        const n = name(i);
        const from = next.get(n) ?? T0;
        const t = performance.now();
        expect(await schedule.advance(n, from, from + 60_000, { activate: false, at: T0 })).toBe(true);
        advanceMs.push(performance.now() - t);
        next.set(n, from + 60_000);
      }
    local.writeUnitsPerAdvance = counter.units.write / advanceMs.length;
    const queryMs: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      await schedule.queryDue(shardOf(name(0), SHARDS), T0 + 3_600_000, 500);
      queryMs.push(performance.now() - t);
    }
    const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? 0;
    local = { ...local, advanceP50: pct(advanceMs, 0.5), advanceP99: pct(advanceMs, 0.99), queryP50: pct(queryMs, 0.5) };
  }, 300_000);

  afterAll(() => {
    const sizes = [...shardSizes.values()];
    console.log(
      `1 000 000 agents × 60 s, ${SHARDS} shards (sizes ${Math.min(...sizes)}–${Math.max(...sizes)}); simulated shard ${shard} (${members.length} agents): ` +
        ticks
          .map(
            (t, k) =>
              `tick ${k}: ${JSON.stringify(t.requests)}, advanced ${t.report.advanced}, dispatched ${t.report.dispatched}, ` +
              `${(t.durationMs / 1000).toFixed(1)} s, peak due-partition ${t.peakIndexWruPerS} WRU/s`,
          )
          .join('; ') +
        `; slot starts per second over the fleet: ${Math.min(...offsetsPerSecond)}–${Math.max(...offsetsPerSecond)} (average ${AGENTS / PERIOD_S}); ` +
        `DynamoDB Local on this machine: advance p50 ${local.advanceP50.toFixed(1)} ms, p99 ${local.advanceP99.toFixed(1)} ms, ` +
        `query page p50 ${local.queryP50.toFixed(1)} ms, ${local.writeUnitsPerAdvance} WRU per advance`,
    );
  });

  it('the real adapter’s advance costs the 3 write units the simulation charges (item 1, due index entry moved 2)', () => {
    expect(local.writeUnitsPerAdvance).toBe(3);
  });

  it('shards are even: the largest of the 128 holds < 1.1 × its share', () => {
    expect(shardSizes.size).toBe(SHARDS);
    expect(members.length).toBe(Math.max(...shardSizes.values()));
    expect(members.length).toBeLessThan(1.1 * (AGENTS / SHARDS));
  });

  it('steady state: every agent of the shard advanced once and one slot dispatched per agent per tick, nothing lost or truncated', () => {
    for (const t of ticks.slice(1)) {
      expect(t.report).toMatchObject({ due: members.length, advanced: members.length, dispatched: members.length, lost: 0, truncated: 0 });
      // requests: one Query page per 500 due agents, one UpdateItem per agent, one SendMessageBatch per 10 slots
      expect(t.requests).toEqual({
        Query: Math.ceil(members.length / 500) + (members.length % 500 === 0 ? 1 : 0),
        UpdateItem: members.length,
        SendMessageBatch: Math.ceil(members.length / 10),
      });
    }
    // every slot of every agent from its first to the end of the third tick's window, each once
    for (const n of members) {
      const slots = slotsOf.get(n) ?? [];
      const first = nextSlotAtOrAfter(T0, PERIOD_S, n);
      expect(slots[0]).toBe(first);
      for (let i = 1; i < slots.length; i++) expect(slots[i]! - slots[i - 1]!).toBe(PERIOD_S * 1000);
      expect(slots.at(-1)).toBeGreaterThan(T0 + 2 * PERIOD_S * 1000 + schedulerHorizonMs(CLOUD_TICK_SECONDS) - PERIOD_S * 1000);
    }
  });

  it('each shard tick ends well inside its period and its budget; its `due` partition stays under 1 000 WRU/s', () => {
    for (const t of ticks) {
      expect(t.durationMs).toBeLessThan(schedulerBudgetMs(CLOUD_TICK_SECONDS));
      expect(t.durationMs).toBeLessThan((PERIOD_S * 1000) / 2);
      expect(t.peakIndexWruPerS).toBeLessThanOrEqual(2 * SCHEDULER_ADVANCES_PER_SECOND);
      expect(t.peakIndexWruPerS).toBeLessThan(PARTITION_WRU_PER_S);
    }
  });

  it('the fleet: Lambda concurrency of the fan-out within the account default; slot starts flat over the minute', () => {
    // one fanning invocation plus one per shard, each running for one tick's duration a minute
    const longest = Math.max(...ticks.map((t) => t.durationMs));
    const peakConcurrency = SHARDS + 1;
    const averageConcurrency = (SHARDS * longest) / (PERIOD_S * 1000);
    expect(peakConcurrency).toBeLessThan(ACCOUNT_CONCURRENCY / 4);
    expect(averageConcurrency).toBeLessThan(SHARDS / 2);
    // phase offsets: no second of the minute starts more than 1.1 × its share of the fleet's slots
    expect(Math.max(...offsetsPerSecond)).toBeLessThan(1.1 * (AGENTS / PERIOD_S));
  });
});
