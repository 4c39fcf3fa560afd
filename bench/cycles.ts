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
import { tmpdir } from 'node:os';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { SQSClient } from '@aws-sdk/client-sqs';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { LambdaClient } from '@aws-sdk/client-lambda';
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
import { ProcessSandbox } from '../shared/adapters/node/process-sandbox';
import { LambdaSandbox } from '../shared/adapters/aws/lambda-sandbox';
import { createSandboxHandler } from '../functions/sandbox/core';
import { resolveProps } from '../infra/props';
import { LEDGER_WRITER_MEMORY_MB } from '../infra/constructs/ledger-writer';
import { AgentManager } from '../shared/core/manager/service';
import { generateKeyPair, publicKeyOf, sha256Hex, signBundle, type KeyPair } from '../shared/core/bundle/signing';
import { bundleKey, versionSortKey } from '../shared/core/bundle/identity';
import { loadConfig, type Config } from '../shared/core/config';
import { FakeClock, systemClock, type Clock } from '../shared/core/clock';
import type { Envelope } from '../shared/core/envelope';
import type { AgentSandbox, EventPublisher } from '../shared/core/ports';
import { TABLES } from '../shared/definitions/tables';
import {
  createSchedulerHandler,
  schedulerHorizonMs,
  LOCAL_TICK_SECONDS,
  CLOUD_TICK_SECONDS,
  CLOUD_FILL_AHEAD_SECONDS,
} from '../functions/scheduler/core';
import type { TickReport } from '../shared/core/scheduler/service';
import { createRunnerCore, createRunnerHandler } from '../functions/runner/core';
import { createHealthMonitorHandler } from '../functions/health-monitor/core';
import { createLocalPlatform, runtimeDirFor } from '../local/platform';
import { compose } from '../functions/compose';
import { silentLogger } from '../shared/core/logger';
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
/** the CDK stack's defaults (infra/props.ts), as `cdk deploy` without options resolves them */
const STACK_DEFAULTS = resolveProps({});
/** runner Lambda memory (props runner.memoryMb): it claims, invokes the sandbox, records */
const RUNNER_MEMORY_GB = STACK_DEFAULTS.runner.memoryMb / 1024;
/** sandbox Lambda memory (props sandbox.memoryMb, infra/constructs/sandbox.ts): where the agent runs */
const SANDBOX_MEMORY_GB = STACK_DEFAULTS.sandbox.memoryMb / 1024;
/** ledger-writer Lambda memory (infra/constructs/ledger-writer.ts) */
const LEDGER_WRITER_MEMORY_GB = LEDGER_WRITER_MEMORY_MB / 1024;
/** records per ledger-writer invocation (the FIFO event source mapping's batch size) */
const LEDGER_BATCH = 10;

const agentSource = (cycleSeconds: number) =>
  `export default { cycleSeconds: ${cycleSeconds}, timeoutSeconds: 5, async runCycle(ctx) { ctx.state.set('n', (ctx.state.get('n') ?? 0) + 1); } };`;

export interface Env {
  clients: AwsClients;
  /** DynamoDB Local's JVM (its CPU time is read from /proc) */
  ddbPid?: number;
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

/** CPU seconds a process has used (Linux /proc; null elsewhere) */
function procCpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks (USER_HZ 100)
  } catch {
    return null;
  }
}

// ------------------------------------------------------------------------------------------------
// local mode

const RUNTIMES = ['process', 'thread'] as const;
type LocalRuntime = (typeof RUNTIMES)[number];

/** the bench agent asking for a runtime (local mode allows `thread` only where AGENT_RUNTIMES_ALLOWED names it) */
const runtimeAgentSource = (runtime: LocalRuntime, cycleSeconds: number) =>
  `export default { runtime: '${runtime}', cycleSeconds: ${cycleSeconds}, timeoutSeconds: 5, async runCycle(ctx) { ctx.state.set('n', (ctx.state.get('n') ?? 0) + 1); } };`;

/** runs of each runtime's backlog: the process runtime drains in seconds, threads take ~40 ms a run */
const BACKLOG: Record<LocalRuntime, { agents: number; perAgent: number; rounds: number }> = {
  process: { agents: 16, perAgent: 60, rounds: 6 },
  thread: { agents: 16, perAgent: 12, rounds: 1 },
};

/**
 * Local mode as `npm start` composes it (createLocalPlatform + compose: the runner core, the
 * LocalRunnerPool at its default concurrency, the local bus with the ledger writer and the health
 * monitor, the runtimes), on the bench's DynamoDB Local and s3rver; the timers are not started
 * (the scheduled part below ticks the composition's scheduler handler itself).
 */
export async function localMode(env: Env, o: { concurrency?: number; quick?: boolean } = {}): Promise<BenchResult[]> {
  const names = await freshTables(env.clients);
  const key = generateKeyPair();
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-local-'));
  const config: Config = loadConfig({
    AGENT_BUNDLE_PUBKEYS: key.publicKey,
    LOG_LEVEL: 'silent',
    REGISTRY_TABLE: names.Registry,
    HEARTBEAT_TABLE: names.Heartbeats,
    LEDGER_TABLE: names.Ledger,
    HOT_BUCKET: env.bucket,
    // process is the default; thread for the bundles that ask for it (trusted code)
    AGENT_RUNTIMES_ALLOWED: 'process,thread',
  });
  const local = createLocalPlatform({
    config,
    dataDir,
    clients: env.clients,
    token: 'bench',
    logger: silentLogger,
    ...(o.concurrency ? { runnerConcurrency: o.concurrency } : {}),
  });
  const c = compose(config, local.platform);
  local.connect(c);
  const { bus, pool } = local;
  const clock: Clock = systemClock;
  const cycles: Envelope[] = [];
  bus.subscribe((e) => {
    if (e.detail.topic === 'agent.cycle' || e.detail.topic === 'agent.failed') cycles.push(e.detail);
  });
  const results: BenchResult[] = [];
  try {
    const agentsOf = (rt: LocalRuntime, n: number) => Array.from({ length: n }, (_, i) => `${rt}-${String(i).padStart(2, '0')}`);
    for (const rt of RUNTIMES) {
      const agents = agentsOf(rt, BACKLOG[rt].agents);
      const bytes = new TextEncoder().encode(runtimeAgentSource(rt, 1));
      for (const name of agents) {
        const k = bundleKey(name, '1.0.0');
        await c.bundles.put(k, bytes, { signature: signBundle(key.privateKey, name, '1.0.0', bytes), signer: publicKeyOf(key.privateKey) });
        const out = await c.manager.onObjectCreated(k, bytes.byteLength);
        if (out.kind !== 'registered') throw new Error(`bench registration failed: ${JSON.stringify(out)}`);
        // triggers run for paused agents; paused ones are not scheduled by anyone else
        await c.registry.transition(name, { to: 'paused', from: ['active'], at: clock.now(), reason: 'bench setup', nextRunAt: null });
      }
    }
    await bus.idle();

    // 1. each runtime alone, sequential runs of a trivial agent: a warm agent process (the same
    //    agent version's process, as between an agent's cycles) vs a fresh worker thread per run
    const bytes = new TextEncoder().encode(agentSource(1));
    const ref = { key: 'agents/x/1.0.0.mjs', sha256: sha256Hex(bytes), bytes };
    const sandboxes: Record<LocalRuntime, AgentSandbox> = {
      process: local.processes,
      thread: new WorkerSandbox({ memoryMb: config.AGENT_RUN_MEMORY_MB }),
    };
    for (const rt of RUNTIMES) {
      const sb = sandboxes[rt];
      const one = (i: number) =>
        sb.run({ agent: 'x', version: '1.0.0', generation: 1, bundle: ref, kind: 'cycle', cycle: i + 1, state: { n: i }, timeoutMs: 5000 });
      for (let i = 0; i < 5; i++) await one(i);
      const n = rt === 'process' ? 400 : 40;
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        const r = await one(i);
        if (r.outcome !== 'ok') throw new Error(`sandbox run (${rt}): ${r.outcome} ${r.error}`);
      }
      const ms = (performance.now() - t0) / n;
      results.push({
        name: `local: sandbox run, sequential, ${rt} runtime (${rt === 'process' ? 'warm agent process' : 'fresh worker thread per run'})`,
        value: round(1000 / ms),
        unit: 'runs/s',
        note: `${round(ms, 2)} ms per run, ${n} runs`,
      });
    }

    // 2. a backlog per runtime through the runner pool (runner core: registry read, bundle
    //    re-verification, claim, run, completion write, bus: ledger appends and health included)
    const concurrency = pool.concurrency;
    const rate: Partial<Record<LocalRuntime, number>> = {};
    for (const rt of RUNTIMES) {
      const agents = agentsOf(rt, BACKLOG[rt].agents);
      // warm-up, not measured: the process runtime starts each agent's process here, and
      // DynamoDB Local's JVM (fresh in each run of this module) compiles its hot paths: its first
      // few hundred requests cost several times their steady-state CPU
      const warm = rt === 'process' ? 20 : 1;
      await pool.dispatch(
        agents.flatMap((a) =>
          Array.from({ length: warm }, (_, j) => ({
            message: { kind: 'trigger' as const, agent: a, runId: `${a}!warm!${j}` },
            notBefore: 0,
          })),
        ),
      );
      await pool.idle();
      await bus.idle();
      // rounds of the whole backlog: the figure is the last one, when DynamoDB Local's JVM (fresh
      // in each run of this module) has compiled its hot paths with C2 — as in an orchestrator that
      // has been up for a minute; the first rounds (cold JVM) are in the note
      const rounds: { rate: number; poolS: number; drainS: number; cpuNote: string }[] = [];
      for (let k = 0; k < BACKLOG[rt].rounds; k++) {
        cycles.length = 0;
        // round-robin over the agents, as due slots of many agents arrive (agent-major order would
        // queue one agent's runs behind each other: its process runs one at a time)
        const items = Array.from({ length: BACKLOG[rt].perAgent }, (_, j) =>
          agents.map((a) => ({
            message: { kind: 'trigger' as const, agent: a, runId: `${a}!bench!${k}!${j}` },
            notBefore: 0,
          })),
        ).flat();
        const cpu0 = process.cpuUsage();
        const jvm0 = procCpuSeconds(env.ddbPid);
        const t0 = performance.now();
        await pool.dispatch(items);
        await pool.idle();
        const poolS = (performance.now() - t0) / 1000;
        await bus.idle(); // the ledger has appended every agent.cycle
        const drainS = (performance.now() - t0) / 1000;
        const cpu = process.cpuUsage(cpu0);
        const jvm1 = procCpuSeconds(env.ddbPid);
        const perCycleMs = (sec: number) => round((1000 * sec) / items.length, 2);
        const cpuNote = `CPU per cycle: orchestrator process ${perCycleMs((cpu.user + cpu.system) / 1e6)} ms${rt === 'thread' ? ' (its worker threads included)' : ''}${jvm0 !== null && jvm1 !== null ? `, DynamoDB Local's JVM ${perCycleMs(jvm1 - jvm0)} ms` : ''}`;
        const ok = cycles.filter((e) => e.topic === 'agent.cycle').length;
        if (ok !== items.length) throw new Error(`pool drain (${rt}): ${ok} of ${items.length} runs succeeded`);
        rounds.push({ rate: items.length / drainS, poolS, drainS, cpuNote });
      }
      const last = rounds[rounds.length - 1]!;
      const runs = agents.length * BACKLOG[rt].perAgent;
      rate[rt] = last.rate;
      results.push({
        name: `local: cycles/s through the runner pool, ${rt} runtime`,
        value: round(last.rate),
        unit: 'cycles/s',
        note: `${runs} trigger runs of ${agents.length} agents (round-robin), pool concurrency ${concurrency} (default), DynamoDB Local + s3rver, ledger appends included (runs done in ${round(last.poolS, 2)} s, ledger caught up at ${round(last.drainS, 2)} s); ${last.cpuNote}${
          rounds.length > 1
            ? `; round ${rounds.length} of ${rounds.length} (JVM warm), the rounds before: ${rounds
                .slice(0, -1)
                .map((r) => round(r.rate))
                .join(', ')} cycles/s (the first right after DynamoDB Local started)`
            : ''
        }`,
      });
    }
    results.push({
      name: 'local: process / thread cycles/s ratio',
      value: round((rate.process ?? 0) / (rate.thread ?? 1), 1),
      unit: 'x',
      note: 'same run, same pool, tables and agents',
    });

    if (o.quick) return results;
    // 3. scheduled 1 s agents on the real clock (local tick period), process runtime, a load below the capacity above
    cycles.length = 0;
    const scheduled = agentsOf('process', 8);
    const start = Math.ceil(clock.now() / 1000) * 1000 + 1000;
    for (const a of scheduled)
      await c.registry.transition(a, { to: 'active', from: ['paused'], at: clock.now(), reason: 'bench', nextRunAt: start });
    const scheduler = c.handlers.scheduler;
    const seconds = 15;
    const end = start + seconds * 1000;
    await scheduler({ action: 'tick' });
    const ticker = setInterval(() => void scheduler({ action: 'tick' }), LOCAL_TICK_SECONDS * 1000);
    await new Promise((r) => setTimeout(r, end - clock.now() + 500));
    clearInterval(ticker);
    for (const a of scheduled)
      await c.registry.transition(a, {
        to: 'paused',
        from: ['active', 'restarting'],
        at: clock.now(),
        reason: 'bench end',
        nextRunAt: null,
      });
    await pool.idle(); // runs of slots before `end` still in flight or due
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
      // the first slot is the start the bench set; the scheduler then moves the agent onto its own
      // grid (its per-agent phase offset, read from its last slot): the grid's slots from a period
      // after the start on
      const last = slots.length ? Math.max(...slots) : start;
      const phase = (((last - start) % 1000) + 1000) % 1000;
      const expected = [start];
      for (let s = start + 1000 + phase; s < end; s += 1000) expected.push(s);
      for (const s of expected) if (!set.has(s)) missed++;
    }
    results.push({
      name: `local: scheduled ${scheduled.length} agents × cycleSeconds 1 for ${seconds} s, real clock, process runtime`,
      value: round(ran / seconds),
      unit: 'cycles/s',
      note: `${ran} of ${scheduled.length * seconds} slots ran (each agent's first at the start, then on its own phase-offset grid); missed ${missed}, doubled ${doubled}`,
    });
    return results;
  } finally {
    await pool.stop();
    await local.processes.close();
    await bus.idle();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(runtimeDirFor(dataDir), { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------------------------------------
// cloud wiring: requests and dollars per steady-state cycle

interface Captured {
  body: string;
  at: number;
}

/**
 * The sandbox function of the cloud's `lambda` runtime, in this process: the real handler
 * (functions/sandbox/core.ts) over an agent process pool of one (AGENT_RUNTIME_PROCESSES=1, as
 * infra/constructs/sandbox.ts sets it), answering the runner's Invoke requests (SDK middleware on
 * the runner's LambdaClient: the request is built and its response parsed by the real
 * LambdaSandbox). Counts the invocations and times each (the function's billed duration).
 */
class CloudSandboxFunction {
  invocations = 0;
  /** handler time of each invocation, ms */
  readonly durations: number[] = [];
  private readonly dir = mkdtempSync(join(tmpdir(), 'bench-sandbox-fn-'));
  private readonly runtime: ProcessSandbox;
  private readonly handler: (event: unknown) => Promise<unknown>;

  constructor(config: Config) {
    this.runtime = new ProcessSandbox({ workDir: this.dir, memoryMb: config.AGENT_RUN_MEMORY_MB, maxProcesses: 1 });
    this.handler = createSandboxHandler({ runtime: this.runtime, maxBytes: config.AGENT_MAX_BUNDLE_BYTES });
  }

  attach(client: LambdaClient): void {
    client.middlewareStack.add(
      () => async (args) => {
        const input = (args as { input: { Payload?: Uint8Array } }).input;
        const event = JSON.parse(new TextDecoder().decode(input.Payload)) as unknown;
        this.invocations++;
        const t0 = performance.now();
        let payload: string;
        let functionError: string | undefined;
        try {
          payload = JSON.stringify(await this.handler(event));
        } catch (e) {
          functionError = 'Unhandled';
          payload = JSON.stringify({ errorMessage: String((e as Error).message ?? e) });
        }
        this.durations.push(performance.now() - t0);
        return {
          output: {
            $metadata: {},
            StatusCode: 200,
            Payload: new TextEncoder().encode(payload),
            ...(functionError ? { FunctionError: functionError } : {}),
          },
          response: {},
        } as never;
      },
      { step: 'initialize', name: 'benchSandboxFunction', priority: 'high' },
    );
  }

  async close(): Promise<void> {
    await this.runtime.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function cloudScenario(env: Env, opts: { agents: number; cycleSeconds: number; ticks: number }): Promise<BenchResult[]> {
  const counter = new RequestCounter();
  // own clients, so that only this scenario's requests are counted
  const clients = createClients({ region: 'us-east-1', endpoints: env.endpoints, localCredentials: true });
  counter.count(clients.ddbRaw, 'DynamoDB', { capacity: true });
  // write units by table and index (the counter's ConsumedCapacity INDEXES, read back here)
  const writeUnitsBy = new Map<string, number>();
  clients.ddbRaw.middlewareStack.add(
    (next, context) => async (args) => {
      const out = await next(args);
      if (!/^(PutItem|UpdateItem|DeleteItem|BatchWriteItem)Command$/.test(context.commandName ?? '')) return out;
      type Units = { CapacityUnits?: number };
      const cc = (out.output as { ConsumedCapacity?: unknown }).ConsumedCapacity;
      for (const c of (Array.isArray(cc) ? cc : cc ? [cc] : []) as {
        TableName?: string;
        Table?: Units;
        GlobalSecondaryIndexes?: Record<string, Units>;
      }[]) {
        const table = Object.entries(names).find(([, n]) => n === c.TableName)?.[0] ?? 'other';
        const add = (k: string, u: number | undefined) => writeUnitsBy.set(k, (writeUnitsBy.get(k) ?? 0) + (u ?? 0));
        add(table, c.Table?.CapacityUnits);
        for (const [ix, u] of Object.entries(c.GlobalSecondaryIndexes ?? {})) add(`${table} index ${ix}`, u.CapacityUnits);
      }
      return out;
    },
    { step: 'initialize', name: 'benchWriteUnitsByTable' },
  );
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
  // the cloud's `lambda` runtime: the runner invokes the sandbox function (LambdaSandbox, the real
  // adapter); each Invoke is answered here by the real sandbox handler (functions/sandbox/core.ts)
  // over an agent process, one per execution environment as the construct configures it
  // (AGENT_RUNTIME_PROCESSES=1), and timed: its duration is the sandbox function's
  const lambdaClient = new LambdaClient({ region: 'us-east-1', credentials: creds });
  const sandboxFn = new CloudSandboxFunction(config);
  sandboxFn.attach(lambdaClient);
  const sandbox = new LambdaSandbox({ lambda: lambdaClient, functionName: 'agents-sandbox', s3: clients.s3, bucket: env.bucket });
  const runner = createRunnerHandler(createRunnerCore({ registry, heartbeats, bundles, events, sandbox, config, clock }));
  const scheduler = createSchedulerHandler({
    schedule,
    dispatcher: new SqsDispatcher(sqs, 'https://sqs.us-east-1.amazonaws.com/0/dispatch', { clock }),
    clock,
    // as the cloud composes it (functions/platform.ts): the horizon and the fill-ahead
    config: { shards, horizonMs: schedulerHorizonMs(CLOUD_TICK_SECONDS), fillAheadMs: CLOUD_FILL_AHEAD_SECONDS * 1000 },
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
      writeUnitsBy.clear();
      sandboxFn.invocations = 0;
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
  const sandboxInvokes = sandboxFn.invocations;
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

  // Lambda durations: sequential handler invocations (no contention), as one Lambda instance runs
  // them: the runner's (billed while it waits for the sandbox's answer) and, inside it, the
  // sandbox function's (its handler's time; its agent process warm, the same agent each time)
  const rec = (await registry.get(agentNames[0]!))!;
  const samples: number[] = [];
  const sandboxFrom = sandboxFn.durations.length;
  for (let i = 0; i < 10; i++) {
    clock.advance(opts.cycleSeconds * 1000);
    const slot = Math.ceil(clock.now() / (opts.cycleSeconds * 1000)) * opts.cycleSeconds * 1000;
    const body = JSON.stringify({ kind: 'cycle', agent: rec.name, runId: `${rec.name}@${slot}`, slot, generation: rec.generation });
    const s = performance.now();
    await runner({ Records: [{ messageId: `d${i}`, body }] });
    samples.push(performance.now() - s);
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const durMs = mean(samples);
  const sandboxMs = mean(sandboxFn.durations.slice(sandboxFrom));
  await sandboxFn.close();
  const invokes = per(sandboxInvokes);
  const runnerLambda = 1e6 * (PRICES.lambdaRequest + (durMs / 1000) * RUNNER_MEMORY_GB * PRICES.lambdaGbSecondArm);
  const sandboxLambda =
    1e6 * (invokes * PRICES.lambdaRequest + invokes * (sandboxMs / 1000) * SANDBOX_MEMORY_GB * PRICES.lambdaGbSecondArm);
  const runCost =
    1e6 * (wru * PRICES.ddbWriteUnit + rru * PRICES.ddbReadUnit + sqsTotal * PRICES.sqsRequest + ebEvents * PRICES.eventBridgeEvent) +
    runnerLambda +
    sandboxLambda;
  const cost = runCost + ledgerCost;
  const label = `${opts.agents} agents × cycleSeconds ${opts.cycleSeconds}`;
  const byTable = [...writeUnitsBy.entries()].map(([k, v]) => `${k} ${round(v / runs, 2)}`).join(', ');
  return [
    {
      name: `cloud (${label}): AWS requests per steady-state cycle`,
      value: round(ddbRequests + sqsSend + per(counter.total('EventBridge:')) + s3 + invokes, 2),
      unit: 'requests/cycle',
      note: `${runs} cycles over ${opts.ticks} ticks, by SDK middleware: ${detail}, Lambda:Invoke (sandbox) ${round(invokes, 3)}; plus ~2 SQS requests/cycle by the event source mapping (receive, delete; estimate)`,
    },
    {
      name: `cloud (${label}): DynamoDB request units per cycle`,
      value: round(wru + rru, 2),
      unit: 'RU/cycle',
      note: `${round(wru, 2)} write + ${round(rru, 2)} read units (ConsumedCapacity, indexes included); write units by table: ${byTable}`,
    },
    {
      name: `cloud (${label}): runner Lambda duration per cycle (local estimate)`,
      value: round(durMs, 1),
      unit: 'ms',
      note: `mean of 10 sequential invocations, waiting for the sandbox's answer included; priced at ${RUNNER_MEMORY_GB} GB (infra/props.ts runner.memoryMb)`,
    },
    {
      name: `cloud (${label}): sandbox Lambda duration per cycle (local estimate)`,
      value: round(sandboxMs, 1),
      unit: 'ms',
      note: `the real sandbox handler (functions/sandbox/core.ts), warm agent process, mean of the same 10 runs; priced at ${SANDBOX_MEMORY_GB} GB (infra/props.ts sandbox.memoryMb); an environment whose process belongs to another agent starts a new agent process first (not in this figure)`,
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
      note: `DynamoDB ${round(1e6 * (wru * PRICES.ddbWriteUnit + rru * PRICES.ddbReadUnit), 2)} + SQS ${round(1e6 * sqsTotal * PRICES.sqsRequest, 2)} + EventBridge ${round(1e6 * ebEvents * PRICES.eventBridgeEvent, 2)} + runner Lambda ${round(runnerLambda, 2)} (${RUNNER_MEMORY_GB} GB arm64) + sandbox Lambda ${round(sandboxLambda, 2)} (${round(invokes, 2)} Invoke per cycle + ${round(sandboxMs, 1)} ms at ${SANDBOX_MEMORY_GB} GB arm64) + ledger path ${round(ledgerCost, 2)}; ${PRICES.note}`,
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
  // no fan-out configured: one call ticks every shard
  const report = (await scheduler({ action: 'tick' })) as TickReport;
  return [
    {
      name: `cloud: scheduler requests per tick with ${n} idle agents`,
      value: counter.total(),
      unit: 'requests/tick',
      note: `${shards} shards: one Query of the sparse due index each, ${report.due} agents read, ${round(counter.units.read, 2)} read units; work per tick grows with due agents, not registered ones`,
    },
  ];
}

/** two runs (not bench/run.ts's default three): a run takes about two minutes, and the whole bench must stay within its budget */
export const repeat = 2;

export async function run(): Promise<BenchResult[]> {
  const ddb = await startDynamoLocal();
  const s3dir = mkdtempSync(join(tmpdir(), 'bench-s3-'));
  const bucket = 'bench-hot';
  let s3: Awaited<ReturnType<typeof startS3Local>> | undefined;
  try {
    s3 = await startS3Local({ directory: s3dir, buckets: [bucket] });
    const clients = createClients({ region: 'us-east-1', endpoints: { dynamodb: ddb.endpoint, s3: s3.endpoint }, localCredentials: true });
    const env: Env = { clients, endpoints: { dynamodb: ddb.endpoint, s3: s3.endpoint }, bucket, ddbPid: ddb.pid };
    // BENCH_CYCLES=cloud: the cloud cost scenarios only (what docs/capacity.md's cost lines quote)
    if (process.env.BENCH_CYCLES === 'cloud')
      return [
        ...(await cloudScenario(env, { agents: 100, cycleSeconds: 60, ticks: 5 })),
        ...(await cloudScenario(env, { agents: 10, cycleSeconds: 1, ticks: 2 })),
      ];
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
