/**
 * The API's error → status table (ERROR_STATUS in functions/api/errors.ts) through the real
 * handler on the real local listener: every named error class of shared/ and functions/ is in the
 * table, every entry answers with the status and body stated here (client mistakes 4xx with their
 * own code, infrastructure errors 5xx with a generic body, 503 + Retry-After when a retry may
 * succeed), AWS SDK and network errors are classified, and an API whose DynamoDB is unreachable
 * (the real registry, heartbeats and ledger pointed at a closed port) answers 503 without leaking
 * what failed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code } from '@connectrpc/connect';
import { readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InternalServerError, ProvisionedThroughputExceededException, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import {
  BundleRejectedError,
  ConfigError,
  ConflictError,
  NotFoundError,
  OrchestratorError,
  ValidationError,
} from '../../shared/core/errors';
import { BusEntryTooLargeError, BusPublishError, InvalidPatternError, ReservedTopicError } from '../../shared/core/bus/errors';
import { ActionNotAllowedError, ComponentNotConfiguredError, UnknownActionError } from '../../shared/core/control/errors';
import { InvalidKafkaEventError, KafkaConsumeError, KafkaProduceError } from '../../shared/core/kafka/errors';
import { InvalidFailureEventError } from '../../shared/core/health/errors';
import {
  LedgerConflictError,
  LedgerCorruptError,
  LedgerDigestsUnavailableError,
  LedgerEncodingError,
  LedgerRequestError,
} from '../../shared/core/ledger/errors';
import { ManagerError } from '../../shared/core/manager/errors';
import {
  BundleReverifyError,
  BundleUnavailableError,
  CompletionAbandonedError,
  InvalidDispatchMessageError,
  RunLeaseHeldError,
  RuntimeUnavailableError,
} from '../../shared/core/runner/errors';
import {
  SchedulerConfigError,
  SchedulerDispatchError,
  SchedulerFanOutError,
  SchedulerStoreError,
} from '../../shared/core/scheduler/errors';
import { ComponentSwitchError, DispatchError, SandboxInvokeError, StoreError } from '../../shared/adapters/aws/errors';
import { BundleIntegrityError, InspectionUnavailableError, InvalidManifestError, SandboxError } from '../../shared/adapters/node/errors';
import {
  ApiError,
  EnvelopeTooLargeError,
  ERROR_STATUS,
  GRPC_CODE_OF_STATUS,
  grpcCodeOf,
  LedgerTailError,
  toConnectError,
  MalformedJsonError,
  MethodNotAllowedError,
  NotConfiguredError,
  PayloadTooLargeError,
  RouteNotFoundError,
  UnauthorizedError,
  UnsupportedMediaTypeError,
  type ErrorClass,
} from '../../functions/api/errors';
import { createApiHandler } from '../../functions/api/app';
import type { ApiDeps } from '../../functions/api/deps';
import { startHttpServer, type HttpServer } from '../../local/http';
import { createClients } from '../../shared/adapters/aws/clients';
import { DynamoRegistry } from '../../shared/adapters/aws/dynamo-registry';
import { DynamoHeartbeats } from '../../shared/adapters/aws/dynamo-heartbeats';
import { createDynamoLedger } from '../../shared/adapters/aws/dynamo-ledger';
import { ControlService } from '../../shared/core/control/service';
import { healthPolicyFrom } from '../../shared/core/health/policy';
import { loadConfig } from '../../shared/core/config';
import { RecordingDispatcher } from '../runtime/helpers';
import { startApiHarness, type ApiHarness } from './harness';

type Expect = { status: number; code: string; own: boolean };
const own = (status: number, code: string): Expect => ({ status, code, own: true });
const INTERNAL: Expect = { status: 500, code: 'internal', own: false };
const UNAVAILABLE: Expect = { status: 503, code: 'unavailable', own: false };

/** One instance of every class in the table, and what the client must get for it. */
const CASES: [ErrorClass, Error, Expect][] = [
  [ValidationError, new ValidationError('invalid body: topic is required'), own(400, 'validation_failed')],
  [UnknownActionError, new UnknownActionError('explode', ['pause', 'resume']), own(400, 'validation_failed')],
  [MalformedJsonError, new MalformedJsonError('body is not valid JSON'), own(400, 'malformed_json')],
  [LedgerRequestError, new LedgerRequestError('range too wide'), own(400, 'invalid_ledger_request')],
  [UnauthorizedError, new UnauthorizedError('invalid token'), own(401, 'unauthorized')],
  [NotFoundError, new NotFoundError('agent ghost'), own(404, 'not_found')],
  [ComponentNotConfiguredError, new ComponentNotConfiguredError('kafka', 'set KAFKA_BROKERS'), own(404, 'not_found')],
  [RouteNotFoundError, new RouteNotFoundError('GET', '/nope'), own(404, 'route_not_found')],
  [MethodNotAllowedError, new MethodNotAllowedError('DELETE', '/agents', ['GET']), own(405, 'method_not_allowed')],
  [ConflictError, new ConflictError('changed concurrently'), own(409, 'conflict')],
  [ActionNotAllowedError, new ActionNotAllowedError('a', 'pause', 'paused'), own(409, 'conflict')],
  [PayloadTooLargeError, new PayloadTooLargeError(400_000, 307_200), own(413, 'payload_too_large')],
  [EnvelopeTooLargeError, new EnvelopeTooLargeError(262_145, 262_144), own(413, 'envelope_too_large')],
  [BusEntryTooLargeError, new BusEntryTooLargeError('e-1', 262_150, 262_144), own(413, 'invalid_bus_entry_size')],
  [ReservedTopicError, new ReservedTopicError('topic agent.failed is reserved'), own(400, 'reserved_topic')],
  [UnsupportedMediaTypeError, new UnsupportedMediaTypeError('text/plain'), own(415, 'unsupported_media_type')],

  [LedgerConflictError, new LedgerConflictError('append failed 5 times in a row'), UNAVAILABLE],
  [
    BusPublishError,
    new BusPublishError('1 of 1 envelopes could not be put on bus b', [
      { envelopeId: 'e', errorCode: 'ThrottlingException', errorMessage: 'slow' },
    ]),
    UNAVAILABLE,
  ],
  [
    DispatchError,
    new DispatchError('1 of 1 dispatch messages were not accepted by SQS', [{ runId: 'r', code: 'X', message: 'm' }]),
    UNAVAILABLE,
  ],
  [SchedulerDispatchError, new SchedulerDispatchError('dispatching failed'), UNAVAILABLE],
  [SchedulerStoreError, new SchedulerStoreError('1 of 4 shards failed'), UNAVAILABLE],
  [SchedulerFanOutError, new SchedulerFanOutError('starting the tick of 1 of 4 shards failed'), UNAVAILABLE],
  [RunLeaseHeldError, new RunLeaseHeldError('a', 'r', 0), UNAVAILABLE],
  [CompletionAbandonedError, new CompletionAbandonedError('a', 'r', 0, new Error('store down')), UNAVAILABLE],
  [InspectionUnavailableError, new InspectionUnavailableError('the inspector ran out of memory'), UNAVAILABLE],
  [LedgerTailError, new LedgerTailError(), UNAVAILABLE],
  [SandboxInvokeError, new SandboxInvokeError('the sandbox function answered 429 TooManyRequestsException'), UNAVAILABLE],
  [KafkaConsumeError, new KafkaConsumeError('the Kafka consumer could not start: ECONNREFUSED'), UNAVAILABLE],
  [KafkaProduceError, new KafkaProduceError('Kafka did not acknowledge 3 record(s)'), UNAVAILABLE],

  [NotConfiguredError, new NotConfiguredError('the dispatch queue'), own(501, 'not_configured')],
  [
    LedgerDigestsUnavailableError,
    new LedgerDigestsUnavailableError('this orchestrator has no ledger digest store configured'),
    own(501, 'ledger_digests_not_configured'),
  ],
  [ComponentSwitchError, new ComponentSwitchError('disabling schedule g/tick failed: AccessDenied'), own(500, 'component_switch_failed')],
  [LedgerCorruptError, new LedgerCorruptError(7, 'hash mismatch'), own(500, 'ledger_corrupt')],

  [OrchestratorError, new OrchestratorError('something', 'unclassified'), INTERNAL],
  [ApiError, new ApiError('api_something', 'unclassified api error'), INTERNAL],
  [ConfigError, new ConfigError('invalid environment: REGISTRY_TABLE'), INTERNAL],
  [SchedulerConfigError, new SchedulerConfigError('shards must be a positive integer, got 0'), INTERNAL],
  [InvalidPatternError, new InvalidPatternError('detail', 'bad'), INTERNAL],
  [StoreError, new StoreError('registry item x is malformed'), INTERNAL],
  [LedgerEncodingError, new LedgerEncodingError('$.a: NaN has no JSON form'), INTERNAL],
  [ManagerError, new ManagerError('manager failed'), INTERNAL],
  [BundleRejectedError, new BundleRejectedError('bad_signature', 'signature does not verify'), INTERNAL],
  [InvalidManifestError, new InvalidManifestError('the default export has no runCycle function'), INTERNAL],
  [BundleReverifyError, new BundleReverifyError('bundle failed re-verification'), INTERNAL],
  [BundleUnavailableError, new BundleUnavailableError('agents/a/1.0.0.mjs'), INTERNAL],
  [BundleIntegrityError, new BundleIntegrityError('bytes do not hash'), INTERNAL],
  [SandboxError, new SandboxError('cannot start a worker thread'), INTERNAL],
  [InvalidDispatchMessageError, new InvalidDispatchMessageError('not a dispatch message'), INTERNAL],
  [InvalidFailureEventError, new InvalidFailureEventError('topic is x'), INTERNAL],
  [RuntimeUnavailableError, new RuntimeUnavailableError('lambda', ['process']), INTERNAL],
  [InvalidKafkaEventError, new InvalidKafkaEventError('not a Kafka event'), INTERNAL],
];

/** The errors.ts modules whose classes the table must cover. */
function errorModules(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? errorModules(p) : f === 'errors.ts' ? [p] : [];
  });
}

function extendsOrchestratorError(v: unknown): v is ErrorClass {
  return typeof v === 'function' && (v === OrchestratorError || v.prototype instanceof OrchestratorError);
}

let h: ApiHarness;
let server: HttpServer;
let failWith: unknown = null;

beforeAll(async () => {
  h = await startApiHarness();
  // the real handler, whose agent listing throws the error under test
  const deps: ApiDeps = {
    ...h.deps,
    control: {
      list: async () => {
        throw failWith;
      },
      page: async () => {
        throw failWith;
      },
      summary: () => h.control.summary(),
      describe: (name) => h.control.describe(name),
      act: (name, action) => h.control.act(name, action),
      logs: (name, limit) => h.control.logs(name, limit),
    },
  };
  server = await startHttpServer({ handler: createApiHandler(deps), port: 0 });
});

afterAll(async () => {
  await server?.close();
  await h?.close();
});

async function getAgentsFailingWith(e: unknown): Promise<{ status: number; headers: Headers; text: string }> {
  failWith = e;
  const res = await fetch(`${server.url}/agents`, { headers: { authorization: `Bearer ${h.token}` } });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

function expectAnswer(r: { status: number; headers: Headers; text: string }, e: Error, want: Expect) {
  expect(r.status).toBe(want.status);
  expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8');
  expect(JSON.parse(r.text)).toEqual({
    error: {
      code: want.code,
      message: want.own
        ? e.message
        : want.code === 'unavailable'
          ? 'a service the API depends on is unavailable; retry later'
          : 'internal error',
    },
  });
  expect(r.headers.get('retry-after')).toBe(want.code === 'unavailable' ? '1' : null);
  expect(r.headers.get('www-authenticate')).toBe(want.status === 401 ? 'Bearer' : null);
  if (!want.own) expect(r.text).not.toContain(e.message);
  expect(r.text).not.toMatch(/\n\s+at |\.ts:\d+/); // no stack
}

describe('ERROR_STATUS', () => {
  it('covers every named error class of shared/ and functions/, and this test covers every entry', async () => {
    const classes = new Map<ErrorClass, string>();
    for (const file of [...errorModules('shared'), ...errorModules('functions')]) {
      const mod = (await import(pathToFileURL(join(process.cwd(), file)).href)) as Record<string, unknown>;
      for (const [name, v] of Object.entries(mod)) if (extendsOrchestratorError(v)) classes.set(v, `${relative('.', file)}: ${name}`);
    }
    const missing = [...classes].filter(([c]) => !ERROR_STATUS.has(c)).map(([, where]) => where);
    expect(missing).toEqual([]);
    expect(new Set(ERROR_STATUS.keys())).toEqual(new Set(classes.keys()));
    expect(new Set(CASES.map(([c]) => c))).toEqual(new Set(ERROR_STATUS.keys()));
    for (const [c, e] of CASES) expect(e.constructor, c.name).toBe(c);
  });

  it.each(CASES.map(([c, e, want]) => [c.name, `${want.status} ${want.code}`, e, want] as const))(
    '%s → %s through the real handler',
    async (_name, _what, e, want) => {
      expectAnswer(await getAgentsFailingWith(e), e, want);
    },
  );

  it('every entry has a gRPC code, derived from its HTTP status (one table for both surfaces), with the same body policy', () => {
    // the codes docs/api.md states for the REST statuses
    const want: Record<number, Code> = {
      400: Code.InvalidArgument,
      401: Code.Unauthenticated,
      404: Code.NotFound,
      405: Code.Unimplemented,
      409: Code.FailedPrecondition,
      413: Code.ResourceExhausted,
      415: Code.InvalidArgument,
      500: Code.Internal,
      501: Code.Unimplemented,
      503: Code.Unavailable,
    };
    for (const [cls, e, x] of CASES) {
      expect(GRPC_CODE_OF_STATUS.has(x.status), `${cls.name}: HTTP ${x.status} has no gRPC code`).toBe(true);
      const expected = cls === RouteNotFoundError ? Code.Unimplemented : want[x.status];
      expect(grpcCodeOf(e), cls.name).toBe(expected);
      const ce = toConnectError(e);
      expect(ce.code, cls.name).toBe(expected);
      expect(ce.metadata.get('error-code'), cls.name).toBe(x.code);
      if (x.own) expect(ce.rawMessage).toBe(e.message);
      else expect(ce.rawMessage).not.toContain(e.message);
    }
    // errors that are not ours: by availability, as for REST
    expect(grpcCodeOf(new Error('boom'))).toBe(Code.Internal);
    expect(grpcCodeOf(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }))).toBe(Code.Unavailable);
  });

  it('status does not follow the text of a code: *_conflict, *_invalid, invalid_*, bundle_* codes of unlisted errors are 500', async () => {
    for (const code of ['thing_conflict', 'thing_invalid', 'invalid_thing', 'bundle_thing', 'thing_not_found']) {
      const e = new OrchestratorError(code, `an unlisted ${code}`);
      expectAnswer(await getAgentsFailingWith(e), e, INTERNAL);
    }
  });

  it('AWS SDK and network errors: unreachable, throttled or a service 5xx is 503; anything else 500', async () => {
    const meta = { $metadata: { httpStatusCode: 400, attempts: 3 } };
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED', $metadata: { attempts: 3 } });
    const timeout = Object.assign(new Error('socket timed out'), { name: 'TimeoutError' });
    const throttled = new ProvisionedThroughputExceededException({ message: 'rate exceeded', ...meta });
    const server5xx = new InternalServerError({ message: 'internal server error', $metadata: { httpStatusCode: 500 } });
    const missingTable = new ResourceNotFoundException({ message: 'Requested resource not found', ...meta });
    const wrapped = new Error('listing failed', { cause: refused });
    for (const e of [refused, timeout, throttled, server5xx, wrapped]) expectAnswer(await getAgentsFailingWith(e), e, UNAVAILABLE);
    for (const e of [missingTable, new TypeError("Cannot read properties of undefined (reading 'x')"), new Error('boom')])
      expectAnswer(await getAgentsFailingWith(e), e, INTERNAL);
  });
});

describe('a failing dependency', () => {
  let down: HttpServer;
  let closedPort: number;

  beforeAll(async () => {
    // a port that was just free: nothing listens there
    closedPort = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      });
    });
    const clients = createClients({
      region: 'us-east-1',
      endpoints: { dynamodb: `http://127.0.0.1:${closedPort}` },
      localCredentials: true,
    });
    const registry = new DynamoRegistry(clients.ddb, 'agent-registry');
    const heartbeats = new DynamoHeartbeats(clients.ddb, 'agent-heartbeats');
    const ledger = createDynamoLedger(clients.ddb, 'agent-ledger', h.bus);
    const control = new ControlService({
      registry,
      heartbeats,
      dispatcher: new RecordingDispatcher(),
      events: h.bus,
      policy: healthPolicyFrom(loadConfig({})),
    });
    down = await startHttpServer({
      handler: createApiHandler({ ...h.deps, control, registry, heartbeats, ledger, replay: (r) => ledger.replay(r) }),
      port: 0,
    });
  });

  afterAll(async () => {
    await down?.close();
  });

  it('DynamoDB unreachable: every route that needs it answers 503 unavailable, Retry-After, nothing about what failed', async () => {
    for (const [method, path] of [
      ['GET', '/agents'],
      ['GET', '/agents/alpha'],
      ['POST', '/agents/alpha/pause'],
      ['GET', '/metrics'],
      ['GET', '/ledger'],
      ['GET', '/ledger/verify'],
      ['POST', '/ledger/replay'],
    ] as const) {
      const res = await fetch(`${down.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${h.token}`, 'content-type': 'application/json' },
        ...(path === '/ledger/replay' ? { body: JSON.stringify({ fromSeq: 1, toSeq: 2 }) } : {}),
      });
      const text = await res.text();
      expect(res.status, `${method} ${path}`).toBe(503);
      expect(res.headers.get('retry-after'), `${method} ${path}`).toBe('1');
      expect(JSON.parse(text), `${method} ${path}`).toEqual({
        error: { code: 'unavailable', message: 'a service the API depends on is unavailable; retry later' },
      });
      expect(text).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|agent-registry|\n\s+at /);
    }
    // what does not need DynamoDB still works
    expect((await fetch(`${down.url}/healthz`)).status).toBe(200);
  });
});
