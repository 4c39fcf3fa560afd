/** Errors of the scheduler. */
import { codedError } from '../errors';

/** A tick could not hand its slots to the dispatcher; the won advances were rolled back. */
export class SchedulerDispatchError extends codedError('scheduler_dispatch_failed') {
  override name = 'SchedulerDispatchError';
  override readonly retryable = true;
}

/** Invalid scheduler configuration (shards, horizon). */
export class SchedulerConfigError extends codedError('scheduler_config_invalid') {
  override name = 'SchedulerConfigError';
}

/** The schedule store failed during a tick (a shard's query); what the other shards won was dispatched. */
export class SchedulerStoreError extends codedError('scheduler_store_failed') {
  override name = 'SchedulerStoreError';
  override readonly retryable = true;
}

/** The tick could not start the ticks of some shards (fan-out); they run with the next tick. */
export class SchedulerFanOutError extends codedError('scheduler_fanout_failed') {
  override name = 'SchedulerFanOutError';
  override readonly retryable = true;
}
