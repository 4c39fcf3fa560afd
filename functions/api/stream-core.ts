/**
 * The streaming `/events/stream` handler, shared by the Lambda function URL (stream.ts, response
 * streaming) and the local HTTP server (local/http.ts): authenticate like the API, then write the
 * SSE frames of sse.ts as they are produced until the client goes away (or `maxDurationMs`).
 *
 * On the function URL it also serves the server streams of the gRPC/Connect services
 * (rpc/server.ts; `BusService.Subscribe`, `MetricsService.StreamMetrics`), Connect and gRPC-Web,
 * written as they are produced like the SSE frames. Unary methods are the API function's (this
 * function may only read): 404 here.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { systemClock } from '../../shared/core/clock';
import { silentLogger } from '../../shared/core/logger';
import { errorMessage } from '../../shared/core/errors';
import { makeAuthenticator } from './auth';
import type { ApiDeps } from './deps';
import { MethodNotAllowedError, RouteNotFoundError } from './errors';
import { errorResult, parseApiEvent, statusOf, streamStart, type ApiEvent } from './http';
import { collectMetrics, metricsSourcesOf, snapshotEventData } from './metrics';
import { SSE_HEADERS, sseFrames } from './sse';
import { createOperations } from './operations';
import { createRpcServer } from './rpc/server';

/** Where a streaming response goes (node ServerResponse locally, Lambda's response stream in the cloud). */
export interface StreamSink {
  start(statusCode: number, headers: Record<string, string>): void;
  /** resolves when the chunk may be followed by the next one (back-pressure) */
  write(chunk: string | Uint8Array): Promise<void>;
  end(): void;
}

export type StreamHandler = (event: APIGatewayProxyEventV2, sink: StreamSink, signal: AbortSignal) => Promise<void>;

export type StreamDeps = ApiDeps;

export const STREAM_PATH = '/events/stream';

export function createStreamHandler(deps: StreamDeps): StreamHandler {
  const clock = deps.clock ?? systemClock;
  const log = deps.logger ?? silentLogger;
  const authenticate = makeAuthenticator(deps.auth);
  const metricsSources = metricsSourcesOf(deps, clock);
  const rpc = createRpcServer(deps, { ops: createOperations(deps, { clock, log }), clock, log });

  /** the SSE route's checks: path, authentication, method */
  const checkStreamRequest = (ev: ApiEvent): ApiEvent => {
    const path = ev.rawPath.length > 1 ? ev.rawPath.replace(/\/$/, '') : ev.rawPath;
    // the function URL serves only the stream and the RPC services (any path would reach it)
    if (path !== STREAM_PATH && path !== '/') throw new RouteNotFoundError(ev.requestContext.http.method, ev.rawPath.slice(0, 200));
    authenticate(ev);
    if (ev.requestContext.http.method.toUpperCase() !== 'GET')
      throw new MethodNotAllowedError(ev.requestContext.http.method, ev.rawPath, ['GET']);
    return ev;
  };

  return async (event, sink, signal) => {
    let start: ReturnType<typeof streamStart> | undefined;
    let rpcCall: ApiEvent | undefined;
    try {
      const ev = parseApiEvent(event);
      if (rpc.handles(ev.rawPath)) rpcCall = ev;
      else start = streamStart(checkStreamRequest(ev));
    } catch (e) {
      if (statusOf(e) >= 500) log.error('stream request failed', { error: e });
      const r = errorResult(e);
      sink.start(r.statusCode, r.headers);
      await sink.write(r.body ?? '');
      sink.end();
      return;
    }
    if (rpcCall) {
      try {
        await rpc.stream(rpcCall, sink, signal);
      } catch (e) {
        log.error('rpc stream failed', { error: errorMessage(e) });
      }
      return;
    }
    sink.start(200, SSE_HEADERS);
    const s = deps.stream ?? {};
    try {
      for await (const frame of sseFrames({
        ledger: deps.ledger,
        metrics: async () => snapshotEventData(await collectMetrics(metricsSources)),
        ...start,
        ...(s.pollMs !== undefined ? { pollMs: s.pollMs } : {}),
        ...(s.metricsEveryMs !== undefined ? { metricsEveryMs: s.metricsEveryMs } : {}),
        ...(s.keepaliveMs !== undefined ? { keepaliveMs: s.keepaliveMs } : {}),
        ...(s.maxDurationMs !== undefined ? { maxDurationMs: s.maxDurationMs } : {}),
        signal,
        clock,
        logger: log,
      })) {
        if (signal.aborted) break;
        await sink.write(frame);
      }
    } catch (e) {
      log.error('event stream failed', { error: errorMessage(e) });
    } finally {
      sink.end();
    }
  };
}
