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
 *
 * The bus, the timers and the pool deliver to the composition's handlers, which do not exist
 * before the composition: `connect(composition)` wires them once it is built (nothing is
 * published or fired before).
 */
import { join } from 'node:path';
import type { AwsClients } from '../shared/adapters/aws/clients';
import { WorkerSandbox } from '../shared/adapters/node/sandbox';
import { FileDigestStore } from '../shared/adapters/node/file-digest-store';
import { MAX_BLOCK_ENTRIES } from '../shared/adapters/aws/dynamo-ledger';
import { digestsFile } from '../shared/definitions/local-data';
import type { Config } from '../shared/core/config';
import type { Logger } from '../shared/core/logger';
import type { RunReport } from '../shared/core/runner/service';
import { RULES, SCHEDULES, type ScheduleDef, type TargetName } from '../shared/definitions/routing';
import type { Composition } from '../functions/compose';
import { LOCAL_TICK_SECONDS } from '../functions/scheduler/core';
import type { Platform } from '../functions/platform';
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
}

export interface LocalPlatform {
  platform: Platform;
  bus: LocalBus;
  pool: LocalRunnerPool;
  timers: LocalTimers;
  components: LocalComponentControl;
  /** delivers the bus, the timers and the pool to the composition's handlers */
  connect(c: Composition): void;
}

export function createLocalPlatform(o: LocalPlatformOptions): LocalPlatform {
  const log = o.logger;
  const targets: Partial<Record<TargetName, LocalTarget>> = {};
  const handlers: Partial<Record<TargetName, (event: unknown) => Promise<unknown>>> = {};
  let runnerCore: Composition['runnerCore'] | undefined;

  // the ledger queue hands the writer what it holds, up to one block (the cloud's FIFO queue: 10)
  const bus = new LocalBus({
    rules: RULES,
    vars: { HOT_BUCKET: o.config.HOT_BUCKET },
    targets,
    ledgerBatchSize: MAX_BLOCK_ENTRIES,
    logger: log.child({ component: 'bus' }),
  });
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
    extra: { runner: [{ setEnabled: (on) => (on ? pool.start() : pool.stop()), isEnabled: () => pool.isRunning() }] },
    // the cloud's S3 events are not replayed when the rule is re-enabled either; the rescan catches up
    onStarted: { manager: () => timers.fire('Rescan') },
  });
  const sandbox = new WorkerSandbox({
    cacheDir: join(o.dataDir, 'bundle-cache'),
    memoryMb: o.config.AGENT_RUN_MEMORY_MB,
    logger: log.child({ component: 'agent' }),
  });

  const digests = new FileDigestStore(digestsFile(o.dataDir));

  const platform: Platform = {
    clients: o.clients,
    events: bus,
    dispatcher: () => pool,
    sandbox: () => sandbox,
    components: () => components,
    digests: () => digests,
    auth: { mode: 'token', token: o.token },
    tickSeconds: o.periods?.SchedulerTick ?? LOCAL_TICK_SECONDS,
    busCounters: () => bus.stats(),
    logger: log,
  };

  return {
    platform,
    bus,
    pool,
    timers,
    components,
    connect(c) {
      const h = c.handlers;
      Object.assign(handlers, h);
      Object.assign(targets, h);
      runnerCore = c.runnerCore;
    },
  };
}
