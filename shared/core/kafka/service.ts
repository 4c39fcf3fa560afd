/**
 * The Kafka bridge's two directions (shared by local mode and the cloud's functions):
 *
 * - KafkaInbound: records of mapped Kafka topics → envelopes (or `kafka.rejected` events) → the
 *   bus, in one publish per batch. It returns once the bus accepted them; only then may the
 *   caller commit the batch's offsets (local consumer) or return from the invocation (the cloud's
 *   event source mapping then moves on). A failed publish throws: the batch is read again, and the
 *   envelopes' derived ids keep the ledger from recording a record twice.
 * - KafkaOutbound: bus envelopes → records of the mapped Kafka topics, in one send per batch,
 *   acknowledged by the in-sync replicas before it returns (idempotent producer; a batch retried
 *   after a failure may be written again: at-least-once to Kafka).
 */
import type { Clock } from '../clock';
import { systemClock } from '../clock';
import type { Envelope } from '../envelope';
import { silentLogger, type Logger } from '../logger';
import type { EventPublisher, KafkaProducer, KafkaRecordIn } from '../ports';
import type { KafkaInboundRoute, KafkaOutboundRoute } from './config';
import { envelopeToRecords, recordToEnvelope } from './records';

export interface InboundReport {
  published: number;
  rejected: number;
  /** records of a topic no route maps (not subscribed: should not happen) */
  unmapped: number;
}

export class KafkaInbound {
  private readonly busTopic: Map<string, string>;
  private readonly clock: Clock;
  private readonly log: Logger;

  constructor(private readonly deps: { events: EventPublisher; routes: readonly KafkaInboundRoute[]; clock?: Clock; logger?: Logger }) {
    this.busTopic = new Map(deps.routes.map((r) => [r.kafkaTopic, r.busTopic]));
    this.clock = deps.clock ?? systemClock;
    this.log = deps.logger ?? silentLogger;
  }

  /** the Kafka topics read */
  get topics(): string[] {
    return [...this.busTopic.keys()];
  }

  async handle(records: readonly KafkaRecordIn[]): Promise<InboundReport> {
    const out: Envelope[] = [];
    let rejected = 0;
    let unmapped = 0;
    const now = this.clock.now();
    for (const rec of records) {
      const busTopic = this.busTopic.get(rec.topic);
      if (busTopic === undefined) {
        unmapped++;
        this.log.warn('kafka record of an unmapped topic; skipped', {
          kafkaTopic: rec.topic,
          partition: rec.partition,
          offset: rec.offset,
        });
        continue;
      }
      const r = recordToEnvelope(rec, busTopic, now);
      if (r.kind === 'rejected') {
        rejected++;
        this.log.warn('kafka record rejected', { id: r.envelope.id, reason: r.reason, message: r.envelope.payload.message });
      }
      out.push(r.envelope);
    }
    if (out.length > 0) await this.deps.events.publish(out);
    return { published: out.length - rejected, rejected, unmapped };
  }
}

export interface OutboundReport {
  /** records written (an envelope mapped to two topics makes two) */
  produced: number;
  /** envelopes no route maps, or that came from Kafka */
  skipped: number;
}

export class KafkaOutbound {
  constructor(private readonly deps: { producer: KafkaProducer; routes: readonly KafkaOutboundRoute[]; logger?: Logger }) {}

  async handle(envelopes: readonly Envelope[]): Promise<OutboundReport> {
    const records = [];
    let skipped = 0;
    for (const e of envelopes) {
      const recs = envelopeToRecords(e, this.deps.routes);
      if (recs.length === 0) skipped++;
      records.push(...recs);
    }
    if (records.length > 0) await this.deps.producer.send(records);
    return { produced: records.length, skipped };
  }
}
