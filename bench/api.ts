import { randomBytes } from 'node:crypto';
import { createClients } from '../shared/adapters/aws/clients';
import { ensureTables } from '../shared/adapters/aws/tables';
import { DynamoRegistry } from '../shared/adapters/aws/dynamo-registry';
import { DynamoHeartbeats } from '../shared/adapters/aws/dynamo-heartbeats';
import { createDynamoLedger, DynamoLedgerStore } from '../shared/adapters/aws/dynamo-ledger';
import { LedgerService } from '../shared/core/ledger/service';
import { TABLES } from '../shared/definitions/tables';
import { ControlService } from '../shared/core/control/service';
import { healthPolicyFrom } from '../shared/core/health/policy';
import { loadConfig } from '../shared/core/config';
import type { Envelope } from '../shared/core/envelope';
import type { DispatchItem } from '../shared/core/dispatch';
import { createApiHandler } from '../functions/api/app';
import { createStreamHandler } from '../functions/api/stream-core';
import { createRpcServer } from '../functions/api/rpc/server';
import { spawn } from 'node:child_process';
import { versionSortKey } from '../shared/core/bundle/identity';
import { GetItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { batchWrite } from '../tests/support/seed';
import { COUNT_SHARDS, DynamoSchedule } from '../shared/adapters/aws/dynamo-registry';
import { COUNTS_ITEM, shardOf } from '../shared/definitions/tables';
import { CachedLedgerTail, ReadModel } from '../local/read-model';
import { startHttpServer } from '../local/http';
import { startDynamoLocal } from '../local/emulators';
import { LocalComponentControl } from '../local/components';
import type { BenchResult } from './types';

const AGENTS = 50;
const CONNECTIONS = 8;
const SECONDS_PER_ROUTE = 5;
/** a short single-connection run: latency without queueing behind other requests */
const SECONDS_SINGLE = 3;

/** The load generator, run as `node --input-type=module -e` in a child process (plain JS). */
const LOADER = `
const [url, token, path, seconds, conns] = process.argv.slice(1);
const until = performance.now() + Number(seconds) * 1000;
const lat = [];
let errors = 0;

async function worker() {
  while (performance.now() < until) {
    const t0 = performance.now();
    try {
      const res = await fetch(url + path, { headers: { authorization: 'Bearer ' + token } });
      await res.arrayBuffer();
      if (res.status !== 200) errors++;
    } catch { errors++; }
    lat.push(performance.now() - t0);
  }
}
// warm-up: one request per connection, not measured
await Promise.all(Array.from({ length: Number(conns) }, () => fetch(url + path, { headers: { authorization: 'Bearer ' + token } }).then((r) => r.arrayBuffer())));
const t0 = performance.now();
await Promise.all(Array.from({ length: Number(conns) }, worker));
const secondsTaken = (performance.now() - t0) / 1000;
lat.sort((a, b) => a - b);
const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
process.stdout.write(JSON.stringify({ n: lat.length, errors, rps: lat.length / secondsTaken, p50: q(0.5), p99: q(0.99), max: lat[lat.length - 1] }));
`;

/** One registered agent with three finished cycles (4, 40 and 400 ms), as the runner records them. */
async function seedAgent(
  registry: DynamoRegistry,
  heartbeats: DynamoHeartbeats,
  name: string,
  o: { cycleSeconds: number; now: number; generation: number; expectBy: number | null },
): Promise<void> {
  await registry.register({
    name,
    version: '1.0.0',
    versionKey: versionSortKey('1.0.0'),
    bundleKey: `agents/${name}/1.0.0.mjs`,
    sha256: randomBytes(32).toString('hex'),
    size: 100,
    signer: null,
    manifest: { cycleSeconds: o.cycleSeconds, timeoutSeconds: 5, subscriptions: [], hasOnEnvelope: false },
    at: new Date(o.now).toISOString(),
    firstRunAt: o.now + o.cycleSeconds * 1000,
  });
  for (const ms of [4, 40, 400])
    await heartbeats.complete(name, {
      runId: `${name}-${ms}`,
      at: o.now,
      outcome: 'ok',
      error: null,
      durationMs: ms,
      generation: o.generation,
      stateChanges: {},
      expectBy: o.expectBy,
      countsAsCycle: true,
    });
}

const FLEET = 10_000;
const RATE = 500;
const SECONDS_OPEN = 8;

/** Open-loop load: a request due every 1000/rate ms, sent when due, timed from when it was due. */
const OPEN_LOADER = `
const [url, token, path, seconds, rate] = process.argv.slice(1);
const every = 1000 / Number(rate);
const total = Math.round(Number(seconds) * Number(rate));
const headers = { authorization: 'Bearer ' + token };
for (let i = 0; i < 20; i++) await fetch(url + path, { headers }).then((r) => r.arrayBuffer());
const lat = [];
let errors = 0;
const inflight = new Set();
const t0 = performance.now();
for (let i = 0; i < total; i++) {
  const due = t0 + i * every;
  const wait = due - performance.now();
  if (wait > 1) await new Promise((r) => setTimeout(r, wait));
  const p = fetch(url + path, { headers })
    .then(async (res) => { await res.arrayBuffer(); if (res.status !== 200) errors++; })
    .catch(() => { errors++; })
    .then(() => { lat.push(performance.now() - due); inflight.delete(p); });
  inflight.add(p);
}
await Promise.all(inflight);
const secondsTaken = (performance.now() - t0) / 1000;
lat.sort((a, b) => a - b);
const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
process.stdout.write(JSON.stringify({ n: lat.length, errors, rps: lat.length / secondsTaken, p50: q(0.5), p99: q(0.99), max: lat[lat.length - 1] }));
`;

interface LoadResult {
  n: number;
  errors: number;
  rps: number;
  p50: number;
  p99: number;
  max: number;
}

function load(url: string, token: string, path: string, seconds = SECONDS_PER_ROUTE, connections = CONNECTIONS): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', LOADER, url, token, path, String(seconds), String(connections)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(JSON.parse(out) as LoadResult) : reject(new Error(`load process exited ${code}: ${err}`)),
    );
  });
}

function openLoad(url: string, token: string, path: string): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--input-type=module', '-e', OPEN_LOADER, url, token, path, String(SECONDS_OPEN), String(RATE)],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(JSON.parse(out) as LoadResult) : reject(new Error(`load process exited ${code}: ${err}`)),
    );
  });
}

/**
 * The API with FLEET agents as local mode serves it: DynamoDB Local seeded with clones of items
 * the adapters wrote (every agent with a heartbeat and a duration histogram; the counts items),
 * the read model over the adapters, loaded once, and the API on top of it.
 */
export async function startFleetFixture(): Promise<{ url: string; token: string; close(): Promise<void> }> {
  const ddb = await startDynamoLocal();
  try {
    const clients = createClients({ region: 'us-east-1', endpoints: { dynamodb: ddb.endpoint }, localCredentials: true });
    const names = { Registry: 'bench-fleet-registry', Heartbeats: 'bench-fleet-heartbeats', Ledger: 'bench-fleet-ledger' };
    await ensureTables(clients.ddbRaw, TABLES, names);
    const stores = {
      registry: new DynamoRegistry(clients.ddb, names.Registry),
      schedule: new DynamoSchedule(clients.ddb, names.Registry),
      heartbeats: new DynamoHeartbeats(clients.ddb, names.Heartbeats),
    };
    const now = Date.now();
    const tpl = 'agent-00000';
    await seedAgent(stores.registry, stores.heartbeats, tpl, { cycleSeconds: 60, now, generation: 1, expectBy: now + 180_000 });
    const get = async (table: string) =>
      (await clients.ddbRaw.send(new GetItemCommand({ TableName: table, Key: { name: { S: tpl } }, ConsistentRead: true }))).Item!;
    const [reg, hb] = [await get(names.Registry), await get(names.Heartbeats)];
    const regs: Record<string, AttributeValue>[] = [];
    const hbs: Record<string, AttributeValue>[] = [];
    const counts = new Map<string, number>();
    for (let i = 1; i < FLEET; i++) {
      const n = `agent-${String(i).padStart(5, '0')}`;
      regs.push({ ...reg, name: { S: n }, bundleKey: { S: `agents/${n}/1.0.0.mjs` }, dueShard: { S: shardOf(n, 4) } });
      hbs.push({ ...hb, name: { S: n }, hbShard: { S: shardOf(n, 4) } });
    }
    for (const n of [tpl, ...regs.map((r) => r.name?.S as string)]) {
      const k = `${COUNTS_ITEM}#${shardOf(n, COUNT_SHARDS)}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    await batchWrite(clients.ddbRaw, names.Registry, [
      ...regs,
      ...[...counts].map(([k, c]) => ({ name: { S: k }, active: { N: String(c) } })),
    ]);
    await batchWrite(clients.ddbRaw, names.Heartbeats, hbs);
    const model = new ReadModel(stores);
    await model.load();
    const events = { publish: async () => {} };
    const ledger = new LedgerService({ store: new CachedLedgerTail(new DynamoLedgerStore(clients.ddb, names.Ledger)), publisher: events });
    const dispatcher = { dispatch: async () => {} };
    const control = new ControlService({
      registry: model.registry,
      heartbeats: model.heartbeats,
      dispatcher,
      events,
      policy: healthPolicyFrom(loadConfig({})),
    });
    const on = { setEnabled: () => undefined, isEnabled: () => true };
    const components = new LocalComponentControl({ rule: () => on, schedule: () => on, extra: { runner: [on] } });
    const token = randomBytes(24).toString('hex');
    const deps = {
      auth: { mode: 'token' as const, token },
      control,
      registry: model.registry,
      heartbeats: model.heartbeats,
      fleet: () => model.fleet(),
      perAgent: 'auto' as const,
      ledger,
      replay: ledger.replay.bind(ledger),
      events,
      components,
    };
    const http = await startHttpServer({ handler: createApiHandler(deps), port: 0 });
    return {
      url: http.url,
      token,
      async close() {
        await http.close();
        await ddb.stop();
      },
    };
  } catch (e) {
    await ddb.stop();
    throw e;
  }
}

/**
 * The API under test: DynamoDB Local with AGENTS registered agents (heartbeats with histograms),
 * the real control core, the API handler, the stream and the gRPC/Connect services behind the
 * local listener (HTTP/1.1 and h2c on one port). bench/rpc.ts uses it too.
 */
export async function startApiFixture(): Promise<{ url: string; token: string; close(): Promise<void> }> {
  const ddb = await startDynamoLocal();
  try {
    const clients = createClients({ region: 'us-east-1', endpoints: { dynamodb: ddb.endpoint }, localCredentials: true });
    const names = { Registry: 'bench-api-registry', Heartbeats: 'bench-api-heartbeats', Ledger: 'bench-api-ledger' };
    await ensureTables(clients.ddbRaw, TABLES, names);
    const registry = new DynamoRegistry(clients.ddb, names.Registry);
    const heartbeats = new DynamoHeartbeats(clients.ddb, names.Heartbeats);
    const published: Envelope[] = [];
    const events = { publish: async (e: Envelope[]) => void published.push(...e) };
    const ledger = createDynamoLedger(clients.ddb, names.Ledger, events);
    const now = Date.now();
    for (let i = 0; i < AGENTS; i++) {
      const name = `agent-${String(i).padStart(3, '0')}`;
      await seedAgent(registry, heartbeats, name, { cycleSeconds: 10, now, generation: 0, expectBy: null });
    }
    const dispatched: DispatchItem[] = [];
    const dispatcher = { dispatch: async (items: DispatchItem[]) => void dispatched.push(...items) };
    const control = new ControlService({ registry, heartbeats, dispatcher, events, policy: healthPolicyFrom(loadConfig({})) });
    const on = { setEnabled: () => undefined, isEnabled: () => true };
    const components = new LocalComponentControl({ rule: () => on, schedule: () => on, extra: { runner: [on] } });
    const token = randomBytes(24).toString('hex');
    const deps = {
      auth: { mode: 'token' as const, token },
      control,
      registry,
      heartbeats,
      ledger,
      replay: ledger.replay.bind(ledger),
      events,
      components,
    };
    const http = await startHttpServer({
      handler: createApiHandler(deps),
      streamHandler: createStreamHandler(deps),
      rpc: createRpcServer(deps),
      port: 0,
    });
    return {
      url: http.url,
      token,
      async close() {
        await http.close();
        await ddb.stop();
      },
    };
  } catch (e) {
    await ddb.stop();
    throw e;
  }
}

export async function run(): Promise<BenchResult[]> {
  const api = await startApiFixture();
  try {
    const http = api;
    const token = api.token;

    const single = await load(http.url, token, '/agents', SECONDS_SINGLE, 1);
    const agents = await load(http.url, token, '/agents');
    const metrics = await load(http.url, token, '/metrics');
    for (const [what, r] of [
      ['/agents', single],
      ['/agents', agents],
      ['/metrics', metrics],
    ] as const)
      if (r.errors > 0) throw new Error(`${what}: ${r.errors} failed requests`);
    const note = `${AGENTS} agents, ${CONNECTIONS} keep-alive connections from a second process, ${SECONDS_PER_ROUTE} s, DynamoDB Local`;
    const r2 = (x: number) => Number(x.toFixed(2));
    return [
      {
        name: 'GET /agents p50, one connection',
        value: r2(single.p50),
        unit: 'ms',
        note: `${AGENTS} agents, sequential requests from a second process, DynamoDB Local`,
      },
      { name: 'GET /agents p99, one connection', value: r2(single.p99), unit: 'ms' },
      { name: 'GET /agents p50', value: r2(agents.p50), unit: 'ms', note },
      { name: 'GET /agents p99', value: r2(agents.p99), unit: 'ms' },
      { name: 'GET /agents throughput', value: Math.round(agents.rps), unit: 'req/s', note: `${agents.n} requests` },
      { name: 'GET /metrics p50', value: r2(metrics.p50), unit: 'ms', note },
      { name: 'GET /metrics p99', value: r2(metrics.p99), unit: 'ms' },
      { name: 'GET /metrics throughput', value: Math.round(metrics.rps), unit: 'req/s', note: `${metrics.n} requests` },
      ...(await fleetRun()),
    ];
  } finally {
    await api.close();
  }
}

/** GET /agents (one page) and GET /metrics at RATE req/s, open loop, with FLEET agents (read model). */
async function fleetRun(): Promise<BenchResult[]> {
  const fleet = await startFleetFixture();
  try {
    const page = await openLoad(fleet.url, fleet.token, '/agents');
    const metrics = await openLoad(fleet.url, fleet.token, '/metrics');
    for (const [what, r] of [
      ['/agents', page],
      ['/metrics', metrics],
    ] as const)
      if (r.errors > 0) throw new Error(`${what}: ${r.errors} failed requests`);
    const note = `${FLEET} agents, local mode's read model, ${RATE} req/s open loop from a second process, ${SECONDS_OPEN} s`;
    const r2 = (x: number) => Number(x.toFixed(2));
    return [
      { name: `GET /agents (page of 100) p50, ${FLEET} agents, ${RATE} req/s`, value: r2(page.p50), unit: 'ms', note },
      {
        name: `GET /agents (page of 100) p99, ${FLEET} agents, ${RATE} req/s`,
        value: r2(page.p99),
        unit: 'ms',
        note: `${page.n} requests, ${Math.round(page.rps)} req/s achieved`,
      },
      { name: `GET /metrics (aggregate-only) p50, ${FLEET} agents, ${RATE} req/s`, value: r2(metrics.p50), unit: 'ms', note },
      {
        name: `GET /metrics (aggregate-only) p99, ${FLEET} agents, ${RATE} req/s`,
        value: r2(metrics.p99),
        unit: 'ms',
        note: `${metrics.n} requests, ${Math.round(metrics.rps)} req/s achieved`,
      },
    ];
  } finally {
    await fleet.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of await run()) console.log(`${r.name}: ${r.value} ${r.unit}${r.note ? ` (${r.note})` : ''}`);
}
