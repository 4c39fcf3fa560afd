/**
 * The API function as its Lambda runs in the cloud, for the tests of its two surfaces (REST:
 * tests/api/cloud.test.ts, gRPC/Connect: tests/api/rpc-cloud.test.ts): this file's tables on
 * DynamoDB Local, the environment the stack sets, and plain clients for the services that have no
 * emulator (the tests mock them with aws-sdk-client-mock and assert the exact requests).
 */
import { SQSClient } from '@aws-sdk/client-sqs';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { LambdaClient } from '@aws-sdk/client-lambda';
import type { CloudClients } from '../../functions/platform';
import { DynamoRegistry } from '../../shared/adapters/aws/dynamo-registry';
import { CLOUD_ENV } from '../../shared/definitions/cloud-env';
import { registration } from '../runtime/helpers';
import { createTestTables, type TestTables } from './env';

export const DISPATCH_QUEUE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/orch-dispatch';

export interface CloudApiFixture {
  t: TestTables;
  clients: CloudClients;
  env: Record<string, string>;
}

/** Fresh tables with one registered agent, `cloudy` (60 s, first run a minute away). */
export async function cloudApiFixture(): Promise<CloudApiFixture> {
  const t = await createTestTables();
  const clients: CloudClients = {
    ...t.clients,
    sqs: new SQSClient({ region: 'eu-west-1' }),
    scheduler: new SchedulerClient({ region: 'eu-west-1' }),
    lambda: new LambdaClient({ region: 'eu-west-1' }),
  };
  const env = {
    REGISTRY_TABLE: t.names.Registry,
    HEARTBEAT_TABLE: t.names.Heartbeats,
    LEDGER_TABLE: t.names.Ledger,
    LEDGER_DIGEST_BUCKET: 'orch-ledger-digests',
    EVENT_BUS_NAME: 'orch-bus',
    DISPATCH_QUEUE_URL: DISPATCH_QUEUE,
    LOG_LEVEL: 'silent',
    [CLOUD_ENV.apiAuthMode]: 'iam',
    [CLOUD_ENV.scheduleGroup]: 'orch-group',
    [CLOUD_ENV.schedules.SchedulerTick]: 'orch-tick',
  };
  await new DynamoRegistry(t.clients.ddb, t.names.Registry).register(
    registration('cloudy', { cycleSeconds: 60, firstRunAt: Date.now() + 60_000 }),
  );
  return { t, clients, env };
}

/** The tick schedule as EventBridge Scheduler's GetSchedule describes it (the fixture's names). */
export const TICK_SCHEDULE = {
  Name: 'orch-tick',
  GroupName: 'orch-group',
  State: 'ENABLED',
  ScheduleExpression: 'rate(1 minute)',
  FlexibleTimeWindow: { Mode: 'OFF' },
  Target: { Arn: 'arn:fn', RoleArn: 'arn:role', Input: '{"action":"tick"}' },
} as const;
