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
import { z } from 'zod';
import { createClients, type AwsClients } from '../shared/adapters/aws/clients';
import { EventBridgePublisher } from '../shared/adapters/aws/eventbridge-publisher';
import { SqsDispatcher } from '../shared/adapters/aws/sqs-dispatcher';
import { AwsComponentControl, switchIdsFromEnv } from '../shared/adapters/aws/component-control';
import { WorkerSandbox } from '../shared/adapters/node/sandbox';
import type { Config } from '../shared/core/config';
import { ConfigError } from '../shared/core/errors';
import type { Clock } from '../shared/core/clock';
import type { Logger } from '../shared/core/logger';
import type { AgentSandbox, ComponentControl, Dispatcher, EventPublisher, LedgerDigestStore } from '../shared/core/ports';
import { S3DigestStore } from '../shared/adapters/aws/s3-digest-store';
import { CLOUD_ENV } from '../shared/definitions/cloud-env';
import { SCHEDULES } from '../shared/definitions/routing';
import type { AuthConfig } from './api/auth';
import type { BusCounters } from './api/metrics';
import { NotConfiguredError } from './api/errors';

export interface Platform {
  /** DynamoDB and S3 (and EventBridge) clients, created once */
  clients: AwsClients;
  /** the bus: every service's EventPublisher */
  events: EventPublisher;
  /** where runs go: the SQS dispatch queue / the local runner pool (built when first needed) */
  dispatcher(): Dispatcher;
  /** runs agent code and inspects bundles */
  sandbox(): AgentSandbox;
  /** the component switches of `POST /components/...` (built when first needed) */
  components(): ComponentControl;
  /** where ledger digests are anchored (S3 Object Lock bucket / a file of the data dir); none: not configured */
  digests(): LedgerDigestStore | undefined;
  /** how API requests are authenticated */
  auth: AuthConfig;
  /** how often the scheduler ticks (its horizon follows from it) */
  tickSeconds: number;
  /** local bus counters for /metrics (local mode only) */
  busCounters?: () => BusCounters | Promise<BusCounters>;
  clock?: Clock;
  logger: Logger;
}

/** Clients the cloud platform needs beyond DynamoDB, S3 and EventBridge; injectable (tests). */
export interface CloudClients extends AwsClients {
  sqs: SQSClient;
  scheduler: SchedulerClient;
  lambda: LambdaClient;
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
    sandbox: () =>
      (sandbox ??= new WorkerSandbox({
        cacheDir: join(tmpdir(), 'agent-bundles'),
        memoryMb: config.AGENT_RUN_MEMORY_MB,
        logger: logger.child({ source: 'agent' }),
      })),
    components: () => (components ??= new AwsComponentControl(clients, switchIdsFromEnv(env, config.EVENT_BUS_NAME))),
    digests: () => (digests ??= config.LEDGER_DIGEST_BUCKET ? new S3DigestStore(clients.s3, config.LEDGER_DIGEST_BUCKET) : undefined),
    auth: { mode: mode.data },
    tickSeconds: CLOUD_TICK_SECONDS,
    logger,
  };
}
