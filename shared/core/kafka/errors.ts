/** Errors of the Kafka bridge (shared/core/kafka, shared/adapters/kafka). */
import { codedError } from '../errors';

/**
 * Kafka did not acknowledge records (brokers unreachable, not enough in-sync replicas, a timeout):
 * retryable; nothing was committed as sent, so the records are sent again (at-least-once).
 */
export class KafkaProduceError extends codedError('kafka_produce_failed') {
  override name = 'KafkaProduceError';
  override readonly retryable = true;
}

/** The Kafka consumer could not join its group or read (brokers unreachable): retryable. */
export class KafkaConsumeError extends codedError('kafka_consume_failed') {
  override name = 'KafkaConsumeError';
  override readonly retryable = true;
}

/** An event of the cloud's Kafka event source that is not one (a retry cannot fix it). */
export class InvalidKafkaEventError extends codedError('invalid_kafka_event') {
  override name = 'InvalidKafkaEventError';
}
