/**
 * The gRPC/Connect services (services.ts) served on three carriers, with one authentication:
 *
 * - `node`: a node request handler (connect-node) speaking gRPC, gRPC-Web and Connect, unary and
 *   streaming — local mode's API port, HTTP/1.1 and h2c (local/http.ts);
 * - `handleEvent`: one unary Connect or gRPC-Web call carried by an API Gateway HTTP API (payload
 *   v2) event, answered as the API Lambda's result (app.ts, route kind `rpc`);
 * - `stream`: one call carried by a function URL event and written to a streaming response (the
 *   streaming Lambda, stream-core.ts): the server streams in the cloud.
 *
 * API Gateway and function URLs pass no HTTP/2 trailers, which native gRPC needs: there the
 * router speaks Connect and gRPC-Web only (a gRPC request is answered 415); docs/api.md says
 * what a team that needs native gRPC in the cloud puts in front.
 *
 * Authentication is the API's (auth.ts), in an interceptor: the bearer token of the
 * `authorization` metadata locally, the IAM/JWT authorizer context of the event in the cloud;
 * failures are UNAUTHENTICATED.
 */
import { createConnectRouter, createContextKey, createContextValues, type ConnectRouter, type Interceptor } from '@connectrpc/connect';
import type { UniversalHandler, UniversalServerRequest, UniversalServerResponse } from '@connectrpc/connect/protocol';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import type { Clock } from '../../../shared/core/clock';
import type { Logger } from '../../../shared/core/logger';
import { RPC_SERVICES, rpcServicePath } from '../../../shared/definitions/api';
import { makeAuthenticator } from '../auth';
import type { ApiDeps } from '../deps';
import { RouteNotFoundError, toConnectError } from '../errors';
import { bodyBytes, DEFAULT_MAX_BODY_BYTES, errorResult, type ApiEvent, type ApiResult } from '../http';
import { createOperations, type ApiOperations } from '../operations';
import { systemClock } from '../../../shared/core/clock';
import { silentLogger } from '../../../shared/core/logger';
import type { StreamSink } from '../stream-core';
import { registerServices, UNARY_ONLY } from './services';

/** The event a call arrived with (cloud): its authorizer context authenticates the call. */
const CALL_EVENT = createContextKey<ApiEvent | undefined>(undefined, { description: 'api event' });

export interface RpcServer {
  /** whether a path is one of the services' (`/<package>.<Service>/<Method>`) */
  handles(path: string): boolean;
  /** local mode: gRPC (h2c), gRPC-Web and Connect on a node http/http2 server */
  node: ReturnType<typeof connectNodeAdapter>;
  /** the API Lambda: one unary Connect/gRPC-Web call of an API Gateway event */
  handleEvent(ev: ApiEvent): Promise<ApiResult>;
  /** the streaming Lambda: one server-streaming Connect/gRPC-Web call of a function URL event, written as produced */
  stream(ev: ApiEvent, sink: StreamSink, signal: AbortSignal): Promise<void>;
  /** ends open streams (local mode's shutdown) */
  shutdown(): void;
}

const SERVICE_PATHS = new Set(RPC_SERVICES.map((s) => rpcServicePath(s)));

/** The headers of an event as fetch Headers (API Gateway joins repeated ones with commas). */
function headersOf(ev: ApiEvent): Headers {
  const h = new Headers();
  for (const [k, v] of Object.entries(ev.headers)) if (v !== undefined) h.set(k, v);
  return h;
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  if (bytes.length > 0) yield bytes;
}

function universalRequest(ev: ApiEvent, maxBody: number, signal: AbortSignal, unaryOnly: boolean): UniversalServerRequest {
  const header = headersOf(ev);
  const host = header.get('host') ?? 'localhost';
  return {
    httpVersion: '1.1',
    url: `https://${host}${ev.rawPath}${ev.rawQueryString ? `?${ev.rawQueryString}` : ''}`,
    method: ev.requestContext.http.method.toUpperCase(),
    header,
    body: once(bodyBytes(ev, maxBody)),
    signal,
    contextValues: createContextValues().set(CALL_EVENT, ev).set(UNARY_ONLY, unaryOnly),
  };
}

/** Response headers and trailers as one record (Connect unary and gRPC-Web keep trailers in headers or body). */
function flatHeaders(res: UniversalServerResponse): Record<string, string> {
  const out: Record<string, string> = {};
  res.header?.forEach((v, k) => {
    out[k] = v;
  });
  res.trailer?.forEach((v, k) => {
    out[`trailer-${k}`] = v;
  });
  return out;
}

export function createRpcServer(deps: ApiDeps, context?: { ops: ApiOperations; clock: Clock; log: Logger }): RpcServer {
  const clock = context?.clock ?? deps.clock ?? systemClock;
  const log = context?.log ?? deps.logger ?? silentLogger;
  const ctx = { clock, log, ops: context?.ops ?? createOperations(deps, { clock, log }) };
  const maxBody = deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const authenticate = makeAuthenticator(deps.auth);
  const shutdown = new AbortController();

  const auth: Interceptor = (next) => async (req) => {
    const ev: ApiEvent = req.contextValues.get(CALL_EVENT) ?? {
      rawPath: req.url,
      rawQueryString: '',
      headers: Object.fromEntries(req.header.entries()),
      isBase64Encoded: false,
      requestContext: { http: { method: req.requestMethod } },
    };
    try {
      authenticate(ev);
    } catch (e) {
      throw toConnectError(e);
    }
    return next(req);
  };
  const routes = (router: ConnectRouter) =>
    registerServices(router, { ops: ctx.ops, clock: ctx.clock, log: ctx.log, maxStreamMs: deps.stream?.maxDurationMs });
  const options = { interceptors: [auth], readMaxBytes: maxBody, shutdownSignal: shutdown.signal };

  // API Gateway and function URLs: Connect and gRPC-Web (no trailers there for native gRPC)
  const cloudRouter = createConnectRouter({ ...options, grpc: false, grpcWeb: true, connect: true });
  routes(cloudRouter);
  const byPath = new Map<string, UniversalHandler>(cloudRouter.handlers.map((h) => [h.requestPath, h]));

  const handlerOf = (ev: ApiEvent): UniversalHandler => {
    const h = byPath.get(ev.rawPath);
    if (!h) throw new RouteNotFoundError(ev.requestContext.http.method, ev.rawPath.slice(0, 200));
    return h;
  };

  return {
    handles: (path) => {
      const slash = path.indexOf('/', 1);
      return slash > 0 && SERVICE_PATHS.has(path.slice(0, slash));
    },
    node: connectNodeAdapter({ ...options, routes }),
    async handleEvent(ev) {
      const h = handlerOf(ev);
      const res = await h(universalRequest(ev, maxBody, AbortSignal.timeout(60_000), true));
      const chunks: Uint8Array[] = [];
      if (res.body) for await (const c of res.body) chunks.push(c);
      return { statusCode: res.status, headers: flatHeaders(res), body: Buffer.concat(chunks).toString('base64'), isBase64Encoded: true };
    },
    async stream(ev, sink, signal) {
      let res: UniversalServerResponse;
      try {
        const h = handlerOf(ev);
        // the streaming function reads only: unary calls (some of which write) belong to the API
        if (h.method.methodKind === 'unary')
          throw new RouteNotFoundError(ev.requestContext.http.method, `${ev.rawPath.slice(0, 200)} (unary: call the API)`);
        res = await h(universalRequest(ev, maxBody, signal, false));
      } catch (e) {
        // before any response: an unknown method, a body over the limit (the API's error shape)
        const r = errorResult(e);
        sink.start(r.statusCode, r.headers);
        await sink.write(r.body ?? '');
        sink.end();
        return;
      }
      sink.start(res.status, flatHeaders(res));
      try {
        if (res.body) for await (const c of res.body) await sink.write(c);
      } finally {
        sink.end();
      }
    },
    shutdown: () => shutdown.abort(),
  };
}
