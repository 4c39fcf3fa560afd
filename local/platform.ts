/**
 * Local mode's platform for the composition root (functions/compose.ts): the AWS SDK clients
 * pointed at DynamoDB Local and s3rver, and in place of the AWS services without an emulator:
 *
 *   EventBridge bus + rules   → LocalBus (the RULES of shared/definitions/routing.ts)
 *   EventBridge Scheduler     → LocalTimers (the SCHEDULES of the same file, local periods)
 *   SQS dispatch queue + ESM  → LocalRunnerPool
 *   component switches        → LocalComponentControl (the same rule/schedule mapping)
 *   S3 Object Lock digests    → FileDigestStore (`ledger-digests.jsonl` in the data dir)
 *   API Gateway auth          → the bearer token of the data dir
 *   Kafka event source mapping → the composition's KafkaJS consumer (component `kafka`, when
 *                               KAFKA_* configures the bridge), and the rule KafkaOutbound →
 *                               SQS → producer function becomes the same rule on the local bus
 *
 * The bus, the timers and the pool deliver to the composition's handlers, which do not exist
 * before the composition: `connect(composition)` wires them once it is built (nothing is
 * published or fired before).
 */
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import type { AwsClients } from '../shared/adapters/aws/clients';
import { WorkerSandbox } from '../shared/adapters/node/sandbox';
import { ProcessSandbox } from '../shared/adapters/node/process-sandbox';
import { RuntimeSelector } from '../shared/core/runner/runtimes';
import type { AgentSandbox, LedgerStore } from '../shared/core/ports';
import type { RuntimeName } from '../shared/core/registry';
import { CachedLedgerTail, ReadModel } from './read-model';
import { ConfigError } from '../shared/core/errors';
import { FileDigestStore } from '../shared/adapters/node/file-digest-store';
import { MAX_BLOCK_ENTRIES } from '../shared/adapters/aws/dynamo-ledger';
import { digestsFile } from '../shared/definitions/local-data';
import type { Config } from '../shared/core/config';
import type { Logger } from '../shared/core/logger';
import type { RunReport } from '../shared/core/runner/service';
import { RULES, SCHEDULES, type ScheduleDef, type TargetName } from '../shared/definitions/routing';
import { kafkaOutboundRule } from '../shared/definitions/kafka';
import type { KafkaConsumer } from '../shared/core/ports';
import type { Composition } from '../functions/compose';
import { LOCAL_TICK_SECONDS } from '../functions/scheduler/core';
import type { Platform, Stores } from '../functions/platform';
import { LocalBus, type LocalTarget } from './bus';
import { LocalRunnerPool } from './runner';
import { LocalTimers } from './timers';
import { LocalComponentControl } from './components';

export interface LocalPlatformOptions {
  config: Config;
  dataDir: string;
  clients: AwsClients;
  token: string;
  logger: Logger;
  /** local timer periods in seconds, overriding the definitions' local periods (tests, soak) */
  periods?: Partial<Record<ScheduleDef['id'], number>>;
  /** runs at once in the local runner pool */
  runnerConcurrency?: number;
  /** observes every run report (tests, soak) */
  onRun?: (report: RunReport) => void;
  /**
   * Keep the read model and the ledger tail in memory (default true). Sound only where this
   * process is the tables' only writer, as local mode is; false where several compositions share
   * one set of tables (tests standing in for several pollers of one ledger).
   */
  readModel?: boolean;
}

export interface LocalPlatform {
  platform: Platform;
  /** the agent processes (ended at shutdown) */
  processes: ProcessSandbox;
  bus: LocalBus;
  pool: LocalRunnerPool;
  timers: LocalTimers;
  components: LocalComponentControl;
  /** the Kafka bridge's consumer (after connect, when configured with KAFKA_INBOUND) */
  kafkaConsumer(): KafkaConsumer | null;
  /** delivers the bus, the timers and the pool to the composition's handlers */
  connect(c: Composition): void;
}

/**
 * Group commit: ledger appends at most every 20 ms, each carrying what arrived meanwhile (at 300
 * cycles/s about six envelopes per block instead of one); an idle bus appends at once.
 */
const LEDGER_LINGER_MS = 20;

/** agent.failed events the local health monitor judges at once */
const HEALTH_DELIVERIES_IN_FLIGHT = 4;

export function createLocalPlatform(o: LocalPlatformOptions): LocalPlatform {
  const log = o.logger;
  const targets: Partial<Record<TargetName, LocalTarget>> = {};
  const handlers: Partial<Record<TargetName, (event: unknown) => Promise<unknown>>> = {};
  let runnerCore: Composition['runnerCore'] | undefined;

  const kafka = o.config.kafka;
  const outboundRule = kafka && kafka.outbound.length > 0 ? kafkaOutboundRule(kafka.outbound.map((r) => r.pattern)) : null;
  let consumer: KafkaConsumer | null = null;
  const bus = new LocalBus({
    rules: outboundRule ? [...RULES, outboundRule] : RULES,
    vars: { HOT_BUCKET: o.config.HOT_BUCKET },
    targets,
    ledgerBatchSize: MAX_BLOCK_ENTRIES,
    ledgerLingerMs: LEDGER_LINGER_MS,
    // the cloud invokes the health monitor once per agent.failed, concurrently: a backlog of
    // failures (after an outage, many faulty agents) is judged in parallel, not one by one
    concurrency: { 'health-monitor': HEALTH_DELIVERIES_IN_FLIGHT },
    logger: log.child({ component: 'bus' }),
  });
  // the component kafka: the outbound rule (its envelopes are buffered while it is off, as the
  // cloud's queue keeps them while its event source mapping is off) and the inbound consumer
  const kafkaSwitches = kafka
    ? [
        ...(outboundRule ? [bus.ruleSwitch('KafkaOutbound')] : []),
        ...(kafka.inbound.length > 0
          ? [
              {
                setEnabled: async (on: boolean) => {
                  if (!consumer) throw new Error('local platform used before connect()');
                  await (on ? consumer.start() : consumer.stop());
                },
                isEnabled: () => consumer?.isRunning() ?? false,
              },
            ]
          : []),
      ]
    : [];
  const pool = new LocalRunnerPool({
    core: (msg) => {
      if (!runnerCore) throw new Error('local platform used before connect()');
      return runnerCore(msg);
    },
    concurrency: o.runnerConcurrency,
    logger: log.child({ component: 'runner' }),
    onReport: o.onRun,
  });
  const timers = new LocalTimers(SCHEDULES, handlers, log.child({ component: 'timers' }), o.periods);
  const components = new LocalComponentControl({
    rule: (id) => bus.ruleSwitch(id),
    schedule: (id) => ({ setEnabled: (on) => timers.setEnabled(id, on), isEnabled: () => timers.isEnabled(id) }),
    extra: {
      runner: [{ setEnabled: (on) => (on ? pool.start() : pool.stop()), isEnabled: () => pool.isRunning() }],
      ...(kafka ? { kafka: kafkaSwitches } : {}),
    },
    optional: kafka ? ['kafka'] : [],
    // the cloud's S3 events are not replayed when the rule is re-enabled either; the rescan catches up
    onStarted: { manager: () => timers.fire('Rescan') },
  });
  const agentLog = log.child({ component: 'agent' });
  const processes = new ProcessSandbox({
    // outside the data dir, which stays 0700 (agent uids cannot even traverse it)
    workDir: runtimeDirFor(o.dataDir),
    memoryMb: o.config.AGENT_RUN_MEMORY_MB,
    maxProcesses: o.config.AGENT_RUNTIME_PROCESSES,
    logger: agentLog,
  });
  const sandbox = localRuntimes(o.config, processes, agentLog);

  const digests = new FileDigestStore(digestsFile(o.dataDir));

  const platform: Platform = {
    clients: o.clients,
    events: bus,
    dispatcher: () => pool,
    sandbox: () => sandbox,
    isolatedRuntime: () => processes,
    components: () => components,
    digests: () => digests,
    auth: { mode: 'token', token: o.token },
    tickSeconds: o.periods?.SchedulerTick ?? LOCAL_TICK_SECONDS,
    busCounters: () => bus.stats(),
    // every writer of the registry and heartbeats runs in this process: the API reads from memory
    ...(o.readModel === false
      ? {}
      : {
          decorateStores: (stores: Stores) => {
            const model = new ReadModel(stores);
            return {
              registry: model.registry,
              schedule: model.schedule,
              heartbeats: model.heartbeats,
              load: () => model.load(),
              fleet: () => model.fleet(),
            };
          },
          decorateLedgerStore: (store: LedgerStore) => new CachedLedgerTail(store),
        }),
    logger: log,
  };

  return {
    platform,
    processes,
    bus,
    pool,
    timers,
    components,
    kafkaConsumer: () => consumer,
    connect(c) {
      const h = c.handlers;
      Object.assign(handlers, h);
      Object.assign(targets, h);
      runnerCore = c.runnerCore;
      if (c.kafka && c.kafka.config.inbound.length > 0) consumer = c.kafka.consumer();
    },
  };
}

/**
 * Local mode's runtimes: `process` (the default: agent processes), and `thread` only where
 * AGENT_RUNTIMES_ALLOWED (or AGENT_RUNTIME) names it: agent code in the orchestrator's own
 * process, for trusted code only. `lambda` is the cloud's.
 */
/** Where a data dir's agent processes get their scratch directories: under the OS temp dir, one per data dir. */
export function runtimeDirFor(dataDir: string): string {
  return join(tmpdir(), `agent-orchestrator-${createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 12)}`);
}

function localRuntimes(config: Config, processes: ProcessSandbox, agentLog: Logger): RuntimeSelector {
  const def = config.AGENT_RUNTIME ?? 'process';
  const allowed = new Set<RuntimeName>([def, ...(config.AGENT_RUNTIMES_ALLOWED ?? [])]);
  if (allowed.has('lambda'))
    throw new ConfigError(
      'the lambda runtime exists only in the cloud; local mode runs agents as processes (or threads, for trusted code)',
    );
  const runtimes: Partial<Record<RuntimeName, AgentSandbox>> = { ...(allowed.has('process') ? { process: processes } : {}) };
  if (allowed.has('thread')) runtimes.thread = new WorkerSandbox({ memoryMb: config.AGENT_RUN_MEMORY_MB, logger: agentLog });
  return new RuntimeSelector(runtimes, def);
}
