/**
 * What the functions behind a bus rule's SQS queue accept (the ledger writer, the Kafka producer):
 * - cloud: an SQS event from the rule's queue, each record's body an EventBridge event carrying an
 *   envelope (local mode's bus hands them the same SQS-shaped batches);
 * - direct invocation: one EventBridge event.
 */
import { z } from 'zod';
import { BusEventSchema, EnvelopeEventSchema } from '../shared/core/bus/events';
import type { Envelope } from '../shared/core/envelope';
import { ValidationError, errorMessage } from '../shared/core/errors';
import type { Logger } from '../shared/core/logger';

export const SqsRecordSchema = z.looseObject({ messageId: z.string().min(1), body: z.string() });
export const SqsEventSchema = z.looseObject({ Records: z.array(SqsRecordSchema).min(1) });
export type SqsEvent = z.infer<typeof SqsEventSchema>;

export const QueuedBusEventSchema = z.union([SqsEventSchema, BusEventSchema]);

/**
 * The envelopes of a queued batch (or of one event), in order. An event that is neither shape is
 * refused (ValidationError); a record that carries no valid envelope event is logged and skipped
 * (retrying cannot fix it, and it must not block the queue) and counted as `invalid`.
 */
export function envelopesOfQueuedEvent(event: unknown, fn: string, log: Logger): { envelopes: Envelope[]; invalid: number } {
  const parsed = QueuedBusEventSchema.safeParse(event);
  if (!parsed.success) throw new ValidationError(`${fn}: not an SQS batch or an EventBridge event: ${z.prettifyError(parsed.error)}`);
  const raw: { ref: string; event: unknown }[] = [];
  if ('Records' in parsed.data) {
    for (const r of parsed.data.Records) {
      try {
        raw.push({ ref: r.messageId, event: JSON.parse(r.body) as unknown });
      } catch (e) {
        raw.push({ ref: r.messageId, event: { unparseable: errorMessage(e) } });
      }
    }
  } else raw.push({ ref: parsed.data.id, event: parsed.data });
  const envelopes: Envelope[] = [];
  let invalid = 0;
  for (const { ref, event: ev } of raw) {
    const r = EnvelopeEventSchema.safeParse(ev);
    if (r.success) envelopes.push(r.data.detail);
    else {
      invalid++;
      log.error(`${fn}: record carries no valid envelope event; skipped`, { ref, error: z.prettifyError(r.error) });
    }
  }
  return { envelopes, invalid };
}
