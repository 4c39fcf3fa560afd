/**
 * The handler of each route of the API's route table (shared/definitions/api.ts), by route id.
 * Each validates its query and body (zod, 400/413/415) before it calls the operation
 * (operations.ts, shared with the gRPC/Connect services), so a rejected request changes nothing.
 * app.ts matches, authenticates and maps errors around them. `rpc` hands a unary
 * gRPC-Web/Connect call to the RPC services (rpc/server.ts).
 */
import type { Clock } from '../../shared/core/clock';
import type { Logger } from '../../shared/core/logger';
import { AGENT_ACTIONS, COMPONENT_ACTIONS, type RouteId } from '../../shared/definitions/api';
import { ALL_COMPONENT_NAMES } from '../../shared/definitions/routing';
import type { Caller } from './auth';
import type { ApiDeps } from './deps';
import { json, jsonBody, param, parseQuery, streamStart, text, type ApiEvent, type ApiResult } from './http';
import { PROMETHEUS_CONTENT_TYPE, snapshotEventData } from './metrics';
import type { ApiOperations } from './operations';
import { openApiDocument } from './openapi';
import { ROUTE_SCHEMAS as S } from './schemas';
import { LOGS_DEFAULT_LIMIT } from '../../shared/core/logs';
import { SSE_HEADERS, sseFrames } from './sse';
import { DASHBOARD_CSS, DASHBOARD_HTML, DASHBOARD_JS } from './dashboard/assets';

export interface Req {
  ev: ApiEvent;
  params: Record<string, string>;
  caller: Caller | null;
}

export type RouteHandler = (req: Req) => Promise<ApiResult> | ApiResult;

export function bindRoutes(
  deps: ApiDeps,
  ctx: { clock: Clock; log: Logger; maxBody: number; ops: ApiOperations; rpc: (ev: ApiEvent) => Promise<ApiResult> },
): Record<RouteId, RouteHandler> {
  const { clock, log, maxBody, ops, rpc } = ctx;
  return {
    dashboard: () => text(200, DASHBOARD_HTML, 'text/html; charset=utf-8', DASHBOARD_CSP),
    dashboardScript: () => text(200, DASHBOARD_JS, 'text/javascript; charset=utf-8'),
    dashboardStyle: () => text(200, DASHBOARD_CSS, 'text/css; charset=utf-8'),
    health: () => json(200, { ok: true }),
    listAgents: async ({ ev }) => json(200, await ops.listAgents(parseQuery(ev, S.listAgents.query))),
    agentSummary: async ({ ev }) => {
      parseQuery(ev, S.agentSummary.query);
      return json(200, await ops.agentSummary());
    },
    getAgent: async ({ ev, params }) => {
      parseQuery(ev, S.getAgent.query);
      const name = param(S.getAgent.params.name, params.name, 'agent name');
      return json(200, await ops.getAgent(name));
    },
    agentLogs: async ({ ev, params }) => {
      const q = parseQuery(ev, S.agentLogs.query);
      const name = param(S.agentLogs.params.name, params.name, 'agent name');
      return json(200, await ops.agentLogs(name, q.limit ?? LOGS_DEFAULT_LIMIT));
    },
    agentAction: async ({ ev, params }) => {
      parseQuery(ev, S.agentAction.query);
      const action = param(S.agentAction.params.action, params.action, `action (${AGENT_ACTIONS.join(', ')})`);
      const name = param(S.agentAction.params.name, params.name, 'agent name');
      jsonBody(ev, S.agentAction.body.schema, maxBody, !S.agentAction.body.required);
      const out = await ops.actOnAgent(name, action);
      return json(action === 'trigger' ? 202 : 200, out);
    },
    metrics: async ({ ev }) => {
      parseQuery(ev, S.metrics.query);
      return text(200, await ops.prometheus(), PROMETHEUS_CONTENT_TYPE);
    },
    // API Gateway cannot stream: this answers one batch in the stream's format (entries after
    // Last-Event-ID and a metrics snapshot) and the client reconnects after `retry`. The
    // streaming endpoint is the function URL (stream.ts) and, locally, local/http.ts.
    eventStream: async ({ ev }) => {
      const start = streamStart(ev);
      let body = '';
      for await (const frame of sseFrames({
        ledger: deps.ledger,
        metrics: async () => snapshotEventData(await ops.metrics()),
        ...start,
        once: true,
        clock,
        logger: log,
      }))
        body += frame;
      return text(200, body, SSE_HEADERS['content-type'] as string, SSE_HEADERS);
    },
    publish: async ({ ev }) => {
      parseQuery(ev, S.publish.query);
      return json(202, await ops.publish(jsonBody(ev, S.publish.body.schema, maxBody)));
    },
    ledger: async ({ ev }) => {
      return json(200, await ops.ledgerPage(parseQuery(ev, S.ledger.query)));
    },
    verifyLedger: async ({ ev }) => {
      const q = parseQuery(ev, S.verifyLedger.query);
      return json(200, await ops.verifyLedger(q.digests ? { digests: true } : {}));
    },
    replay: async ({ ev }) => {
      parseQuery(ev, S.replay.query);
      return json(202, { count: (await ops.replay(jsonBody(ev, S.replay.body.schema, maxBody))).count });
    },
    listComponents: async ({ ev }) => {
      parseQuery(ev, S.listComponents.query);
      return json(200, { components: await ops.listComponents() });
    },
    componentAction: async ({ ev, params }) => {
      parseQuery(ev, S.componentAction.query);
      const name = param(S.componentAction.params.name, params.name, `component (${ALL_COMPONENT_NAMES.join(', ')})`);
      const action = param(S.componentAction.params.action, params.action, `component action (${COMPONENT_ACTIONS.join(', ')})`);
      jsonBody(ev, S.componentAction.body.schema, maxBody, !S.componentAction.body.required);
      return json(200, { component: await ops.switchComponent(name, action) });
    },
    openapi: () => json(200, openApiDocument(), { 'access-control-allow-origin': '*' }),
    // unary gRPC-Web/Connect calls (rpc/server.ts); one handler for every service
    agentsRpc: ({ ev }) => rpc(ev),
    busRpc: ({ ev }) => rpc(ev),
    ledgerRpc: ({ ev }) => rpc(ev),
    componentsRpc: ({ ev }) => rpc(ev),
    metricsRpc: ({ ev }) => rpc(ev),
  };
}

/** The dashboard loads its script and style from the API itself; nothing inline, nothing remote. */
const DASHBOARD_CSP: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'referrer-policy': 'no-referrer',
};
