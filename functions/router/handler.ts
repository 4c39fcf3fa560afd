/**
 * router Lambda (rule Delivery: every envelope except agent.cycle). Thin: parses the EventBridge
 * event (detail = envelope) with zod and hands the envelope to EnvelopeRouter, which dispatches
 * one `{kind: 'envelope'}` run per recipient (shared/core/bus/routing.ts has the rules).
 *
 * An event that carries no valid envelope is logged and dropped (a retry cannot fix it);
 * registry or dispatch failures throw, so EventBridge retries the invocation (the runner claims
 * envelope runs by runId = agent + envelope id, so a repeated dispatch runs once).
 *
 * `createRouterHandler(deps)` is the very handler local mode runs; `handler` builds its deps
 * from the env once per container.
 */
import { z } from 'zod';
import { SQSClient } from '@aws-sdk/client-sqs';
import { createClients } from '../../shared/adapters/aws/clients';
import { DynamoRegistry } from '../../shared/adapters/aws/dynamo-registry';
import { SqsDispatcher } from '../../shared/adapters/aws/sqs-dispatcher';
import { loadFunctionConfig } from '../../shared/core/config';
import { EnvelopeEventSchema } from '../../shared/core/bus/events';
import { EnvelopeRouter, type RouterDeps } from '../../shared/core/bus/router';
import type { Route } from '../../shared/core/bus/routing';
import { createLogger, silentLogger } from '../../shared/core/logger';

export type RouterHandlerDeps = RouterDeps;

export type RouterResult = { routed: Route[] } | { routed: []; invalid: string };

export function createRouterHandler(deps: RouterHandlerDeps): ((event: unknown) => Promise<RouterResult>) & { router: EnvelopeRouter } {
  const log = deps.logger ?? silentLogger;
  const router = new EnvelopeRouter(deps);
  const fn = async (event: unknown): Promise<RouterResult> => {
    const r = EnvelopeEventSchema.safeParse(event);
    if (!r.success) {
      const invalid = z.prettifyError(r.error);
      log.error('router: event carries no valid envelope; dropped', { error: invalid });
      return { routed: [], invalid };
    }
    const { routes } = await router.route(r.data.detail);
    return { routed: routes };
  };
  return Object.assign(fn, { router });
}

function fromEnv(env: Record<string, string | undefined> = process.env) {
  const config = loadFunctionConfig('router', ['REGISTRY_TABLE', 'DISPATCH_QUEUE_URL'], env);
  const logger = createLogger({ service: 'router', level: config.LOG_LEVEL });
  const clients = createClients();
  return createRouterHandler({
    registry: new DynamoRegistry(clients.ddb, config.REGISTRY_TABLE, { shards: config.AGENT_SCHEDULE_SHARDS }),
    dispatcher: new SqsDispatcher(new SQSClient({}), config.DISPATCH_QUEUE_URL, { logger }),
    logger,
  });
}

let cached: ReturnType<typeof fromEnv> | undefined;
export const handler = (event: unknown): Promise<RouterResult> => (cached ??= fromEnv())(event);
