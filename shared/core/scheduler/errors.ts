/** Errors of the scheduler. */
import { OrchestratorError } from '../errors';

/** A tick could not hand its slots to the dispatcher; the won advances were rolled back. */
export class SchedulerDispatchError extends OrchestratorError {
  override name = 'SchedulerDispatchError';
  override readonly retryable = true;
  constructor(message: string, details?: Record<string, unknown>) {
    super('scheduler_dispatch_failed', message, details);
  }
}

/** Invalid scheduler configuration (shards, horizon). */
export class SchedulerConfigError extends OrchestratorError {
  override name = 'SchedulerConfigError';
  constructor(message: string) {
    super('scheduler_config_invalid', message);
  }
}

/** The schedule store failed during a tick (a shard's query); what the other shards won was dispatched. */
export class SchedulerStoreError extends OrchestratorError {
  override name = 'SchedulerStoreError';
  override readonly retryable = true;
  constructor(message: string, details?: Record<string, unknown>) {
    super('scheduler_store_failed', message, details);
  }
}
