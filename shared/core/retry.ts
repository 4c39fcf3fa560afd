/**
 * Retrying the steps that follow a committed decision. Once a conditional write has made a
 * decision (a run's completion, a restart, a quarantine, an operator's pause), the writes and
 * events that complete it cannot be redone by retrying the whole request: a retry would find the
 * decision already made and do nothing. So those steps are retried in place, in real time (not
 * the injected clock: this waits for a store or bus to come back), with exponential backoff,
 * for up to `forMs`; then the last error is thrown. Only retryable errors are retried (see
 * isRetryable: our errors say so themselves; decisions such as a refused envelope or a conflict
 * are not, an SDK or network error is).
 */
import { errorMessage, isRetryable } from './errors';
import type { Logger } from './logger';

export interface FollowUpRetry {
  /** how long to keep trying (default 60 s) */
  forMs?: number;
  /** first delay, doubling (default 200 ms) */
  baseMs?: number;
  /** longest delay (default 5 s) */
  maxDelayMs?: number;
  log?: Logger;
  /** what is being retried, for the log */
  what: string;
  fields?: Record<string, unknown>;
  /** which errors are worth retrying (default: isRetryable) */
  retryable?: (e: unknown) => boolean;
}

export async function retryFollowUp<T>(fn: () => Promise<T>, opts: FollowUpRetry): Promise<T> {
  const forMs = opts.forMs ?? 60_000;
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!(opts.retryable ?? isRetryable)(e) || Date.now() - started >= forMs) throw e;
      opts.log?.warn(`${opts.what} failed; retrying`, { ...opts.fields, attempt, error: errorMessage(e) });
      await new Promise((r) => setTimeout(r, Math.min(opts.maxDelayMs ?? 5_000, (opts.baseMs ?? 200) * 2 ** (attempt - 1))));
    }
  }
}

/**
 * Polls `fn` until it returns a value (not undefined), every `everyMs`, for at most `forMs` of
 * real time; errors of `fn` count as "not yet" (the last one is handed to `timeout`). Then throws
 * what `timeout` makes of it. For waiting on a condition with a generous bound, never as a
 * measurement.
 */
export async function pollUntil<T>(
  fn: () => Promise<T | undefined>,
  opts: { forMs: number; everyMs?: number; timeout: (lastError: unknown) => Error },
): Promise<T> {
  const deadline = Date.now() + opts.forMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw opts.timeout(last);
    await new Promise((r) => setTimeout(r, opts.everyMs ?? 200));
  }
}
