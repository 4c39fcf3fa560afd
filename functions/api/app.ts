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
import { systemClock } from '../../shared/core/clock';
import { ValidationError } from '../../shared/core/errors';
import { silentLogger } from '../../shared/core/logger';
import { makeAuthenticator } from './auth';
import { bindRoutes } from './routes';
import { createOperations } from './operations';
import { createRpcServer } from './rpc/server';
import { API_ROUTES, type RouteDef } from '../../shared/definitions/api';
import type { ApiDeps } from './deps';
import { MethodNotAllowedError, RouteNotFoundError } from './errors';
import { bodyBytes, DEFAULT_MAX_BODY_BYTES, errorResult, parseApiEvent, statusOf, type ApiEvent, type ApiResult } from './http';

export type ApiHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

/** sender of envelopes published through `POST /events` (defined with the other reserved senders) */
export { API_SENDER } from '../../shared/core/envelope';

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

  const ops = createOperations(deps, { clock, log });
  const rpc = createRpcServer(deps, { ops, clock, log });
  const handlers = bindRoutes(deps, { clock, log, maxBody, ops, rpc: (ev) => rpc.handleEvent(ev) });

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
    // RPC calls are authenticated by the RPC server, which answers in the caller's protocol
    const caller = isPublic || hit?.def.kind === 'rpc' ? null : authenticate(ev);
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
