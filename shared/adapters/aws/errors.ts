/** Errors of the AWS adapters. */
import { OrchestratorError, codedError } from '../../core/errors';

export class StoreError extends codedError('store_error') {
  override name = 'StoreError';
}

/** An AWS call of a component switch (Scheduler, EventBridge rule, Lambda event source mapping) failed. */
export class ComponentSwitchError extends codedError('component_switch_failed') {
  override name = 'ComponentSwitchError';
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

/** The sandbox function could not be invoked, or could not do what it was asked (retryable: the message comes back). */
export class SandboxInvokeError extends codedError('sandbox_invoke_failed') {
  override name = 'SandboxInvokeError';
  override readonly retryable = true;
}
