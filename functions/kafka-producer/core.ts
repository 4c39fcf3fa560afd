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
import type { KafkaOutbound } from '../../shared/core/kafka/service';
import { silentLogger, type Logger } from '../../shared/core/logger';
import { envelopesOfQueuedEvent } from '../queued-bus-events';

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
    const { envelopes, invalid } = envelopesOfQueuedEvent(event, 'kafka-producer', log);
    const res = await deps.outbound.handle(envelopes);
    if (res.produced) log.debug('kafka records produced', { produced: res.produced });
    return { batchItemFailures: [], produced: res.produced, skipped: res.skipped, invalid };
  };
}
