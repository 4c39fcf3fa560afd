/**
 * The kafka-inbound handler of the cloud (built by functions/compose.ts): the Lambda event source
 * mapping of an Amazon MSK or a self-managed Kafka cluster invokes it with a batch of records
 * (`records` keyed by `topic-partition`; key and value base64, header values as byte arrays),
 * and KafkaInbound (shared/core/kafka/service.ts) publishes each record as an envelope, or as a
 * `kafka.rejected` event, on the bus. Local mode's consumer hands the same KafkaInbound its
 * batches directly.
 *
 * A failing publish throws: the event source mapping retries the batch (the offsets are not
 * committed), and the envelopes' ids, derived from topic, partition and offset, make the ledger
 * record each record once. An event that is not a Kafka event is refused (InvalidKafkaEventError:
 * a retry cannot fix it).
 */
import { z } from 'zod';
import { InvalidKafkaEventError } from '../../shared/core/kafka/errors';
import type { InboundReport, KafkaInbound } from '../../shared/core/kafka/service';
import { silentLogger, type Logger } from '../../shared/core/logger';
import type { KafkaRecordIn } from '../../shared/core/ports';

const LambdaKafkaRecordSchema = z.looseObject({
  topic: z.string().min(1),
  partition: z.number().int().nonnegative(),
  offset: z.union([z.number().int().nonnegative(), z.string().regex(/^\d+$/)]),
  timestamp: z.number().optional(),
  timestampType: z.string().optional(),
  key: z.string().nullable().optional(),
  value: z.string().nullable().optional(),
  headers: z.array(z.record(z.string(), z.array(z.number().int().min(0).max(255)))).optional(),
});

/** The event of the Lambda event source mapping of Amazon MSK (`aws:kafka`) or self-managed Kafka (`SelfManagedKafka`). */
export const LambdaKafkaEventSchema = z.looseObject({
  eventSource: z.enum(['aws:kafka', 'SelfManagedKafka']),
  records: z.record(z.string(), z.array(LambdaKafkaRecordSchema)),
});

const b64 = (s: string | null | undefined): Uint8Array | null =>
  s === undefined || s === null ? null : new Uint8Array(Buffer.from(s, 'base64'));

/** The records of a Lambda Kafka event, in partition order as given. */
export function recordsOfLambdaEvent(event: z.infer<typeof LambdaKafkaEventSchema>): KafkaRecordIn[] {
  const out: KafkaRecordIn[] = [];
  for (const list of Object.values(event.records)) {
    for (const r of list) {
      const headers: Record<string, string> = {};
      for (const h of r.headers ?? []) for (const [k, bytes] of Object.entries(h)) headers[k] = Buffer.from(bytes).toString('utf8');
      out.push({
        topic: r.topic,
        partition: r.partition,
        offset: String(r.offset),
        timestamp: r.timestamp !== undefined && r.timestamp >= 0 ? r.timestamp : null,
        key: b64(r.key),
        value: b64(r.value),
        headers,
      });
    }
  }
  return out;
}

export function createKafkaInboundHandler(deps: { inbound: Pick<KafkaInbound, 'handle'>; logger?: Logger }) {
  const log = deps.logger ?? silentLogger;
  return async (event: unknown): Promise<InboundReport> => {
    const parsed = LambdaKafkaEventSchema.safeParse(event);
    if (!parsed.success)
      throw new InvalidKafkaEventError(`kafka-inbound: not a Kafka event source event: ${z.prettifyError(parsed.error)}`);
    const report = await deps.inbound.handle(recordsOfLambdaEvent(parsed.data));
    log.info('kafka records published', { ...report });
    return report;
  };
}
