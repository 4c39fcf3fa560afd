/**
 * The handler of each route of the API's route table (shared/definitions/api.ts), by route id.
 * Each validates its query and body (zod, 400/413/415) before it calls the core, so a rejected
 * request changes nothing. app.ts matches, authenticates and maps errors around them.
 */
import { randomUUID } from 'node:crypto';
import { iso, type Clock } from '../../shared/core/clock';
import { parseEnvelope } from '../../shared/core/envelope';
import { busEntrySize, PUT_EVENTS_MAX_BYTES, toBusEntry } from '../../shared/core/bus/events';
import type { Logger } from '../../shared/core/logger';
import { AGENT_ACTIONS, COMPONENT_ACTIONS, type RouteId } from '../../shared/definitions/api';
import { COMPONENT_NAMES } from '../../shared/definitions/routing';
import type { Caller } from './auth';
import type { ApiDeps } from './deps';
import { EnvelopeTooLargeError } from './errors';
import { json, jsonBody, param, parseQuery, streamStart, text, type ApiEvent, type ApiResult } from './http';
import { collectMetrics, metricsSourcesOf, PROMETHEUS_CONTENT_TYPE, renderPrometheus, snapshotEventData } from './metrics';
import {
  AgentActionSchema,
  AgentNameSchema,
  ComponentActionSchema,
  ComponentNameSchema,
  EmptyBodySchema as EmptyBody,
  EmptyQuerySchema as EmptyQuery,
  LedgerQuerySchema,
  PublishBodySchema,
  ReplayBodySchema,
  VerifyQuerySchema,
} from './schemas';
import { SSE_HEADERS, sseFrames } from './sse';
import { DASHBOARD_CSS, DASHBOARD_HTML, DASHBOARD_JS } from './dashboard/assets';

/** sender of envelopes published through `POST /events` */
export const API_SENDER = 'api';

export interface Req {
  ev: ApiEvent;
  params: Record<string, string>;
  caller: Caller | null;
}

export type RouteHandler = (req: Req) => Promise<ApiResult> | ApiResult;

export function bindRoutes(deps: ApiDeps, ctx: { clock: Clock; log: Logger; maxBody: number }): Record<RouteId, RouteHandler> {
  const { clock, log, maxBody } = ctx;
  const metricsSources = metricsSourcesOf(deps, clock);
  return {
    dashboard: () => text(200, DASHBOARD_HTML, 'text/html; charset=utf-8', DASHBOARD_CSP),
    dashboardScript: () => text(200, DASHBOARD_JS, 'text/javascript; charset=utf-8'),
    dashboardStyle: () => text(200, DASHBOARD_CSS, 'text/css; charset=utf-8'),
    health: () => json(200, { ok: true }),
    listAgents: async ({ ev }) => {
      parseQuery(ev, EmptyQuery);
      return json(200, { agents: await deps.control.list() });
    },
    getAgent: async ({ ev, params }) => {
      parseQuery(ev, EmptyQuery);
      const name = param(AgentNameSchema, params.name, 'agent name');
      return json(200, await deps.control.describe(name));
    },
    agentAction: async ({ ev, params }) => {
      parseQuery(ev, EmptyQuery);
      const action = param(AgentActionSchema, params.action, `action (${AGENT_ACTIONS.join(', ')})`);
      const name = param(AgentNameSchema, params.name, 'agent name');
      jsonBody(ev, EmptyBody, maxBody, true);
      const out = await deps.control.act(name, action);
      return json(action === 'trigger' ? 202 : 200, out);
    },
    metrics: async ({ ev }) => {
      parseQuery(ev, EmptyQuery);
      return text(200, renderPrometheus(await collectMetrics(metricsSources)), PROMETHEUS_CONTENT_TYPE);
    },
    // API Gateway cannot stream: this answers one batch in the stream's format (entries after
    // Last-Event-ID and a metrics snapshot) and the client reconnects after `retry`. The
    // streaming endpoint is the function URL (stream.ts) and, locally, local/http.ts.
    eventStream: async ({ ev }) => {
      const start = streamStart(ev);
      let body = '';
      for await (const frame of sseFrames({
        ledger: deps.ledger,
        metrics: async () => snapshotEventData(await collectMetrics(metricsSources)),
        ...start,
        once: true,
        clock,
        logger: log,
      }))
        body += frame;
      return text(200, body, SSE_HEADERS['content-type'] as string, SSE_HEADERS);
    },
    publish: async ({ ev }) => {
      parseQuery(ev, EmptyQuery);
      const body = jsonBody(ev, PublishBodySchema, maxBody);
      const draft = {
        id: randomUUID(),
        topic: body.topic,
        sender: API_SENDER,
        ts: iso(clock.now()),
        payload: body.payload,
        ...(body.recipient ? { recipient: body.recipient } : {}),
      };
      // The size the bus counts (PutEvents: Source + DetailType + Detail), checked here so that an
      // envelope the bus would refuse is the client's 413, never a failed publish. It is at least
      // the envelope's own size, so this also keeps the contract's 256 KB envelope limit.
      const size = busEntrySize(toBusEntry(draft));
      if (size > PUT_EVENTS_MAX_BYTES) throw new EnvelopeTooLargeError(size, PUT_EVENTS_MAX_BYTES);
      const envelope = parseEnvelope(draft);
      await deps.events.publish([envelope]);
      return json(202, { id: envelope.id });
    },
    ledger: async ({ ev }) => {
      const q = parseQuery(ev, LedgerQuerySchema);
      const [page, head] = await Promise.all([
        deps.ledger.list({
          limit: q.limit,
          ...(q.after !== undefined ? { after: q.after } : {}),
          ...(q.topic ? { topic: q.topic } : {}),
          ...(q.agent ? { agent: q.agent } : {}),
        }),
        deps.ledger.head(),
      ]);
      return json(200, { entries: page.entries, next: page.next, head: head.seq });
    },
    verifyLedger: async ({ ev }) => {
      const q = parseQuery(ev, VerifyQuerySchema);
      return json(200, await deps.ledger.verify(q.digests ? { digests: true } : {}));
    },
    replay: async ({ ev }) => {
      parseQuery(ev, EmptyQuery);
      const b = jsonBody(ev, ReplayBodySchema, maxBody);
      const out = await deps.replay({
        fromSeq: b.fromSeq,
        toSeq: b.toSeq,
        ...(b.topic ? { topic: b.topic } : {}),
        ...(b.agent ? { agent: b.agent } : {}),
      });
      return json(202, { count: out.count });
    },
    listComponents: async ({ ev }) => {
      parseQuery(ev, EmptyQuery);
      return json(200, { components: await deps.components.list() });
    },
    componentAction: async ({ ev, params }) => {
      parseQuery(ev, EmptyQuery);
      const name = param(ComponentNameSchema, params.name, `component (${COMPONENT_NAMES.join(', ')})`);
      const action = param(ComponentActionSchema, params.action, `component action (${COMPONENT_ACTIONS.join(', ')})`);
      jsonBody(ev, EmptyBody, maxBody, true);
      const state = await deps.components.set(name, action === 'start');
      log.info('component switched', { component: name, running: state.running });
      return json(200, { component: state });
    },
  };
}

/** The dashboard loads its script and style from the API itself; nothing inline, nothing remote. */
const DASHBOARD_CSP: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'referrer-policy': 'no-referrer',
};
