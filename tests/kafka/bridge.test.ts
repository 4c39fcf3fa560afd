/**
 * The Kafka bridge's pure parts: the configuration (env and context strings), records →
 * envelopes (ids, rejections), envelopes → records, the outbound rule's pattern (checked with
 * local mode's own EventBridge pattern matcher), and the reserved sender names.
 */
import { describe, expect, it } from 'vitest';
import { parseBundleKey } from '../../shared/core/bundle/identity';
import { BundleRejectedError, ConfigError } from '../../shared/core/errors';
import { compilePattern } from '../../shared/core/bus/pattern';
import { toBusEvent } from '../../shared/core/bus/events';
import { loadConfig } from '../../shared/core/config';
import { makeEnvelope, KAFKA_SENDER, RESERVED_SENDERS } from '../../shared/core/envelope';
import { outboundTopicsFor, parseKafkaConfig } from '../../shared/core/kafka/config';
import { envelopeToRecords, kafkaEnvelopeId, recordToEnvelope } from '../../shared/core/kafka/records';
import { KafkaInbound, KafkaOutbound } from '../../shared/core/kafka/service';
import type { Envelope } from '../../shared/core/envelope';
import type { KafkaRecordIn, KafkaRecordOut } from '../../shared/core/ports';
import { kafkaOutboundRule } from '../../shared/definitions/kafka';
import { BUS_SOURCE } from '../../shared/definitions/routing';

const enc = (s: string) => new TextEncoder().encode(s);
const rec = (value: string | null, over: Partial<KafkaRecordIn> = {}): KafkaRecordIn => ({
  topic: 'market-ticks',
  partition: 2,
  offset: '41',
  timestamp: Date.UTC(2026, 0, 2, 3, 4, 5, 678),
  key: enc('ACME'),
  value: value === null ? null : enc(value),
  headers: {},
  ...over,
});
const NOW = Date.UTC(2026, 5, 1);

describe('configuration', () => {
  it('reads the contract env: brokers, inbound kafkaTopic=busTopic, outbound pattern=kafkaTopic, group', () => {
    expect(
      parseKafkaConfig({
        KAFKA_BROKERS: 'b1:9092, b2:9093',
        KAFKA_INBOUND: 'market-ticks=market.tick',
        KAFKA_OUTBOUND: 'orders.*=agent-orders,alerts=agent-alerts',
      }),
    ).toEqual({
      brokers: ['b1:9092', 'b2:9093'],
      inbound: [{ kafkaTopic: 'market-ticks', busTopic: 'market.tick' }],
      outbound: [
        { pattern: 'orders.*', kafkaTopic: 'agent-orders' },
        { pattern: 'alerts', kafkaTopic: 'agent-alerts' },
      ],
      group: 'agent-orchestrator',
      ssl: false,
      sasl: null,
    });
    expect(parseKafkaConfig({})).toBeNull();
    expect(loadConfig({}).kafka).toBeNull();
    expect(loadConfig({ KAFKA_BROKERS: 'k:9092', KAFKA_OUTBOUND: '*=all', KAFKA_GROUP: 'g1' }).kafka).toMatchObject({ group: 'g1' });
    expect(
      parseKafkaConfig({
        KAFKA_INBOUND: 'a=b',
        KAFKA_SASL_MECHANISM: 'scram-sha-512',
        KAFKA_SECRET_ARN: 'arn:aws:secretsmanager:x',
        KAFKA_SSL: 'true',
      }),
    ).toMatchObject({ brokers: [], ssl: true, sasl: { mechanism: 'scram-sha-512', secretArn: 'arn:aws:secretsmanager:x' } });
  });

  it('refuses what is malformed, naming the variable', () => {
    const bad: [Record<string, string>, RegExp][] = [
      [{ KAFKA_BROKERS: 'b1' }, /KAFKA_BROKERS: "b1" is not host:port/],
      [{ KAFKA_BROKERS: 'b1:9092' }, /neither KAFKA_INBOUND nor KAFKA_OUTBOUND/],
      [{ KAFKA_INBOUND: 'topic' }, /KAFKA_INBOUND: "topic" is not of the form left=right/],
      [{ KAFKA_INBOUND: 'a b=x' }, /KAFKA_INBOUND: "a b" is not a Kafka topic/],
      [{ KAFKA_INBOUND: 'a=-x' }, /KAFKA_INBOUND: "-x" is not a bus topic/],
      [{ KAFKA_INBOUND: 'a=x,a=y' }, /mapped twice/],
      [{ KAFKA_INBOUND: 'a=agent.failed' }, /KAFKA_INBOUND: "agent.failed" is a reserved bus topic/],
      [{ KAFKA_INBOUND: 'a=bundle.rejected' }, /KAFKA_INBOUND: "bundle.rejected" is a reserved bus topic/],
      [{ KAFKA_OUTBOUND: 'or*ders=t' }, /KAFKA_OUTBOUND: "or\*ders" is not a bus topic or a topic prefix/],
      [{ KAFKA_OUTBOUND: 'orders=t/x' }, /KAFKA_OUTBOUND: "t\/x" is not a Kafka topic/],
      [{ KAFKA_INBOUND: 'a=b', KAFKA_SASL_MECHANISM: 'plain' }, /needs KAFKA_SASL_USERNAME/],
      [{ KAFKA_INBOUND: 'a=b', KAFKA_SASL_MECHANISM: 'gssapi' }, /KAFKA_SASL_MECHANISM/],
    ];
    for (const [env, msg] of bad) {
      expect(() => parseKafkaConfig(env), JSON.stringify(env)).toThrow(ConfigError);
      expect(() => parseKafkaConfig(env), JSON.stringify(env)).toThrow(msg);
    }
  });

  it('an envelope goes to every Kafka topic whose pattern matches its topic, once each', () => {
    const routes = parseKafkaConfig({ KAFKA_OUTBOUND: 'orders.*=o,orders.new=n,orders.*=o,*=all' })!.outbound;
    expect(outboundTopicsFor(routes, 'orders.new')).toEqual(['o', 'n', 'all']);
    expect(outboundTopicsFor(routes, 'orders')).toEqual(['all']);
  });
});

describe('records → envelopes', () => {
  it('a JSON object becomes an envelope from kafka, its id derived from topic, partition and offset, its ts the record time', () => {
    const r = recordToEnvelope(rec('{"n":1,"nested":{"a":[1,2]}}', { headers: { recipient: 'trader' } }), 'market.tick', NOW);
    expect(r).toEqual({
      kind: 'envelope',
      envelope: {
        id: 'kafka:market-ticks:2:41',
        topic: 'market.tick',
        sender: KAFKA_SENDER,
        recipient: 'trader',
        ts: '2026-01-02T03:04:05.678Z',
        payload: { n: 1, nested: { a: [1, 2] } },
      },
    });
    // the same record read again makes the same envelope
    expect(recordToEnvelope(rec('{"n":1,"nested":{"a":[1,2]}}', { headers: { recipient: 'trader' } }), 'market.tick', NOW + 1)).toEqual(r);
    // no timestamp: the time it was read
    expect(recordToEnvelope(rec('{}', { timestamp: null }), 'market.tick', NOW)).toMatchObject({
      envelope: { ts: new Date(NOW).toISOString() },
    });
  });

  it('ids stay within 128 characters for the longest topic names', () => {
    expect(kafkaEnvelopeId('t', 0, '0')).toBe('kafka:t:0:0');
    const long = kafkaEnvelopeId('x'.repeat(249), 7, '9223372036854775807');
    expect(long).toMatch(/^kafka:[0-9a-f]{32}:7:9223372036854775807$/);
    expect(kafkaEnvelopeId('x'.repeat(249), 7, '1')).not.toBe(kafkaEnvelopeId('y'.repeat(249), 7, '1'));
  });

  it('what cannot be an envelope becomes kafka.rejected with the reason, under the same id', () => {
    const cases: [KafkaRecordIn, string][] = [
      [rec(null), 'empty'],
      [rec('not json'), 'not_json'],
      [{ ...rec(null), value: new Uint8Array([0xff, 0xfe, 0x7b, 0x7d]) }, 'not_json'],
      [rec('[1,2]'), 'not_object'],
      [rec('null'), 'not_object'],
      [rec('"text"'), 'not_object'],
      [rec('{}', { headers: { recipient: 'Not An Agent' } }), 'bad_recipient'],
      [rec(JSON.stringify({ big: 'x'.repeat(300 * 1024) })), 'too_large'],
      [rec(JSON.stringify({ big: 'x'.repeat(256 * 1024 - 40) })), 'too_large'],
    ];
    for (const [r, reason] of cases) {
      const out = recordToEnvelope(r, 'market.tick', NOW);
      expect(out.kind, reason).toBe('rejected');
      expect(out.envelope).toMatchObject({
        id: 'kafka:market-ticks:2:41',
        topic: 'kafka.rejected',
        sender: 'orchestrator',
        payload: { kafkaTopic: 'market-ticks', partition: 2, offset: '41', busTopic: 'market.tick', reason, key: 'ACME' },
      });
    }
  });

  it('KafkaInbound publishes one batch: envelopes and rejections, in record order', async () => {
    const published: Envelope[][] = [];
    const inbound = new KafkaInbound({
      events: { publish: async (e) => void published.push(e) },
      routes: [{ kafkaTopic: 'market-ticks', busTopic: 'market.tick' }],
    });
    const report = await inbound.handle([
      rec('{"n":1}', { offset: '1' }),
      rec('oops', { offset: '2' }),
      rec('{}', { topic: 'other', offset: '3' }),
    ]);
    expect(report).toEqual({ published: 1, rejected: 1, unmapped: 1 });
    expect(published).toHaveLength(1);
    expect(published[0]!.map((e) => [e.id, e.topic])).toEqual([
      ['kafka:market-ticks:2:1', 'market.tick'],
      ['kafka:market-ticks:2:2', 'kafka.rejected'],
    ]);
  });
});

describe('envelopes → records', () => {
  const routes = parseKafkaConfig({ KAFKA_OUTBOUND: 'orders.*=agent-orders,*=everything' })!.outbound;

  it('value the envelope, key the recipient (else the id), headers id, topic, sender (and recipient)', () => {
    const e = makeEnvelope({ topic: 'orders.new', sender: 'trader', recipient: 'broker', payload: { qty: 3 } }, NOW);
    const recs = envelopeToRecords(e, routes);
    expect(recs).toEqual([
      {
        topic: 'agent-orders',
        key: 'broker',
        value: JSON.stringify(e),
        headers: { id: e.id, topic: 'orders.new', sender: 'trader', recipient: 'broker' },
      },
      {
        topic: 'everything',
        key: 'broker',
        value: JSON.stringify(e),
        headers: { id: e.id, topic: 'orders.new', sender: 'trader', recipient: 'broker' },
      },
    ]);
    const broadcast = makeEnvelope({ topic: 'alerts', sender: 'api', payload: {} }, NOW);
    expect(envelopeToRecords(broadcast, routes)).toEqual([
      {
        topic: 'everything',
        key: broadcast.id,
        value: JSON.stringify(broadcast),
        headers: { id: broadcast.id, topic: 'alerts', sender: 'api' },
      },
    ]);
    // what came from Kafka does not go back
    expect(envelopeToRecords(makeEnvelope({ topic: 'orders.new', sender: KAFKA_SENDER, payload: {} }, NOW), routes)).toEqual([]);
  });

  it('KafkaOutbound sends one batch', async () => {
    const sent: KafkaRecordOut[][] = [];
    const outbound = new KafkaOutbound({ producer: { send: async (r) => void sent.push(r), close: async () => undefined }, routes });
    const a = makeEnvelope({ topic: 'orders.new', sender: 'trader', payload: {} }, NOW);
    const b = makeEnvelope({ topic: 'x', sender: KAFKA_SENDER, payload: {} }, NOW);
    expect(await outbound.handle([a, b])).toEqual({ produced: 2, skipped: 1 });
    expect(sent.map((batch) => batch.map((r) => r.topic))).toEqual([['agent-orders', 'everything']]);
  });

  it('the rule KafkaOutbound selects the mapped topics and never what came from Kafka (local pattern matcher)', () => {
    const ev = (topic: string, sender = 'trader') =>
      toBusEvent(
        { source: BUS_SOURCE, detailType: topic, detail: makeEnvelope({ topic, sender, payload: {} }, NOW) },
        { now: NOW, account: '0', region: 'r' },
      );
    const rule = compilePattern(kafkaOutboundRule(['orders.*', 'alerts']).pattern);
    expect(rule.matches(ev('orders.new'))).toBe(true);
    expect(rule.matches(ev('alerts'))).toBe(true);
    expect(rule.matches(ev('alerts.x'))).toBe(false);
    expect(rule.matches(ev('orders'))).toBe(false);
    expect(rule.matches(ev('orders.new', 'kafka'))).toBe(false);
    const all = compilePattern(kafkaOutboundRule(['*']).pattern);
    expect(all.matches(ev('anything'))).toBe(true);
    expect(all.matches(ev('anything', 'kafka'))).toBe(false);
  });
});

describe('reserved senders', () => {
  it('kafka, orchestrator and api cannot be agent names: their bundles are rejected as bad_name', () => {
    expect(RESERVED_SENDERS).toEqual(['orchestrator', 'api', 'kafka']);
    for (const name of RESERVED_SENDERS) {
      let err: unknown;
      try {
        parseBundleKey(`agents/${name}/1.0.0.mjs`);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(BundleRejectedError);
      expect((err as BundleRejectedError).reason).toBe('bad_name');
      expect((err as Error).message).toMatch(/is reserved/);
    }
    expect(parseBundleKey('agents/kafka-reader/1.0.0.mjs').name).toBe('kafka-reader');
  });
});
