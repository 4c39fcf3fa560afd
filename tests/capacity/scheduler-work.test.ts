/**
 * Scale on paper, backed by a measurement (docs/capacity.md): the scheduler's work per tick does
 * not grow with agents that are registered but not due.
 *
 * Against DynamoDB Local, with the real adapters (DynamoSchedule on the Registry table and its
 * sparse `due` GSI) and the scheduler handler core as the Lambda runs it (cloud tick of 60 s,
 * horizon 90 s): registries of 100 and of 10 000 agents, each with the same 50 agents due in the
 * window, the rest either due much later (in the index, outside the window) or paused (not in the
 * index at all). An SDK middleware counts what one tick sends and reads: requests per operation,
 * items the index queries read (ScannedCount), and the read units DynamoDB reports. The figures
 * must be identical for 100 and 10 000 registered agents. For contrast, one Scan of the 10 000
 * agent registry (what a scanning scheduler would read every tick) is measured too. And one
 * shard's invocation (the cloud's fan-out: `{"action":"tick","shard":n}`) does at most
 * `maxPerShard` advances in pages of `pageSize`, however many of its agents are due.
 *
 * Setup writes the registry items with BatchWriteItem (clones of an item written by
 * DynamoRegistry.register, so the shape is the adapter's own); only the tick is measured.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchWriteItemCommand, GetItemCommand, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { createTestTables, ddbEndpoint } from '../support/env';
import { createClients } from '../../shared/adapters/aws/clients';
import { DynamoRegistry, DynamoSchedule } from '../../shared/adapters/aws/dynamo-registry';
import { RequestCounter } from '../../shared/adapters/aws/request-counter';
import { shardOf } from '../../shared/definitions/tables';
import { versionSortKey } from '../../shared/core/bundle/identity';
import { FakeClock } from '../../shared/core/clock';
import type { DispatchItem } from '../../shared/core/dispatch';
import type { Dispatcher } from '../../shared/core/ports';
import type { TickReport } from '../../shared/core/scheduler/service';
import { createSchedulerHandler, schedulerHorizonMs, CLOUD_TICK_SECONDS } from '../../functions/scheduler/core';

const SHARDS = 4;
const DUE = 50;
const NOW = Date.UTC(2030, 0, 1, 12, 0, 0);

/** The Dispatcher port, recording (the dispatch queue is not what this test measures). */
class RecordingDispatcher implements Dispatcher {
  readonly items: DispatchItem[] = [];
  async dispatch(items: DispatchItem[]): Promise<void> {
    this.items.push(...items);
  }
}

interface TickWork {
  report: TickReport;
  requests: Record<string, number>;
  total: number;
  itemsRead: number;
  readUnits: number;
  writeUnits: number;
  dispatched: number;
}

const name = (i: number) => `agent-${String(i).padStart(5, '0')}`;

/** A registry with `registered` agents of which `due` are due inside the first tick's window. */
async function registryWith(registered: number, due: number): Promise<{ table: string; scanUnits: () => Promise<number> }> {
  const { names, clients } = await createTestTables();
  const table = names.Registry;
  const registry = new DynamoRegistry(clients.ddb, table, { shards: SHARDS });
  // the template: written by the adapter itself
  const template = name(0);
  await registry.register({
    name: template,
    version: '1.0.0',
    versionKey: versionSortKey('1.0.0'),
    bundleKey: `agents/${template}/1.0.0.mjs`,
    sha256: 'a'.repeat(64),
    size: 1000,
    signer: null,
    manifest: { cycleSeconds: 60, timeoutSeconds: 30, subscriptions: [], hasOnEnvelope: false },
    at: new Date(NOW).toISOString(),
    firstRunAt: NOW + 30_000,
  });
  const got = await clients.ddbRaw.send(new GetItemCommand({ TableName: table, Key: { name: { S: template } }, ConsistentRead: true }));
  const base = got.Item!;
  // the adapter put the template into the sparse `due` index: its shard and its first slot
  expect(base.dueShard).toEqual({ S: shardOf(template, SHARDS) });
  expect(base.nextRunAt).toEqual({ N: String(NOW + 30_000) });
  const items: Record<string, AttributeValue>[] = [];
  for (let i = 0; i < registered; i++) {
    const n = name(i);
    const item: Record<string, AttributeValue> = { ...base, name: { S: n }, bundleKey: { S: `agents/${n}/1.0.0.mjs` } };
    if (i < due) {
      // due inside the window (now + 90 s), on the 60 s grid
      item.nextRunAt = { N: String(NOW + 60_000) };
      item.dueShard = { S: shardOf(n, SHARDS) };
    } else if (i % 5 !== 0) {
      // scheduled, in the index, but due an hour later: outside the window
      item.nextRunAt = { N: String(NOW + 3_600_000) };
      item.dueShard = { S: shardOf(n, SHARDS) };
    } else {
      // paused: not in the sparse index at all
      item.status = { S: 'paused' };
      delete item.nextRunAt;
      delete item.dueShard;
    }
    items.push(item);
  }
  for (let i = 0; i < items.length; i += 25) {
    let req: Record<string, { PutRequest: { Item: Record<string, AttributeValue> } }[]> | undefined = {
      [table]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })),
    };
    while (req && Object.keys(req).length > 0) {
      const out = await clients.ddbRaw.send(new BatchWriteItemCommand({ RequestItems: req }));
      req = out.UnprocessedItems as typeof req;
    }
  }
  const scanUnits = async () => {
    let units = 0;
    let start: Record<string, AttributeValue> | undefined;
    do {
      const out = await clients.ddbRaw.send(
        new ScanCommand({ TableName: table, ReturnConsumedCapacity: 'TOTAL', ExclusiveStartKey: start }),
      );
      units += out.ConsumedCapacity?.CapacityUnits ?? 0;
      start = out.LastEvaluatedKey;
    } while (start);
    return units;
  };
  return { table, scanUnits };
}

/** One cloud tick of the scheduler handler at NOW, measured by SDK middleware on its own client. */
async function measureTick(
  table: string,
  opts: { event?: Record<string, unknown>; limits?: { pageSize: number; maxPerShard: number } } = {},
): Promise<TickWork> {
  const clients = createClients({ region: 'us-east-1', endpoints: { dynamodb: ddbEndpoint() }, localCredentials: true });
  const counter = new RequestCounter();
  counter.count(clients.ddbRaw, 'DynamoDB', { capacity: true });
  let itemsRead = 0;
  clients.ddbRaw.middlewareStack.add(
    (next, context) => async (args) => {
      const out = await next(args);
      if (context.commandName === 'QueryCommand') itemsRead += (out.output as { ScannedCount?: number }).ScannedCount ?? 0;
      return out;
    },
    { step: 'initialize', name: 'itemsRead' },
  );
  const dispatcher = new RecordingDispatcher();
  const tick = createSchedulerHandler({
    schedule: new DynamoSchedule(clients.ddb, table),
    dispatcher,
    clock: new FakeClock(NOW),
    config: { shards: SHARDS, horizonMs: schedulerHorizonMs(CLOUD_TICK_SECONDS), ...opts.limits },
  });
  // no fan-out configured: one call ticks every shard (a fanned-out shard does its share of this)
  const report = (await tick(opts.event ?? { action: 'tick' })) as TickReport;
  return {
    report,
    requests: counter.snapshot(),
    total: counter.total(),
    itemsRead,
    readUnits: counter.units.read,
    writeUnits: counter.units.write,
    dispatched: dispatcher.items.length,
  };
}

describe('capacity: scheduler work per tick vs registered agents', () => {
  let small: TickWork;
  let large: TickWork;
  let largeIdle: TickWork;
  let scan10k = 0;

  beforeAll(async () => {
    const [a, b, c] = await Promise.all([registryWith(100, DUE), registryWith(10_000, DUE), registryWith(10_000, 0)]);
    small = await measureTick(a.table);
    large = await measureTick(b.table);
    largeIdle = await measureTick(c.table);
    scan10k = await b.scanUnits();
  }, 120_000);

  afterAll(() => {
    // the figures docs/capacity.md quotes
    const line = (w: TickWork) =>
      `${w.total} requests (${JSON.stringify(w.requests)}), ${w.itemsRead} items read, ${w.readUnits} RRU, ${w.writeUnits} WRU`;
    console.log(
      `one tick: 100 registered/50 due: ${line(small)}; 10 000 registered/50 due: ${line(large)}; 10 000 registered/0 due: ${line(largeIdle)}; one Scan of 10 000: ${scan10k} RRU`,
    );
  });

  it('100 and 10 000 registered agents with the same 50 due: the same requests, items read and read units', () => {
    for (const w of [small, large]) {
      expect(w.report).toMatchObject({ due: DUE, advanced: DUE, lost: 0, overdue: 0 });
      expect(w.dispatched).toBe(DUE);
      // one Query per shard of the sparse index, one conditional UpdateItem per due agent
      expect(w.requests).toEqual({ 'DynamoDB:Query': SHARDS, 'DynamoDB:UpdateItem': DUE });
      expect(w.itemsRead).toBe(DUE);
    }
    expect(large.total).toBe(small.total);
    expect(large.itemsRead).toBe(small.itemsRead);
    expect(large.readUnits).toBe(small.readUnits);
    expect(large.writeUnits).toBe(small.writeUnits);
  });

  it('10 000 registered agents, none due: one Query per shard reading nothing', () => {
    expect(largeIdle.report).toMatchObject({ due: 0, advanced: 0, dispatched: 0 });
    expect(largeIdle.requests).toEqual({ 'DynamoDB:Query': SHARDS });
    expect(largeIdle.itemsRead).toBe(0);
  });

  it('one shard’s invocation (the fan-out): its work is bounded by its page size and maxPerShard, whatever is due', async () => {
    // 3 000 agents all due in the window: about 750 in each of the 4 shards
    const { table } = await registryWith(3_000, 3_000);
    const shard = Number(shardOf(name(0), SHARDS));
    const inShard = Array.from({ length: 3_000 }, (_, i) => name(i)).filter((n) => shardOf(n, SHARDS) === String(shard)).length;
    expect(inShard).toBeGreaterThan(600);
    const limits = { pageSize: 250, maxPerShard: 500 };
    const first = await measureTick(table, { event: { action: 'tick', shard }, limits });
    // two pages of 250, then the cap: 500 advances, the rest left for the next tick
    expect(first.report).toMatchObject({ shards: 1, due: 500, advanced: 500, dispatched: 500, truncated: 1 });
    expect(first.requests).toEqual({ 'DynamoDB:Query': 2, 'DynamoDB:UpdateItem': 500 });
    expect(first.itemsRead).toBe(500);
    const second = await measureTick(table, { event: { action: 'tick', shard }, limits });
    expect(second.report).toMatchObject({ due: inShard - 500, advanced: inShard - 500, truncated: 0 });
    expect(second.requests['DynamoDB:UpdateItem']).toBe(inShard - 500);
    // the other shards were not touched
    expect(first.dispatched + second.dispatched).toBe(inShard);
  }, 120_000);

  it('a scan of the same 10 000-agent registry (a scanning scheduler, every tick) reads far more than the tick does', () => {
    // each registry item is well under 1 KB: a scan reads ~10 000 × size / 4 KB read units
    expect(scan10k).toBeGreaterThan(20 * Math.max(1, large.readUnits));
  });
});
