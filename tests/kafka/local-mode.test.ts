/**
 * The Kafka bridge in the whole local mode (LocalOrchestrator: DynamoDB Local, s3rver, the local
 * bus, the runner pool with worker threads) against a real Kafka wire-protocol cluster
 * (librdkafka's mock cluster, started by kcat: tests/support/kafka.ts), with the component as
 * local mode builds it from KAFKA_*:
 *
 * - outbound: an agent's envelope appears on the mapped Kafka topic, with its id header;
 * - inbound: a record produced with kcat reaches an agent's onEnvelope and the ledger;
 * - a malformed record becomes `kafka.rejected`, and the next good record still flows;
 * - stopping the component stops both directions; what is produced or published meanwhile
 *   arrives after start, nothing lost, nothing twice in the ledger.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalOrchestrator } from '../../local/host';
import { bundleKey } from '../../shared/core/bundle/identity';
import { publicKeyOf, signBundle } from '../../shared/core/bundle/signing';
import { createLogger, silentLogger } from '../../shared/core/logger';
import type { LedgerEntry } from '../../shared/core/ports';
import { tempDir } from '../support/env';
import { waitFor } from '../support/local-process';
import { kcatConsume, kcatProduce, startKafkaMock, type KafkaMock } from '../support/kafka';

const TRADER = `
export default {
  cycleSeconds: 3600,
  timeoutSeconds: 5,
  subscriptions: ['market.tick'],
  async runCycle(ctx) {
    const n = (ctx.state.get('orders') ?? 0) + 1;
    ctx.state.set('orders', n);
    await ctx.publish('orders.new', { order: n }, 'broker');
  },
  async onEnvelope(envelope, ctx) {
    // one key per envelope: envelope runs of one agent may overlap, and each writes only its own key
    ctx.state.set('tick.' + envelope.id.replace(/[^A-Za-z0-9_.-]/g, '_'), { id: envelope.id, sender: envelope.sender, n: envelope.payload.n });
  },
};
`;

const data = tempDir('orch-kafka-local-');
let kafka: KafkaMock;
let host: LocalOrchestrator;

const api = (path: string, init: RequestInit = {}) =>
  fetch(host.apiUrl.replace(/\/$/, '') + path, {
    ...init,
    headers: { authorization: `Bearer ${host.dev.token}`, 'content-type': 'application/json', ...(init.headers ?? {}) },
  });

async function ledger(topic: string): Promise<LedgerEntry[]> {
  const out: LedgerEntry[] = [];
  let after = 0;
  for (;;) {
    const page = await host.ledger.list({ after, limit: 500, topic });
    out.push(...page.entries);
    if (page.next === null) return out;
    after = page.next;
  }
}

/** what the trader's onEnvelope saw, one state key per envelope */
const ticks = async () =>
  Object.entries(await host.heartbeats.getState('trader'))
    .filter(([k]) => k.startsWith('tick.'))
    .map(([, v]) => v as { id: string; sender: string; n: number });

async function trigger(): Promise<void> {
  expect((await api('/agents/trader/trigger', { method: 'POST' })).status).toBe(202);
}

beforeAll(async () => {
  kafka = await startKafkaMock();
  host = await LocalOrchestrator.start({
    dataDir: data.path,
    port: 0,
    logger: process.env.KDEBUG ? createLogger({ level: 'debug' }) : silentLogger,
    env: {
      ...process.env,
      LOG_LEVEL: 'silent',
      KAFKA_BROKERS: kafka.brokers.join(','),
      KAFKA_INBOUND: 'market-ticks=market.tick',
      KAFKA_OUTBOUND: 'orders.*=agent-orders,alerts=agent-alerts',
      KAFKA_GROUP: 'local-mode-test',
    },
  });
  const bytes = new TextEncoder().encode(TRADER);
  await host.bundles.put(bundleKey('trader', '1.0.0'), bytes, {
    signature: signBundle(host.dev.privateKey, 'trader', '1.0.0', bytes),
    signer: publicKeyOf(host.dev.privateKey),
  });
  await waitFor('trader registered', async () => ((await api('/agents/trader')).status === 200 ? true : undefined));
  // local mode does not wait for Kafka: the bridge joins its group in the background
  await host.kafkaStarted;
}, 240_000);

afterAll(async () => {
  await host?.stop();
  await kafka?.stop();
  data.cleanup();
});

describe('the Kafka bridge in local mode', () => {
  it('is a component: GET /components lists kafka, running', async () => {
    const body = (await (await api('/components')).json()) as { components: { name: string; running: boolean }[] };
    expect(body.components.map((c) => c.name)).toEqual(['manager', 'scheduler', 'runner', 'monitor', 'bus', 'kafka']);
    expect(body.components.find((c) => c.name === 'kafka')).toEqual({ name: 'kafka', running: true });
  });

  it("outbound: an agent's envelope appears on the mapped Kafka topic with its id header", async () => {
    await trigger();
    const [entry] = await waitFor('orders.new in the ledger', async () => {
      const e = await ledger('orders.new');
      return e.length > 0 ? e : undefined;
    });
    const record = await waitFor('the envelope on agent-orders', async () =>
      (await kcatConsume(kafka.mockBrokers, 'agent-orders')).find((r) => r.headers.id === entry!.id),
    );
    expect(record.headers).toEqual({ id: entry!.id, topic: 'orders.new', sender: 'trader', recipient: 'broker' });
    expect(record.key).toBe('broker');
    expect(JSON.parse(record.value!)).toEqual({
      id: entry!.id,
      topic: 'orders.new',
      sender: 'trader',
      recipient: 'broker',
      ts: entry!.ts,
      payload: { order: 1 },
    });
  });

  it("inbound: a record produced with kcat reaches the agent's onEnvelope and the ledger", async () => {
    await kcatProduce(kafka.mockBrokers, 'market-ticks', [{ value: JSON.stringify({ n: 1, price: 101.5 }), key: 'ACME', partition: 0 }]);
    const [entry] = await waitFor('market.tick in the ledger', async () => {
      const e = (await ledger('market.tick')).filter((x) => x.payload.n === 1);
      return e.length > 0 ? e : undefined;
    });
    expect(entry).toMatchObject({ id: 'kafka:market-ticks:0:0', topic: 'market.tick', sender: 'kafka', payload: { n: 1, price: 101.5 } });
    await waitFor("the trader's onEnvelope", async () => ((await ticks()).some((t) => t.n === 1) ? true : undefined));
    expect((await ticks()).find((t) => t.n === 1)).toEqual({ id: 'kafka:market-ticks:0:0', sender: 'kafka', n: 1 });
  });

  it('a malformed record becomes kafka.rejected and the next good record still flows', async () => {
    await kcatProduce(kafka.mockBrokers, 'market-ticks', [
      { value: 'this is not JSON', key: 'ACME', partition: 0 },
      { value: '[1,2,3]', key: 'ACME', partition: 0 },
      { value: JSON.stringify({ n: 2 }), key: 'ACME', partition: 0 },
    ]);
    await waitFor("n=2 in the trader's onEnvelope", async () => ((await ticks()).some((t) => t.n === 2) ? true : undefined));
    // the ledger is appended beside the deliveries, not before them (local mode groups its appends)
    const rejected = await waitFor('both rejections in the ledger', async () => {
      const r = await ledger('kafka.rejected');
      return r.length >= 2 ? r : undefined;
    });
    expect(rejected.map((e) => [e.id, e.sender, e.payload.reason])).toEqual([
      ['kafka:market-ticks:0:1', 'orchestrator', 'not_json'],
      ['kafka:market-ticks:0:2', 'orchestrator', 'not_object'],
    ]);
    expect(rejected[0]!.payload).toMatchObject({
      kafkaTopic: 'market-ticks',
      partition: 0,
      offset: '1',
      busTopic: 'market.tick',
      key: 'ACME',
    });
    const tick2 = await waitFor('the good record in the ledger', async () => (await ledger('market.tick')).find((e) => e.payload.n === 2));
    expect(tick2.id).toBe('kafka:market-ticks:0:3');
  });

  it('stopping the component stops both directions; after start everything arrives, once', async () => {
    const stop = await api('/components/kafka/stop', { method: 'POST' });
    expect(await stop.json()).toEqual({ component: { name: 'kafka', running: false } });

    // inbound: records produced while stopped are not read (the consumer has left the group)
    await kcatProduce(
      kafka.mockBrokers,
      'market-ticks',
      [3, 4, 5].map((n) => ({ value: JSON.stringify({ n }), partition: n % 2 })),
    );
    // outbound: the agent's envelope is held (as the cloud's queue holds it) and not produced
    await trigger();
    const [order2] = await waitFor('the second order in the ledger', async () => {
      const e = (await ledger('orders.new')).filter((x) => x.payload.order === 2);
      return e.length > 0 ? e : undefined;
    });
    await host.idle();
    expect(host.bus.stats().buffered.KafkaOutbound).toBe(1);
    expect((await kcatConsume(kafka.mockBrokers, 'agent-orders')).some((r) => r.headers.id === order2!.id)).toBe(false);
    expect((await ledger('market.tick')).filter((e) => [3, 4, 5].includes(e.payload.n as number))).toEqual([]);

    const start = await api('/components/kafka/start', { method: 'POST' });
    expect(await start.json()).toEqual({ component: { name: 'kafka', running: true } });
    await waitFor('the held order on agent-orders', async () =>
      (await kcatConsume(kafka.mockBrokers, 'agent-orders')).some((r) => r.headers.id === order2!.id) ? true : undefined,
    );
    // the new member's join completes once the mock's group coordinator has waited out the
    // session timeout of the member that left (30 s): a generous bound
    await waitFor(
      'ticks 3, 4, 5 at the trader',
      async () => {
        const ns = (await ticks()).map((t) => t.n);
        return [3, 4, 5].every((n) => ns.includes(n)) ? true : undefined;
      },
      150_000,
    );
    await host.idle();
    // nothing twice: every record once in the ledger, and once at the agent
    const inLedger = await ledger('market.tick');
    expect(inLedger.map((e) => e.payload.n).sort()).toEqual([1, 2, 3, 4, 5]);
    expect(new Set(inLedger.map((e) => e.id)).size).toBe(5);
    expect((await ticks()).map((t) => t.n).sort()).toEqual([1, 2, 3, 4, 5]);
    expect(host.bus.stats().buffered.KafkaOutbound).toBe(0);
  }, 300_000);

  it('an envelope that came from Kafka is not sent back to Kafka, and a topic no pattern maps is not sent', async () => {
    const pub = await api('/events', { method: 'POST', body: JSON.stringify({ topic: 'alerts', payload: { level: 'high' } }) });
    const { id } = (await pub.json()) as { id: string };
    const other = await api('/events', { method: 'POST', body: JSON.stringify({ topic: 'alerts.sub', payload: {} }) });
    const { id: otherId } = (await other.json()) as { id: string };
    const rec = await waitFor('the alert on agent-alerts', async () =>
      (await kcatConsume(kafka.mockBrokers, 'agent-alerts')).find((r) => r.headers.id === id),
    );
    expect(rec).toMatchObject({ key: id, headers: { id, topic: 'alerts', sender: 'api' } });
    await host.idle();
    expect((await kcatConsume(kafka.mockBrokers, 'agent-alerts')).map((r) => r.headers.id)).toEqual([id]);
    expect(otherId).toBeTruthy();
    // what the rule matched: the two orders and the alert; not alerts.sub, not the ticks from Kafka
    expect(host.bus.stats().matched.KafkaOutbound).toBe(3);
  });
});
