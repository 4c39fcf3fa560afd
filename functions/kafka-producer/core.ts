/**
 * The kafka-producer handler (its Lambda and local mode run it; built by functions/compose.ts):
 * envelopes of the rule KafkaOutbound → records of the mapped Kafka topics (KafkaOutbound,
 * shared/core/kafka/service.ts).
 *
 * - cloud: the rule's SQS queue hands the function batches (each record's body an EventBridge
 *   event carrying an envelope); local mode's bus hands it the same SQS-shaped batches;
 * - direct invocation: one EventBridge event.
 *
 * The whole batch goes to Kafka in one send. A record that carries no valid envelope event is
 * logged and skipped (a retry cannot fix it). A send that fails throws: the batch is delivered
 * again (SQS after its visibility timeout, local mode's bus in place) and written again:
 * at-least-once to Kafka.
 */
import { z } from 'zod';
import { EnvelopeEventSchema } from '../../shared/core/bus/events';
import type { Envelope } from '../../shared/core/envelope';
import { ValidationError, errorMessage } from '../../shared/core/errors';
import type { KafkaOutbound } from '../../shared/core/kafka/service';
import { silentLogger, type Logger } from '../../shared/core/logger';
import { LedgerWriterEventSchema as QueuedBusEventSchema } from '../ledger-writer/events';

export interface KafkaProducerResult {
  /** SQS partial-batch response: always empty (a failure throws and the batch is delivered again) */
  batchItemFailures: { itemIdentifier: string }[];
  produced: number;
  /** envelopes no route maps, or that came from Kafka */
  skipped: number;
  /** records skipped because they carry no valid envelope event */
  invalid: number;
}

export function createKafkaProducerHandler(deps: { outbound: Pick<KafkaOutbound, 'handle'>; logger?: Logger }) {
  const log = deps.logger ?? silentLogger;
  return async (event: unknown): Promise<KafkaProducerResult> => {
    const parsed = QueuedBusEventSchema.safeParse(event);
    if (!parsed.success)
      throw new ValidationError(`kafka-producer: not an SQS batch or an EventBridge event: ${z.prettifyError(parsed.error)}`);
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
        log.error('kafka-producer: record carries no valid envelope event; skipped', { ref, error: z.prettifyError(r.error) });
      }
    }
    const res = await deps.outbound.handle(envelopes);
    if (res.produced) log.debug('kafka records produced', { produced: res.produced });
    return { batchItemFailures: [], produced: res.produced, skipped: res.skipped, invalid };
  };
}
