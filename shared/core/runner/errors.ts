/** Errors of the runner. */
import { OrchestratorError, errorMessage, codedError } from '../errors';

/**
 * The registered bundle failed its re-verification on load (signature, size, or the hot
 * directory object no longer hashes to the registered sha256). The run fails; no code runs.
 */
export class BundleReverifyError extends codedError('bundle_reverify_failed') {
  override name = 'BundleReverifyError';
}

/** The registered bundle object is gone from the hot directory (deregistration racing a run). */
export class BundleUnavailableError extends OrchestratorError {
  override name = 'BundleUnavailableError';
  constructor(key: string) {
    super('bundle_unavailable', `bundle ${key} is not in the hot directory`, { key });
  }
}

/** A dispatch message that does not parse (poison message): dropped, never retried. */
export class InvalidDispatchMessageError extends codedError('invalid_dispatch_message') {
  override name = 'InvalidDispatchMessageError';
}

/**
 * The run is claimed by an attempt whose lease is still live (a redelivery while that attempt may
 * still be running, or after it died before its deadline). Thrown so the queue delivers the
 * message again later: by then the run is done (a duplicate) or its lease expired (taken over).
 */
export class RunLeaseHeldError extends OrchestratorError {
  override name = 'RunLeaseHeldError';
  override readonly retryable = true;
  constructor(agent: string, runId: string, deadline: number) {
    super(
      'run_lease_held',
      `run ${runId} of ${agent} is held by another attempt until ${new Date(deadline).toISOString()}`,
      { agent, runId, deadline },
      { retryAt: deadline },
    );
  }
}

/**
 * The completion write kept failing (store unreachable) until the run's lease ended: the attempt
 * gives up, so that it never outlives its lease (a redelivery may take the lease over after the
 * deadline and run again). Thrown out of the runner so the queue redelivers; `cause` is the last
 * store error.
 */
export class CompletionAbandonedError extends OrchestratorError {
  override name = 'CompletionAbandonedError';
  override readonly retryable = true;
  constructor(agent: string, runId: string, deadline: number, cause: unknown) {
    super(
      'completion_abandoned',
      `completion of run ${runId} of ${agent} failed until its lease ended at ${new Date(deadline).toISOString()}: ${errorMessage(cause)}`,
      { agent, runId, deadline },
      { cause },
    );
  }
}

/** A run (or the deployment's default) asks for a runtime this deployment does not have. */
export class RuntimeUnavailableError extends OrchestratorError {
  override name = 'RuntimeUnavailableError';
  constructor(runtime: string, available: string[]) {
    super('runtime_unavailable', `the runtime "${runtime}" is not available here (available: ${available.join(', ') || 'none'})`, {
      runtime,
      available,
    });
  }
}
