/**
 * The events the orchestrator itself writes to the bus (and so to the ledger), defined once: each
 * topic with the schema of its payload. `orchestratorEvent(topic, payload, at)` is the one way
 * to make one (the payload is type-checked against its topic); `readOrchestratorEvent` is how a
 * consumer reads one back (it checks the sender and the payload, so a look-alike published by
 * anyone else is not taken for the orchestrator's).
 *
 * Payloads are open (`loose`): the named fields are what consumers, the API, the dashboard and
 * the docs rely on; more may be added without breaking a reader.
 */
import { z } from 'zod';
import { makeEnvelope, ORCHESTRATOR_SENDER, type Envelope } from './envelope';

const name = z.string().min(1);
const version = z.string().min(1);
const by = z.enum(['operator', 'health-monitor']);
const isoTime = z.string().min(1);

/** What every agent-lifecycle event carries. */
const agentRef = { name, version };

/** One run's identity and result, shared by agent.cycle and agent.failed. */
const runFields = {
  ...agentRef,
  runId: z.string().min(1),
  kind: z.enum(['cycle', 'trigger', 'envelope']),
  slot: z.number().optional(),
  cycle: z.number().int(),
  generation: z.number().int(),
  outcome: z.enum(['ok', 'error', 'timeout', 'crashed', 'oom']),
  durationMs: z.number(),
};

export const ORCHESTRATOR_EVENTS = {
  'agent.registered': z.looseObject({
    ...agentRef,
    previousVersion: version.nullable(),
    sha256: z.string(),
    signer: z.string().nullable(),
    cycleSeconds: z.number(),
    /** the agent's status after the registration: an upgrade keeps it (a quarantined agent stays quarantined) */
    status: z.string().optional(),
    /** what the status means for the new version, when it does not run (quarantined, paused) */
    note: z.string().optional(),
  }),
  'agent.deregistered': z.looseObject({ ...agentRef, key: z.string() }),
  'agent.cycle': z.looseObject({ ...runFields, published: z.number().int() }),
  'agent.failed': z.looseObject({
    ...runFields,
    error: z.string().nullable(),
    /** the error's stack, frames naming the bundle key, at most 20 frames and 4 KB (shared/core/stack.ts) */
    stack: z.string().nullable().optional(),
    consecutiveErrors: z.number().int(),
  }),
  'agent.paused': z.looseObject({ ...agentRef, by, previousStatus: z.string() }),
  'agent.resumed': z.looseObject({ ...agentRef, by, nextRunAt: isoTime }),
  'agent.triggered': z.looseObject({ ...agentRef, by, runId: z.string() }),
  'agent.restarted': z.looseObject({ ...agentRef, by, reason: z.string(), backoffMs: z.number(), generation: z.number().int() }),
  'agent.quarantined': z.looseObject({ ...agentRef, by, reason: z.string() }),
  'agent.released': z.looseObject({ ...agentRef, by, nextRunAt: isoTime, generation: z.number().int() }),
  'bundle.rejected': z.looseObject({ key: z.string(), reason: z.string(), message: z.string() }),
  'bundle.unverified': z.looseObject({ key: z.string(), ...agentRef, sha256: z.string(), message: z.string() }),
  /** a Kafka record the bridge could not turn into an envelope (docs/kafka.md); its id is the record's envelope id */
  'kafka.rejected': z.looseObject({
    kafkaTopic: z.string(),
    partition: z.number().int(),
    offset: z.string(),
    busTopic: z.string(),
    reason: z.enum(['empty', 'not_json', 'not_object', 'bad_recipient', 'too_large']),
    message: z.string(),
    key: z.string().nullable(),
    bytes: z.number().int(),
  }),
} as const;

export type OrchestratorTopic = keyof typeof ORCHESTRATOR_EVENTS;

/**
 * Topics only the orchestrator publishes (sender `orchestrator`): `agent.*`, `bundle.*`, and every
 * other topic of ORCHESTRATOR_EVENTS (`kafka.rejected`). An agent's ctx.publish of one throws a
 * ReservedTopicError and publishes nothing (the trusted side refuses it too: the run fails), the
 * API's POST /events and BusService.Publish answer 400 `reserved_topic`, and the runner drops one
 * that reached it anyway. Consumers of orchestrator events still check the sender
 * (readOrchestratorEvent), so a look-alike from anyone else changes nothing.
 */
export const RESERVED_TOPIC_RE = /^(?:agent|bundle)\.|^kafka\.rejected$/;

export const isReservedTopic = (topic: string): boolean => RESERVED_TOPIC_RE.test(topic);
export type OrchestratorPayload<T extends OrchestratorTopic> = z.input<(typeof ORCHESTRATOR_EVENTS)[T]>;

export const ORCHESTRATOR_TOPICS = Object.keys(ORCHESTRATOR_EVENTS) as OrchestratorTopic[];

/**
 * An orchestrator event for the bus, sent by `orchestrator`, at `at` (epoch ms); `id` only where
 * the event stands for something with an identity of its own (a Kafka record), so a repeat of it
 * is recorded once.
 */
export function orchestratorEvent<T extends OrchestratorTopic>(
  topic: T,
  payload: OrchestratorPayload<T>,
  at: number,
  id?: string,
): Envelope {
  return makeEnvelope(
    { topic, sender: ORCHESTRATOR_SENDER, payload: ORCHESTRATOR_EVENTS[topic].parse(payload) as Record<string, unknown>, id },
    at,
  );
}

/**
 * The payload of an orchestrator event of `topic`, or null when the envelope is not one (another
 * topic, another sender, or a payload that does not have the topic's shape).
 */
export function readOrchestratorEvent<T extends OrchestratorTopic>(
  topic: T,
  envelope: Envelope,
): z.output<(typeof ORCHESTRATOR_EVENTS)[T]> | null {
  if (envelope.topic !== topic || envelope.sender !== ORCHESTRATOR_SENDER) return null;
  const r = ORCHESTRATOR_EVENTS[topic].safeParse(envelope.payload);
  return r.success ? (r.data as z.output<(typeof ORCHESTRATOR_EVENTS)[T]>) : null;
}

/** The `bundle.unverified` event: a bundle loaded with no trusted keys configured. */
export function bundleUnverifiedEvent(bundle: { key: string; name: string; version: string; sha256: string }, at: number): Envelope {
  return orchestratorEvent(
    'bundle.unverified',
    { ...bundle, message: 'no trusted keys configured; bundle loaded without signature verification' },
    at,
  );
}
