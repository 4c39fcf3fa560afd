/**
 * Kafka records ↔ envelopes (pure).
 *
 * Inbound: a record of a mapped Kafka topic becomes an envelope `{id, topic: the mapped bus topic,
 * sender: kafka, recipient?: the record's `recipient` header, ts: the record's timestamp,
 * payload: the record's JSON value}`. The id is derived from (topic, partition, offset):
 * `kafka:<topic>:<partition>:<offset>` (a topic too long for the 128-character id is replaced by
 * the first 32 hex digits of its sha256), so a record read again — after a rebalance, a restart,
 * a retried Lambda batch — makes the same envelope and the ledger's id de-duplication records it
 * once. A record that cannot be an envelope becomes a `kafka.rejected` event with the same id and
 * the reason: `empty` (no value: a tombstone), `not_json`, `not_object` (JSON, but not an object),
 * `bad_recipient` (a `recipient` header that is not an agent name), `too_large` (over the 256 KB
 * an envelope and a bus entry may have).
 *
 * Outbound: an envelope becomes one record per Kafka topic its topic maps to: value the envelope
 * as JSON, key the recipient (else the envelope id), headers id, topic, sender (and recipient).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { AGENT_NAME_RE } from '../bundle/identity';
import { busEntrySize, PUT_EVENTS_MAX_BYTES, toBusEntry } from '../bus/events';
import { EnvelopeSchema, envelopeSize, KAFKA_SENDER, MAX_ENVELOPE_BYTES, type Envelope } from '../envelope';
import { orchestratorEvent, type OrchestratorPayload } from '../events';
import type { KafkaRecordIn, KafkaRecordOut } from '../ports';
import { outboundTopicsFor, type KafkaOutboundRoute } from './config';

/** The envelope id of a Kafka record (same record, same id). */
export function kafkaEnvelopeId(topic: string, partition: number, offset: string): string {
  const id = `kafka:${topic}:${partition}:${offset}`;
  if (id.length <= 128) return id;
  return `kafka:${createHash('sha256').update(topic).digest('hex').slice(0, 32)}:${partition}:${offset}`;
}

export type RejectReason = OrchestratorPayload<'kafka.rejected'>['reason'];

export type InboundResult = { kind: 'envelope'; envelope: Envelope } | { kind: 'rejected'; reason: RejectReason; envelope: Envelope };

const utf8 = new TextDecoder('utf-8', { fatal: true });
const KEY_SHOWN = 256;

function keyText(key: Uint8Array | null): string | null {
  if (!key) return null;
  const text = Buffer.from(key).toString('utf8');
  return text.length > KEY_SHOWN ? `${text.slice(0, KEY_SHOWN)}…` : text;
}

/** The envelope (or the kafka.rejected event) of one record of a topic mapped to `busTopic`. */
export function recordToEnvelope(record: KafkaRecordIn, busTopic: string, now: number): InboundResult {
  const id = kafkaEnvelopeId(record.topic, record.partition, record.offset);
  const at = record.timestamp !== null && Number.isFinite(record.timestamp) && record.timestamp >= 0 ? record.timestamp : now;
  const bytes = record.value?.byteLength ?? 0;
  const reject = (reason: RejectReason, message: string): InboundResult => ({
    kind: 'rejected',
    reason,
    envelope: orchestratorEvent(
      'kafka.rejected',
      {
        kafkaTopic: record.topic,
        partition: record.partition,
        offset: record.offset,
        busTopic,
        reason,
        message,
        key: keyText(record.key),
        bytes,
      },
      at,
      id,
    ),
  });

  if (record.value === null) return reject('empty', 'the record has no value (a tombstone)');
  if (bytes > MAX_ENVELOPE_BYTES)
    return reject('too_large', `the value is ${bytes} bytes, over the envelope limit of ${MAX_ENVELOPE_BYTES}`);
  let payload: unknown;
  try {
    payload = JSON.parse(utf8.decode(record.value));
  } catch (e) {
    return reject('not_json', `the value is not JSON: ${(e as Error).message}`);
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    const kind = payload === null ? 'null' : Array.isArray(payload) ? 'an array' : `a ${typeof payload}`;
    return reject('not_object', `the value is JSON but ${kind}, not an object`);
  }
  const recipient = record.headers.recipient;
  if (recipient !== undefined && !AGENT_NAME_RE.test(recipient)) {
    return reject('bad_recipient', `the recipient header "${recipient.slice(0, 80)}" is not an agent name ([a-z0-9][a-z0-9-]{1,62})`);
  }
  const envelope: Envelope = {
    id,
    topic: busTopic,
    sender: KAFKA_SENDER,
    ...(recipient !== undefined ? { recipient } : {}),
    ts: new Date(at).toISOString(),
    payload: payload as Record<string, unknown>,
  };
  const checked = EnvelopeSchema.safeParse(envelope);
  if (!checked.success) return reject('not_object', `the value does not make a valid envelope: ${z.prettifyError(checked.error)}`);
  const size = Math.max(envelopeSize(envelope), busEntrySize(toBusEntry(envelope)));
  if (size > MAX_ENVELOPE_BYTES || size > PUT_EVENTS_MAX_BYTES) {
    return reject(
      'too_large',
      `the envelope would be ${size} bytes, over the limit of ${Math.min(MAX_ENVELOPE_BYTES, PUT_EVENTS_MAX_BYTES)}`,
    );
  }
  return { kind: 'envelope', envelope };
}

/** The records an envelope makes (none for an envelope that came from Kafka: no loops). */
export function envelopeToRecords(envelope: Envelope, routes: readonly KafkaOutboundRoute[]): KafkaRecordOut[] {
  if (envelope.sender === KAFKA_SENDER) return [];
  const headers: Record<string, string> = { id: envelope.id, topic: envelope.topic, sender: envelope.sender };
  if (envelope.recipient !== undefined) headers.recipient = envelope.recipient;
  const value = JSON.stringify(envelope);
  const key = envelope.recipient ?? envelope.id;
  return outboundTopicsFor(routes, envelope.topic).map((topic) => ({ topic, key, value, headers: { ...headers } }));
}
