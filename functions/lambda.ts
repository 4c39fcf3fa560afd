/**
 * The one wrapper around every Lambda entry point (in the spirit of Middy's onion and
 * Powertools' `injectLambdaContext`): `export const handler = lambda(<name>, <handler of the
 * composition>)`.
 *
 * Around each invocation, outermost first:
 * 1. composition, once per container (memoised at module scope): the function's configuration
 *    from its environment (a missing resource name is a ConfigError naming it), the cloud
 *    platform, `compose()`; a failure is not memoised, so the next invocation tries again;
 * 2. log context: the request id (and function name, cold start) on every log line written
 *    while the invocation runs, by any logger;
 * 3. the handler, which validates its event (a ValidationError for an event it does not accept);
 * 4. errors: logged once with their code, `retryable` and cause, then rethrown so the event
 *    source's retry policy applies (SQS handlers report per-record failures themselves,
 *    functions/sqs.ts).
 */
import type { Context } from 'aws-lambda';
import { loadFunctionConfig, type FunctionEnvName } from '../shared/core/config';
import { isRetryable } from '../shared/core/errors';
import { createLogger, withLogContext } from '../shared/core/logger';
import { compose, type Composition, type HandlerName } from './compose';
import { cloudPlatform, type CloudClients } from './platform';

/** The resources each function's environment must name (the CDK stack sets them). */
export const REQUIRED_ENV: Record<HandlerName | 'api-stream', readonly FunctionEnvName[]> = {
  'agent-manager': ['REGISTRY_TABLE', 'HOT_BUCKET', 'EVENT_BUS_NAME'],
  scheduler: ['REGISTRY_TABLE', 'DISPATCH_QUEUE_URL'],
  runner: ['REGISTRY_TABLE', 'HEARTBEAT_TABLE', 'HOT_BUCKET', 'EVENT_BUS_NAME'],
  'health-monitor': ['REGISTRY_TABLE', 'HEARTBEAT_TABLE', 'EVENT_BUS_NAME'],
  'ledger-writer': ['LEDGER_TABLE'],
  'ledger-digest': ['LEDGER_TABLE', 'LEDGER_DIGEST_BUCKET'],
  router: ['REGISTRY_TABLE', 'DISPATCH_QUEUE_URL'],
  api: ['REGISTRY_TABLE', 'HEARTBEAT_TABLE', 'LEDGER_TABLE', 'EVENT_BUS_NAME', 'LEDGER_DIGEST_BUCKET'],
  // nothing: it runs agent code and answers; it uses no table, bucket or bus
  sandbox: [],
  'api-stream': ['REGISTRY_TABLE', 'HEARTBEAT_TABLE', 'LEDGER_TABLE', 'EVENT_BUS_NAME'],
  'kafka-producer': ['KAFKA_BROKERS', 'KAFKA_OUTBOUND'],
  'kafka-inbound': ['EVENT_BUS_NAME', 'KAFKA_INBOUND'],
};

/** The composition of a Lambda function from its environment (the cloud platform). */
export function composeFromEnv(
  name: keyof typeof REQUIRED_ENV,
  env: Record<string, string | undefined> = process.env,
  clients?: CloudClients,
): Composition {
  const config = loadFunctionConfig(name, REQUIRED_ENV[name], env);
  const logger = createLogger({ service: name, level: config.LOG_LEVEL });
  return compose(config, cloudPlatform(config, env, logger, clients));
}

export type LambdaHandler<R> = (event: unknown, context?: Partial<Context>) => Promise<R>;

export function lambda<R>(name: HandlerName, pick: (c: Composition) => (event: unknown) => Promise<R>): LambdaHandler<R> {
  let composition: Composition | undefined;
  let handle: ((event: unknown) => Promise<R>) | undefined;
  let coldStart = true;
  return (event, context) => {
    const fields = { requestId: context?.awsRequestId, coldStart };
    coldStart = false;
    return withLogContext(fields, async () => {
      try {
        if (!handle) {
          composition = composeFromEnv(name);
          handle = pick(composition);
        }
        return await handle(event);
      } catch (e) {
        (composition?.platform.logger ?? createLogger({ service: name })).error('invocation failed', {
          error: e,
          retryable: isRetryable(e),
        });
        throw e;
      }
    });
  };
}
