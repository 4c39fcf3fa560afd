/**
 * Every Lambda entry point (functions/* /handler.ts, functions/api/stream.ts) as the Lambda
 * runtime loads it: a fresh module (vi.resetModules + import, so the module-scope memo is empty),
 * the environment the CDK stack sets (the keys are checked against the synthesized template),
 * the exported `handler` invoked with a realistic event. DynamoDB and S3 are DynamoDB Local and
 * s3rver, reached the way the SDK v3 reaches any endpoint: AWS_ENDPOINT_URL_DYNAMODB and
 * AWS_ENDPOINT_URL_S3 (no code path of its own). Only the services without an emulator are
 * mocked (aws-sdk-client-mock: EventBridge PutEvents, SQS SendMessageBatch, Lambda Invoke), and
 * their exact requests are asserted. The Invoke mock hands the payload to the real sandbox
 * function's handler (functions/sandbox/handler.ts, composed from the sandbox's own environment)
 * and answers what it answers, so the manager's inspection and the runner's run go through the
 * `lambda` runtime end to end: agent code runs in an agent process of the sandbox, never in the
 * runner or the manager. A required variable missing from the environment is a ConfigError
 * naming it.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { InvokeCommand, LambdaClient, type InvokeCommandInput } from '@aws-sdk/client-lambda';
import { ListObjectVersionsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DynamoRegistry } from '../../shared/adapters/aws/dynamo-registry';
import { DynamoHeartbeats } from '../../shared/adapters/aws/dynamo-heartbeats';
import { createDynamoLedger } from '../../shared/adapters/aws/dynamo-ledger';
import { S3BundleStore } from '../../shared/adapters/aws/s3-bundle-store';
import { bundleKey, versionSortKey } from '../../shared/core/bundle/identity';
import { generateKeyPair, publicKeyOf, sha256Hex, signBundle } from '../../shared/core/bundle/signing';
import { EnvSchema } from '../../shared/core/config';
import { cycleRunId } from '../../shared/core/dispatch';
import { slotOffsetMs } from '../../shared/core/registry';
import { DEFAULT_SCHEDULE_SHARDS, shardOf } from '../../shared/definitions/tables';
import { makeEnvelope, type Envelope } from '../../shared/core/envelope';
import { toBusEvent } from '../../shared/core/bus/events';
import { BUS_SOURCE } from '../../shared/definitions/routing';
import { CLOUD_ENV } from '../../shared/definitions/cloud-env';
import { schedulerHorizonMs, CLOUD_TICK_SECONDS } from '../../functions/scheduler/core';
import { createTestTables, ddbEndpoint, startTestS3, tempDir, type TestTables } from '../support/env';
import { synth, TEST_PUBKEY } from '../infra/synth';
import { apiGatewayEvent, IAM_AUTHORIZER } from '../support/api-gateway';

const QUEUE = 'https://sqs.us-east-1.amazonaws.com/123456789012/orch-dispatch';
const DIGEST_BUCKET = 'orch-ledger-digests';
const BUS = 'orch-agents';
const key = generateKeyPair();

let s3: Awaited<ReturnType<typeof startTestS3>>;
let t: TestTables;
let tmp: ReturnType<typeof tempDir>;
let registry: DynamoRegistry;
let heartbeats: DynamoHeartbeats;
const ebMock = mockClient(EventBridgeClient);
const sqsMock = mockClient(SQSClient);
const lambdaMock = mockClient(LambdaClient);
/** the sandbox function's name, as the stack passes it to the runner and the manager */
const SANDBOX_FUNCTION = 'orch-sandbox';
let sandboxHandler: Handler;

beforeAll(async () => {
  s3 = await startTestS3();
  t = await createTestTables(s3.endpoint);
  tmp = tempDir('orch-fn-env-');
  registry = new DynamoRegistry(t.clients.ddb, t.names.Registry);
  heartbeats = new DynamoHeartbeats(t.clients.ddb, t.names.Heartbeats);
});

afterAll(async () => {
  ebMock.restore();
  sqsMock.restore();
  lambdaMock.restore();
  await s3?.stop();
  tmp?.cleanup();
});

beforeEach(() => {
  ebMock.reset();
  sqsMock.reset();
  lambdaMock.reset();
  // Lambda Invoke (RequestResponse) of the sandbox function: its real handler answers; a thrown
  // error is what Lambda reports as FunctionError "Unhandled" with the error as the payload
  lambdaMock.on(InvokeCommand).callsFake(async (input: InvokeCommandInput) => {
    const event = JSON.parse(new TextDecoder().decode(input.Payload as Uint8Array)) as unknown;
    const encode = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
    try {
      return { StatusCode: 200, ExecutedVersion: '$LATEST', Payload: encode(await sandboxHandler(event)) };
    } catch (e) {
      const err = e as Error;
      return { StatusCode: 200, FunctionError: 'Unhandled', Payload: encode({ errorType: err.name, errorMessage: err.message }) };
    }
  });
  ebMock.on(PutEventsCommand).callsFake((input: { Entries: unknown[] }) => ({
    FailedEntryCount: 0,
    Entries: input.Entries.map((_, i) => ({ EventId: `ev-${i}` })),
  }));
  sqsMock.on(SendMessageBatchCommand).callsFake((input: { Entries: { Id: string }[] }) => ({
    Successful: input.Entries.map((e) => ({ Id: e.Id, MessageId: `m-${e.Id}`, MD5OfMessageBody: 'x' })),
    Failed: [],
  }));
});

afterEach(() => {
  vi.unstubAllEnvs();
  vi.useRealTimers();
});

/** The environment infra/stack.ts gives every function (values for this test's emulators). */
function stackEnv(): Record<string, string> {
  return {
    HOT_BUCKET: s3.bucket,
    EVENT_BUS_NAME: BUS,
    DISPATCH_QUEUE_URL: QUEUE,
    AGENT_LEDGER_RETENTION_DAYS: '0',
    LOG_LEVEL: 'silent',
    AGENT_BUNDLE_PUBKEYS: key.publicKey,
    REGISTRY_TABLE: t.names.Registry,
    HEARTBEAT_TABLE: t.names.Heartbeats,
    LEDGER_TABLE: t.names.Ledger,
    LEDGER_DIGEST_BUCKET: DIGEST_BUCKET,
  };
}

/** What infra/constructs/sandbox.ts adds to the runner and the manager. */
const INVOKER_ENV = { SANDBOX_FUNCTION, AGENT_RUNTIME: 'lambda' };

/** The sandbox function's whole environment (infra/constructs/sandbox.ts): nothing of the deployment. */
const SANDBOX_ENV = { LOG_LEVEL: 'silent', AGENT_RUNTIME_PROCESSES: '1' };

/** The Invoke requests sent to the sandbox function, their payloads parsed. */
function invokes(): (Omit<InvokeCommandInput, 'Payload'> & { Payload: unknown })[] {
  return lambdaMock
    .commandCalls(InvokeCommand)
    .map((c) => ({ ...c.args[0].input, Payload: JSON.parse(new TextDecoder().decode(c.args[0].input.Payload as Uint8Array)) }));
}

/** What infra/constructs/api.ts adds for the API and stream functions (the switches are optional). */
const API_ENV = { [CLOUD_ENV.apiAuthMode]: 'iam' };

/** What the Lambda runtime provides, pointed at the emulators. */
function runtimeEnv(): Record<string, string> {
  return {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'S3RVER', // s3rver's key pair; DynamoDB Local takes any
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_ENDPOINT_URL_DYNAMODB: ddbEndpoint(),
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    TMPDIR: tmp.path, // the sandbox's bundle cache (tmpdir()/agent-bundles) lands in this test's temp dir
  };
}

/** Nothing else from the outer environment may leak in. */
const CLEARED = [
  ...Object.keys(EnvSchema.shape),
  ...Object.values(CLOUD_ENV).flatMap((v) => (typeof v === 'string' ? [v] : Object.values(v))),
  'AWS_SESSION_TOKEN',
  'AWS_LAMBDA_FUNCTION_NAME',
  'AWS_PROFILE',
  'AWS_ENDPOINT_URL',
];

type Handler = (event: unknown) => Promise<unknown>;

/** The module's exported handler, loaded fresh (empty memo) with exactly this environment. */
async function load(module: string, env: Record<string, string | undefined>): Promise<Handler> {
  vi.resetModules();
  for (const k of CLEARED) vi.stubEnv(k, undefined);
  for (const [k, v] of Object.entries({ ...runtimeEnv(), ...env })) vi.stubEnv(k, v);
  const mod = (await import(module)) as { handler: Handler };
  return mod.handler;
}

const MODULES = {
  'agent-manager': '../../functions/agent-manager/handler',
  scheduler: '../../functions/scheduler/handler',
  runner: '../../functions/runner/handler',
  'health-monitor': '../../functions/health-monitor/handler',
  router: '../../functions/router/handler',
  'ledger-writer': '../../functions/ledger-writer/handler',
  'ledger-digest': '../../functions/ledger-digest/handler',
  api: '../../functions/api/handler',
  'api-stream': '../../functions/api/stream',
  sandbox: '../../functions/sandbox/handler',
} as const;

/** What each function cannot run without. */
const REQUIRED: Record<keyof typeof MODULES, string[]> = {
  'agent-manager': ['REGISTRY_TABLE', 'HOT_BUCKET', 'EVENT_BUS_NAME'],
  scheduler: ['REGISTRY_TABLE', 'DISPATCH_QUEUE_URL'],
  runner: ['REGISTRY_TABLE', 'HEARTBEAT_TABLE', 'HOT_BUCKET', 'EVENT_BUS_NAME'],
  'health-monitor': ['REGISTRY_TABLE', 'HEARTBEAT_TABLE', 'EVENT_BUS_NAME'],
  router: ['REGISTRY_TABLE', 'DISPATCH_QUEUE_URL'],
  'ledger-writer': ['LEDGER_TABLE'],
  'ledger-digest': ['LEDGER_TABLE', 'LEDGER_DIGEST_BUCKET'],
  api: ['REGISTRY_TABLE', 'HEARTBEAT_TABLE', 'LEDGER_TABLE', 'EVENT_BUS_NAME', 'LEDGER_DIGEST_BUCKET'],
  'api-stream': ['REGISTRY_TABLE', 'HEARTBEAT_TABLE', 'LEDGER_TABLE', 'EVENT_BUS_NAME'],
  sandbox: [],
};

/** The single PutEvents request sent, its entries with the envelope parsed. */
function putEvents(): (Omit<PutEventsRequestEntry, 'Detail'> & { Detail: Envelope })[] {
  const calls = ebMock.commandCalls(PutEventsCommand);
  expect(calls).toHaveLength(1);
  return (calls[0]?.args[0].input.Entries ?? []).map((e) => ({ ...e, Detail: JSON.parse(e.Detail ?? '') as Envelope }));
}

const envelopeLike = (topic: string, payload: Record<string, unknown>) => ({
  id: expect.stringMatching(/^[0-9a-f-]{36}$/),
  topic,
  sender: 'orchestrator',
  ts: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
  payload,
});

async function uploadSigned(name: string, version: string, src: string): Promise<Uint8Array> {
  const bytes = new TextEncoder().encode(src);
  await new S3BundleStore(t.clients.s3, s3.bucket).put(bundleKey(name, version), bytes, {
    signature: signBundle(key.privateKey, name, version, bytes),
    signer: publicKeyOf(key.privateKey),
  });
  return bytes;
}

async function registerBundle(
  name: string,
  bytes: Uint8Array,
  manifest: { cycleSeconds?: number; subscriptions?: string[]; hasOnEnvelope?: boolean } = {},
  firstRunAt = Date.now() + 3_600_000,
  into: DynamoRegistry = registry,
) {
  await into.register({
    name,
    version: '1.0.0',
    versionKey: versionSortKey('1.0.0'),
    bundleKey: bundleKey(name, '1.0.0'),
    sha256: sha256Hex(bytes),
    size: bytes.byteLength,
    signer: key.publicKey,
    manifest: {
      cycleSeconds: manifest.cycleSeconds ?? 60,
      timeoutSeconds: 10,
      subscriptions: manifest.subscriptions ?? [],
      hasOnEnvelope: manifest.hasOnEnvelope ?? false,
    },
    at: new Date().toISOString(),
    firstRunAt,
  });
}

/** An API Gateway v2 request that passed the IAM authorizer. */
const apiEvent = (method: string, path: string, body?: unknown) =>
  apiGatewayEvent(method, path, { authorizer: IAM_AUTHORIZER, ...(body !== undefined ? { body } : {}) });

describe("the environment of the tests is the stack's", () => {
  it('every function of the synthesized stack gets these keys, so each has what it requires', () => {
    const { stack, resources, id } = synth({ trustedKeys: TEST_PUBKEY }, { nag: false });
    const byFunction: Record<string, keyof typeof MODULES> = {
      AgentManager: 'agent-manager',
      Scheduler: 'scheduler',
      Runner: 'runner',
      HealthMonitor: 'health-monitor',
      Router: 'router',
      LedgerWriter: 'ledger-writer',
      LedgerDigest: 'ledger-digest',
      Api: 'api',
      ApiStream: 'api-stream',
      Sandbox: 'sandbox',
    };
    expect(Object.keys(stack.functions).sort()).toEqual(Object.keys(byFunction).sort());
    for (const [fn, f] of Object.entries(stack.functions)) {
      const vars = Object.keys(resources[id(f.fn)]?.Properties?.Environment.Variables ?? {});
      if (fn === 'Sandbox') {
        expect(vars.sort(), fn).toEqual(Object.keys(SANDBOX_ENV).sort());
        continue;
      }
      expect(vars, fn).toEqual(expect.arrayContaining(Object.keys(stackEnv())));
      if (fn === 'Runner' || fn === 'AgentManager') expect(vars, fn).toEqual(expect.arrayContaining(Object.keys(INVOKER_ENV)));
      expect(vars, fn).toEqual(expect.arrayContaining(REQUIRED[byFunction[fn] as keyof typeof MODULES]));
      if (fn === 'Api' || fn === 'ApiStream') expect(vars, fn).toEqual(expect.arrayContaining(Object.keys(API_ENV)));
    }
  });
});

describe('each Lambda entry point, wired from its environment', () => {
  beforeAll(async () => {
    // the sandbox function's container: loaded and composed under its own environment (a first
    // event it refuses makes it compose now), before any test loads the function that invokes it
    sandboxHandler = await load(MODULES.sandbox, SANDBOX_ENV);
    await expect(sandboxHandler({ not: 'a sandbox request' })).rejects.toThrow(/unsupported sandbox event/);
  });

  it('agent-manager: an S3 "Object Created" registers the signed bundle and puts agent.registered on the bus', async () => {
    const bytes = await uploadSigned('env-manager', '1.0.0', 'export default { cycleSeconds: 45, async runCycle() {} };');
    const handler = await load(MODULES['agent-manager'], { ...stackEnv(), ...INVOKER_ENV });
    const event = {
      version: '0',
      id: 'e-1',
      'detail-type': 'Object Created',
      source: 'aws.s3',
      account: '123456789012',
      time: '2026-01-01T00:00:00Z',
      region: 'us-east-1',
      resources: [`arn:aws:s3:::${s3.bucket}`],
      detail: {
        version: '0',
        bucket: { name: s3.bucket },
        object: { key: bundleKey('env-manager', '1.0.0'), size: bytes.byteLength },
        reason: 'PutObject',
      },
    };
    expect(await handler(event)).toEqual({
      outcomes: [{ kind: 'registered', name: 'env-manager', version: '1.0.0', previousVersion: null, signer: key.publicKey }],
    });
    // the manifest was read in the sandbox function, from the exact bytes the manager verified
    expect(invokes()).toEqual([
      {
        FunctionName: SANDBOX_FUNCTION,
        InvocationType: 'RequestResponse',
        Payload: {
          mode: 'inspect',
          bundle: { key: bundleKey('env-manager', '1.0.0'), sha256: sha256Hex(bytes), bytesBase64: Buffer.from(bytes).toString('base64') },
        },
      },
    ]);
    expect(await registry.get('env-manager')).toMatchObject({
      version: '1.0.0',
      cycleSeconds: 45,
      status: 'active',
      sha256: sha256Hex(bytes),
      signer: key.publicKey,
    });
    expect(putEvents()).toEqual([
      {
        Source: BUS_SOURCE,
        DetailType: 'agent.registered',
        EventBusName: BUS,
        Detail: envelopeLike('agent.registered', {
          name: 'env-manager',
          version: '1.0.0',
          previousVersion: null,
          sha256: sha256Hex(bytes),
          signer: key.publicKey,
          cycleSeconds: 45,
          status: 'active',
        }),
      },
    ]);
  });

  it('scheduler: a tick dispatches the due slot to the SQS queue with its delay', async () => {
    const bytes = new TextEncoder().encode('export default { runCycle() {} }; // env-scheduler');
    // Date frozen 30.5 s before a slot of a 10-minute agent: that slot is in the tick's window
    // (cloud: 90 s ahead), the next one is not, and the delay is known exactly
    // (a slot of the agent's grid: k × 10 min + its phase offset)
    const slot = Math.floor(Date.now() / 3_600_000) * 3_600_000 + 2_400_000 + slotOffsetMs('env-scheduler', 600);
    const now = slot - 30_500;
    expect(slot + 600_000).toBeGreaterThan(now + schedulerHorizonMs(CLOUD_TICK_SECONDS));
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(now);
    // a registry of its own: with the clock moved, the other tests' agents could be due too
    const own = await createTestTables();
    const ownRegistry = new DynamoRegistry(own.clients.ddb, own.names.Registry);
    await registerBundle('env-scheduler', bytes, { cycleSeconds: 600 }, slot, ownRegistry);
    const { generation } = (await ownRegistry.get('env-scheduler'))!;
    const handler = await load(MODULES.scheduler, { ...stackEnv(), REGISTRY_TABLE: own.names.Registry });
    const report = await handler({ action: 'tick' });
    expect(report).toEqual({
      at: now,
      horizonMs: 90_000,
      due: 1,
      advanced: 1,
      lost: 0,
      dispatched: 1,
      overdue: 0,
      activated: 0,
      uncertain: 0,
      shards: DEFAULT_SCHEDULE_SHARDS,
      truncated: 0,
    });
    expect(sqsMock.commandCalls(SendMessageBatchCommand).map((c) => c.args[0].input)).toEqual([
      {
        QueueUrl: QUEUE,
        Entries: [
          {
            Id: '0',
            MessageBody: JSON.stringify({
              kind: 'cycle',
              agent: 'env-scheduler',
              runId: cycleRunId('env-scheduler', slot),
              slot,
              generation,
            }),
            DelaySeconds: 31,
          },
        ],
      },
    ]);
    expect((await ownRegistry.get('env-scheduler'))?.nextRunAt).toBe(slot + 600_000);
  });

  it('scheduler in Lambda: the tick fans out, one asynchronous Invoke of itself per shard; each shard invocation ticks its shard', async () => {
    const bytes = new TextEncoder().encode('export default { runCycle() {} }; // env-fan-out');
    const slot = Math.floor(Date.now() / 3_600_000) * 3_600_000 + 2_400_000 + slotOffsetMs('env-fan-out', 600);
    const now = slot - 30_500;
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(now);
    const own = await createTestTables();
    const ownRegistry = new DynamoRegistry(own.clients.ddb, own.names.Registry);
    await registerBundle('env-fan-out', bytes, { cycleSeconds: 600 }, slot, ownRegistry);
    const self = 'orchestrator-Scheduler-fn';
    // what Lambda answers an asynchronous invocation: 202, queued
    lambdaMock.on(InvokeCommand).resolves({ StatusCode: 202 });
    const handler = await load(MODULES.scheduler, { ...stackEnv(), REGISTRY_TABLE: own.names.Registry, AWS_LAMBDA_FUNCTION_NAME: self });
    expect(await handler({ action: 'tick' })).toEqual({ fannedOut: DEFAULT_SCHEDULE_SHARDS, failed: [] });
    expect(invokes()).toEqual(
      Array.from({ length: DEFAULT_SCHEDULE_SHARDS }, (_, shard) => ({
        FunctionName: self,
        InvocationType: 'Event',
        Payload: { action: 'tick', shard },
      })),
    );
    // the fanning tick itself read and dispatched nothing
    expect(sqsMock.commandCalls(SendMessageBatchCommand)).toEqual([]);
    expect((await ownRegistry.get('env-fan-out'))?.nextRunAt).toBe(slot);

    // each shard's invocation (the payload above): only the agent's own shard has work
    const mine = Number(shardOf('env-fan-out', DEFAULT_SCHEDULE_SHARDS));
    for (let shard = 0; shard < DEFAULT_SCHEDULE_SHARDS; shard++) {
      const report = await handler({ action: 'tick', shard });
      expect(report, `shard ${shard}`).toMatchObject({
        shards: 1,
        due: shard === mine ? 1 : 0,
        dispatched: shard === mine ? 1 : 0,
        truncated: 0,
      });
    }
    expect(sqsMock.commandCalls(SendMessageBatchCommand).map((c) => JSON.parse(c.args[0].input.Entries?.[0]?.MessageBody ?? '{}'))).toEqual(
      [expect.objectContaining({ agent: 'env-fan-out', slot })],
    );
    expect((await ownRegistry.get('env-fan-out'))?.nextRunAt).toBe(slot + 600_000);
    // no such shard; no other field
    await expect(handler({ action: 'tick', shard: DEFAULT_SCHEDULE_SHARDS })).rejects.toThrow(/no shard 4/);
    await expect(handler({ action: 'tick', shard: 1, at: now })).rejects.toThrow(/unsupported scheduler event/);

    // a start that fails: the others are started, the tick fails naming the shard (the next tick covers it)
    lambdaMock.reset();
    lambdaMock.on(InvokeCommand).callsFake(async (input: InvokeCommandInput) => {
      const { shard } = JSON.parse(new TextDecoder().decode(input.Payload as Uint8Array)) as { shard: number };
      if (shard === 2) throw Object.assign(new Error('Rate exceeded'), { name: 'TooManyRequestsException', $metadata: {} });
      return { StatusCode: 202 };
    });
    await expect(handler({ action: 'tick' })).rejects.toMatchObject({ name: 'SchedulerFanOutError', details: { failed: [2] } });
    expect(invokes().map((i) => (i.Payload as { shard: number }).shard)).toEqual(
      Array.from({ length: DEFAULT_SCHEDULE_SHARDS }, (_, i) => i),
    );
  });

  it('runner: an SQS trigger message runs the bundle from S3, records the heartbeat and publishes agent.cycle', async () => {
    const bytes = await uploadSigned('env-runner', '1.0.0', "export default { async runCycle(ctx) { ctx.state.set('ran', ctx.cycle); } };");
    await registerBundle('env-runner', bytes);
    const { generation } = (await registry.get('env-runner'))!;
    const handler = await load(MODULES.runner, { ...stackEnv(), ...INVOKER_ENV });
    const message = { kind: 'trigger', agent: 'env-runner', runId: 'env-runner!trigger!1' };
    expect(
      await handler({
        Records: [
          {
            messageId: 'm-1',
            receiptHandle: 'rh',
            body: JSON.stringify(message),
            attributes: {},
            messageAttributes: {},
            md5OfBody: 'x',
            eventSource: 'aws:sqs',
            eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:orch-dispatch',
            awsRegion: 'us-east-1',
          },
        ],
      }),
    ).toEqual({ batchItemFailures: [] });
    // the agent ran in the sandbox function: the runner sent the bundle's bytes and the run's inputs
    expect(invokes()).toEqual([
      {
        FunctionName: SANDBOX_FUNCTION,
        InvocationType: 'RequestResponse',
        Payload: {
          mode: 'run',
          bundle: { key: bundleKey('env-runner', '1.0.0'), sha256: sha256Hex(bytes), bytesBase64: Buffer.from(bytes).toString('base64') },
          // a trigger runs the agent's runCycle: the sandbox sees a cycle
          run: { agent: 'env-runner', version: '1.0.0', generation, kind: 'cycle', cycle: 1, state: {}, timeoutMs: 10_000 },
        },
      },
    ]);
    expect(await heartbeats.getState('env-runner')).toEqual({ ran: 1 });
    expect(await heartbeats.get('env-runner')).toMatchObject({ cycles: 1, lastOutcome: 'ok', consecutiveErrors: 0 });
    expect(putEvents()).toEqual([
      {
        Source: BUS_SOURCE,
        DetailType: 'agent.cycle',
        EventBusName: BUS,
        Detail: envelopeLike('agent.cycle', {
          name: 'env-runner',
          version: '1.0.0',
          runId: message.runId,
          kind: 'trigger',
          cycle: 1,
          generation,
          outcome: 'ok',
          durationMs: expect.any(Number),
          published: 0,
        }),
      },
    ]);
  });

  it('health-monitor: agent.failed at the threshold restarts the agent and puts agent.restarted on the bus', async () => {
    await registerBundle('env-health', new TextEncoder().encode('export default { runCycle() {} }; // env-health'));
    const { generation } = (await registry.get('env-health'))!;
    for (const runId of ['a', 'b', 'c'])
      await heartbeats.complete('env-health', {
        runId,
        at: Date.now(),
        outcome: 'error',
        error: 'boom',
        durationMs: 1,
        generation,
        stateChanges: {},
        expectBy: null,
        countsAsCycle: true,
      });
    const handler = await load(MODULES['health-monitor'], stackEnv());
    const failed = makeEnvelope({
      topic: 'agent.failed',
      sender: 'orchestrator',
      payload: { name: 'env-health', generation, outcome: 'error', error: 'boom' },
    });
    const result = await handler(
      toBusEvent(
        { source: BUS_SOURCE, detailType: 'agent.failed', detail: failed },
        { now: Date.now(), account: '123456789012', region: 'us-east-1' },
      ),
    );
    expect(result).toMatchObject({
      kind: 'failed',
      decision: { action: 'restarted', name: 'env-health', restartsInWindow: 1, backoffMs: 5000, generation: generation + 1 },
    });
    expect(await registry.get('env-health')).toMatchObject({ status: 'restarting', generation: generation + 1, restarts: 1 });
    expect(putEvents()).toEqual([
      {
        Source: BUS_SOURCE,
        DetailType: 'agent.restarted',
        EventBusName: BUS,
        Detail: envelopeLike('agent.restarted', {
          name: 'env-health',
          version: '1.0.0',
          by: 'health-monitor',
          cause: 'failures',
          reason: '3 consecutive failures (last: error: boom)',
          backoffMs: 5000,
          restartsInWindow: 1,
          nextRunAt: expect.any(String),
          generation: generation + 1,
        }),
      },
    ]);
  });

  it('router: an envelope event is dispatched to the SQS queue for its subscriber', async () => {
    await registerBundle('env-router', new TextEncoder().encode('export default { runCycle() {}, onEnvelope() {} }; // env-router'), {
      subscriptions: ['orders.*'],
      hasOnEnvelope: true,
    });
    const handler = await load(MODULES.router, stackEnv());
    const envelope = makeEnvelope({ topic: 'orders.created', sender: 'shop', payload: { n: 1 } });
    const event = toBusEvent(
      { source: BUS_SOURCE, detailType: envelope.topic, detail: envelope },
      { now: Date.now(), account: '123456789012', region: 'us-east-1' },
    );
    expect(await handler(event)).toEqual({ routed: [{ agent: 'env-router', reason: 'subscription' }] });
    expect(sqsMock.commandCalls(SendMessageBatchCommand).map((c) => c.args[0].input)).toEqual([
      {
        QueueUrl: QUEUE,
        Entries: [
          {
            Id: '0',
            MessageBody: JSON.stringify({ kind: 'envelope', agent: 'env-router', runId: `env-router<${envelope.id}`, envelope }),
            DelaySeconds: 0,
          },
        ],
      },
    ]);
  });

  it('ledger-writer: an SQS batch from the FIFO queue is appended to the ledger table', async () => {
    const ledger = createDynamoLedger(t.clients.ddb, t.names.Ledger);
    const head0 = (await ledger.head()).seq;
    const envelopes = [
      makeEnvelope({ topic: 'env.one', sender: 'x', payload: { n: 1 } }),
      makeEnvelope({ topic: 'env.two', sender: 'x', payload: { n: 2 } }),
    ];
    const records = envelopes.map((e, i) => ({
      messageId: `m-${i}`,
      body: JSON.stringify(
        toBusEvent(
          { source: BUS_SOURCE, detailType: e.topic, detail: e },
          { now: Date.now(), account: '123456789012', region: 'us-east-1' },
        ),
      ),
      attributes: { MessageGroupId: 'ledger' },
    }));
    const handler = await load(MODULES['ledger-writer'], stackEnv());
    expect(await handler({ Records: records })).toEqual({
      batchItemFailures: [],
      appended: 2,
      duplicates: 0,
      invalid: 0,
      lastSeq: head0 + 2,
    });
    const page = await ledger.list({ after: head0, limit: 10 });
    expect(page.entries.map((e) => [e.seq, e.id, e.topic])).toEqual(envelopes.map((e, i) => [head0 + 1 + i, e.id, e.topic]));
  });

  it('ledger-digest: the schedule anchors the ledger head in the digest bucket once (S3 ListObjectVersions/PutObject, mocked: no emulator lists versions)', async () => {
    const ledger = createDynamoLedger(t.clients.ddb, t.names.Ledger);
    await ledger.append([makeEnvelope({ topic: 'digest.one', sender: 'x', payload: { n: 1 } })]);
    const head = await ledger.head();
    const s3Mock = mockClient(S3Client);
    try {
      let anchored = false;
      s3Mock
        .on(ListObjectVersionsCommand)
        .callsFake(() => ({ Versions: anchored ? [{ Key: 'k', VersionId: 'v1' }] : [], IsTruncated: false }));
      s3Mock.on(PutObjectCommand).callsFake(() => {
        anchored = true;
        return { VersionId: 'v1' };
      });
      const handler = await load(MODULES['ledger-digest'], stackEnv());
      const key = `ledger-digests/${String(head.seq).padStart(16, '0')}-`;
      const first = (await handler({ action: 'digest' })) as { written: { seq: number; hash: string; ref: string } | null };
      expect(first.written).toMatchObject({
        seq: head.seq,
        hash: head.hash,
        ref: expect.stringMatching(new RegExp(`^${key}\\d{13}-${head.hash}\\.json\\?versionId=v1$`)),
      });
      // the head is anchored already: nothing more is written
      expect(await handler({ action: 'digest' })).toEqual({ written: null, head });
      expect(s3Mock.commandCalls(ListObjectVersionsCommand).map((c) => c.args[0].input)).toEqual([
        { Bucket: DIGEST_BUCKET, Prefix: key, MaxKeys: 1 },
        { Bucket: DIGEST_BUCKET, Prefix: key, MaxKeys: 1 },
      ]);
      const puts = s3Mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
      expect(puts).toEqual([
        {
          Bucket: DIGEST_BUCKET,
          Key: expect.stringMatching(new RegExp(`^${key}\\d{13}-${head.hash}\\.json$`)),
          Body: expect.stringContaining(`"seq":${head.seq},"hash":"${head.hash}"`),
          ContentType: 'application/json',
          ChecksumAlgorithm: 'SHA256',
        },
      ]);
      await expect(handler({ action: 'tick' })).rejects.toMatchObject({ name: 'ValidationError' });
    } finally {
      s3Mock.restore();
    }
  });

  it('api: GET /agents reads the registry table; POST /events puts exactly one entry on the bus', async () => {
    await registerBundle('env-api', new TextEncoder().encode('export default { runCycle() {} }; // env-api'));
    const handler = await load(MODULES.api, { ...stackEnv(), ...API_ENV });
    const list = (await handler(apiEvent('GET', '/agents'))) as { statusCode: number; body: string };
    expect(list.statusCode).toBe(200);
    expect((JSON.parse(list.body) as { agents: { name: string }[] }).agents.map((a) => a.name)).toContain('env-api');
    const res = (await handler(apiEvent('POST', '/events', { topic: 'ops.note', payload: { a: 1 }, recipient: 'env-api' }))) as {
      statusCode: number;
      body: string;
    };
    expect(res.statusCode).toBe(202);
    const { id } = JSON.parse(res.body) as { id: string };
    expect(putEvents()).toEqual([
      {
        Source: BUS_SOURCE,
        DetailType: 'ops.note',
        EventBusName: BUS,
        Detail: { id, topic: 'ops.note', sender: 'api', recipient: 'env-api', ts: expect.any(String), payload: { a: 1 } },
      },
    ]);
  });

  it('api stream (outside the Lambda streaming runtime): answers one batch of ledger entries in the stream format', async () => {
    const ledger = createDynamoLedger(t.clients.ddb, t.names.Ledger);
    await ledger.append([
      makeEnvelope({ topic: 'stream.one', sender: 'x', payload: { n: 1 } }),
      makeEnvelope({ topic: 'stream.two', sender: 'x', payload: { n: 2 } }),
    ]);
    const head = (await ledger.head()).seq;
    const handler = await load(MODULES['api-stream'], { ...stackEnv(), ...API_ENV });
    const res = (await handler({ ...apiEvent('GET', '/events/stream'), headers: { 'last-event-id': String(head - 1) } })) as {
      statusCode: number;
      headers: Record<string, string>;
      body: string;
    };
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect([...res.body.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]))).toEqual([head]);
    expect(res.body).toContain('"topic":"stream.two"');
  });
});

describe('a required variable missing from the environment', () => {
  const cases = Object.entries(REQUIRED).flatMap(([fn, vars]) => vars.map((v) => [fn as keyof typeof MODULES, v] as const));
  it.each(cases)('%s without %s: ConfigError naming it, before any AWS call', async (fn, missing) => {
    const env: Record<string, string | undefined> = { ...stackEnv(), ...(fn.startsWith('api') ? API_ENV : {}), [missing]: undefined };
    const handler = await load(MODULES[fn], env);
    // the class of the freshly loaded module graph (the one the handler throws)
    const { ConfigError: FreshConfigError } = (await import('../../shared/core/errors')) as typeof import('../../shared/core/errors');
    const err = await Promise.resolve()
      .then(() => handler(fn.startsWith('api') ? apiEvent('GET', '/agents') : { action: 'noop' }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FreshConfigError);
    expect(err).toMatchObject({ name: 'ConfigError', code: 'config_invalid', details: { missing: [missing] } });
    expect((err as Error).message).toBe(`${fn}: missing required environment variable ${missing} (the CDK stack sets them)`);
    expect(ebMock.calls()).toHaveLength(0);
    expect(sqsMock.calls()).toHaveLength(0);
  });
});
