/**
 * Tailing the ledger, implemented once: the server-sent events of `GET /events/stream` (sse.ts)
 * and the gRPC/Connect `BusService.Subscribe` stream (rpc/services.ts) are both this loop. Every
 * bus event is ledgered, so the ledger in sequence order is the bus's history and its tail is
 * the bus's present.
 *
 * The generator reads pages with LedgerReader.list(after = the last seq seen, topic/agent
 * filters), yields each entry, then a `polled` event (where a consumer interleaves what it sends
 * besides entries: metrics, keepalives), and waits `pollMs` while it is caught up. Consumers pull:
 * nothing is read ahead of what the transport has written (back-pressure).
 */
import type { LedgerEntry, LedgerReader } from '../../shared/core/ports';
import type { Clock } from '../../shared/core/clock';
import { errorMessage } from '../../shared/core/errors';
import { silentLogger, type Logger } from '../../shared/core/logger';

export interface TailOptions {
  ledger: Pick<LedgerReader, 'list' | 'head'>;
  /** resume after this seq; undefined: start `backlog` entries before the head */
  after?: number | undefined;
  backlog?: number | undefined;
  /** only this topic (exact) */
  topic?: string | undefined;
  /** only entries this agent sent or received */
  agent?: string | undefined;
  pollMs: number;
  pageSize: number;
  /** stop after this long (a Lambda's timeout; the client resumes after the last seq) */
  maxDurationMs?: number | undefined;
  /** one pass only: the entries available now (up to `pageSize`) */
  once?: boolean | undefined;
  signal?: AbortSignal | undefined;
  clock: Clock;
  logger?: Logger | undefined;
  /** injectable wait (tests); resolves early when the signal aborts */
  sleep?: ((ms: number, signal?: AbortSignal) => Promise<void>) | undefined;
}

export type TailEvent =
  | { type: 'entry'; entry: LedgerEntry }
  /** after each read: `more` (another page is ready now), `failed` (this read failed) */
  | { type: 'polled'; more: boolean; failed: boolean }
  /** reads kept failing (or failed in a one-pass tail): the tail ends */
  | { type: 'failed' };

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

/** consecutive failed reads after which a tail gives up (the client reconnects) */
export const MAX_CONSECUTIVE_FAILURES = 5;

export async function* tailLedger(o: TailOptions): AsyncGenerator<TailEvent> {
  const log = o.logger ?? silentLogger;
  const sleep = o.sleep ?? abortableSleep;
  const started = o.clock.now();
  const filtered = o.topic !== undefined || o.agent !== undefined;
  const aborted = () => o.signal?.aborted === true;
  const expired = () => o.maxDurationMs !== undefined && o.clock.now() - started >= o.maxDurationMs;

  let last = o.after ?? Math.max(0, (await o.ledger.head()).seq - (o.backlog ?? 0));
  let failures = 0;
  while (!aborted() && !expired()) {
    let more = false;
    let failed = false;
    try {
      // with filters, a page can end without a match: everything up to the head read before
      // the page was scanned, so the next read starts after it, not after the last match
      const head = filtered ? await o.ledger.head() : null;
      const page = await o.ledger.list({
        after: last,
        limit: o.pageSize,
        ...(o.topic !== undefined ? { topic: o.topic } : {}),
        ...(o.agent !== undefined ? { agent: o.agent } : {}),
      });
      failures = 0;
      for (const e of page.entries) {
        if (e.seq <= last) continue;
        last = e.seq;
        yield { type: 'entry', entry: e };
      }
      if (page.next !== null) {
        last = Math.max(last, page.next);
        more = page.entries.length > 0 || filtered;
      } else if (head) last = Math.max(last, head.seq);
    } catch (e) {
      failures++;
      log.warn('ledger tail read failed', { error: errorMessage(e), failures });
      if (failures >= MAX_CONSECUTIVE_FAILURES || o.once) {
        yield { type: 'failed' };
        return;
      }
      failed = true;
    }
    yield { type: 'polled', more, failed };
    if (o.once) return;
    if (more) continue;
    await sleep(o.pollMs, o.signal);
  }
}
