/**
 * Scale on paper, backed by a measurement (docs/capacity.md, "Reading the fleet"): one page of
 * `GET /agents?limit=100` and `GET /agents/summary` read the same units whether 1 000 or 100 000
 * agents are registered.
 *
 * Against DynamoDB Local, with the real adapters (DynamoRegistry's `agents` GSI, counts items and
 * per-page BatchGetItem; DynamoHeartbeats' `erroring` and `expect` indexes) and the ControlService
 * the API calls: registries of 1 000 and 100 000 agents (every agent has a heartbeat item; the
 * same 10 are erroring in both), seeded with BatchWriteItem (clones of items the adapters wrote
 * themselves, so the shapes are theirs; the counts items as the adapter keeps them). An SDK
 * middleware counts the requests and the read units DynamoDB reports. For contrast, the read
 * units of what `GET /agents` read before (every registry item and every heartbeat; measured as
 * consistent Scans of both tables, which read no more than its BatchGets did) are measured on
 * the large registry too.
 *
 * Seeding 202 000 items takes most of this test's time (about 80 s on 2 cores; 8 concurrent
 * BatchWriteItem requests of 25 items, which is what DynamoDB Local sustains best here).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetItemCommand, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { batchWrite } from '../support/seed';
import { createTestTables, ddbEndpoint } from '../support/env';
import { createClients } from '../../shared/adapters/aws/clients';
import { COUNT_SHARDS, COUNTS_MARKER, DynamoRegistry } from '../../shared/adapters/aws/dynamo-registry';
import { DynamoHeartbeats } from '../../shared/adapters/aws/dynamo-heartbeats';
import { RequestCounter } from '../../shared/adapters/aws/request-counter';
import { COUNTS_ITEM, shardOf } from '../../shared/definitions/tables';
import { ControlService } from '../../shared/core/control/service';
import { healthPolicyFrom } from '../../shared/core/health/policy';
import { loadConfig } from '../../shared/core/config';
import { registration } from '../runtime/helpers';
import type { TestTables } from '../support/env';

const SHARDS = 4;
const ERRORING = 10;
const NOW = Date.UTC(2030, 0, 1, 12, 0, 0);
const name = (i: number) => `agent-${String(i).padStart(6, '0')}`;

interface Fleet {
  t: TestTables;
  size: number;
}

/** A fleet of `size` active agents, each with a heartbeat; agents 0, 1, … ERRORING-1 erroring. */
async function fleet(size: number): Promise<Fleet> {
  const t = await createTestTables();
  const registry = new DynamoRegistry(t.clients.ddb, t.names.Registry, { shards: SHARDS });
  const heartbeats = new DynamoHeartbeats(t.clients.ddb, t.names.Heartbeats, { shards: SHARDS });
  // the templates: written by the adapters themselves
  const tpl = name(0);
  await registry.register(registration(tpl, { cycleSeconds: 60, firstRunAt: NOW + 60_000 }));
  await heartbeats.complete(tpl, {
    runId: 'r0',
    at: NOW - 1_000,
    outcome: 'ok',
    error: null,
    durationMs: 12,
    generation: 1,
    stateChanges: { n: 1 },
    expectBy: NOW + 120_000,
    countsAsCycle: true,
  });
  const get = async (table: string) =>
    (await t.clients.ddbRaw.send(new GetItemCommand({ TableName: table, Key: { name: { S: tpl } }, ConsistentRead: true }))).Item!;
  const reg = await get(t.names.Registry);
  const hb = await get(t.names.Heartbeats);
  const regs: Record<string, AttributeValue>[] = [];
  const hbs: Record<string, AttributeValue>[] = [];
  const counts = new Map<string, number>();
  for (let i = 0; i < size; i++) {
    const n = name(i);
    regs.push({ ...reg, name: { S: n }, bundleKey: { S: `agents/${n}/1.0.0.mjs` }, dueShard: { S: shardOf(n, SHARDS) } });
    const h: Record<string, AttributeValue> = {
      ...hb,
      name: { S: n },
      hbShard: { S: shardOf(n, SHARDS) },
      expectBy: { N: String(NOW + 120_000 + (i % 1000)) },
    };
    if (i < ERRORING) Object.assign(h, { consecutiveErrors: { N: '1' }, errShard: { S: shardOf(n, SHARDS) }, lastError: { S: 'boom' } });
    hbs.push(h);
    const k = `${COUNTS_ITEM}#${shardOf(n, COUNT_SHARDS)}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  const countItems = [...[...counts].map(([k, n]) => ({ name: { S: k }, active: { N: String(n) } })), { name: { S: COUNTS_MARKER } }];
  await batchWrite(t.clients.ddbRaw, t.names.Registry, [...regs, ...countItems]);
  await batchWrite(t.clients.ddbRaw, t.names.Heartbeats, hbs);
  return { t, size };
}

interface Reads {
  requests: Record<string, number>;
  readUnits: number;
  body: unknown;
}

/** One call of the ControlService as the API makes it, on its own measured client. */
async function measure(f: Fleet, call: (c: ControlService) => Promise<unknown>): Promise<Reads> {
  const clients = createClients({ region: 'us-east-1', endpoints: { dynamodb: ddbEndpoint() }, localCredentials: true });
  const counter = new RequestCounter();
  counter.count(clients.ddbRaw, 'DynamoDB', { capacity: true });
  const control = new ControlService({
    registry: new DynamoRegistry(clients.ddb, f.t.names.Registry, { shards: SHARDS }),
    heartbeats: new DynamoHeartbeats(clients.ddb, f.t.names.Heartbeats, { shards: SHARDS }),
    dispatcher: { dispatch: async () => {} },
    events: { publish: async () => {} },
    policy: healthPolicyFrom(loadConfig({})),
  });
  const body = await call(control);
  return { requests: counter.snapshot(), readUnits: counter.units.read, body };
}

describe('capacity: GET /agents (one page) and GET /agents/summary vs registered agents', () => {
  let small: Fleet;
  let large: Fleet;
  const page: Record<string, Reads> = {};
  const summary: Record<string, Reads> = {};
  let fullListUnits = 0;

  beforeAll(async () => {
    small = await fleet(1_000);
    large = await fleet(100_000);
    for (const [k, f] of [
      ['small', small],
      ['large', large],
    ] as const) {
      page[k] = await measure(f, (c) => c.page({ limit: 100 }));
      summary[k] = await measure(f, (c) => c.summary());
    }
    // what GET /agents read before paging: a consistent Scan of the registry and a consistent read of every heartbeat
    const clients = createClients({ region: 'us-east-1', endpoints: { dynamodb: ddbEndpoint() }, localCredentials: true });
    for (const table of [large.t.names.Registry, large.t.names.Heartbeats]) {
      let start: Record<string, AttributeValue> | undefined;
      do {
        const out = await clients.ddbRaw.send(
          new ScanCommand({ TableName: table, ConsistentRead: true, ReturnConsumedCapacity: 'TOTAL', ExclusiveStartKey: start }),
        );
        fullListUnits += out.ConsumedCapacity?.CapacityUnits ?? 0;
        start = out.LastEvaluatedKey;
      } while (start);
    }
  }, 900_000);

  afterAll(() => {
    // the figures docs/capacity.md quotes
    const line = (r: Reads | undefined) => `${JSON.stringify(r?.requests)}, ${r?.readUnits} RRU`;
    console.log(
      `GET /agents?limit=100: 1 000 agents ${line(page.small)}; 100 000 agents ${line(page.large)}. ` +
        `GET /agents/summary: 1 000 ${line(summary.small)}; 100 000 ${line(summary.large)}. ` +
        `the unpaged listing of 100 000 (scans of both tables): ${fullListUnits} RRU`,
    );
  });

  it('one page of 100: the same requests and read units at 1 000 and 100 000 agents', () => {
    for (const r of [page.small!, page.large!]) {
      expect((r.body as { agents: unknown[] }).agents).toHaveLength(100);
      // one keys-only Query per status, one BatchGetItem of the page's registry items, one of their heartbeats
      expect(r.requests).toEqual({ 'DynamoDB:BatchGetItem': 2, 'DynamoDB:Query': 4 });
    }
    expect((page.large!.body as { agents: { name: string }[] }).agents.map((a) => a.name)).toEqual(
      Array.from({ length: 100 }, (_, i) => name(i)),
    );
    expect(page.large!.readUnits).toBe(page.small!.readUnits);
  });

  it('the summary: the same requests and read units at 1 000 and 100 000 agents, and the right figures', () => {
    expect(summary.small!.body).toMatchObject({ total: 1_000, byStatus: { active: 1_000 }, erroring: ERRORING, quarantined: 0 });
    expect(summary.large!.body).toMatchObject({ total: 100_000, byStatus: { active: 100_000 }, erroring: ERRORING, quarantined: 0 });
    // the counts items and their marker (one BatchGetItem), one COUNT Query per shard of `erroring`, the head of each shard of
    // `expect` (keys only: its heads read back in one BatchGetItem)
    for (const r of [summary.small!, summary.large!])
      expect(r.requests).toEqual({ 'DynamoDB:BatchGetItem': 2, 'DynamoDB:Query': 2 * SHARDS });
    expect(summary.large!.readUnits).toBe(summary.small!.readUnits);
  });

  it('the unpaged listing of 100 000 agents reads tens of times what a page does (even read by the cheapest Scans)', () => {
    expect(fullListUnits).toBeGreaterThan(50 * page.large!.readUnits);
  });
});
