/**
 * api stream Lambda: a function URL with response streaming (invoke mode RESPONSE_STREAM,
 * AWS_IAM auth) serving `GET /events/stream` as server-sent events — the same SSE core and
 * format as the local server (stream-core.ts, sse.ts).
 *
 * `awslambda.streamifyResponse` exists only inside the Lambda Node.js runtime. Outside it (local
 * tools, tests) the module still loads: `handler` then answers one batch in the stream's format,
 * like the API Gateway route. The stream ends shortly before the function's timeout; clients
 * reconnect with Last-Event-ID and lose nothing.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { Writable } from 'node:stream';
import type { StreamHandler, StreamSink } from './stream-core';
import { composeFromEnv } from '../lambda';
import { withLogContext } from '../../shared/core/logger';
import type { Composition } from '../compose';

/** The parts of the runtime's `awslambda` global used here. */
export interface LambdaStreamingRuntime {
  streamifyResponse(fn: (event: APIGatewayProxyEventV2, responseStream: Writable, context: Context) => Promise<void>): unknown;
  HttpResponseStream: { from(stream: Writable, metadata: { statusCode: number; headers: Record<string, string> }): Writable };
}

/** How long before the function's timeout the stream ends (so it ends cleanly, not killed). */
export const STREAM_END_MARGIN_MS = 10_000;

/** A StreamSink over Lambda's response stream. */
export function lambdaSink(runtime: LambdaStreamingRuntime, raw: Writable): StreamSink {
  let out: Writable = raw;
  return {
    start(statusCode, headers) {
      out = runtime.HttpResponseStream.from(raw, { statusCode, headers });
    },
    write(chunk) {
      return new Promise<void>((resolve) => {
        if (out.write(chunk)) resolve();
        else out.once('drain', resolve);
      });
    },
    end() {
      out.end();
    },
  };
}

/** The streaming handler, wrapped for a runtime (injectable for tests). */
export function createStreamingLambda(runtime: LambdaStreamingRuntime, getStream: (maxDurationMs: number) => StreamHandler): unknown {
  return runtime.streamifyResponse((event, responseStream, context) =>
    // the request id on every log line of the invocation, as functions/lambda.ts does for the others
    withLogContext({ requestId: context.awsRequestId }, async () => {
      const maxDurationMs = Math.max(1000, context.getRemainingTimeInMillis() - STREAM_END_MARGIN_MS);
      const ctl = new AbortController();
      responseStream.on('close', () => ctl.abort());
      await getStream(maxDurationMs)(event, lambdaSink(runtime, responseStream), ctl.signal);
    }),
  );
}

let composition: Composition | undefined;
const composed = () => (composition ??= composeFromEnv('api-stream'));

// The AWS SDK itself creates an empty `globalThis.awslambda` (for its invoke store), so the
// presence of the object proves nothing: check for the streaming API.
const candidate = (globalThis as { awslambda?: Partial<LambdaStreamingRuntime> }).awslambda;
const runtime =
  typeof candidate?.streamifyResponse === 'function' && candidate.HttpResponseStream ? (candidate as LambdaStreamingRuntime) : undefined;

export const handler = runtime
  ? createStreamingLambda(runtime, (maxDurationMs) => composed().stream({ maxDurationMs }))
  : (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> =>
      composed().handlers.api({ ...event, rawPath: '/events/stream' });
