/**
 * Cycles: local-mode throughput, and the AWS requests (and dollars) of one steady-state cycle.
 *
 * Local mode (DynamoDB Local + s3rver + real worker threads, as `npm start` runs them):
 *  - sandbox alone: sequential runs of a trivial agent (fresh worker each);
 *  - runner pool: a backlog of runs drained through the runner core at concurrency = CPUs;
 *  - scheduled 1 s agents on the real clock for 15 s: achieved cycles/s, missed and doubled slots.
 *
 * Cloud wiring (the very adapters the Lambdas use; DynamoDB Local and s3rver for real, SQS and
 * EventBridge answered by a counting SDK middleware since they have no emulator here): ticks of
 * the scheduler handler → SqsDispatcher → messages delivered at their DelaySeconds to the runner
 * Lambda handler → EventBridgePublisher; a health sweep per tick. Requests are counted by SDK
 * middleware per service and operation; DynamoDB request units are the ConsumedCapacity that
 * DynamoDB (Local) reports, indexes included. The first tick warms up and is not counted.
 */
import { availableParallelism, tmpdir } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { SQSClient } from '@aws-sdk/client-sqs';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { startDynamoLocal, startS3Local } from '../local/emulators';
import { createClients, type AwsClients } from '../shared/adapters/aws/clients';
import { ensureTables } from '../shared/adapters/aws/tables';
import { DynamoRegistry, DynamoSchedule } from '../shared/adapters/aws/dynamo-registry';
import { DynamoHeartbeats } from '../shared/adapters/aws/dynamo-heartbeats';
import { S3BundleStore } from '../shared/adapters/aws/s3-bundle-store';
import { SqsDispatcher } from '../shared/adapters/aws/sqs-dispatcher';
import { EventBridgePublisher } from '../shared/adapters/aws/eventbridge-publisher';
import { RequestCounter } from '../shared/adapters/aws/request-counter';
import { WorkerSandbox } from '../shared/adapters/node/sandbox';
import { AgentManager } from '../shared/core/manager/service';
import { generateKeyPair, publicKeyOf, sha256Hex, signBundle, type KeyPair } from '../shared/core/bundle/signing';
import { bundleKey, versionSortKey } from '../shared/core/bundle/identity';
import { loadConfig, type Config } from '../shared/core/config';
import { FakeClock, systemClock, type Clock } from '../shared/core/clock';
import type { Envelope } from '../shared/core/envelope';
import type { EventPublisher } from '../shared/core/ports';
import { TABLES } from '../shared/definitions/tables';
import { RULES } from '../shared/definitions/routing';
import { createSchedulerHandler, schedulerHorizonMs, LOCAL_TICK_SECONDS, CLOUD_TICK_SECONDS } from '../functions/scheduler/core';
import { createRunnerCore, createRunnerHandler } from '../functions/runner/core';
import { createHealthMonitorHandler } from '../functions/health-monitor/core';
import { LocalBus } from '../local/bus';
import { LocalRunnerPool } from '../local/runner';
import { createLedgerWriterHandler } from '../functions/ledger-writer/core';
import { createDynamoLedger } from '../shared/adapters/aws/dynamo-ledger';
import { toBusEvent } from '../shared/core/bus/events';
import type { BenchResult } from './types';

/** Public on-demand prices, us-east-1, as published on the AWS pricing pages (checked 2025; not fetched at run time). */
export const PRICES = {
  note: 'us-east-1 list prices as of 2025: DynamoDB on-demand $0.625/M write units, $0.125/M read units; SQS standard $0.40/M and FIFO $0.50/M requests; EventBridge custom events $1.00/M; Lambda $0.20/M requests + $0.0000133334/GB-s (arm64, as deployed)',
  ddbWriteUnit: 0.625 / 1e6,
  ddbReadUnit: 0.125 / 1e6,
  sqsRequest: 0.4 / 1e6,
  sqsFifoRequest: 0.5 / 1e6,
  eventBridgeEvent: 1.0 / 1e6,
  lambdaRequest: 0.2 / 1e6,
  lambdaGbSecondArm: 0.0000133334,
};
/** runner Lambda memory of the CDK stack's default (infra/props.ts runner.memoryMb 1024) */
const RUNNER_MEMORY_GB = 1;
/** ledger-writer Lambda memory (infra/constructs/ledger-writer.ts) */
const LEDGER_WRITER_MEMORY_GB = 0.5;
/** records per ledger-writer invocation (the FIFO event source mapping's batch size) */
const LEDGER_BATCH = 10;

const agentSource = (cycleSeconds: number) =>
  `export default { cycleSeconds: ${cycleSeconds}, timeoutSeconds: 5, async runCycle(ctx) { ctx.state.set('n', (ctx.state.get('n') ?? 0) + 1); } };`;

interface Env {
  clients: AwsClients;
  endpoints: { dynamodb: string; s3: string };
  bucket: string;
}

type TableNames = { Registry: string; Heartbeats: string; Ledger: string };

async function freshTables(clients: AwsClients): Promise<TableNames> {
  const sfx = randomBytes(3).toString('hex');
  const names = { Registry: `bench-reg-${sfx}`, Heartbeats: `bench-hb-${sfx}`, Ledger: `bench-ledger-${sfx}` };
  await ensureTables(clients.ddbRaw, TABLES, names);
  return names;
}

async function registerAll(manager: AgentManager, bundles: S3BundleStore, key: KeyPair, names: string[], cycleSeconds: number) {
  const bytes = new TextEncoder().encode(agentSource(cycleSeconds));
  for (const name of names) {
    const k = bundleKey(name, '1.0.0');
    await bundles.put(k, bytes, { signature: signBundle(key.privateKey, name, '1.0.0', bytes), signer: publicKeyOf(key.privateKey) });
    const out = await manager.onObjectCreated(k, bytes.byteLength);
    if (out.kind !== 'registered') throw new Error(`bench registration failed: ${JSON.stringify(out)}`);
  }
}

const round = (n: number, d = 1) => Number(n.toFixed(d));

// ------------------------------------------------------------------------------------------------
// local mode

async function localMode(env: Env): Promise<BenchResult[]> {
  const names = await freshTables(env.clients);
  const key = generateKeyPair();
  const config: Config = loadConfig({ AGENT_BUNDLE_PUBKEYS: key.publicKey, LOG_LEVEL: 'silent' });
  const clock: Clock = systemClock;
  const registry = new DynamoRegistry(env.clients.ddb, names.Registry, { shards: config.AGENT_SCHEDULE_SHARDS });
  const schedule = new DynamoSchedule(env.clients.ddb, names.Registry);
  const heartbeats = new DynamoHeartbeats(env.clients.ddb, names.Heartbeats, { shards: config.AGENT_SCHEDULE_SHARDS });
  const bundles = new S3BundleStore(env.clients.s3, env.bucket);
  const sandbox = new WorkerSandbox({ memoryMb: config.AGENT_RUN_MEMORY_MB });
  const cycles: Envelope[] = [];
  let health: ((e: unknown) => Promise<unknown>) | undefined;
  const bus = new LocalBus({ rules: RULES, vars: { HOT_BUCKET: env.bucket }, targets: { 'health-monitor': (e: never) => health!(e) } });
  bus.subscribe((e) => {
    if (e.detail.topic === 'agent.cycle' || e.detail.topic === 'agent.failed') cycles.push(e.detail);
  });
  health = createHealthMonitorHandler({ registry, heartbeats, events: bus, config });
  const core = createRunnerCore({ registry, heartbeats, bundles, events: bus, sandbox, config, clock });
  const concurrency = Math.max(2, availableParallelism());
  const pool = new LocalRunnerPool({ core, concurrency });
  const manager = new AgentManager({
    registry,
    bundles,
    events: bus,
    inspector: sandbox,
    trustedKeys: config.trustedKeys,
    maxBytes: config.AGENT_MAX_BUNDLE_BYTES,
  });
  const agents = Array.from({ length: 16 }, (_, i) => `local-${String(i).padStart(2, '0')}`);
  await registerAll(manager, bundles, key, agents, 1);
  for (const a of agents)
    await registry.transition(a, { to: 'paused', from: ['active'], at: clock.now(), reason: 'bench setup', nextRunAt: null });
  const results: BenchResult[] = [];

  // 1. the sandbox alone: one fresh worker per run
  const bytes = new TextEncoder().encode(agentSource(1));
  const ref = { key: 'agents/x/1.0.0.mjs', sha256: sha256Hex(bytes), bytes };
  for (let i = 0; i < 5; i++)
    await sandbox.run({ agent: 'x', version: '1.0.0', bundle: ref, kind: 'cycle', cycle: 1, state: {}, timeoutMs: 5000 });
  const n1 = 40;
  let t0 = performance.now();
  for (let i = 0; i < n1; i++)
    await sandbox.run({ agent: 'x', version: '1.0.0', bundle: ref, kind: 'cycle', cycle: 1, state: { n: i }, timeoutMs: 5000 });
  const sandboxMs = (performance.now() - t0) / n1;
  results.push({
    name: 'local: sandbox run, sequential (fresh worker thread per run)',
    value: round(1000 / sandboxMs),
    unit: 'runs/s',
    note: `${round(sandboxMs, 1)} ms per run`,
  });

  // 2. a backlog through the runner pool (runner core: registry read, claim, run, completion, bus)
  const perAgent = 20;
  const items = agents.flatMap((a) =>
    Array.from({ length: perAgent }, (_, j) => ({
      message: { kind: 'trigger' as const, agent: a, runId: `${a}!bench!${j}` },
      notBefore: 0,
    })),
  );
  t0 = performance.now();
  await pool.dispatch(items);
  await pool.idle();
  await bus.idle();
  const drainS = (performance.now() - t0) / 1000;
  const ok = cycles.filter((e) => e.topic === 'agent.cycle').length;
  if (ok !== items.length) throw new Error(`pool drain: ${ok} of ${items.length} runs succeeded`);
  results.push({
    name: `local: cycles/s through the runner pool (concurrency ${concurrency})`,
    value: round(items.length / drainS),
    unit: 'cycles/s',
    note: `${items.length} runs of ${agents.length} agents, DynamoDB Local + s3rver + worker threads`,
  });

  // 3. scheduled 1 s agents on the real clock (local tick period), a load below the capacity above
  cycles.length = 0;
  const scheduled = agents.slice(0, 8);
  const start = Math.ceil(clock.now() / 1000) * 1000 + 1000;
  for (const a of scheduled)
    await registry.transition(a, { to: 'active', from: ['paused'], at: clock.now(), reason: 'bench', nextRunAt: start });
  const scheduler = createSchedulerHandler({
    schedule,
    dispatcher: pool,
    config: { shards: config.AGENT_SCHEDULE_SHARDS, horizonMs: schedulerHorizonMs(LOCAL_TICK_SECONDS) },
  });
  const seconds = 15;
  const end = start + seconds * 1000;
  await scheduler({ action: 'tick' });
  const ticker = setInterval(() => void scheduler({ action: 'tick' }), LOCAL_TICK_SECONDS * 1000);
  await new Promise((r) => setTimeout(r, end - clock.now() + 500));
  clearInterval(ticker);
  for (const a of scheduled)
    await registry.transition(a, { to: 'paused', from: ['active', 'restarting'], at: clock.now(), reason: 'bench end', nextRunAt: null });
  await pool.idle(); // runs of slots before `end` still in flight or due
  await pool.stop();
  await bus.idle();
  let missed = 0;
  let doubled = 0;
  let ran = 0;
  for (const a of scheduled) {
    const slots = cycles
      .filter((e) => e.payload.name === a && e.topic === 'agent.cycle')
      .map((e) => e.payload.slot as number)
      .filter((s) => s >= start && s < end);
    ran += slots.length;
    const set = new Set(slots);
    doubled += slots.length - set.size;
    for (let s = start; s < end; s += 1000) if (!set.has(s)) missed++;
  }
  results.push({
    name: `local: scheduled ${scheduled.length} agents × cycleSeconds 1 for ${seconds} s, real clock`,
    value: round(ran / seconds),
    unit: 'cycles/s',
    note: `${ran} of ${scheduled.length * seconds} slots ran; missed ${missed}, doubled ${doubled}`,
  });
  return results;
}

// ------------------------------------------------------------------------------------------------
// cloud wiring: requests and dollars per steady-state cycle

interface Captured {
  body: string;
  at: number;
}

async function cloudScenario(env: Env, opts: { agents: number; cycleSeconds: number; ticks: number }): Promise<BenchResult[]> {
  const counter = new RequestCounter();
  // own clients, so that only this scenario's requests are counted
  const clients = createClients({ region: 'us-east-1', endpoints: env.endpoints, localCredentials: true });
  counter.count(clients.ddbRaw, 'DynamoDB', { capacity: true });
  counter.count(clients.s3, 'S3');
  const names = await freshTables(clients);
  const key = generateKeyPair();
  const config: Config = loadConfig({ AGENT_BUNDLE_PUBKEYS: key.publicKey, LOG_LEVEL: 'silent' });
  const clock = new FakeClock(Math.ceil(Date.now() / 60_000) * 60_000);
  const creds = { accessKeyId: 'bench', secretAccessKey: 'bench' };
  const queue: Captured[] = [];
  const sqs = new SQSClient({ region: 'us-east-1', credentials: creds });
  counter.respond(sqs, 'SQS', (_op, input) => {
    const entries = (input.Entries ?? []) as { Id: string; MessageBody: string; DelaySeconds?: number }[];
    for (const e of entries) queue.push({ body: e.MessageBody, at: clock.now() + (e.DelaySeconds ?? 0) * 1000 });
    return { Successful: entries.map((e) => ({ Id: e.Id, MessageId: e.Id, MD5OfMessageBody: '' })), Failed: [] };
  });
  const eb = new EventBridgeClient({ region: 'us-east-1', credentials: creds });
  // what the bus carries, kept to run the ledger path (rule Ledger → SQS FIFO → ledger writer) after the ticks
  const busEntries: { Source: string; DetailType: string; Detail: string }[] = [];
  let counting = false;
  counter.respond(eb, 'EventBridge', (_op, input) => {
    const entries = (input.Entries ?? []) as { Source: string; DetailType: string; Detail: string }[];
    if (counting) busEntries.push(...entries);
    return { FailedEntryCount: 0, Entries: entries.map((_, i) => ({ EventId: String(i) })) };
  });

  const shards = config.AGENT_SCHEDULE_SHARDS;
  const registry = new DynamoRegistry(clients.ddb, names.Registry, { shards });
  const schedule = new DynamoSchedule(clients.ddb, names.Registry);
  const heartbeats = new DynamoHeartbeats(clients.ddb, names.Heartbeats, { shards });
  const bundles = new S3BundleStore(clients.s3, env.bucket);
  const events: EventPublisher = new EventBridgePublisher(eb, 'agents-bus');
  const sandbox = new WorkerSandbox({ memoryMb: config.AGENT_RUN_MEMORY_MB });
  const runner = createRunnerHandler(createRunnerCore({ registry, heartbeats, bundles, events, sandbox, config, clock }));
  const scheduler = createSchedulerHandler({
    schedule,
    dispatcher: new SqsDispatcher(sqs, 'https://sqs.us-east-1.amazonaws.com/0/dispatch', { clock }),
    clock,
    config: { shards, horizonMs: schedulerHorizonMs(CLOUD_TICK_SECONDS) },
  });
  const health = createHealthMonitorHandler({ registry, heartbeats, events, config, clock });
  const manager = new AgentManager({
    registry,
    bundles,
    events,
    inspector: sandbox,
    trustedKeys: config.trustedKeys,
    maxBytes: config.AGENT_MAX_BUNDLE_BYTES,
    clock,
  });
  const agentNames = Array.from({ length: opts.agents }, (_, i) => `c${opts.cycleSeconds}-${String(i).padStart(3, '0')}`);
  await registerAll(manager, bundles, key, agentNames, opts.cycleSeconds);

  let runs = 0;
  let messageId = 0;
  const tickMs = CLOUD_TICK_SECONDS * 1000;
  const t0 = clock.now();
  for (let k = 0; k <= opts.ticks; k++) {
    if (k === 1) {
      counter.reset();
      runs = 0;
      counting = true;
    }
    const tickAt = t0 + k * tickMs;
    clock.set(tickAt);
    await scheduler({ action: 'tick' });
    await health({ action: 'sweep' });
    // SQS → runner Lambda (batch size 1): each message at its delivery time, same-time ones together
    for (;;) {
      queue.sort((a, b) => a.at - b.at);
      const first = queue[0];
      if (!first || first.at >= tickAt + tickMs) break;
      const batch = queue.filter((q) => q.at === first.at);
      queue.splice(0, batch.length);
      clock.set(Math.max(clock.now(), first.at));
      const outs = await Promise.all(batch.map((m) => runner({ Records: [{ messageId: String(messageId++), body: m.body }] })));
      if (outs.some((o) => o.batchItemFailures.length)) throw new Error('runner reported infrastructure failures');
      runs += batch.length;
    }
  }
  counting = false;
  const per = (n: number) => n / runs;

  // the ledger path of what these cycles put on the bus, measured on the real ledger writer:
  // EventBridge delivers each event to the FIFO queue (one SendMessage), the event source mapping
  // hands batches of LEDGER_BATCH to the ledger writer (one receive + one delete per batch)
  const ledgerCounter = new RequestCounter();
  const ledgerClients = createClients({ region: 'us-east-1', endpoints: { dynamodb: env.endpoints.dynamodb }, localCredentials: true });
  ledgerCounter.count(ledgerClients.ddbRaw, 'DynamoDB', { capacity: true });
  const ledgerWriter = createLedgerWriterHandler({ ledger: createDynamoLedger(ledgerClients.ddb, names.Ledger) });
  const busEvents = busEntries.map((e) =>
    toBusEvent(
      { source: e.Source, detailType: e.DetailType, detail: JSON.parse(e.Detail) as unknown },
      { now: clock.now(), account: '123456789012', region: 'us-east-1' },
    ),
  );
  let ledgerMs = 0;
  let ledgerBatches = 0;
  for (let i = 0; i < busEvents.length; i += LEDGER_BATCH) {
    const records = busEvents.slice(i, i + LEDGER_BATCH).map((ev, j) => ({ messageId: `l${i + j}`, body: JSON.stringify(ev) }));
    const s0 = performance.now();
    await ledgerWriter({ Records: records });
    ledgerMs += performance.now() - s0;
    ledgerBatches++;
  }
  const ledgerEvents = per(busEvents.length);
  const ledgerWru = per(ledgerCounter.units.write);
  const ledgerRru = per(ledgerCounter.units.read);
  const ledgerSqsFifo = ledgerEvents + per(2 * ledgerBatches);
  const ledgerInvocations = per(ledgerBatches);
  const ledgerGbS = per(ledgerMs / 1000) * LEDGER_WRITER_MEMORY_GB;
  const ledgerCost =
    1e6 *
    (ledgerWru * PRICES.ddbWriteUnit +
      ledgerRru * PRICES.ddbReadUnit +
      ledgerSqsFifo * PRICES.sqsFifoRequest +
      ledgerInvocations * PRICES.lambdaRequest +
      ledgerGbS * PRICES.lambdaGbSecondArm);

  const sqsSend = per(counter.total('SQS:'));
  const ddbRequests = per(counter.total('DynamoDB:'));
  const wru = per(counter.units.write);
  const rru = per(counter.units.read);
  const ebEvents = per(counter.eventEntries);
  const s3 = per(counter.total('S3:'));
  // the runner Lambda's event source mapping: one ReceiveMessage and one DeleteMessage per message at batch size 1 (estimate)
  const sqsTotal = sqsSend + 2;
  const detail = Object.entries(counter.snapshot())
    .map(([k, v]) => `${k} ${round(v / runs, 3)}`)
    .join(', ');

  // Lambda duration: sequential handler invocations (no contention), as one Lambda instance runs them
  const rec = (await registry.get(agentNames[0]!))!;
  const samples: number[] = [];
  for (let i = 0; i < 10; i++) {
    clock.advance(opts.cycleSeconds * 1000);
    const slot = Math.ceil(clock.now() / (opts.cycleSeconds * 1000)) * opts.cycleSeconds * 1000;
    const body = JSON.stringify({ kind: 'cycle', agent: rec.name, runId: `${rec.name}@${slot}`, slot, generation: rec.generation });
    const s = performance.now();
    await runner({ Records: [{ messageId: `d${i}`, body }] });
    samples.push(performance.now() - s);
  }
  const durMs = samples.reduce((a, b) => a + b, 0) / samples.length;
  const runCost =
    1e6 *
    (wru * PRICES.ddbWriteUnit +
      rru * PRICES.ddbReadUnit +
      sqsTotal * PRICES.sqsRequest +
      ebEvents * PRICES.eventBridgeEvent +
      PRICES.lambdaRequest +
      (durMs / 1000) * RUNNER_MEMORY_GB * PRICES.lambdaGbSecondArm);
  const cost = runCost + ledgerCost;
  const label = `${opts.agents} agents × cycleSeconds ${opts.cycleSeconds}`;
  return [
    {
      name: `cloud (${label}): AWS requests per steady-state cycle`,
      value: round(ddbRequests + sqsSend + per(counter.total('EventBridge:')) + s3, 2),
      unit: 'requests/cycle',
      note: `${runs} cycles over ${opts.ticks} ticks, by SDK middleware: ${detail}; plus ~2 SQS requests/cycle by the event source mapping (receive, delete; estimate)`,
    },
    {
      name: `cloud (${label}): DynamoDB request units per cycle`,
      value: round(wru + rru, 2),
      unit: 'RU/cycle',
      note: `${round(wru, 2)} write + ${round(rru, 2)} read units (ConsumedCapacity, indexes included)`,
    },
    {
      name: `cloud (${label}): runner Lambda duration per cycle (local estimate)`,
      value: round(durMs, 1),
      unit: 'ms',
      note: `mean of 10 sequential invocations; priced at ${RUNNER_MEMORY_GB} GB`,
    },
    {
      name: `cloud (${label}): ledger path per cycle`,
      value: round(ledgerWru + ledgerRru, 2),
      unit: 'RU/cycle',
      note: `${round(ledgerEvents, 2)} bus events/cycle appended by the real ledger writer in FIFO batches of ${LEDGER_BATCH}: ${round(ledgerWru, 2)} write + ${round(ledgerRru, 2)} read units, ${round(ledgerSqsFifo, 2)} SQS FIFO requests, ${round(ledgerInvocations, 2)} invocations, ${round(per(ledgerMs), 1)} ms`,
    },
    {
      name: `cloud (${label}): cost per million cycles`,
      value: round(cost, 2),
      unit: 'USD',
      note: `DynamoDB ${round(1e6 * (wru * PRICES.ddbWriteUnit + rru * PRICES.ddbReadUnit), 2)} + SQS ${round(1e6 * sqsTotal * PRICES.sqsRequest, 2)} + EventBridge ${round(1e6 * ebEvents * PRICES.eventBridgeEvent, 2)} + runner Lambda ${round(1e6 * (PRICES.lambdaRequest + (durMs / 1000) * RUNNER_MEMORY_GB * PRICES.lambdaGbSecondArm), 2)} (${RUNNER_MEMORY_GB} GB arm64) + ledger path ${round(ledgerCost, 2)}; ${PRICES.note}`,
    },
  ];
}

/** Requests one scheduler tick makes with many registered but idle agents (not due in the window). */
async function idleAgents(env: Env): Promise<BenchResult[]> {
  const counter = new RequestCounter();
  const clients = createClients({ region: 'us-east-1', endpoints: { dynamodb: env.endpoints.dynamodb }, localCredentials: true });
  const names = await freshTables(clients);
  const config = loadConfig({ LOG_LEVEL: 'silent' });
  const shards = config.AGENT_SCHEDULE_SHARDS;
  const registry = new DynamoRegistry(clients.ddb, names.Registry, { shards });
  const now = Math.ceil(Date.now() / 60_000) * 60_000;
  const n = 1000;
  const bytes = new TextEncoder().encode(agentSource(3600));
  for (let i = 0; i < n; i++) {
    const name = `idle-${String(i).padStart(4, '0')}`;
    await registry.register({
      name,
      version: '1.0.0',
      versionKey: versionSortKey('1.0.0'),
      bundleKey: bundleKey(name, '1.0.0'),
      sha256: sha256Hex(bytes),
      size: bytes.byteLength,
      signer: null,
      manifest: { cycleSeconds: 3600, timeoutSeconds: 5, subscriptions: [], hasOnEnvelope: false },
      at: new Date(now).toISOString(),
      firstRunAt: now + 3_600_000,
    });
  }
  counter.count(clients.ddbRaw, 'DynamoDB', { capacity: true });
  const sqs = new SQSClient({ region: 'us-east-1', credentials: { accessKeyId: 'b', secretAccessKey: 'b' } });
  counter.respond(sqs, 'SQS', () => ({ Successful: [], Failed: [] }));
  const scheduler = createSchedulerHandler({
    schedule: new DynamoSchedule(clients.ddb, names.Registry),
    dispatcher: new SqsDispatcher(sqs, 'https://sqs.us-east-1.amazonaws.com/0/dispatch'),
    clock: new FakeClock(now),
    config: { shards, horizonMs: schedulerHorizonMs(CLOUD_TICK_SECONDS) },
  });
  const report = await scheduler({ action: 'tick' });
  return [
    {
      name: `cloud: scheduler requests per tick with ${n} idle agents`,
      value: counter.total(),
      unit: 'requests/tick',
      note: `${shards} shards: one Query of the sparse due index each, ${report.due} agents read, ${round(counter.units.read, 2)} read units; work per tick grows with due agents, not registered ones`,
    },
  ];
}

export async function run(): Promise<BenchResult[]> {
  const ddb = await startDynamoLocal();
  const s3dir = mkdtempSync(join(tmpdir(), 'bench-s3-'));
  const bucket = 'bench-hot';
  let s3: Awaited<ReturnType<typeof startS3Local>> | undefined;
  try {
    s3 = await startS3Local({ directory: s3dir, buckets: [bucket] });
    const clients = createClients({ region: 'us-east-1', endpoints: { dynamodb: ddb.endpoint, s3: s3.endpoint }, localCredentials: true });
    const env: Env = { clients, endpoints: { dynamodb: ddb.endpoint, s3: s3.endpoint }, bucket };
    return [
      ...(await localMode(env)),
      ...(await cloudScenario(env, { agents: 100, cycleSeconds: 60, ticks: 5 })),
      ...(await cloudScenario(env, { agents: 10, cycleSeconds: 1, ticks: 2 })),
      ...(await idleAgents(env)),
    ];
  } finally {
    await s3?.stop();
    await ddb.stop();
    rmSync(s3dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of await run()) console.log(`${r.name}: ${r.value} ${r.unit}${r.note ? ` (${r.note})` : ''}`);
  process.exit(0);
}
