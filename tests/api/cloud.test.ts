/**
 * The cloud wiring of the API (functions/api/env.ts → createApiHandler) and of the streaming
 * function (functions/api/stream.ts): DynamoDB through DynamoDB Local; the services without an
 * emulator (EventBridge PutEvents, SQS, Scheduler) through aws-sdk-client-mock with the exact
 * requests asserted; the Lambda streaming runtime (`awslambda` global, only inside Lambda)
 * replaced by a recorder of what the handler writes.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PassThrough, type Writable } from 'node:stream';
import { mockClient } from 'aws-sdk-client-mock';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { GetScheduleCommand, UpdateScheduleCommand } from '@aws-sdk/client-scheduler';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { composeFromEnv } from '../../functions/lambda';
import type { CloudClients } from '../../functions/platform';
import { createApiHandler } from '../../functions/api/app';
import { createStreamHandler } from '../../functions/api/stream-core';
import { createStreamingLambda, STREAM_END_MARGIN_MS, type LambdaStreamingRuntime } from '../../functions/api/stream';
import { createDynamoLedger } from '../../shared/adapters/aws/dynamo-ledger';
import { makeEnvelope } from '../../shared/core/envelope';
import { CLOUD_ENV } from '../../shared/definitions/cloud-env';
import { BUS_SOURCE } from '../../shared/definitions/routing';
import type { TestTables } from '../support/env';
import { cloudApiFixture, DISPATCH_QUEUE, TICK_SCHEDULE } from '../support/cloud-api';
import { apiGatewayEvent, IAM_AUTHORIZER } from '../support/api-gateway';

/** The API's dependencies as its Lambda builds them from the environment (clients injected). */
const apiDepsFromEnv = (env: Record<string, string>, clients: CloudClients) => composeFromEnv('api', env, clients).apiDeps;

let t: TestTables;
let clients: CloudClients;
let env: Record<string, string>;
const QUEUE = DISPATCH_QUEUE;

beforeAll(async () => {
  ({ t, clients, env } = await cloudApiFixture());
});

const eb = () => mockClient(clients.eventBridge);
const sqs = () => mockClient(clients.sqs);
const sch = () => mockClient(clients.scheduler);
let ebMock: ReturnType<typeof eb>;
let sqsMock: ReturnType<typeof sqs>;
let schMock: ReturnType<typeof sch>;

beforeEach(() => {
  ebMock = eb();
  sqsMock = sqs();
  schMock = sch();
  ebMock
    .on(PutEventsCommand)
    .callsFake((input: { Entries: unknown[] }) => ({ FailedEntryCount: 0, Entries: input.Entries.map((_, i) => ({ EventId: `e${i}` })) }));
  sqsMock.on(SendMessageBatchCommand).callsFake((input: { Entries: { Id: string }[] }) => ({
    Successful: input.Entries.map((e) => ({ Id: e.Id, MessageId: `m${e.Id}`, MD5OfMessageBody: 'x' })),
    Failed: [],
  }));
});

afterAll(() => {
  ebMock?.restore();
  sqsMock?.restore();
  schMock?.restore();
});

const event = (method: string, path: string, opts: { body?: unknown; authorizer?: unknown; query?: string } = {}) =>
  apiGatewayEvent(method, path, { ...opts, region: 'eu-west-1' });
const IAM = IAM_AUTHORIZER;
const JWT = { jwt: { claims: { sub: 'op-1' }, scopes: null } };

describe('cloud API handler (env wiring)', () => {
  it('iam mode: refuses requests that did not pass the IAM authorizer, serves those that did', async () => {
    const handler = createApiHandler(apiDepsFromEnv(env, clients));
    const denied = await handler(event('GET', '/agents'));
    expect(denied.statusCode).toBe(401);
    expect(JSON.parse(denied.body ?? '')).toMatchObject({ error: { code: 'unauthorized' } });
    expect((await handler(event('GET', '/agents', { authorizer: JWT }))).statusCode).toBe(401);
    const ok = await handler(event('GET', '/agents', { authorizer: IAM }));
    expect(ok.statusCode).toBe(200);
    expect(JSON.parse(ok.body ?? '').agents.map((a: { name: string }) => a.name)).toEqual(['cloudy']);
    expect((await handler(event('GET', '/healthz'))).statusCode).toBe(200);
  });

  it('jwt mode: accepts the JWT authorizer context only', async () => {
    const handler = createApiHandler(apiDepsFromEnv({ ...env, [CLOUD_ENV.apiAuthMode]: 'jwt' }, clients));
    expect((await handler(event('GET', '/agents', { authorizer: JWT }))).statusCode).toBe(200);
    expect((await handler(event('GET', '/agents', { authorizer: IAM }))).statusCode).toBe(401);
    expect(() => apiDepsFromEnv({ ...env, [CLOUD_ENV.apiAuthMode]: 'token' }, clients)).toThrow(/API_AUTH_MODE/);
  });

  it('POST /events puts exactly one event on the orchestrator bus', async () => {
    const handler = createApiHandler(apiDepsFromEnv(env, clients));
    const res = await handler(
      event('POST', '/events', { authorizer: IAM, body: { topic: 'ops.note', payload: { a: 1 }, recipient: 'cloudy' } }),
    );
    expect(res.statusCode).toBe(202);
    const { id } = JSON.parse(res.body ?? '') as { id: string };
    const calls = ebMock.commandCalls(PutEventsCommand);
    expect(calls).toHaveLength(1);
    const entries = calls[0]?.args[0].input.Entries ?? [];
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ Source: BUS_SOURCE, DetailType: 'ops.note', EventBusName: 'orch-bus' });
    expect(JSON.parse(entries[0]?.Detail ?? '')).toMatchObject({
      id,
      topic: 'ops.note',
      sender: 'api',
      recipient: 'cloudy',
      payload: { a: 1 },
    });
  });

  it('POST /agents/{name}/trigger sends one trigger message to the dispatch queue and ledgers agent.triggered', async () => {
    const handler = createApiHandler(apiDepsFromEnv(env, clients));
    const res = await handler(event('POST', '/agents/cloudy/trigger', { authorizer: IAM }));
    expect(res.statusCode).toBe(202);
    const { runId } = JSON.parse(res.body ?? '') as { runId: string };
    const batches = sqsMock.commandCalls(SendMessageBatchCommand);
    expect(batches).toHaveLength(1);
    expect(batches[0]?.args[0].input).toEqual({
      QueueUrl: QUEUE,
      Entries: [{ Id: '0', MessageBody: JSON.stringify({ kind: 'trigger', agent: 'cloudy', runId }), DelaySeconds: 0 }],
    });
    expect(ebMock.commandCalls(PutEventsCommand).map((c) => c.args[0].input.Entries?.[0]?.DetailType)).toEqual(['agent.triggered']);
  });

  it('without a dispatch queue, trigger is 501 not_configured (and nothing is ledgered)', async () => {
    const { DISPATCH_QUEUE_URL: _q, ...noQueue } = env;
    const handler = createApiHandler(apiDepsFromEnv(noQueue, clients));
    const res = await handler(event('POST', '/agents/cloudy/trigger', { authorizer: IAM }));
    expect(res.statusCode).toBe(501);
    expect(JSON.parse(res.body ?? '')).toMatchObject({ error: { code: 'not_configured' } });
    expect(ebMock.commandCalls(PutEventsCommand)).toHaveLength(0);
  });

  it('POST /components/scheduler/stop disables the tick schedule', async () => {
    const def = TICK_SCHEDULE;
    schMock
      .on(GetScheduleCommand)
      .resolvesOnce(def)
      .resolves({ ...def, State: 'DISABLED' });
    schMock.on(UpdateScheduleCommand).resolves({ ScheduleArn: 'arn:s' });
    const handler = createApiHandler(apiDepsFromEnv(env, clients));
    const res = await handler(event('POST', '/components/scheduler/stop', { authorizer: IAM }));
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body ?? '')).toEqual({ component: { name: 'scheduler', running: false } });
    expect(schMock.commandCalls(UpdateScheduleCommand).map((c) => c.args[0].input)).toEqual([
      {
        Name: 'orch-tick',
        GroupName: 'orch-group',
        ScheduleExpression: 'rate(1 minute)',
        FlexibleTimeWindow: { Mode: 'OFF' },
        Target: def.Target,
        State: 'DISABLED',
      },
    ]);
  });

  it('GET /events/stream through API Gateway answers one batch in the stream format', async () => {
    const ledger = createDynamoLedger(t.clients.ddb, t.names.Ledger);
    await ledger.append([
      makeEnvelope({ topic: 'batch.one', sender: 'x', payload: { n: 1 } }),
      makeEnvelope({ topic: 'batch.two', sender: 'x', payload: { n: 2 } }),
    ]);
    const head = (await ledger.head()).seq;
    const handler = createApiHandler(apiDepsFromEnv(env, clients));
    const res = await handler({ ...event('GET', '/events/stream', { authorizer: IAM }), headers: { 'last-event-id': String(head - 1) } });
    expect(res.statusCode).toBe(200);
    expect(res.headers?.['content-type']).toBe('text/event-stream; charset=utf-8');
    const body = res.body ?? '';
    expect(body.startsWith('retry: ')).toBe(true);
    expect(body).toContain(`id: ${head}\nevent: envelope\ndata: `);
    expect(body).not.toContain(`id: ${head - 1}\n`);
    expect(body).toContain('event: metrics\ndata: ');
  });
});

/** Records what the handler writes through Lambda's HttpResponseStream. */
function fakeRuntime() {
  const stream = new PassThrough();
  const rec = {
    metadata: null as null | { statusCode: number; headers: Record<string, string> },
    body: '',
    get ended() {
      return stream.writableEnded;
    },
  };
  const runtime: LambdaStreamingRuntime = {
    streamifyResponse: (fn) => fn,
    HttpResponseStream: {
      from(stream: Writable, metadata) {
        rec.metadata = metadata;
        return stream;
      },
    },
  };
  stream.on('data', (c: Buffer) => (rec.body += c.toString('utf8')));
  return { runtime, stream, rec };
}

const context = (remainingMs: number) => ({ getRemainingTimeInMillis: () => remainingMs }) as unknown as Context;

describe('streaming function (function URL, RESPONSE_STREAM)', () => {
  it('streams ledger entries as SSE and ends itself before the function timeout', async () => {
    const { runtime, stream, rec } = fakeRuntime();
    const deps = apiDepsFromEnv(env, clients);
    let maxSeen = 0;
    const fn = createStreamingLambda(runtime, (maxDurationMs) => {
      maxSeen = maxDurationMs;
      return createStreamHandler({ ...deps, stream: { pollMs: 50, metricsEveryMs: 100, maxDurationMs } });
    }) as (e: APIGatewayProxyEventV2, s: Writable, c: Context) => Promise<void>;
    await fn(
      { ...event('GET', '/events/stream', { authorizer: IAM }), rawQueryString: 'backlog=2' },
      stream,
      context(STREAM_END_MARGIN_MS + 1200),
    );
    expect(maxSeen).toBe(1200);
    expect(rec.metadata).toEqual({
      statusCode: 200,
      headers: expect.objectContaining({ 'content-type': 'text/event-stream; charset=utf-8' }),
    });
    expect(rec.ended).toBe(true);
    const ids = [...rec.body.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    expect(ids.length).toBe(2);
    expect(ids[1]).toBe((ids[0] as number) + 1);
    expect(rec.body).toContain('event: metrics');
  });

  it('refuses a request without the IAM authorizer context with the error shape', async () => {
    const { runtime, stream, rec } = fakeRuntime();
    const fn = createStreamingLambda(runtime, () => createStreamHandler(apiDepsFromEnv(env, clients))) as (
      e: APIGatewayProxyEventV2,
      s: Writable,
      c: Context,
    ) => Promise<void>;
    await fn(event('GET', '/events/stream'), stream, context(60_000));
    expect(rec.metadata?.statusCode).toBe(401);
    expect(JSON.parse(rec.body)).toMatchObject({ error: { code: 'unauthorized' } });
    expect(rec.ended).toBe(true);
  });
});
