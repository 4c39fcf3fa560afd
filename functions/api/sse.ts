/**
 * Server-sent events of `/events/stream`, implemented once and used by the local HTTP server,
 * the Lambda function URL (functions/api/stream.ts) and, as one batch per request, the API
 * Gateway route (which cannot stream).
 *
 * Wire format (text/event-stream):
 *   retry: <ms>                       once, first
 *   id: <seq>                         one `envelope` event per ledger entry, in sequence order;
 *   event: envelope                   the id is the ledger seq, so a reconnecting client's
 *   data: <ledger entry JSON>         Last-Event-ID resumes right after it
 *
 *   event: metrics                    a metrics snapshot at start and every `metricsEveryMs`
 *   data: <snapshot JSON>
 *
 *   : keepalive                       comment when nothing else was sent for `keepaliveMs`
 *
 * The frames are those of the ledger tail (tail.ts, shared with the gRPC Subscribe stream),
 * polling every `pollMs` while it is caught up.
 */
import type { LedgerEntry, LedgerReader } from '../../shared/core/ports';
import { tailLedger } from './tail';
import type { Clock } from '../../shared/core/clock';
import { errorMessage } from '../../shared/core/errors';
import type { Logger } from '../../shared/core/logger';
import { silentLogger } from '../../shared/core/logger';

export interface SseOptions {
  ledger: Pick<LedgerReader, 'list' | 'head'>;
  /** JSON for the `metrics` events; omitted: no metrics events */
  metrics?: () => Promise<unknown>;
  /** resume after this seq (Last-Event-ID / ?after); undefined: start `backlog` entries before the head */
  after?: number | undefined;
  backlog?: number;
  pollMs?: number;
  metricsEveryMs?: number;
  keepaliveMs?: number;
  pageSize?: number;
  retryMs?: number;
  /** end the stream after this long (Lambda's timeout; the client reconnects with Last-Event-ID) */
  maxDurationMs?: number;
  /** one pass only: the entries available now (up to `pageSize`) and one metrics event */
  once?: boolean;
  signal?: AbortSignal;
  clock: Clock;
  logger?: Logger;
  /** injectable wait (tests); resolves early when the signal aborts */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export const SSE_DEFAULTS = { backlog: 20, pollMs: 1000, metricsEveryMs: 5000, keepaliveMs: 15000, pageSize: 200, retryMs: 2000 } as const;

export const SSE_HEADERS: Record<string, string> = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-store',
  'x-accel-buffering': 'no',
  'x-content-type-options': 'nosniff',
};

export function sseFrame(fields: { id?: string | number; event?: string; data: unknown }): string {
  let out = '';
  if (fields.id !== undefined) out += `id: ${fields.id}\n`;
  if (fields.event !== undefined) out += `event: ${fields.event}\n`;
  // JSON.stringify never emits a raw line break, so one data line is always enough
  out += `data: ${JSON.stringify(fields.data)}\n\n`;
  return out;
}

export const envelopeFrame = (e: LedgerEntry): string => sseFrame({ id: e.seq, event: 'envelope', data: e });

/** Yields SSE frames until the signal aborts, the max duration passes, or (once) after one pass. */
export async function* sseFrames(o: SseOptions): AsyncGenerator<string> {
  const log = o.logger ?? silentLogger;
  const metricsEvery = o.metricsEveryMs ?? SSE_DEFAULTS.metricsEveryMs;
  const keepaliveMs = o.keepaliveMs ?? SSE_DEFAULTS.keepaliveMs;
  const failedFrame = sseFrame({
    event: 'error',
    data: { error: { code: 'stream_failed', message: 'reading the ledger failed; reconnect to resume' } },
  });

  yield `retry: ${o.retryMs ?? SSE_DEFAULTS.retryMs}\n\n`;
  let lastMetrics = -Infinity;
  let lastSent = o.clock.now();
  for await (const ev of tailLedger({
    ledger: o.ledger,
    after: o.after,
    backlog: o.backlog ?? SSE_DEFAULTS.backlog,
    pollMs: o.pollMs ?? SSE_DEFAULTS.pollMs,
    pageSize: o.pageSize ?? SSE_DEFAULTS.pageSize,
    maxDurationMs: o.maxDurationMs,
    once: o.once,
    signal: o.signal,
    clock: o.clock,
    logger: log,
    sleep: o.sleep,
  })) {
    if (ev.type === 'entry') {
      lastSent = o.clock.now();
      yield envelopeFrame(ev.entry);
    } else if (ev.type === 'failed') {
      yield failedFrame;
      return;
    } else {
      if (!ev.failed && o.metrics && (o.once || o.clock.now() - lastMetrics >= metricsEvery)) {
        let data: unknown;
        try {
          data = await o.metrics();
        } catch (e) {
          log.warn('event stream metrics failed', { error: errorMessage(e) });
          if (o.once) {
            yield failedFrame;
            return;
          }
        }
        if (data !== undefined) {
          lastMetrics = o.clock.now();
          lastSent = lastMetrics;
          yield sseFrame({ event: 'metrics', data });
        }
      }
      if (!ev.more && o.clock.now() - lastSent >= keepaliveMs) {
        lastSent = o.clock.now();
        yield ': keepalive\n\n';
      }
    }
  }
}
