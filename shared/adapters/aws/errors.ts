/** Errors of the AWS adapters. */
import { OrchestratorError } from '../../core/errors';

export class StoreError extends OrchestratorError {
  override name = 'StoreError';
  constructor(message: string, details?: Record<string, unknown>) {
    super('store_error', message, details);
  }
}

/** An AWS call of a component switch (Scheduler, EventBridge rule, Lambda event source mapping) failed. */
export class ComponentSwitchError extends OrchestratorError {
  override name = 'ComponentSwitchError';
  constructor(message: string, details?: Record<string, unknown>) {
    super('component_switch_failed', message, details);
  }
}

/** Dispatch messages that SQS did not accept (after retrying the failed entries). */
export class DispatchError extends OrchestratorError {
  override name = 'DispatchError';
  override readonly retryable = true;
  constructor(
    message: string,
    readonly failed: { runId: string; code: string; message: string }[],
  ) {
    super('dispatch_failed', message, { failed });
  }
}
