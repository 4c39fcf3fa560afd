/**
 * The Kafka bridge's configuration, from the environment (local mode, the cloud's Kafka
 * functions) or the same strings given as CDK context (infra/props.ts):
 *
 *   KAFKA_BROKERS   host:port,...                         bootstrap brokers
 *   KAFKA_INBOUND   kafkaTopic=busTopic,...               Kafka records → bus envelopes
 *   KAFKA_OUTBOUND  busTopicPattern=kafkaTopic,...        bus envelopes → Kafka records
 *   KAFKA_GROUP     consumer group (default agent-orchestrator)
 *
 * plus the connection's security (KAFKA_SSL, KAFKA_SASL_MECHANISM with KAFKA_SASL_USERNAME and
 * KAFKA_SASL_PASSWORD, or KAFKA_SECRET_ARN in the cloud). A bus topic pattern is a topic or a
 * topic prefix with one trailing `*` (as agents' subscriptions: `orders.*`, `*`).
 *
 * Pure: no client library here; shared/adapters/kafka turns this into a client.
 */
import { z } from 'zod';
import { TOPIC_RE } from '../envelope';
import { isReservedTopic } from '../events';
import { subscriptionMatches } from '../bus/routing';
import { ConfigError } from '../errors';

export const DEFAULT_KAFKA_GROUP = 'agent-orchestrator';

/** Kafka's own topic names: 1-249 of [A-Za-z0-9._-], not `.` or `..`. */
export const KAFKA_TOPIC_RE = /^[A-Za-z0-9._-]{1,249}$/;
/** A bus topic, or a prefix of one followed by a single trailing `*` (`*` alone: every topic). */
export const BUS_TOPIC_PATTERN_RE = /^(?:[A-Za-z0-9][A-Za-z0-9._:-]{0,127}|[A-Za-z0-9._:-]{0,127}\*)$/;

export const SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

export interface KafkaInboundRoute {
  kafkaTopic: string;
  busTopic: string;
}

export interface KafkaOutboundRoute {
  /** bus topic or `prefix*` */
  pattern: string;
  kafkaTopic: string;
}

export type KafkaSasl =
  | { mechanism: SaslMechanism; username: string; password: string }
  /** cloud: username and password are the JSON fields of this Secrets Manager secret */
  | { mechanism: SaslMechanism; secretArn: string };

export interface KafkaConfig {
  /** bootstrap brokers (host:port); empty only where nothing connects to Kafka (the cloud's inbound function) */
  brokers: string[];
  inbound: KafkaInboundRoute[];
  outbound: KafkaOutboundRoute[];
  group: string;
  ssl: boolean;
  sasl: KafkaSasl | null;
}

/** The environment variables of the bridge (all optional; none set = no bridge). */
export const KafkaEnvSchema = z.object({
  KAFKA_BROKERS: z.string().optional(),
  KAFKA_INBOUND: z.string().optional(),
  KAFKA_OUTBOUND: z.string().optional(),
  KAFKA_GROUP: z.string().optional(),
  KAFKA_SSL: z.enum(['true', 'false']).optional(),
  KAFKA_SASL_MECHANISM: z.enum(SASL_MECHANISMS).optional(),
  KAFKA_SASL_USERNAME: z.string().optional(),
  KAFKA_SASL_PASSWORD: z.string().optional(),
  KAFKA_SECRET_ARN: z.string().optional(),
});
export type KafkaEnv = z.infer<typeof KafkaEnvSchema>;

/** `a=b,c=d` → [[a, b], [c, d]]; blanks around items are ignored, an empty list is []. */
function pairs(name: string, v: string): [string, string][] {
  return v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((item) => {
      const eq = item.indexOf('=');
      if (eq <= 0 || eq === item.length - 1) throw new ConfigError(`${name}: "${item}" is not of the form left=right`);
      return [item.slice(0, eq).trim(), item.slice(eq + 1).trim()];
    });
}

function kafkaTopic(name: string, t: string): string {
  if (!KAFKA_TOPIC_RE.test(t) || t === '.' || t === '..') {
    throw new ConfigError(`${name}: "${t}" is not a Kafka topic name (1-249 of [A-Za-z0-9._-])`);
  }
  return t;
}

export function parseBrokers(v: string | undefined): string[] {
  const list = (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const b of list) {
    if (!/^[A-Za-z0-9.-]+:\d{1,5}$/.test(b) && !/^\[[0-9A-Fa-f:]+\]:\d{1,5}$/.test(b)) {
      throw new ConfigError(`KAFKA_BROKERS: "${b}" is not host:port`);
    }
  }
  return list;
}

export function parseInbound(v: string | undefined): KafkaInboundRoute[] {
  const seen = new Set<string>();
  return pairs('KAFKA_INBOUND', v ?? '').map(([k, b]) => {
    kafkaTopic('KAFKA_INBOUND', k);
    if (!TOPIC_RE.test(b))
      throw new ConfigError(`KAFKA_INBOUND: "${b}" is not a bus topic (1-128 of [A-Za-z0-9._:-], starting alphanumeric)`);
    // the orchestrator's own topics (agent.*, bundle.*) are published by it only, not from Kafka
    if (isReservedTopic(b))
      throw new ConfigError(`KAFKA_INBOUND: "${b}" is a reserved bus topic (agent.*, bundle.*: the orchestrator's own)`);
    if (seen.has(k)) throw new ConfigError(`KAFKA_INBOUND: Kafka topic "${k}" is mapped twice`);
    seen.add(k);
    return { kafkaTopic: k, busTopic: b };
  });
}

export function parseOutbound(v: string | undefined): KafkaOutboundRoute[] {
  return pairs('KAFKA_OUTBOUND', v ?? '').map(([p, k]) => {
    if (!BUS_TOPIC_PATTERN_RE.test(p)) {
      throw new ConfigError(`KAFKA_OUTBOUND: "${p}" is not a bus topic or a topic prefix ending in one * (e.g. orders.*)`);
    }
    return { pattern: p, kafkaTopic: kafkaTopic('KAFKA_OUTBOUND', k) };
  });
}

/**
 * The bridge's configuration, or null when no KAFKA_BROKERS, KAFKA_INBOUND or KAFKA_OUTBOUND is
 * set. Throws ConfigError naming the variable for anything malformed, and for a bridge with
 * nothing to do (brokers but no mapping).
 */
export function parseKafkaConfig(env: Record<string, string | undefined>): KafkaConfig | null {
  const r = KafkaEnvSchema.safeParse(env);
  if (!r.success) throw new ConfigError(`invalid Kafka settings: ${z.prettifyError(r.error)}`);
  const e = r.data;
  const set = (v: string | undefined) => v !== undefined && v.trim() !== '';
  if (!set(e.KAFKA_BROKERS) && !set(e.KAFKA_INBOUND) && !set(e.KAFKA_OUTBOUND)) return null;
  const brokers = parseBrokers(e.KAFKA_BROKERS);
  const inbound = parseInbound(e.KAFKA_INBOUND);
  const outbound = parseOutbound(e.KAFKA_OUTBOUND);
  if (inbound.length === 0 && outbound.length === 0) {
    throw new ConfigError('KAFKA_BROKERS is set but neither KAFKA_INBOUND nor KAFKA_OUTBOUND maps a topic: the bridge would do nothing');
  }
  const group = e.KAFKA_GROUP?.trim() || DEFAULT_KAFKA_GROUP;
  if (group.length > 255) throw new ConfigError('KAFKA_GROUP: at most 255 characters');
  let sasl: KafkaSasl | null = null;
  if (e.KAFKA_SASL_MECHANISM) {
    if (e.KAFKA_SECRET_ARN) sasl = { mechanism: e.KAFKA_SASL_MECHANISM, secretArn: e.KAFKA_SECRET_ARN };
    else if (e.KAFKA_SASL_USERNAME && e.KAFKA_SASL_PASSWORD !== undefined)
      sasl = { mechanism: e.KAFKA_SASL_MECHANISM, username: e.KAFKA_SASL_USERNAME, password: e.KAFKA_SASL_PASSWORD };
    else throw new ConfigError('KAFKA_SASL_MECHANISM needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (or KAFKA_SECRET_ARN)');
  } else if (e.KAFKA_SASL_USERNAME || e.KAFKA_SECRET_ARN) {
    throw new ConfigError('KAFKA_SASL_USERNAME / KAFKA_SECRET_ARN given without KAFKA_SASL_MECHANISM');
  }
  return { brokers, inbound, outbound, group, ssl: e.KAFKA_SSL === 'true', sasl };
}

/** The Kafka topics an envelope of `busTopic` goes to (each matching pattern's topic, once). */
export function outboundTopicsFor(routes: readonly KafkaOutboundRoute[], busTopic: string): string[] {
  const out: string[] = [];
  for (const r of routes) if (subscriptionMatches(r.pattern, busTopic) && !out.includes(r.kafkaTopic)) out.push(r.kafkaTopic);
  return out;
}

/** Renders routes back to the env format (docs, CDK environment). */
export const formatInbound = (routes: readonly KafkaInboundRoute[]): string => routes.map((r) => `${r.kafkaTopic}=${r.busTopic}`).join(',');
export const formatOutbound = (routes: readonly KafkaOutboundRoute[]): string =>
  routes.map((r) => `${r.pattern}=${r.kafkaTopic}`).join(',');
