/** Errors of the event bus core (pattern matcher, envelope routing, publishing). */
import { codedError, OrchestratorError } from '../errors';

/** An EventBridge event pattern that EventBridge would refuse (reported with the path of the fault). */
export class InvalidPatternError extends OrchestratorError {
  override name = 'InvalidPatternError';
  constructor(
    readonly path: string,
    message: string,
  ) {
    super('invalid_pattern', `invalid event pattern at ${path || '(root)'}: ${message}`, { path });
  }
}

/**
 * An envelope that fits the contract's 256 KB but not a PutEvents entry (whose size also counts
 * Source and DetailType), or a batch that cannot be split to fit a request. Client mistake: 400.
 */
export class BusEntryTooLargeError extends OrchestratorError {
  override name = 'BusEntryTooLargeError';
  constructor(
    readonly envelopeId: string,
    readonly size: number,
    readonly limit: number,
  ) {
    super('invalid_bus_entry_size', `envelope ${envelopeId} makes a bus entry of ${size} bytes, over the limit of ${limit} bytes`, {
      envelopeId,
      size,
      limit,
    });
  }
}

/** Entries the bus still refused after the bounded retries (EventBridge FailedEntryCount). */
export class BusPublishError extends OrchestratorError {
  override name = 'BusPublishError';
  override readonly retryable = true;
  constructor(
    message: string,
    readonly failed: { envelopeId: string; errorCode: string; errorMessage: string }[],
  ) {
    super('bus_publish_failed', message, { failed });
  }
}

/**
 * A publish of a topic only the orchestrator writes (`agent.*`, `bundle.*`: isReservedTopic) by
 * anyone else (the API's POST /events, BusService.Publish). Client mistake: 400.
 */
export class ReservedTopicError extends codedError('reserved_topic') {
  override name = 'ReservedTopicError';
}
