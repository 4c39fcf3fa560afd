/**
 * The router handler (its Lambda and local mode run it; built by functions/compose.ts), for the
 * rule Delivery (every envelope except agent.cycle). Thin: parses the EventBridge event (detail =
 * envelope) with zod and hands the envelope to EnvelopeRouter, which dispatches
 * one `{kind: 'envelope'}` run per recipient (shared/core/bus/routing.ts has the rules).
 *
 * An event that carries no valid envelope is logged and dropped (a retry cannot fix it);
 * registry or dispatch failures throw, so EventBridge retries the invocation (the runner claims
 * envelope runs by runId = agent + envelope id, so a repeated dispatch runs once).

 */
import { z } from 'zod';
import { EnvelopeEventSchema } from '../../shared/core/bus/events';
import { EnvelopeRouter, type RouterDeps } from '../../shared/core/bus/router';
import type { Route } from '../../shared/core/bus/routing';
import { silentLogger } from '../../shared/core/logger';

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
