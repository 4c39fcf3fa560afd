/**
 * The Kafka bridge's Lambda entry points (functions/kafka-inbound/handler.ts,
 * functions/kafka-producer/handler.ts) as the Lambda runtime loads them: a fresh module with the
 * environment infra/constructs/kafka.ts sets, invoked with the events their sources deliver.
 *
 * - kafka-inbound: an Amazon MSK event source mapping's event (records by topic-partition, key
 *   and value base64, header values as bytes) → one PutEvents request (EventBridge has no
 *   emulator: aws-sdk-client-mock, the exact entries asserted): an envelope per good record, a
 *   `kafka.rejected` per bad one, ids from topic, partition and offset; the same event again puts
 *   the same entries (the ledger then records them once).
 * - kafka-producer: an SQS batch of the rule KafkaOutbound's events → records on a real Kafka
 *   wire-protocol cluster (librdkafka's mock, tests/support/kafka.ts) through the idempotent
 *   producer, read back with kcat.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { EnvSchema } from '../../shared/core/config';
import { makeEnvelope } from '../../shared/core/envelope';
import { toBusEvent } from '../../shared/core/bus/events';
import { BUS_SOURCE } from '../../shared/definitions/routing';
import { kcatConsume, startKafkaMock, type KafkaMock } from '../support/kafka';

const eb = mockClient(EventBridgeClient);
let kafka: KafkaMock;

beforeAll(async () => {
  kafka = await startKafkaMock();
});
afterAll(async () => {
  eb.restore();
  await kafka?.stop();
});
beforeEach(() => {
  eb.reset();
  eb.on(PutEventsCommand).callsFake((input: { Entries: unknown[] }) => ({
    FailedEntryCount: 0,
    Entries: input.Entries.map((_, i) => ({ EventId: `ev-${i}` })),
  }));
});
afterEach(() => vi.unstubAllEnvs());

type Handler = (event: unknown) => Promise<unknown>;
async function load(module: string, env: Record<string, string>): Promise<Handler> {
  vi.resetModules();
  for (const k of Object.keys(EnvSchema.shape)) vi.stubEnv(k, undefined);
  for (const [k, v] of Object.entries({
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'x',
    AWS_SECRET_ACCESS_KEY: 'x',
    LOG_LEVEL: 'silent',
    ...env,
  }))
    vi.stubEnv(k, v);
  return ((await import(module)) as { handler: Handler }).handler;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const T = Date.UTC(2026, 2, 3, 4, 5, 6, 789);

const mskEvent = {
  eventSource: 'aws:kafka',
  eventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/orders/abc-1',
  bootstrapServers: 'b-1.orders.kafka.us-east-1.amazonaws.com:9096',
  records: {
    'market-ticks-0': [
      {
        topic: 'market-ticks',
        partition: 0,
        offset: 15,
        timestamp: T,
        timestampType: 'CREATE_TIME',
        key: b64('ACME'),
        value: b64('{"n":7}'),
        headers: [{ recipient: [...Buffer.from('trader')] }],
      },
      {
        topic: 'market-ticks',
        partition: 0,
        offset: 16,
        timestamp: T,
        timestampType: 'CREATE_TIME',
        key: b64('ACME'),
        value: b64('oops'),
        headers: [],
      },
    ],
  },
};

describe('kafka-inbound entry point', () => {
  it('puts each record on the bus as an envelope (or kafka.rejected), ids from topic, partition, offset; again: the same entries', async () => {
    const env = { EVENT_BUS_NAME: 'orch-agents', KAFKA_INBOUND: 'market-ticks=market.tick', KAFKA_GROUP: 'g' };
    const handler = await load('../../functions/kafka-inbound/handler', env);
    expect(await handler(mskEvent)).toEqual({ published: 1, rejected: 1, unmapped: 0 });
    const calls = eb.commandCalls(PutEventsCommand);
    expect(calls).toHaveLength(1);
    const entries = calls[0]!.args[0].input.Entries!;
    expect(entries.map((e) => [e.Source, e.DetailType, e.EventBusName])).toEqual([
      [BUS_SOURCE, 'market.tick', 'orch-agents'],
      [BUS_SOURCE, 'kafka.rejected', 'orch-agents'],
    ]);
    expect(JSON.parse(entries[0]!.Detail!)).toEqual({
      id: 'kafka:market-ticks:0:15',
      topic: 'market.tick',
      sender: 'kafka',
      recipient: 'trader',
      ts: new Date(T).toISOString(),
      payload: { n: 7 },
    });
    expect(JSON.parse(entries[1]!.Detail!)).toMatchObject({
      id: 'kafka:market-ticks:0:16',
      sender: 'orchestrator',
      payload: { reason: 'not_json', offset: '16' },
    });
    // a retried batch makes the very same entries
    await handler(mskEvent);
    const again = eb.commandCalls(PutEventsCommand)[1]!.args[0].input.Entries!;
    expect(again.map((e) => e.Detail)).toEqual(entries.map((e) => e.Detail));
  });

  it('refuses what is not a Kafka event, and says what is missing from the environment', async () => {
    const handler = await load('../../functions/kafka-inbound/handler', { EVENT_BUS_NAME: 'b', KAFKA_INBOUND: 'a=b' });
    await expect(handler({ Records: [] })).rejects.toThrow(/not a Kafka event source event/);
    const bare = await load('../../functions/kafka-inbound/handler', { EVENT_BUS_NAME: 'b' });
    await expect(bare(mskEvent)).rejects.toThrow(/missing required environment variable KAFKA_INBOUND/);
  });
});

describe('kafka-producer entry point', () => {
  it('produces the SQS batch of KafkaOutbound events to the mapped topics on a real Kafka (idempotent producer)', async () => {
    const handler = await load('../../functions/kafka-producer/handler', {
      KAFKA_BROKERS: kafka.brokers.join(','),
      KAFKA_OUTBOUND: 'orders.*=fn-orders',
      KAFKA_SSL: 'false',
    });
    const envelopes = [1, 2, 3].map((n) => makeEnvelope({ topic: 'orders.new', sender: 'trader', recipient: 'broker', payload: { n } }, T));
    const records = envelopes.map((e, i) => ({
      messageId: `m-${i}`,
      receiptHandle: `r-${i}`,
      body: JSON.stringify(
        toBusEvent({ source: BUS_SOURCE, detailType: e.topic, detail: e }, { now: T, account: '123456789012', region: 'us-east-1' }),
      ),
      attributes: {},
      messageAttributes: {},
      eventSource: 'aws:sqs',
    }));
    expect(await handler({ Records: records })).toEqual({ batchItemFailures: [], produced: 3, skipped: 0, invalid: 0 });
    const got = await kcatConsume(kafka.mockBrokers, 'fn-orders');
    expect(got.map((r) => r.headers.id).sort()).toEqual(envelopes.map((e) => e.id).sort());
    for (const r of got) {
      expect(r.key).toBe('broker');
      expect(r.headers).toMatchObject({ topic: 'orders.new', sender: 'trader', recipient: 'broker' });
      expect(JSON.parse(r.value!)).toEqual(envelopes.find((e) => e.id === r.headers.id));
    }
    // one partition (one key): in the order of the batch
    expect(got.map((r) => JSON.parse(r.value!).payload.n)).toEqual([1, 2, 3]);
  });

  it('a Kafka that cannot be reached fails the batch (retryable), so SQS delivers it again', async () => {
    const handler = await load('../../functions/kafka-producer/handler', { KAFKA_BROKERS: '127.0.0.1:1', KAFKA_OUTBOUND: '*=t' });
    const e = makeEnvelope({ topic: 'x', sender: 'a1', payload: {} }, T);
    const body = JSON.stringify(toBusEvent({ source: BUS_SOURCE, detailType: 'x', detail: e }, { now: T, account: '1', region: 'r' }));
    await expect(handler({ Records: [{ messageId: 'm', body }] })).rejects.toMatchObject({ code: 'kafka_produce_failed', retryable: true });
  }, 120_000);
});
