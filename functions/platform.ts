/**
 * What differs between the cloud and local mode, as one object: the composition root
 * (compose.ts) builds every adapter, service and handler the same way on top of it. There are two
 * platforms:
 *
 * - cloud (`cloudPlatform` below): AWS SDK clients with the default credential chain, the
 *   EventBridge bus, the SQS dispatch queue, a worker-thread sandbox in the function's /tmp, the
 *   component switches on EventBridge rules / Scheduler schedules / the event source mapping,
 *   API authentication by API Gateway (IAM or JWT);
 * - local (local/platform.ts): the same SDK clients pointed at DynamoDB Local and s3rver, the
 *   local bus and runner pool in place of EventBridge and SQS, local timers and switches, token
 *   authentication.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import { createClients, type AwsClients } from '../shared/adapters/aws/clients';
import { EventBridgePublisher } from '../shared/adapters/aws/eventbridge-publisher';
import { SqsDispatcher } from '../shared/adapters/aws/sqs-dispatcher';
import { AwsComponentControl, switchIdsFromEnv } from '../shared/adapters/aws/component-control';
import { WorkerSandbox } from '../shared/adapters/node/sandbox';
import { ProcessSandbox } from '../shared/adapters/node/process-sandbox';
import { LambdaSandbox } from '../shared/adapters/aws/lambda-sandbox';
import { RuntimeSelector } from '../shared/core/runner/runtimes';
import type { RuntimeName } from '../shared/core/registry';
import type { Config } from '../shared/core/config';
import { ConfigError } from '../shared/core/errors';
import type { Clock } from '../shared/core/clock';
import type { Logger } from '../shared/core/logger';
import type {
  AgentSandbox,
  ComponentControl,
  Dispatcher,
  EventPublisher,
  HeartbeatClaimReader,
  HeartbeatStore,
  LedgerDigestStore,
  LedgerStore,
  RegistryStore,
  ScheduleStore,
  ShardFanOut,
  StubCounter,
} from '../shared/core/ports';
import { CLOUD_FILL_AHEAD_SECONDS } from './scheduler/core';
import { LambdaShardFanOut } from '../shared/adapters/aws/lambda-fan-out';
import { S3DigestStore } from '../shared/adapters/aws/s3-digest-store';
import { CLOUD_ENV } from '../shared/definitions/cloud-env';
import { SCHEDULES } from '../shared/definitions/routing';
import type { AuthConfig } from './api/auth';
import type { BusCounters, FleetMetrics } from './api/metrics';
import { NotConfiguredError } from './api/errors';

/** The registry, schedule and heartbeat stores, as the services use them. */
export interface Stores {
  registry: RegistryStore;
  schedule: ScheduleStore;
  heartbeats: HeartbeatStore & HeartbeatClaimReader & StubCounter;
}

/** Decorated stores, with what must happen before they serve (a load) and the fleet's metrics they keep. */
export interface DecoratedStores extends Stores {
  load(): Promise<void>;
  fleet?: () => FleetMetrics;
}

export interface Platform {
  /** DynamoDB and S3 (and EventBridge) clients, created once */
  clients: AwsClients;
  /** the bus: every service's EventPublisher */
  events: EventPublisher;
  /** where runs go: the SQS dispatch queue / the local runner pool (built when first needed) */
  dispatcher(): Dispatcher;
  /** runs agent code and inspects bundles: the runtimes this deployment allows, each run in the one its agent asks for */
  sandbox(): AgentSandbox;
  /** the `process` runtime itself (what the sandbox function runs agent code in) */
  isolatedRuntime(): AgentSandbox;
  /** the component switches of `POST /components/...` (built when first needed) */
  components(): ComponentControl;
  /** where ledger digests are anchored (S3 Object Lock bucket / a file of the data dir); none: not configured */
  digests(): LedgerDigestStore | undefined;
  /** how API requests are authenticated */
  auth: AuthConfig;
  /** how often the scheduler ticks (its horizon follows from it) */
  tickSeconds: number;
  /** how far ahead a picked agent's slots are dispatched (SchedulerOptions.fillAheadMs); absent: the horizon */
  schedulerFillAheadSeconds?: number;
  /**
   * how a tick starts one tick per shard (cloud: asynchronous invocations of the scheduler
   * function itself); absent (local mode): a tick covers every shard in one call
   */
  shardFanOut?: () => ShardFanOut | undefined;
  /** local bus counters for /metrics (local mode only) */
  busCounters?: () => BusCounters | Promise<BusCounters>;
  /**
   * Wraps the stores the composition builds (local mode: its read model, local/read-model.ts,
   * sound only where every writer runs in one process); absent: the stores are used as built.
   */
  decorateStores?: (s: Stores) => DecoratedStores;
  /** wraps the ledger's store the same way (local mode: its tail kept in memory) */
  decorateLedgerStore?: (s: LedgerStore) => LedgerStore;
  /** reads a Secrets Manager secret's string (cloud only: the Kafka bridge's SASL credentials) */
  secret?: (arn: string) => Promise<string>;
  clock?: Clock;
  logger: Logger;
}

/** Clients the cloud platform needs beyond DynamoDB, S3 and EventBridge; injectable (tests). */
export interface CloudClients extends AwsClients {
  sqs: SQSClient;
  scheduler: SchedulerClient;
  lambda: LambdaClient;
  /** the Kafka bridge's SASL secret (created on first use when not given) */
  secrets?: SecretsManagerClient;
}

export function createCloudClients(): CloudClients {
  return { ...createClients(), sqs: new SQSClient({}), scheduler: new SchedulerClient({}), lambda: new LambdaClient({}) };
}

export const ApiAuthModeSchema = z.enum(['iam', 'jwt']).default('iam');

const TICK = SCHEDULES.find((s) => s.id === 'SchedulerTick');
/** EventBridge Scheduler's period of the scheduler tick */
export const CLOUD_TICK_SECONDS = TICK?.everySeconds ?? 60;
/** local mode's period of the same schedule */
export const LOCAL_TICK_SECONDS = TICK?.localEverySeconds ?? 1;

/** The cloud platform of a Lambda function, from its configuration and environment. */
export function cloudPlatform(
  config: Config,
  env: Record<string, string | undefined>,
  logger: Logger,
  clients: CloudClients = createCloudClients(),
): Platform {
  const mode = ApiAuthModeSchema.safeParse(env[CLOUD_ENV.apiAuthMode] || undefined);
  if (!mode.success) throw new ConfigError(`${CLOUD_ENV.apiAuthMode} must be iam or jwt`);
  let dispatcher: Dispatcher | undefined;
  let sandbox: AgentSandbox | undefined;
  let processRuntime: ProcessSandbox | undefined;
  const agentLog = logger.child({ source: 'agent' });
  const isolated = () =>
    (processRuntime ??= new ProcessSandbox({
      workDir: join(tmpdir(), 'agent-processes'),
      memoryMb: config.AGENT_RUN_MEMORY_MB,
      maxProcesses: config.AGENT_RUNTIME_PROCESSES,
      logger: agentLog,
    }));
  let components: ComponentControl | undefined;
  let digests: LedgerDigestStore | undefined;
  return {
    clients,
    events: new EventBridgePublisher(clients.eventBridge, config.EVENT_BUS_NAME, { logger: logger.child({ component: 'bus' }) }),
    dispatcher: () =>
      (dispatcher ??= config.DISPATCH_QUEUE_URL
        ? new SqsDispatcher(clients.sqs, config.DISPATCH_QUEUE_URL, { logger })
        : {
            dispatch: async () => {
              throw new NotConfiguredError('the dispatch queue (DISPATCH_QUEUE_URL)');
            },
          }),
    sandbox: () => (sandbox ??= lazySandbox(() => cloudRuntimes(config, clients, agentLog, isolated))),
    isolatedRuntime: isolated,
    components: () => (components ??= new AwsComponentControl(clients, switchIdsFromEnv(env, config.EVENT_BUS_NAME))),
    digests: () => (digests ??= config.LEDGER_DIGEST_BUCKET ? new S3DigestStore(clients.s3, config.LEDGER_DIGEST_BUCKET) : undefined),
    auth: { mode: mode.data },
    tickSeconds: CLOUD_TICK_SECONDS,
    schedulerFillAheadSeconds: CLOUD_FILL_AHEAD_SECONDS,
    // in a Lambda function, AWS_LAMBDA_FUNCTION_NAME is the function itself (set by Lambda); the
    // scheduler fans its tick out to itself, one invocation per shard
    shardFanOut: () => {
      const self = env.AWS_LAMBDA_FUNCTION_NAME;
      return self
        ? new LambdaShardFanOut(clients.lambda, { functionName: self, logger: logger.child({ component: 'fan-out' }) })
        : undefined;
    },
    secret: async (arn) => {
      clients.secrets ??= new SecretsManagerClient({});
      const r = await clients.secrets.send(new GetSecretValueCommand({ SecretId: arn }));
      if (r.SecretString === undefined) throw new ConfigError(`the secret ${arn} has no string value`);
      return r.SecretString;
    },
    logger,
  };
}

/**
 * The runtimes of a cloud function: `lambda` (the default: the sandbox function), and the others
 * only where AGENT_RUNTIMES_ALLOWED lists them (`thread`: agent code in the runner's own process,
 * for trusted code only; `process`: an agent process inside the runner function).
 */
function cloudRuntimes(config: Config, clients: CloudClients, agentLog: Logger, isolated: () => AgentSandbox): RuntimeSelector {
  const def = config.AGENT_RUNTIME ?? 'lambda';
  const allowed = new Set<RuntimeName>([def, ...(config.AGENT_RUNTIMES_ALLOWED ?? [])]);
  const runtimes: Partial<Record<RuntimeName, AgentSandbox>> = {};
  if (allowed.has('lambda')) {
    if (!config.SANDBOX_FUNCTION)
      throw new ConfigError('the lambda runtime needs SANDBOX_FUNCTION (the sandbox function; the CDK stack sets it)');
    runtimes.lambda = new LambdaSandbox({
      lambda: clients.lambda,
      functionName: config.SANDBOX_FUNCTION,
      s3: clients.s3,
      bucket: config.HOT_BUCKET,
    });
  }
  if (allowed.has('thread')) runtimes.thread = new WorkerSandbox({ memoryMb: config.AGENT_RUN_MEMORY_MB, logger: agentLog });
  if (allowed.has('process')) runtimes.process = isolated();
  return new RuntimeSelector(runtimes, def);
}

/** An AgentSandbox built on first use (a function that never runs agent code needs no sandbox settings). */
export function lazySandbox(build: () => AgentSandbox): AgentSandbox {
  let built: AgentSandbox | undefined;
  const get = () => (built ??= build());
  return { inspect: (b) => get().inspect(b), run: (r) => get().run(r) };
}
