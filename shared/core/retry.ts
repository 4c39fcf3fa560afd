/**
 * Retrying the steps that follow a committed decision. Once a conditional write has made a
 * decision (a run's completion, a restart, a quarantine, an operator's pause), the writes and
 * events that complete it cannot be redone by retrying the whole request: a retry would find the
 * decision already made and do nothing. So those steps are retried in place, in real time (not
 * the injected clock: this waits for a store or bus to come back), with exponential backoff,
 * for up to `forMs`; then the last error is thrown. Only transient errors are retried: by
 * default anything that is not one of our own named errors (those are decisions — a refused
 * envelope, a conflict — that a retry cannot change).
 */
import { errorMessage, OrchestratorError } from './errors';
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
  /** which errors are worth retrying (default: those that are not an OrchestratorError) */
  retryable?: (e: unknown) => boolean;
}

export const isTransient = (e: unknown): boolean => !(e instanceof OrchestratorError);

export async function retryFollowUp<T>(fn: () => Promise<T>, opts: FollowUpRetry): Promise<T> {
  const forMs = opts.forMs ?? 60_000;
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!(opts.retryable ?? isTransient)(e) || Date.now() - started >= forMs) throw e;
      opts.log?.warn(`${opts.what} failed; retrying`, { ...opts.fields, attempt, error: errorMessage(e) });
      await new Promise((r) => setTimeout(r, Math.min(opts.maxDelayMs ?? 5_000, (opts.baseMs ?? 200) * 2 ** (attempt - 1))));
    }
  }
}
