/**
 * EventPublisher on an EventBridge custom bus (cloud). Each envelope becomes one PutEvents entry
 * (Source BUS_SOURCE, DetailType = topic, Detail = envelope JSON); entries are sent in order in
 * requests of at most 10 entries and 256 KB (planPutEvents), one request after the other.
 *
 * PutEvents is not atomic: it answers 200 with FailedEntryCount > 0 when some entries failed.
 * Those entries (only those) are retried with exponential backoff, up to `maxAttempts` in total;
 * entries failing with a non-retryable code (malformed detail, not authorized, ...) are not
 * retried. What still failed is reported with BusPublishError (code bus_publish_failed), after
 * every group was tried. Oversized entries are refused before anything is sent
 * (BusEntryTooLargeError).
 */
import { PutEventsCommand, type EventBridgeClient, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { parseEnvelope, type Envelope } from '../../core/envelope';
import type { EventPublisher } from '../../core/ports';
import { planPutEvents } from '../../core/bus/events';
import { BusPublishError } from '../../core/bus/errors';
import { silentLogger, type Logger } from '../../core/logger';

export interface EventBridgePublisherOptions {
  /** attempts per entry, the first included (default 3) */
  maxAttempts?: number;
  /** first retry delay; doubles per attempt (default 100 ms) */
  baseDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
  logger?: Logger;
}

/** Entry error codes that a retry cannot fix. */
export const NON_RETRYABLE_ENTRY_ERRORS = new Set([
  'InvalidArgument',
  'MalformedDetail',
  'ValidationException',
  'AccessDeniedException',
  'NotAuthorizedForSourceException',
  'NotAuthorizedForDetailTypeException',
]);

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class EventBridgePublisher implements EventPublisher {
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly log: Logger;

  constructor(
    private readonly client: EventBridgeClient,
    private readonly busName: string,
    opts: EventBridgePublisherOptions = {},
  ) {
    this.maxAttempts = Math.max(1, opts.maxAttempts ?? 3);
    this.baseDelayMs = opts.baseDelayMs ?? 100;
    this.sleep = opts.sleep ?? defaultSleep;
    this.log = opts.logger ?? silentLogger;
  }

  async publish(envelopes: Envelope[]): Promise<void> {
    const valid = envelopes.map((e) => parseEnvelope(e));
    const failed: BusPublishError['failed'] = [];
    for (const group of planPutEvents(valid)) failed.push(...(await this.send(group)));
    if (failed.length > 0) {
      throw new BusPublishError(
        `${failed.length} of ${valid.length} envelopes could not be put on bus ${this.busName}: ${failed.map((f) => `${f.envelopeId} (${f.errorCode})`).join(', ')}`,
        failed,
      );
    }
  }

  private async send(group: ReturnType<typeof planPutEvents>[number]): Promise<BusPublishError['failed']> {
    const given: BusPublishError['failed'] = [];
    let pending = group;
    for (let attempt = 1; ; attempt++) {
      const entries: PutEventsRequestEntry[] = pending.map((p) => ({ ...p.entry, EventBusName: this.busName }));
      const out = await this.client.send(new PutEventsCommand({ Entries: entries }));
      if (!out.FailedEntryCount) return given;
      const results = out.Entries ?? [];
      const failures = pending
        .map((p, i) => ({ p, r: results[i] }))
        // no per-entry result although some failed: treat the entry as failed (conservative)
        .filter(({ r }) => r === undefined || r.ErrorCode !== undefined)
        .map(({ p, r }) => ({
          envelopeId: p.envelope.id,
          errorCode: r?.ErrorCode ?? 'Unknown',
          errorMessage: r?.ErrorMessage ?? 'no result for this entry',
          p,
        }));
      const strip = ({ envelopeId, errorCode, errorMessage }: (typeof failures)[number]) => ({ envelopeId, errorCode, errorMessage });
      given.push(...failures.filter((f) => NON_RETRYABLE_ENTRY_ERRORS.has(f.errorCode)).map(strip));
      const retryable = failures.filter((f) => !NON_RETRYABLE_ENTRY_ERRORS.has(f.errorCode));
      if (retryable.length === 0) return given;
      if (attempt >= this.maxAttempts) return [...given, ...retryable.map(strip)];
      this.log.warn('PutEvents entries failed; retrying', {
        attempt,
        retrying: retryable.length,
        codes: [...new Set(retryable.map((f) => f.errorCode))],
      });
      await this.sleep(this.baseDelayMs * 2 ** (attempt - 1));
      pending = retryable.map((f) => f.p);
    }
  }
}
