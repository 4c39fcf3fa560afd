/**
 * Errors of the control API, and the one table that maps every named error of the orchestrator
 * to an HTTP status (ERROR_STATUS). Nothing is derived from the text of an error code: a class
 * that is not in the table answers by its nearest ancestor that is (OrchestratorError: 500), and
 * tests/api/errors.test.ts fails for an error class of shared/ or functions/ missing here.
 *
 * - Client mistakes are 4xx with the error's own code and message.
 * - Infrastructure errors are 5xx. The client cannot fix them; what failed goes to the log.
 *   `unavailable` (503, Retry-After): a dependency failed or is overloaded for now (DynamoDB,
 *   EventBridge, SQS unreachable or throttling, appends racing): the same request may succeed
 *   later. `internal` (500): a deployment or programming error, or damaged data, that a retry
 *   will not fix. A few 5xx keep their own code and message because the operator can act on
 *   them (`not_configured`, `component_switch_failed`, `ledger_corrupt`).
 * docs/api.md has the table in prose.
 *
 * The gRPC/Connect services answer the same errors with the gRPC status code of GRPC_CODE_OF_STATUS
 * (the code of the class's HTTP status), except the classes in GRPC_CODE_OVERRIDES: one table,
 * one mapping for both surfaces (grpcCodeOf, toConnectError).
 */
import { Code, ConnectError } from '@connectrpc/connect';
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

/** Base of the errors the API layer itself raises; the status of each is in ERROR_STATUS. */
export class ApiError extends OrchestratorError {
  override name = 'ApiError';
}

/** Missing or wrong credentials (token mode: bearer token; iam/jwt: no authorizer context). */
export class UnauthorizedError extends ApiError {
  override name = 'UnauthorizedError';
  constructor(message = 'missing or invalid credentials') {
    super('unauthorized', message);
  }
}

export class RouteNotFoundError extends ApiError {
  override name = 'RouteNotFoundError';
  constructor(method: string, path: string) {
    super('route_not_found', `no route for ${method} ${path}`);
  }
}

export class MethodNotAllowedError extends ApiError {
  override name = 'MethodNotAllowedError';
  constructor(
    method: string,
    path: string,
    readonly allowed: string[],
  ) {
    super('method_not_allowed', `${method} is not allowed on ${path}; allowed: ${allowed.join(', ')}`);
  }
}

/** Request body over the API's size limit. */
export class PayloadTooLargeError extends ApiError {
  override name = 'PayloadTooLargeError';
  constructor(size: number | null, limit: number) {
    super('payload_too_large', `request body ${size === null ? 'is' : `of ${size} bytes is`} over the limit of ${limit} bytes`);
  }
}

/** `POST /events` whose envelope would not fit the bus (256 KB, counted as PutEvents counts an entry). */
export class EnvelopeTooLargeError extends ApiError {
  override name = 'EnvelopeTooLargeError';
  constructor(size: number, limit: number) {
    super('envelope_too_large', `the envelope would make a bus entry of ${size} bytes, over the limit of ${limit}`, { size, limit });
  }
}

/** Body that is not JSON (or not a JSON object where one is required). */
export class MalformedJsonError extends ApiError {
  override name = 'MalformedJsonError';
  constructor(message: string) {
    super('malformed_json', message);
  }
}

export class UnsupportedMediaTypeError extends ApiError {
  override name = 'UnsupportedMediaTypeError';
  constructor(type: string) {
    super('unsupported_media_type', `content-type ${type} is not supported; send application/json`);
  }
}

/** The API was wired without a dependency a route needs (e.g. no component control configured). */
export class NotConfiguredError extends ApiError {
  override name = 'NotConfiguredError';
  constructor(what: string) {
    super('not_configured', `${what} is not configured on this deployment`);
  }
}

/** A ledger tail (`BusService.Subscribe`) whose reads kept failing: the client resumes after its last seq. */
export class LedgerTailError extends ApiError {
  override name = 'LedgerTailError';
  constructor() {
    super('stream_failed', 'reading the ledger failed; resume after the last seq received');
  }
}

/**
 * What the client sees: `own` = the error's code and message; `internal` = 500
 * `{"code":"internal","message":"internal error"}`; `unavailable` = 503
 * `{"code":"unavailable",...}` with a Retry-After header.
 */
export type ErrorBodyKind = 'own' | 'internal' | 'unavailable';

export interface ErrorMapping {
  status: number;
  body: ErrorBodyKind;
}

export type ErrorClass = abstract new (...args: never[]) => Error;

const own = (status: number): ErrorMapping => ({ status, body: 'own' });
const INTERNAL: ErrorMapping = { status: 500, body: 'internal' };
const UNAVAILABLE: ErrorMapping = { status: 503, body: 'unavailable' };

/**
 * Every named error class → its HTTP status. Classes that no API route raises are mapped too, by
 * what they mean, so that nothing depends on where an error happens to surface.
 */
export const ERROR_STATUS: ReadonlyMap<ErrorClass, ErrorMapping> = new Map<ErrorClass, ErrorMapping>([
  // --- client mistakes (4xx, own code and message)
  [ValidationError, own(400)],
  [UnknownActionError, own(400)],
  [MalformedJsonError, own(400)],
  [LedgerRequestError, own(400)],
  [UnauthorizedError, own(401)],
  [NotFoundError, own(404)],
  [ComponentNotConfiguredError, own(404)],
  [RouteNotFoundError, own(404)],
  [MethodNotAllowedError, own(405)],
  [ConflictError, own(409)],
  [ActionNotAllowedError, own(409)],
  [PayloadTooLargeError, own(413)],
  [EnvelopeTooLargeError, own(413)],
  // an envelope that would not fit a PutEvents entry (POST /events answers envelope_too_large
  // before publishing; a replay can still meet one, the replayed copy being a little larger)
  [BusEntryTooLargeError, own(413)],
  [ReservedTopicError, own(400)],
  [UnsupportedMediaTypeError, own(415)],

  // --- a dependency failed or is busy for now: the same request may succeed later (503)
  [LedgerConflictError, UNAVAILABLE],
  [BusPublishError, UNAVAILABLE],
  [DispatchError, UNAVAILABLE],
  [SchedulerDispatchError, UNAVAILABLE],
  [SchedulerStoreError, UNAVAILABLE],
  [SchedulerFanOutError, UNAVAILABLE],
  [RunLeaseHeldError, UNAVAILABLE],
  [CompletionAbandonedError, UNAVAILABLE],
  [InspectionUnavailableError, UNAVAILABLE],
  [LedgerTailError, UNAVAILABLE],
  [SandboxInvokeError, UNAVAILABLE],
  // Kafka unreachable (POST /components/kafka/start locally; the bridge's own retries elsewhere)
  [KafkaConsumeError, UNAVAILABLE],
  [KafkaProduceError, UNAVAILABLE],

  // --- deployment or programming errors, damaged data (5xx, the operator can act: own code)
  [NotConfiguredError, own(501)],
  // `GET /ledger/verify?digests=true` on a deployment without a digest store
  [LedgerDigestsUnavailableError, own(501)],
  [ComponentSwitchError, own(500)],
  [LedgerCorruptError, own(500)],

  // --- deployment or programming errors, damaged data (500 internal; details in the log)
  [OrchestratorError, INTERNAL],
  [ApiError, INTERNAL],
  [ConfigError, INTERNAL],
  [SchedulerConfigError, INTERNAL],
  [InvalidPatternError, INTERNAL],
  [StoreError, INTERNAL],
  [LedgerEncodingError, INTERNAL],
  [ManagerError, INTERNAL],
  // raised by the manager, runner and health monitor on their own inputs, never by an API request
  [BundleRejectedError, INTERNAL],
  [InvalidManifestError, INTERNAL],
  [BundleReverifyError, INTERNAL],
  [BundleUnavailableError, INTERNAL],
  [BundleIntegrityError, INTERNAL],
  [SandboxError, INTERNAL],
  [InvalidDispatchMessageError, INTERNAL],
  [InvalidFailureEventError, INTERNAL],
  // a manifest asks for a runtime this deployment does not offer (the run fails, the agent is told)
  [RuntimeUnavailableError, INTERNAL],
  [InvalidKafkaEventError, INTERNAL],
]);

/** Node/undici network failures: the dependency could not be reached. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);
/** AWS error names that mean "too much right now" (the SDK already retried). */
const THROTTLING = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'LimitExceededException',
  'TransactionInProgressException',
]);

/**
 * An error of an AWS SDK call or of the network under it that says the dependency is unreachable
 * or busy now (the SDK's own retries are already spent): connection refused/reset, timeouts,
 * throttling, and the service's 5xx. Other SDK errors (access denied, a missing table: the
 * deployment) are not.
 */
export function isDependencyUnavailable(e: unknown, depth = 0): boolean {
  if (!(e instanceof Error) || depth > 3) return false;
  const x = e as Error & { code?: unknown; $fault?: unknown; $metadata?: unknown; cause?: unknown };
  if (typeof x.code === 'string' && NETWORK_CODES.has(x.code)) return true;
  if (x.name === 'TimeoutError') return true;
  if (x.$metadata !== undefined && (x.$fault === 'server' || THROTTLING.has(x.name))) return true;
  return isDependencyUnavailable(x.cause, depth + 1);
}

/** How an error is answered: the table entry of its class (or nearest listed ancestor). */
export function errorMapping(e: unknown): ErrorMapping {
  if (e instanceof Error) {
    for (
      let proto: object | null = Object.getPrototypeOf(e) as object | null;
      proto && proto !== Error.prototype;
      proto = Object.getPrototypeOf(proto) as object | null
    ) {
      const m = ERROR_STATUS.get((proto as { constructor: ErrorClass }).constructor);
      if (m) return m;
    }
  }
  return isDependencyUnavailable(e) ? UNAVAILABLE : INTERNAL;
}

/** The gRPC status code of each HTTP status of ERROR_STATUS (and of the generic 500/503). */
export const GRPC_CODE_OF_STATUS: ReadonlyMap<number, Code> = new Map<number, Code>([
  [400, Code.InvalidArgument],
  [401, Code.Unauthenticated],
  [404, Code.NotFound],
  [405, Code.Unimplemented],
  [409, Code.FailedPrecondition],
  // gRPC's own convention for a message over a size limit
  [413, Code.ResourceExhausted],
  [415, Code.InvalidArgument],
  [500, Code.Internal],
  [501, Code.Unimplemented],
  [503, Code.Unavailable],
]);

/** Classes whose gRPC code is not their HTTP status's. */
export const GRPC_CODE_OVERRIDES: ReadonlyMap<ErrorClass, Code> = new Map<ErrorClass, Code>([
  // an unknown RPC method is gRPC's UNIMPLEMENTED (REST: 404)
  [RouteNotFoundError, Code.Unimplemented],
]);

/** The gRPC status code of an error: its class's override, else the code of its HTTP status. */
export function grpcCodeOf(e: unknown): Code {
  if (e instanceof Error) {
    for (
      let proto: object | null = Object.getPrototypeOf(e) as object | null;
      proto && proto !== Error.prototype;
      proto = Object.getPrototypeOf(proto) as object | null
    ) {
      const c = GRPC_CODE_OVERRIDES.get((proto as { constructor: ErrorClass }).constructor);
      if (c !== undefined) return c;
    }
  }
  return GRPC_CODE_OF_STATUS.get(errorMapping(e).status) ?? Code.Internal;
}

/**
 * An error as the RPC services answer it: the gRPC code of grpcCodeOf, and the body policy of
 * ERROR_STATUS (own message, or the generic internal/unavailable one). The REST error code
 * travels as the `error-code` metadata (a response header or trailer).
 */
export function toConnectError(e: unknown): ConnectError {
  if (e instanceof ConnectError) return e;
  const m = errorMapping(e);
  const code = grpcCodeOf(e);
  if (m.body === 'internal') return new ConnectError('internal error', code, { 'error-code': 'internal' });
  if (m.body === 'unavailable')
    return new ConnectError('a service the API depends on is unavailable; retry later', code, { 'error-code': 'unavailable' });
  const err = e as OrchestratorError;
  return new ConnectError(err.message, code, { 'error-code': err.code });
}
