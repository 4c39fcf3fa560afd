/**
 * The API's dependencies in the cloud, from the function's environment: the same adapters local
 * mode uses (DynamoDB registry/heartbeats/ledger), EventBridge for `POST /events` and replays,
 * SQS for triggers, and the component switches on Scheduler/EventBridge/Lambda. Clients are
 * created once per container and can be injected (tests).
 */
import { SQSClient } from '@aws-sdk/client-sqs';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { z } from 'zod';
import { createClients, type AwsClients } from '../../shared/adapters/aws/clients';
import { DynamoRegistry } from '../../shared/adapters/aws/dynamo-registry';
import { DynamoHeartbeats } from '../../shared/adapters/aws/dynamo-heartbeats';
import { createDynamoLedger } from '../../shared/adapters/aws/dynamo-ledger';
import { EventBridgePublisher } from '../../shared/adapters/aws/eventbridge-publisher';
import { SqsDispatcher } from '../../shared/adapters/aws/sqs-dispatcher';
import { AwsComponentControl, switchIdsFromEnv } from '../../shared/adapters/aws/component-control';
import { loadFunctionConfig } from '../../shared/core/config';
import { ConfigError } from '../../shared/core/errors';
import { ControlService } from '../../shared/core/control/service';
import { healthPolicyFrom } from '../../shared/core/health/policy';
import { createLogger } from '../../shared/core/logger';
import type { Dispatcher } from '../../shared/core/ports';
import { CLOUD_ENV } from '../../shared/definitions/cloud-env';
import type { ApiDeps } from './deps';
import { NotConfiguredError } from './errors';

export const ApiAuthModeSchema = z.enum(['iam', 'jwt']).default('iam');

export interface CloudClients extends AwsClients {
  sqs: SQSClient;
  scheduler: SchedulerClient;
  lambda: LambdaClient;
}

export function createCloudClients(): CloudClients {
  return { ...createClients(), sqs: new SQSClient({}), scheduler: new SchedulerClient({}), lambda: new LambdaClient({}) };
}

/** Every dependency of the API (and of the stream handler) from the environment. */
export function apiDepsFromEnv(env: Record<string, string | undefined> = process.env, clients: CloudClients = createCloudClients()): ApiDeps {
  const config = loadFunctionConfig('api', ['REGISTRY_TABLE', 'HEARTBEAT_TABLE', 'LEDGER_TABLE', 'EVENT_BUS_NAME'], env);
  const mode = ApiAuthModeSchema.safeParse(env[CLOUD_ENV.apiAuthMode] || undefined);
  if (!mode.success) throw new ConfigError(`${CLOUD_ENV.apiAuthMode} must be iam or jwt`);
  const logger = createLogger({ service: 'api', level: config.LOG_LEVEL });
  const registry = new DynamoRegistry(clients.ddb, config.REGISTRY_TABLE, { shards: config.AGENT_SCHEDULE_SHARDS });
  const heartbeats = new DynamoHeartbeats(clients.ddb, config.HEARTBEAT_TABLE, { shards: config.AGENT_SCHEDULE_SHARDS });
  const events = new EventBridgePublisher(clients.eventBridge, config.EVENT_BUS_NAME);
  const ledger = createDynamoLedger(clients.ddb, config.LEDGER_TABLE, events, { retentionDays: config.AGENT_LEDGER_RETENTION_DAYS });
  const dispatcher: Dispatcher = config.DISPATCH_QUEUE_URL
    ? new SqsDispatcher(clients.sqs, config.DISPATCH_QUEUE_URL, { logger })
    : {
        dispatch: async () => {
          throw new NotConfiguredError('the dispatch queue (DISPATCH_QUEUE_URL) for triggers');
        },
      };
  const control = new ControlService({ registry, heartbeats, dispatcher, events, policy: healthPolicyFrom(config), logger });
  return {
    auth: { mode: mode.data },
    control,
    registry,
    heartbeats,
    ledger,
    replay: (req) => ledger.replay(req),
    events,
    components: new AwsComponentControl(clients, switchIdsFromEnv(env, config.EVENT_BUS_NAME)),
    logger,
  };
}
