/**
 * The gRPC/Connect services in the cloud, through the very handlers the Lambdas run:
 *
 * - the API function behind API Gateway (HTTP API, payload v2 events as the service sends them):
 *   every unary RPC in the Connect protocol (JSON, and binary protobuf), one in gRPC-Web; IAM
 *   authorizer context required (UNAUTHENTICATED without); server streams refused
 *   (FAILED_PRECONDITION: API Gateway cannot stream); native gRPC refused (415: no trailers);
 * - the streaming function (function URL, RESPONSE_STREAM): `BusService.Subscribe` as a Connect
 *   server stream, written as produced, ending before the function's timeout.
 *
 * DynamoDB through DynamoDB Local; EventBridge PutEvents, SQS and the Scheduler through
 * aws-sdk-client-mock with the exact requests asserted.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PassThrough, type Writable } from 'node:stream';
import { mockClient } from 'aws-sdk-client-mock';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { GetScheduleCommand, UpdateScheduleCommand } from '@aws-sdk/client-scheduler';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { composeFromEnv } from '../../functions/lambda';
import type { CloudClients } from '../../functions/platform';
import { createApiHandler } from '../../functions/api/app';
import { createStreamHandler } from '../../functions/api/stream-core';
import { createStreamingLambda, STREAM_END_MARGIN_MS, type LambdaStreamingRuntime } from '../../functions/api/stream';
import { createDynamoLedger } from '../../shared/adapters/aws/dynamo-ledger';
import { makeEnvelope } from '../../shared/core/envelope';
import { BUS_SOURCE } from '../../shared/definitions/routing';
import { GetAgentRequestSchema, GetAgentResponseSchema } from '../../shared/gen/agentorchestrator/v1/agents_pb';
import type { TestTables } from '../support/env';
import { cloudApiFixture, DISPATCH_QUEUE, TICK_SCHEDULE } from '../support/cloud-api';
import { apiGatewayEvent, IAM_AUTHORIZER } from '../support/api-gateway';

const PKG = 'agentorchestrator.v1';
let t: TestTables;
let clients: CloudClients;
let env: Record<string, string>;
const QUEUE = DISPATCH_QUEUE;
const apiDepsFromEnv = () => composeFromEnv('api', env, clients).apiDeps;

beforeAll(async () => {
  ({ t, clients, env } = await cloudApiFixture());
});

let ebMock: ReturnType<typeof mockClient>;
let sqsMock: ReturnType<typeof mockClient>;
let schMock: ReturnType<typeof mockClient>;
beforeEach(() => {
  ebMock = mockClient(clients.eventBridge);
  sqsMock = mockClient(clients.sqs);
  schMock = mockClient(clients.scheduler);
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

/** One Connect unary call as API Gateway delivers it: POST /<pkg>.<Service>/<Method>, JSON. */
function connectEvent(
  service: string,
  method: string,
  body: unknown,
  opts: { authorizer?: unknown; headers?: Record<string, string> } = {},
) {
  return apiGatewayEvent('POST', `/${PKG}.${service}/${method}`, {
    body,
    region: 'eu-west-1',
    headers: { 'connect-protocol-version': '1', ...opts.headers },
    ...(opts.authorizer !== undefined && opts.authorizer !== null ? { authorizer: opts.authorizer } : {}),
  });
}

/** `authorizer` null: a request that reached the function without the authorizer context */
async function connect(service: string, method: string, body: unknown = {}, authorizer: unknown = IAM_AUTHORIZER) {
  const res = await createApiHandler(apiDepsFromEnv())(connectEvent(service, method, body, { authorizer }));
  const raw = res.isBase64Encoded ? Buffer.from(res.body ?? '', 'base64').toString('utf8') : (res.body ?? '');
  return { status: res.statusCode ?? 0, headers: res.headers ?? {}, json: raw ? (JSON.parse(raw) as Record<string, unknown>) : {} };
}

describe('API function behind API Gateway: unary RPCs in the Connect protocol', () => {
  it('AgentsService: list, get, and the six actions (trigger sends exactly one SQS message)', async () => {
    const list = await connect('AgentsService', 'ListAgents');
    expect(list.status).toBe(200);
    expect(list.headers['content-type']).toBe('application/json');
    expect(list.json).toMatchObject({ agents: [{ name: 'cloudy', status: 'AGENT_STATUS_ACTIVE', cycleSeconds: 60 }] });
    const got = await connect('AgentsService', 'GetAgent', { name: 'cloudy' });
    expect(got.json).toMatchObject({ agent: { agent: { name: 'cloudy' }, timeoutSeconds: expect.any(Number) } });

    expect((await connect('AgentsService', 'PauseAgent', { name: 'cloudy' })).json).toMatchObject({
      agent: { status: 'AGENT_STATUS_PAUSED' },
    });
    expect((await connect('AgentsService', 'ResumeAgent', { name: 'cloudy' })).json).toMatchObject({
      agent: { status: 'AGENT_STATUS_ACTIVE' },
    });
    const trig = await connect('AgentsService', 'TriggerAgent', { name: 'cloudy' });
    expect(trig.status).toBe(200);
    const runId = trig.json.runId as string;
    expect(sqsMock.commandCalls(SendMessageBatchCommand).map((c) => c.args[0].input)).toEqual([
      {
        QueueUrl: QUEUE,
        Entries: [{ Id: '0', MessageBody: JSON.stringify({ kind: 'trigger', agent: 'cloudy', runId }), DelaySeconds: 0 }],
      },
    ]);
    expect((await connect('AgentsService', 'RestartAgent', { name: 'cloudy' })).json).toMatchObject({
      agent: { status: 'AGENT_STATUS_ACTIVE' },
    });
    expect((await connect('AgentsService', 'QuarantineAgent', { name: 'cloudy' })).json).toMatchObject({
      agent: { status: 'AGENT_STATUS_QUARANTINED' },
    });
    expect((await connect('AgentsService', 'ReleaseAgent', { name: 'cloudy' })).json).toMatchObject({
      agent: { status: 'AGENT_STATUS_ACTIVE' },
    });
    // every action wrote its ledger event through EventBridge
    expect(ebMock.commandCalls(PutEventsCommand).map((c) => c.args[0].input.Entries?.[0]?.DetailType)).toEqual([
      'agent.paused',
      'agent.resumed',
      'agent.triggered',
      'agent.restarted',
      'agent.quarantined',
      'agent.released',
    ]);

    // errors: the Connect error JSON with the gRPC code of the REST error table
    const missing = await connect('AgentsService', 'GetAgent', { name: 'ghost' });
    expect(missing.status).toBe(404);
    expect(missing.json).toMatchObject({ code: 'not_found' });
    const bad = await connect('AgentsService', 'PauseAgent', { name: 'Bad Name' });
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ code: 'invalid_argument' });
    const conflict = await connect('AgentsService', 'ReleaseAgent', { name: 'cloudy' });
    expect(conflict.status).toBe(400);
    expect(conflict.json).toMatchObject({ code: 'failed_precondition' });
  });

  it('BusService.Publish puts exactly one event on the orchestrator bus', async () => {
    const res = await connect('BusService', 'Publish', { topic: 'ops.note', payload: { a: 1 }, recipient: 'cloudy' });
    expect(res.status).toBe(200);
    const calls = ebMock.commandCalls(PutEventsCommand);
    expect(calls).toHaveLength(1);
    const entries = calls[0]?.args[0].input.Entries ?? [];
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ Source: BUS_SOURCE, DetailType: 'ops.note', EventBusName: 'orch-bus' });
    expect(JSON.parse(entries[0]?.Detail ?? '')).toMatchObject({ id: res.json.id, topic: 'ops.note', sender: 'api', payload: { a: 1 } });
  });

  it('LedgerService: list, verify, replay (the replayed envelope goes to EventBridge with replayOf)', async () => {
    const ledger = createDynamoLedger(t.clients.ddb, t.names.Ledger);
    await ledger.append([makeEnvelope({ topic: 'cloud.rpc', sender: 'x', payload: { n: 1 } })]);
    const page = await connect('LedgerService', 'ListLedgerEntries', { topic: 'cloud.rpc' });
    expect(page.status).toBe(200);
    const entries = page.json.entries as { seq: string; envelope: { topic: string; payload: unknown } }[];
    expect(entries).toHaveLength(1);
    expect(entries[0]?.envelope).toMatchObject({ topic: 'cloud.rpc', payload: { n: 1 } });
    const seq = entries[0]?.seq as string; // uint64 in proto3 JSON: a string
    const v = await connect('LedgerService', 'VerifyLedger');
    expect(v.json).toMatchObject({ ok: true });
    const r = await connect('LedgerService', 'ReplayLedger', { fromSeq: seq, toSeq: seq });
    expect(r.json).toEqual({ count: '1' });
    const replayed = JSON.parse(ebMock.commandCalls(PutEventsCommand)[0]?.args[0].input.Entries?.[0]?.Detail ?? '{}');
    expect(replayed).toMatchObject({ topic: 'cloud.rpc', replayOf: Number(seq) });
  });

  it('ComponentsService.StopComponent disables the tick schedule; MetricsService.GetMetrics answers a snapshot', async () => {
    const def = TICK_SCHEDULE;
    schMock
      .on(GetScheduleCommand)
      .resolvesOnce(def)
      .resolves({ ...def, State: 'DISABLED' });
    schMock.on(UpdateScheduleCommand).resolves({ ScheduleArn: 'arn:s' });
    const res = await connect('ComponentsService', 'StopComponent', { name: 'scheduler' });
    expect(res.json).toEqual({ component: { name: 'scheduler' } }); // running: false is proto3's default, omitted
    expect(schMock.commandCalls(UpdateScheduleCommand).map((c) => c.args[0].input.State)).toEqual(['DISABLED']);
    const m = await connect('MetricsService', 'GetMetrics');
    expect(m.status).toBe(200);
    expect((m.json.snapshot as { agents: { name: string }[] }).agents.map((a) => a.name)).toEqual(['cloudy']);
  });

  it('binary protobuf (application/proto) and gRPC-Web work too', async () => {
    const handler = createApiHandler(apiDepsFromEnv());
    const bin = toBinary(GetAgentRequestSchema, create(GetAgentRequestSchema, { name: 'cloudy' }));
    const ev = connectEvent('AgentsService', 'GetAgent', undefined, {
      authorizer: IAM_AUTHORIZER,
      headers: { 'content-type': 'application/proto' },
    });
    const res = await handler({ ...ev, body: Buffer.from(bin).toString('base64'), isBase64Encoded: true });
    expect(res.statusCode).toBe(200);
    expect(fromBinary(GetAgentResponseSchema, Buffer.from(res.body ?? '', 'base64')).agent?.agent?.name).toBe('cloudy');

    // gRPC-Web: a length-prefixed message in, messages and a trailer frame out, in the body
    const framed = Buffer.concat([Buffer.from([0, 0, 0, 0, bin.length]), Buffer.from(bin)]);
    const web = await handler({
      ...connectEvent('AgentsService', 'GetAgent', undefined, {
        authorizer: IAM_AUTHORIZER,
        headers: { 'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1' },
      }),
      body: framed.toString('base64'),
      isBase64Encoded: true,
    });
    expect(web.statusCode).toBe(200);
    const out = Buffer.from(web.body ?? '', 'base64');
    const len = out.readUInt32BE(1);
    expect(fromBinary(GetAgentResponseSchema, out.subarray(5, 5 + len)).agent?.agent?.name).toBe('cloudy');
    expect(out.subarray(5 + len + 5).toString('latin1')).toMatch(/grpc-status:\s*0/);
  });

  it('without the IAM authorizer context: UNAUTHENTICATED in the Connect error shape, nothing done', async () => {
    const res = await connect('AgentsService', 'PauseAgent', { name: 'cloudy' }, null);
    expect(res.status).toBe(401);
    expect(res.json).toMatchObject({ code: 'unauthenticated' });
    expect(ebMock.commandCalls(PutEventsCommand)).toHaveLength(0);
  });

  it('server streams through API Gateway are FAILED_PRECONDITION; native gRPC (trailers) is 415', async () => {
    const handler = createApiHandler(apiDepsFromEnv());
    const env1 = Buffer.from(JSON.stringify({}));
    const stream = await handler({
      ...connectEvent('BusService', 'Subscribe', undefined, {
        authorizer: IAM_AUTHORIZER,
        headers: { 'content-type': 'application/connect+json' },
      }),
      body: Buffer.concat([Buffer.from([0, 0, 0, 0, env1.length]), env1]).toString('base64'),
      isBase64Encoded: true,
    });
    expect(stream.statusCode).toBe(200);
    const body = Buffer.from(stream.body ?? '', 'base64');
    expect(body[0]).toBe(2); // the end-of-stream frame: an error, no message
    expect(JSON.parse(body.subarray(5).toString('utf8'))).toMatchObject({ error: { code: 'failed_precondition' } });

    const grpc = await handler({
      ...connectEvent('AgentsService', 'ListAgents', undefined, {
        authorizer: IAM_AUTHORIZER,
        headers: { 'content-type': 'application/grpc' },
      }),
      body: Buffer.from([0, 0, 0, 0, 0]).toString('base64'),
      isBase64Encoded: true,
    });
    expect(grpc.statusCode).toBe(415);
  });
});

describe('streaming function (function URL): BusService.Subscribe as a Connect server stream', () => {
  it('writes the envelopes as they are read, ends before the function timeout with an end-of-stream frame', async () => {
    const ledger = createDynamoLedger(t.clients.ddb, t.names.Ledger);
    const before = (await ledger.head()).seq;
    await ledger.append([
      makeEnvelope({ topic: 'sub.cloud', sender: 'x', payload: { n: 1 } }),
      makeEnvelope({ topic: 'other', sender: 'x', payload: { n: 2 } }),
      makeEnvelope({ topic: 'sub.cloud', sender: 'x', payload: { n: 3 } }),
    ]);
    const stream = new PassThrough();
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    let metadata: { statusCode: number; headers: Record<string, string> } | undefined;
    const runtime: LambdaStreamingRuntime = {
      streamifyResponse: (fn) => fn,
      HttpResponseStream: {
        from(s: Writable, m) {
          metadata = m;
          return s;
        },
      },
    };
    const deps = apiDepsFromEnv();
    const fn = createStreamingLambda(runtime, (maxDurationMs) =>
      createStreamHandler({ ...deps, stream: { pollMs: 50, maxDurationMs } }),
    ) as (e: APIGatewayProxyEventV2, s: Writable, c: Context) => Promise<void>;
    const req = Buffer.from(JSON.stringify({ topic: 'sub.cloud', afterSeq: String(before) }));
    const ev = connectEvent('BusService', 'Subscribe', undefined, {
      authorizer: IAM_AUTHORIZER,
      headers: { 'content-type': 'application/connect+json' },
    });
    await fn(
      { ...ev, body: Buffer.concat([Buffer.from([0, 0, 0, 0, req.length]), req]).toString('base64'), isBase64Encoded: true },
      stream,
      { getRemainingTimeInMillis: () => STREAM_END_MARGIN_MS + 1000 } as unknown as Context,
    );
    expect(metadata).toMatchObject({ statusCode: 200, headers: { 'content-type': 'application/connect+json' } });
    expect(stream.writableEnded).toBe(true);
    // length-prefixed frames: two messages (flag 0), then the end-of-stream frame (flag 2)
    const all = Buffer.concat(chunks);
    const frames: { flag: number; json: Record<string, unknown> }[] = [];
    for (let i = 0; i < all.length; ) {
      const len = all.readUInt32BE(i + 1);
      frames.push({ flag: all[i] as number, json: JSON.parse(all.subarray(i + 5, i + 5 + len).toString('utf8')) });
      i += 5 + len;
    }
    expect(frames.map((f) => f.flag)).toEqual([0, 0, 2]);
    expect(frames.slice(0, 2).map((f) => (f.json.envelope as { payload: { n: number } }).payload.n)).toEqual([1, 3]);
    expect(frames[2]?.json.error).toBeUndefined();

    // a unary method is the API function's (the streaming function may only read)
    const rec = { status: 0, chunks: [] as Buffer[] };
    const out = new PassThrough();
    out.on('data', (c: Buffer) => rec.chunks.push(c));
    const unaryRuntime: LambdaStreamingRuntime = {
      streamifyResponse: (f) => f,
      HttpResponseStream: {
        from(s: Writable, m) {
          rec.status = m.statusCode;
          return s;
        },
      },
    };
    const unary = createStreamingLambda(unaryRuntime, () => createStreamHandler(deps)) as (
      e: APIGatewayProxyEventV2,
      s: Writable,
      c: Context,
    ) => Promise<void>;
    await unary(connectEvent('AgentsService', 'PauseAgent', { name: 'cloudy' }, { authorizer: IAM_AUTHORIZER }), out, {
      getRemainingTimeInMillis: () => 60_000,
    } as unknown as Context);
    expect(rec.status).toBe(404);
    expect(JSON.parse(Buffer.concat(rec.chunks).toString('utf8'))).toMatchObject({ error: { code: 'route_not_found' } });
    expect(ebMock.commandCalls(PutEventsCommand)).toHaveLength(0);
  });
});
