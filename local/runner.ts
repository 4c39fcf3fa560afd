/**
 * LocalRunnerPool: local mode's stand-in for the SQS dispatch queue + runner Lambda. It is the
 * Dispatcher the scheduler, the router and the control API hand runs to, and the `runner`
 * component of `POST /components/runner/{stop|start}`.
 *
 * - Each item waits until its `notBefore` (a timer, like the queue's per-message delay), then the
 *   same runner core the Lambda uses runs it: each run in its own worker thread.
 * - At most `concurrency` runs at once (like the event source mapping's maximum concurrency);
 *   items beyond wait in notBefore order. The default, 4 × CPUs and at least 8, is for runs that
 *   mostly wait: on DynamoDB Local and on the agent's warm process (bench/cycles.ts measured 60
 *   cycles/s at 2, 120 at 8 and 109 at 16 on 2 cores). Two items of one run id never run at once
 *   (an SQS message is not delivered again while it is in flight): a copy waits, then finds the
 *   run done. A steady-state slot writes no lease before it runs (see
 *   shared/adapters/aws/dynamo-heartbeats.ts), so this is what keeps its copies apart.
 * - A run that throws (an infrastructure error, e.g. DynamoDB unreachable: the core reports agent
 *   failures as results) is retried with exponential backoff (`retryDelayMs`, doubling, at most
 *   `retryMaxDelayMs`), up to `maxAttempts` in total (default 8: about 90 s, longer than an
 *   emulator restart and than a short run's lease, which a retry may then take over), then logged
 *   and kept in `deadLetters` (like redeliveries up to maxReceiveCount, then the DLQ).
 * - Retry semantics come with the error: one that knows when a retry makes sense (`retryAt`: a
 *   copy delivered while another attempt holds the run waits until that attempt's lease ends,
 *   then is a duplicate or takes the lease over) is tried again then; a retryable one with
 *   backoff; one that is not retryable is dead-lettered at once.
 * - `stop()` stops starting runs (items keep waiting, as with a disabled event source mapping) and
 *   resolves when the runs in flight have finished; `start()` resumes.
 * - `idle()` resolves when no run is in flight and none is due (tests); `poke()` re-checks what is
 *   due after a fake clock moved.
 */
import { availableParallelism } from 'node:os';
import { DispatchMessageSchema, type DispatchItem, type DispatchMessage } from '../shared/core/dispatch';
import type { Dispatcher } from '../shared/core/ports';
import type { RunReport } from '../shared/core/runner/service';
import { ValidationError, errorMessage, isRetryable, retryAtOf } from '../shared/core/errors';
import { systemClock, type Clock } from '../shared/core/clock';
import { silentLogger, type Logger } from '../shared/core/logger';
import type { LocalComponent } from './component';

/** runs at once by default: 4 × CPUs, at least 8 (runs mostly wait on I/O, not on a CPU) */
export const DEFAULT_RUNNER_CONCURRENCY = Math.max(8, 4 * availableParallelism());

export interface LocalRunnerPoolOptions {
  /** the runner core (functions/runner/handler.ts createRunnerCore) */
  core: (msg: DispatchMessage) => Promise<RunReport>;
  /** runs at once (default: DEFAULT_RUNNER_CONCURRENCY) */
  concurrency?: number;
  clock?: Clock;
  logger?: Logger;
  /** attempts per item when the core throws (default 8) */
  maxAttempts?: number;
  /** first retry delay, doubling per attempt (default 1 s) */
  retryDelayMs?: number;
  /** longest retry delay (default 30 s) */
  retryMaxDelayMs?: number;
  /** items waiting at most (default 100 000); dispatch beyond throws */
  maxPending?: number;
  /** called with every run report (metrics, SSE, tests) */
  onReport?: (report: RunReport) => void;
  /** start in the stopped state (default: running) */
  stopped?: boolean;
}

export interface RunnerPoolStats {
  pending: number;
  inFlight: number;
  started: number;
  ran: number;
  skipped: number;
  /** runs whose core threw (infrastructure), retried or dead-lettered */
  errors: number;
  deadLetters: number;
  outcomes: Record<string, number>;
}

interface Entry {
  item: DispatchItem;
  attempts: number;
}

export class LocalRunnerPool implements Dispatcher, LocalComponent {
  readonly name = 'runner' as const;
  readonly deadLetters: { message: DispatchMessage; error: string }[] = [];
  private readonly core: LocalRunnerPoolOptions['core'];
  /** runs at once at most */
  readonly concurrency: number;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly maxAttempts: number;
  private readonly retryDelayMs: number;
  private readonly retryMaxDelayMs: number;
  private readonly maxPending: number;
  private readonly onReport: ((r: RunReport) => void) | undefined;
  private running: boolean;
  private readonly pending: Entry[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  /** run ids in flight (a copy of one waits until it is done) */
  private readonly runIds = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private readonly counters = { started: 0, ran: 0, skipped: 0, errors: 0 };
  private readonly outcomes: Record<string, number> = {};

  constructor(opts: LocalRunnerPoolOptions) {
    this.core = opts.core;
    this.concurrency = Math.max(1, opts.concurrency ?? DEFAULT_RUNNER_CONCURRENCY);
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger ?? silentLogger;
    this.maxAttempts = Math.max(1, opts.maxAttempts ?? 8);
    this.retryDelayMs = opts.retryDelayMs ?? 1000;
    this.retryMaxDelayMs = opts.retryMaxDelayMs ?? 30_000;
    this.maxPending = opts.maxPending ?? 100_000;
    this.onReport = opts.onReport;
    this.running = !opts.stopped;
  }

  async dispatch(items: DispatchItem[]): Promise<void> {
    const checked = items.map((it) => {
      const m = DispatchMessageSchema.safeParse(it.message);
      if (!m.success) throw new ValidationError(`invalid dispatch message: ${m.error.message}`);
      if (!Number.isFinite(it.notBefore)) throw new ValidationError('notBefore must be a finite epoch ms');
      return { message: m.data, notBefore: it.notBefore };
    });
    if (this.pending.length + checked.length > this.maxPending)
      throw new ValidationError(`runner pool is full (${this.pending.length} waiting, limit ${this.maxPending})`);
    for (const item of checked) this.insert({ item, attempts: 0 });
    this.pump();
  }

  start(): void {
    this.running = true;
    this.pump();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.clearTimer();
    await Promise.all([...this.inFlight]);
  }

  isRunning(): boolean {
    return this.running;
  }

  /** The component switch shape of local/components.ts (`Switch`). */
  setEnabled(enabled: boolean): Promise<void> | void {
    if (enabled) return this.start();
    return this.stop();
  }

  isEnabled(): boolean {
    return this.running;
  }

  /** Re-checks which items are due (after a fake clock moved). */
  poke(): void {
    this.pump();
  }

  /** Resolves when no run is in flight and no waiting item is due (while running). */
  async idle(): Promise<void> {
    for (;;) {
      this.pump();
      if (this.inFlight.size === 0) return;
      await Promise.race([...this.inFlight]);
    }
  }

  stats(): RunnerPoolStats {
    return {
      pending: this.pending.length,
      inFlight: this.inFlight.size,
      ...this.counters,
      deadLetters: this.deadLetters.length,
      outcomes: { ...this.outcomes },
    };
  }

  /** Items still waiting (for diagnostics, and for a host that wants to report them at shutdown). */
  waiting(): DispatchItem[] {
    return this.pending.map((e) => e.item);
  }

  private insert(e: Entry): void {
    // keep `pending` sorted by notBefore (stable for equal times)
    let lo = 0;
    let hi = this.pending.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.pending[mid] as Entry).item.notBefore <= e.item.notBefore) lo = mid + 1;
      else hi = mid;
    }
    this.pending.splice(lo, 0, e);
  }

  private pump(): void {
    if (!this.running) return;
    const now = this.clock.now();
    // the first due item whose run id is not in flight: like one SQS message, which is not
    // delivered again while it is in flight, a run is never attempted twice at once here
    for (let i = 0; i < this.pending.length && this.inFlight.size < this.concurrency; ) {
      const e = this.pending[i] as Entry;
      if (e.item.notBefore > now) break;
      if (this.runIds.has(e.item.message.runId)) {
        i++;
        continue;
      }
      this.pending.splice(i, 1);
      this.launch(e);
    }
    const next = this.pending.find((e) => e.item.notBefore > now);
    if (next) this.arm(next.item.notBefore, now);
    else if (this.pending.length === 0) this.clearTimer();
  }

  private arm(at: number, now: number): void {
    if (this.timer && this.timerAt <= at) return;
    this.clearTimer();
    this.timerAt = at;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.timerAt = Infinity;
        this.pump();
      },
      Math.min(2 ** 31 - 1, Math.max(1, at - now)),
    );
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
  }

  /**
   * A run that threw: the error says what to do (retry semantics travel with it). One that knows
   * when a retry makes sense (another attempt holds the run until its lease's deadline) waits
   * until then without spending an attempt; another retryable one is retried with backoff up to
   * `maxAttempts`; one that is not retryable, or out of attempts, is dead-lettered.
   */
  private onError(e: Entry, err: unknown): void {
    const msg = e.item.message;
    const retryAt = retryAtOf(err);
    if (retryAt !== undefined && isRetryable(err)) {
      this.log.debug('run not possible before a known time; retrying then', {
        agent: msg.agent,
        runId: msg.runId,
        retryAt,
        error: errorMessage(err),
      });
      this.insert({ item: { message: msg, notBefore: retryAt + 50 }, attempts: e.attempts });
      return;
    }
    this.counters.errors++;
    e.attempts++;
    if (isRetryable(err) && e.attempts < this.maxAttempts) {
      this.log.warn('run failed on an infrastructure error; retrying', {
        agent: msg.agent,
        runId: msg.runId,
        attempt: e.attempts,
        error: errorMessage(err),
      });
      const delay = Math.min(this.retryMaxDelayMs, this.retryDelayMs * 2 ** (e.attempts - 1));
      this.insert({ item: { message: msg, notBefore: this.clock.now() + delay }, attempts: e.attempts });
      return;
    }
    this.log.error(
      isRetryable(err) ? 'run failed on an infrastructure error; giving up' : 'run failed with an error a retry cannot fix; dead-lettered',
      {
        agent: msg.agent,
        runId: msg.runId,
        attempts: e.attempts,
        error: errorMessage(err),
      },
    );
    this.deadLetters.push({ message: msg, error: errorMessage(err) });
    if (this.deadLetters.length > 1000) this.deadLetters.shift();
  }

  private launch(e: Entry): void {
    this.counters.started++;
    const msg = e.item.message;
    this.runIds.add(msg.runId);
    const p: Promise<void> = this.core(msg)
      .then((report) => {
        if (report.status === 'ran') {
          this.counters.ran++;
          this.outcomes[report.outcome] = (this.outcomes[report.outcome] ?? 0) + 1;
        } else this.counters.skipped++;
        try {
          this.onReport?.(report);
        } catch (err) {
          this.log.warn('onReport threw', { error: err });
        }
      })
      .catch((err: unknown) => this.onError(e, err))
      .finally(() => {
        this.inFlight.delete(p);
        this.runIds.delete(msg.runId);
        this.pump();
      });
    this.inFlight.add(p);
  }
}
