/** The bus envelope of the contract. Validated with zod wherever one enters the system. */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { ValidationError } from './errors';
import { KAFKA_BRIDGE_SENDER } from '../definitions/kafka';

export const MAX_ENVELOPE_BYTES = 256 * 1024;
export const TOPIC_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
/** sender of events the orchestrator itself writes (registrations, rejections, health transitions) */
export const ORCHESTRATOR_SENDER = 'orchestrator';
/** sender of envelopes published through `POST /events` */
export const API_SENDER = 'api';
/** sender of envelopes the Kafka bridge publishes from Kafka records (docs/kafka.md) */
export const KAFKA_SENDER = KAFKA_BRIDGE_SENDER;
/**
 * Senders the orchestrator itself uses. They are valid agent names by the contract's pattern, so
 * they are reserved: a bundle named like one is rejected (`bad_name`), or an agent could publish
 * as the orchestrator, the operator or Kafka, and would never receive those senders' broadcasts
 * (routing skips an envelope's own sender).
 */
export const RESERVED_SENDERS: readonly string[] = [ORCHESTRATOR_SENDER, API_SENDER, KAFKA_SENDER];

export const TopicSchema = z.string().regex(TOPIC_RE, 'topic must be 1-128 chars of [A-Za-z0-9._:-], starting alphanumeric');

export const EnvelopeSchema = z
  .object({
    id: z.string().min(1).max(128),
    topic: TopicSchema,
    sender: z.string().min(1).max(128),
    recipient: z.string().min(1).max(128).optional(),
    ts: z.iso.datetime({ offset: true }),
    payload: z.record(z.string(), z.unknown()),
    replayOf: z.number().int().nonnegative().optional(),
  })
  .strict();

export type Envelope = z.infer<typeof EnvelopeSchema>;

export function envelopeSize(e: unknown): number {
  return Buffer.byteLength(JSON.stringify(e), 'utf8');
}

/** Validates an envelope; throws ValidationError with a readable message. */
export function parseEnvelope(input: unknown): Envelope {
  const r = EnvelopeSchema.safeParse(input);
  if (!r.success) throw new ValidationError(`invalid envelope: ${z.prettifyError(r.error)}`);
  const size = envelopeSize(r.data);
  if (size > MAX_ENVELOPE_BYTES) throw new ValidationError(`envelope is ${size} bytes, over the limit of ${MAX_ENVELOPE_BYTES}`);
  return r.data;
}

export function makeEnvelope(
  fields: {
    topic: string;
    sender: string;
    payload: Record<string, unknown>;
    recipient?: string | undefined;
    replayOf?: number | undefined;
    /** a given id (derived from what the envelope stands for, so a redelivery is recognised); default a random UUID */
    id?: string | undefined;
  },
  now: number = Date.now(),
): Envelope {
  const env: Envelope = {
    id: fields.id ?? randomUUID(),
    topic: fields.topic,
    sender: fields.sender,
    ts: new Date(now).toISOString(),
    payload: fields.payload,
  };
  if (fields.recipient !== undefined) env.recipient = fields.recipient;
  if (fields.replayOf !== undefined) env.replayOf = fields.replayOf;
  return parseEnvelope(env);
}
