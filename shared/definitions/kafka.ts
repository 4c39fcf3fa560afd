/**
 * The Kafka bridge's routing, as plain data for local mode's bus (local/platform.ts) and the CDK
 * stack (infra/constructs/kafka.ts): the rule that sends envelopes to the producer. It exists only
 * when KAFKA_OUTBOUND (cloud: `-c kafkaOutbound`) maps something, so it is built from the mapping
 * rather than listed in RULES.
 *
 * Pattern: envelopes on the agents bus whose topic matches one of the mapping's patterns (exact,
 * or `prefix*` → EventBridge `prefix` matching), except those the bridge itself published from
 * Kafka (sender `kafka`): a record must not go back to Kafka through a pattern that also covers
 * an inbound topic.
 */
import { BUS_SOURCE, type RuleDef } from './routing';

/** sender of envelopes made from Kafka records (the same as shared/core/envelope.ts KAFKA_SENDER) */
export const KAFKA_BRIDGE_SENDER = 'kafka';

/** EventBridge matchers for a bus topic pattern (`orders.*` → prefix `orders.`; `*` → any topic). */
export function detailTypeMatchers(patterns: readonly string[]): unknown[] {
  const out: unknown[] = [];
  for (const p of patterns) {
    const m = p.endsWith('*') ? { prefix: p.slice(0, -1) } : p;
    if (!out.some((o) => JSON.stringify(o) === JSON.stringify(m))) out.push(m);
  }
  return out;
}

/** The rule KafkaOutbound for the mapping's bus topic patterns. */
export function kafkaOutboundRule(patterns: readonly string[]): RuleDef {
  const matchers = detailTypeMatchers(patterns);
  const anyTopic = patterns.includes('*');
  return {
    id: 'KafkaOutbound',
    bus: 'agents',
    target: 'kafka-producer',
    component: 'kafka',
    description: 'envelopes whose topic matches KAFKA_OUTBOUND go to the Kafka producer (not those that came from Kafka)',
    pattern: {
      source: [BUS_SOURCE],
      ...(anyTopic ? {} : { 'detail-type': matchers }),
      detail: { sender: [{ 'anything-but': KAFKA_BRIDGE_SENDER }] },
    },
  };
}
