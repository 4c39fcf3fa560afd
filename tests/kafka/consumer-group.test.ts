/**
 * Two Kafka bridges in one consumer group, as two local modes (or two Lambda event source
 * mapping pollers) would run them against one ledger: each is the component as the composition
 * root builds it (compose on the local platform, its KafkaJS consumer, its local bus and ledger
 * writer), both write to the same DynamoDB Local ledger table, and a real Kafka wire-protocol
 * cluster (librdkafka's mock, tests/support/kafka.ts) serves the topic's 4 partitions.
 *
 * - the group shares the partitions: each bridge reads some, together all;
 * - each record is ledgered once, under the id derived from its topic, partition and offset;
 * - a bridge of another group then reads the whole topic again: every record is delivered to the
 *   ledger a second time, and recorded no second time (what a redelivery after a rebalance or a
 *   restart amounts to, for every record at once).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compose, type Composition } from '../../functions/compose';
import { createLocalPlatform, type LocalPlatform } from '../../local/platform';
import { loadConfig } from '../../shared/core/config';
import { silentLogger } from '../../shared/core/logger';
import type { KafkaConsumer } from '../../shared/core/ports';
import { kafkaEnvelopeId } from '../../shared/core/kafka/records';
import { createTestTables, tempDir, type TestTables } from '../support/env';
import { waitFor } from '../support/local-process';
import { kcatConsume, kcatProduceMany, startKafkaMock, type KafkaMock } from '../support/kafka';
import { allEntries } from '../bus/helpers';

const N = 200;
/** records produced per extra round while the group rebalances */
const ROUND = 20;
/** records produced in all (N and the rounds) */
let produced = 0;
let kafka: KafkaMock;
let t: TestTables;
const dirs: ReturnType<typeof tempDir>[] = [];
const bridges: { local: LocalPlatform; c: Composition; consumer: KafkaConsumer }[] = [];

function bridge(group: string) {
  const config = loadConfig({
    REGISTRY_TABLE: t.names.Registry,
    HEARTBEAT_TABLE: t.names.Heartbeats,
    LEDGER_TABLE: t.names.Ledger,
    LOG_LEVEL: 'silent',
    KAFKA_BROKERS: kafka.brokers.join(','),
    KAFKA_INBOUND: 'ticks=market.tick',
    KAFKA_GROUP: group,
  });
  const dir = tempDir('orch-kafka-group-');
  dirs.push(dir);
  // several writers of one ledger (as several pollers would be): no in-memory read model or tail
  const local = createLocalPlatform({
    config,
    dataDir: dir.path,
    clients: t.clients,
    token: 'test',
    logger: silentLogger,
    readModel: false,
  });
  const c = compose(config, local.platform);
  local.connect(c);
  const consumer = local.kafkaConsumer();
  if (!consumer) throw new Error('no consumer: KAFKA_INBOUND not applied');
  const b = { local, c, consumer };
  bridges.push(b);
  return b;
}

const fromKafka = async () => (await allEntries(bridges[0]!.c.ledger)).filter((e) => e.sender === 'kafka');

beforeAll(async () => {
  kafka = await startKafkaMock();
  t = await createTestTables();
});

afterAll(async () => {
  for (const b of bridges) {
    await b.consumer.stop();
    await b.local.bus.idle();
    await b.local.pool.stop();
  }
  await kafka?.stop();
  for (const d of dirs) d.cleanup();
});

describe('two bridges in one consumer group', () => {
  it('share the partitions, and each record is ledgered once', async () => {
    const a = bridge('shared-group');
    const b = bridge('shared-group');
    await Promise.all([a.local.components.set('kafka', true), b.local.components.set('kafka', true)]);
    // the group's members join over seconds, and a member that joins late gets its share only at
    // the rebalance: produce N records, then rounds of ROUND more until both bridges have read some
    await kcatProduceMany(
      kafka.mockBrokers,
      'ticks',
      Array.from({ length: N }, (_, i) => JSON.stringify({ i })),
    );
    produced = N;
    await waitFor(
      'both bridges reading a share of the partitions',
      async () => {
        if ([a, b].every((x) => x.local.bus.stats().published > 0)) return true;
        await new Promise((r) => setTimeout(r, 500));
        await kcatProduceMany(
          kafka.mockBrokers,
          'ticks',
          Array.from({ length: ROUND }, (_, k) => JSON.stringify({ i: produced + k })),
        );
        produced += ROUND;
        return undefined;
      },
      120_000,
    );
    const records = await kcatConsume(kafka.mockBrokers, 'ticks');
    expect(records).toHaveLength(produced);
    expect(new Set(records.map((r) => r.partition)).size).toBeGreaterThan(1);

    const entries = await waitFor(
      `${produced} records in the ledger`,
      async () => {
        const e = await fromKafka();
        return e.length >= produced ? e : undefined;
      },
      120_000,
    );
    for (const x of bridges) await x.local.bus.idle();
    expect(entries).toHaveLength(produced);
    expect(new Set(entries.map((e) => e.id))).toEqual(new Set(records.map((r) => kafkaEnvelopeId('ticks', r.partition, String(r.offset)))));
    expect(entries.map((e) => e.payload.i).sort((x, y) => Number(x) - Number(y))).toEqual(Array.from({ length: produced }, (_, i) => i));
    // each bridge read a share of the partitions: both published, together at least every record
    const published = [a, b].map((x) => x.local.bus.stats().published);
    expect(published.every((n) => n > 0)).toBe(true);
    expect(published[0]! + published[1]!).toBeGreaterThanOrEqual(produced);
    expect((await bridges[0]!.c.ledger.verify()).ok).toBe(true);
  }, 240_000);

  it('a bridge of another group reads every record again: delivered twice, ledgered once', async () => {
    const before = await fromKafka();
    const replay = bridge('another-group');
    await replay.local.components.set('kafka', true);
    await waitFor(
      'every record read by the other group',
      async () => (replay.local.bus.stats().delivered.Ledger >= produced ? true : undefined),
      120_000,
    );
    await replay.local.bus.idle();
    const after = await fromKafka();
    expect(after.map((e) => [e.seq, e.id])).toEqual(before.map((e) => [e.seq, e.id]));
    expect((await bridges[0]!.c.ledger.verify()).ok).toBe(true);
  }, 240_000);
});
