/**
 * Kafka bridge throughput, each direction through the code local mode runs, against a real Kafka
 * wire-protocol cluster on this machine (librdkafka's mock cluster started by Debian's kcat, with
 * the controller fix of tests/support/kafka.ts so the idempotent producer can start; the cluster
 * is in memory and shares the 2 cores with the benchmark):
 *
 * - outbound: envelopes published on the local bus → rule KafkaOutbound (SQS-shaped batches of
 *   100) → the kafka-producer handler → KafkaOutbound → the idempotent KafkaJS producer; timed
 *   until every record is acknowledged (acks from all in-sync replicas);
 * - inbound: records already on a 4-partition topic → the KafkaJS consumer (consumer group) →
 *   KafkaInbound (records → envelopes, ids derived) → the local bus (accepted); timed from the
 *   first batch to the last, the group join excluded. Into the ledger, local mode is bounded by
 *   the ledger's append rate (bench/ledger.ts), not by the bridge.
 */
import { KafkaJsConsumer, KafkaJsProducer, type KafkaConnection } from '../shared/adapters/kafka/kafkajs';
import { makeEnvelope } from '../shared/core/envelope';
import { KafkaInbound, KafkaOutbound } from '../shared/core/kafka/service';
import { kafkaOutboundRule } from '../shared/definitions/kafka';
import { RULES } from '../shared/definitions/routing';
import { createKafkaProducerHandler } from '../functions/kafka-producer/core';
import { LocalBus } from '../local/bus';
import { startKafkaMock } from '../tests/support/kafka';
import type { BenchResult } from './types';

const N = 5000;
const PAYLOAD = 'x'.repeat(200);

export const repeat = 3;

export async function run(): Promise<BenchResult[]> {
  const kafka = await startKafkaMock();
  const connection = async (): Promise<KafkaConnection> => ({ brokers: kafka.brokers, clientId: 'bench', ssl: false, sasl: null });
  const producer = new KafkaJsProducer({ connection });
  try {
    // ---- outbound: bus → Kafka
    const outbound = new KafkaOutbound({ producer, routes: [{ pattern: 'bench.*', kafkaTopic: 'bench-out' }] });
    const handler = createKafkaProducerHandler({ outbound });
    let produced = 0;
    const bus = new LocalBus({
      rules: [kafkaOutboundRule(['bench.*'])],
      vars: { HOT_BUCKET: 'hot' },
      targets: {
        'kafka-producer': async (e: unknown) => {
          const r = await handler(e);
          produced += r.produced;
          return r;
        },
      },
    });
    // warm-up: connect the producer (InitProducerId) outside the timing
    await producer.send([{ topic: 'bench-out', key: 'warm', value: '{}', headers: {} }]);
    let t0 = performance.now();
    for (let i = 0; i < N; i += 50) {
      await bus.publish(
        Array.from({ length: 50 }, (_, j) =>
          makeEnvelope({ topic: 'bench.order', sender: 'bench', recipient: `a${(i + j) % 16}`, payload: { i: i + j, text: PAYLOAD } }),
        ),
      );
    }
    await bus.idle();
    const outSeconds = (performance.now() - t0) / 1000;
    if (produced !== N) throw new Error(`produced ${produced} of ${N}`);

    // ---- inbound: Kafka → bus
    const values = Array.from({ length: N }, (_, i) => JSON.stringify({ i, text: PAYLOAD }));
    for (let i = 0; i < N; i += 500)
      await producer.send(values.slice(i, i + 500).map((value, j) => ({ topic: 'bench-in', key: `k${i + j}`, value, headers: {} })));
    let accepted = 0;
    const inBus = new LocalBus({ rules: RULES, vars: { HOT_BUCKET: 'hot' }, targets: { 'ledger-writer': async () => undefined } });
    const inbound = new KafkaInbound({ events: inBus, routes: [{ kafkaTopic: 'bench-in', busTopic: 'bench.tick' }] });
    let first = 0;
    let last = 0;
    let done: () => void = () => undefined;
    const all = new Promise<void>((r) => (done = r));
    const consumer = new KafkaJsConsumer({
      connection,
      group: `bench-${Date.now()}`,
      topics: ['bench-in'],
      onBatch: async (records) => {
        first ||= performance.now();
        const r = await inbound.handle(records);
        accepted += r.published;
        last = performance.now();
        if (accepted >= N) done();
      },
    });
    t0 = performance.now();
    await consumer.start();
    await Promise.race([
      all,
      new Promise((_, rej) => setTimeout(() => rej(new Error(`inbound: ${accepted} of ${N} after 120 s`)), 120_000)),
    ]);
    await inBus.idle();
    const joinSeconds = (first - t0) / 1000;
    const inSeconds = (last - first) / 1000;
    await consumer.stop();

    const r = (v: number) => Math.round(v);
    return [
      {
        name: 'outbound: bus → Kafka, acknowledged (idempotent producer, batches of 100)',
        value: r(N / outSeconds),
        unit: 'envelopes/s',
        note: `${N} envelopes of ~0.4 KB, local bus → kafka-producer handler → KafkaJS; librdkafka mock cluster (3 brokers) on the same cores`,
      },
      {
        name: 'inbound: Kafka → bus (consumer group, records → envelopes)',
        value: r(N / inSeconds),
        unit: 'records/s',
        note: `${N} records on 4 partitions, first batch to last (group join ${joinSeconds.toFixed(1)} s excluded); into the ledger local mode is bounded by the ledger append rate`,
      },
    ];
  } finally {
    await producer.close();
    await kafka.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of await run()) console.log(`${r.name}: ${r.value} ${r.unit}${r.note ? ` (${r.note})` : ''}`);
}
