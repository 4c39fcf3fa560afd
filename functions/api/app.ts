/**
 * The control API: one handler for API Gateway (HTTP API, payload v2) and, unchanged, for the
 * local HTTP server (local/http.ts builds the same v2 event). Routes are the CONTRACT's.
 *
 * Order of checks for every request: event shape (zod) → body size (413) → route lookup →
 * authentication unless the route is public (401) → method (405) / unknown route (404) →
 * query and body validation (400/415) → the core. Nothing reaches the core before every check
 * passed, so a rejected request changes nothing.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { iso, systemClock } from '../../shared/core/clock';
import { parseEnvelope } from '../../shared/core/envelope';
import { busEntrySize, PUT_EVENTS_MAX_BYTES, toBusEntry } from '../../shared/core/bus/events';
import { ValidationError } from '../../shared/core/errors';
import { silentLogger } from '../../shared/core/logger';
import { randomUUID } from 'node:crypto';
import { makeAuthenticator, type Caller } from './auth';
import { AGENT_ACTIONS, API_ROUTES, COMPONENT_ACTIONS, type RouteDef, type RouteId } from '../../shared/definitions/api';
import { COMPONENT_NAMES } from '../../shared/definitions/routing';
import type { ApiDeps } from './deps';
import { EnvelopeTooLargeError, MethodNotAllowedError, RouteNotFoundError } from './errors';
import {
  bodyBytes,
  DEFAULT_MAX_BODY_BYTES,
  errorResult,
  header,
  json,
  jsonBody,
  parseApiEvent,
  param,
  parseQuery,
  streamStart,
  statusOf,
  text,
  type ApiEvent,
  type ApiResult,
} from './http';
import { collectMetrics, PROMETHEUS_CONTENT_TYPE, renderPrometheus, snapshotEventData } from './metrics';
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
} from './schemas';
import { SSE_HEADERS, sseFrames } from './sse';
import { DASHBOARD_CSS, DASHBOARD_HTML, DASHBOARD_JS } from './dashboard/assets';

export type ApiHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

/** sender of envelopes published through `POST /events` */
export const API_SENDER = 'api';

interface Req {
  ev: ApiEvent;
  params: Record<string, string>;
  caller: Caller | null;
}

type RouteHandler = (req: Req) => Promise<ApiResult> | ApiResult;

/** `/a/{b}` → ['a', '{b}']; `/` → [] (the leading slash is not a segment) */
const segments = (p: string): string[] => (p === '/' || p === '' ? [] : p.replace(/^\//, '').split('/'));

const COMPILED = API_ROUTES.map((r: RouteDef) => ({ def: r, parts: segments(r.path) }));

/** The route table's entries whose path matches, with their `{param}` values. */
function matchRoutes(parts: string[]): { def: RouteDef; params: Record<string, string> }[] {
  const hits: { def: RouteDef; params: Record<string, string> }[] = [];
  for (const r of COMPILED) {
    if (r.parts.length !== parts.length) continue;
    const params: Record<string, string> = {};
    const ok = r.parts.every((want, i) => {
      const got = parts[i] as string;
      if (want.startsWith('{') && want.endsWith('}')) {
        params[want.slice(1, -1)] = got;
        return true;
      }
      return want === got;
    });
    if (ok) hits.push({ def: r.def, params });
  }
  return hits;
}

export function createApiHandler(deps: ApiDeps): ApiHandler {
  const clock = deps.clock ?? systemClock;
  const log = deps.logger ?? silentLogger;
  const maxBody = deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const authenticate = makeAuthenticator(deps.auth);
  const metricsSources = { registry: deps.registry, heartbeats: deps.heartbeats, ledger: deps.ledger, busCounters: deps.busCounters, clock };

  /** The handler of each route of the table (shared/definitions/api.ts), by its id. */
  const handlers: Record<RouteId, RouteHandler> = {
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
      const draft = { id: randomUUID(), topic: body.topic, sender: API_SENDER, ts: iso(clock.now()), payload: body.payload, ...(body.recipient ? { recipient: body.recipient } : {}) };
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
        deps.ledger.list({ limit: q.limit, ...(q.after !== undefined ? { after: q.after } : {}), ...(q.topic ? { topic: q.topic } : {}), ...(q.agent ? { agent: q.agent } : {}) }),
        deps.ledger.head(),
      ]);
      return json(200, { entries: page.entries, next: page.next, head: head.seq });
    },
    verifyLedger: async ({ ev }) => {
      parseQuery(ev, EmptyQuery);
      return json(200, await deps.ledger.verify());
    },
    replay: async ({ ev }) => {
      parseQuery(ev, EmptyQuery);
      const b = jsonBody(ev, ReplayBodySchema, maxBody);
      const out = await deps.replay({ fromSeq: b.fromSeq, toSeq: b.toSeq, ...(b.topic ? { topic: b.topic } : {}), ...(b.agent ? { agent: b.agent } : {}) });
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

  async function route(ev: ApiEvent): Promise<ApiResult> {
    bodyBytes(ev, maxBody);
    let parts: string[];
    try {
      const raw = ev.rawPath.length > 1 && ev.rawPath.endsWith('/') ? ev.rawPath.slice(0, -1) : ev.rawPath;
      parts = segments(raw).map((s) => decodeURIComponent(s));
    } catch {
      throw new ValidationError('malformed percent-encoding in the path');
    }
    const method = ev.requestContext.http.method.toUpperCase();
    const candidates = matchRoutes(parts);
    const hit = candidates.find((c) => c.def.method === method);
    const isPublic = hit?.def.public === true || (candidates.length > 0 && candidates.every((c) => c.def.public));
    const caller = isPublic ? null : authenticate(ev);
    if (!hit) {
      if (candidates.length > 0) throw new MethodNotAllowedError(method, ev.rawPath, [...new Set(candidates.map((c) => c.def.method))]);
      throw new RouteNotFoundError(method, ev.rawPath.slice(0, 200));
    }
    return handlers[hit.def.id]({ ev, params: hit.params, caller });
  }

  return async (event) => {
    const t0 = clock.now();
    let ev: ApiEvent | null = null;
    try {
      ev = parseApiEvent(event);
      const res = await route(ev);
      log.debug('request', { method: ev.requestContext.http.method, path: ev.rawPath, status: res.statusCode, ms: clock.now() - t0 });
      return res;
    } catch (e) {
      const status = statusOf(e);
      const fields = { method: ev?.requestContext.http.method, path: ev?.rawPath.slice(0, 200), status, ms: clock.now() - t0 };
      if (status >= 500) log.error('request failed', { ...fields, error: e });
      else log.debug('request rejected', { ...fields, code: (e as { code?: string }).code });
      const res = errorResult(e);
      if (e instanceof MethodNotAllowedError) res.headers.allow = e.allowed.join(', ');
      return res;
    }
  };
}


/** The dashboard loads its script and style from the API itself; nothing inline, nothing remote. */
const DASHBOARD_CSP: Record<string, string> = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'referrer-policy': 'no-referrer',
};
