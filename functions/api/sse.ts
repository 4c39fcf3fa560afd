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
 * The generator tails the ledger with LedgerReader.list(after = last seq), polling every
 * `pollMs` while it is caught up.
 */
import type { LedgerEntry, LedgerReader } from '../../shared/core/ports';
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

export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

const MAX_CONSECUTIVE_FAILURES = 5;

/** Yields SSE frames until the signal aborts, the max duration passes, or (once) after one pass. */
export async function* sseFrames(o: SseOptions): AsyncGenerator<string> {
  const log = o.logger ?? silentLogger;
  const sleep = o.sleep ?? abortableSleep;
  const pollMs = o.pollMs ?? SSE_DEFAULTS.pollMs;
  const metricsEvery = o.metricsEveryMs ?? SSE_DEFAULTS.metricsEveryMs;
  const keepaliveMs = o.keepaliveMs ?? SSE_DEFAULTS.keepaliveMs;
  const pageSize = o.pageSize ?? SSE_DEFAULTS.pageSize;
  const started = o.clock.now();
  const aborted = () => o.signal?.aborted === true;
  const expired = () => o.maxDurationMs !== undefined && o.clock.now() - started >= o.maxDurationMs;

  yield `retry: ${o.retryMs ?? SSE_DEFAULTS.retryMs}\n\n`;
  let last: number;
  if (o.after !== undefined) last = o.after;
  else last = Math.max(0, (await o.ledger.head()).seq - (o.backlog ?? SSE_DEFAULTS.backlog));

  let lastMetrics = -Infinity;
  let lastSent = o.clock.now();
  let failures = 0;
  while (!aborted() && !expired()) {
    let more = false;
    try {
      const page = await o.ledger.list({ after: last, limit: pageSize });
      failures = 0;
      for (const e of page.entries) {
        if (e.seq <= last) continue;
        last = e.seq;
        lastSent = o.clock.now();
        yield envelopeFrame(e);
      }
      more = page.next !== null && page.entries.length > 0;
      if (o.metrics && (o.once || o.clock.now() - lastMetrics >= metricsEvery)) {
        lastMetrics = o.clock.now();
        lastSent = lastMetrics;
        yield sseFrame({ event: 'metrics', data: await o.metrics() });
      }
    } catch (e) {
      failures++;
      log.warn('event stream read failed', { error: errorMessage(e), failures });
      if (failures >= MAX_CONSECUTIVE_FAILURES || o.once) {
        yield sseFrame({
          event: 'error',
          data: { error: { code: 'stream_failed', message: 'reading the ledger failed; reconnect to resume' } },
        });
        return;
      }
    }
    if (o.once) return;
    if (more) continue;
    if (o.clock.now() - lastSent >= keepaliveMs) {
      lastSent = o.clock.now();
      yield ': keepalive\n\n';
    }
    await sleep(pollMs, o.signal);
  }
}
