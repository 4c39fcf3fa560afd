/** LocalBus: event shapes, rule matching, per-target FIFO delivery, retries, rule switches, idle. */
import { describe, expect, it } from 'vitest';
import { LocalBus, type SqsBatchEvent } from '../../local/bus';
import { BUS_SOURCE, RULES } from '../../shared/definitions/routing';
import { BusEventSchema, type BusEvent } from '../../shared/core/bus/events';
import { BusEntryTooLargeError } from '../../shared/core/bus/errors';
import { ValidationError } from '../../shared/core/errors';
import { FakeClock } from '../../shared/core/clock';
import type { Envelope } from '../../shared/core/envelope';
import { T0, env } from './helpers';

const VARS = { HOT_BUCKET: 'hot' };

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

function recorder() {
  const events: BusEvent[] = [];
  const fn = async (e: BusEvent) => {
    events.push(e);
  };
  return { events, fn };
}

const bodies = (batches: SqsBatchEvent[]) => batches.flatMap((b) => b.Records.map((r) => JSON.parse(r.body) as BusEvent<Envelope>));

describe('LocalBus', () => {
  it('delivers envelopes as EventBridge would: the event shape, per rule, each target its own copy', async () => {
    const clock = new FakeClock(T0 + 1234);
    const router = recorder();
    const health = recorder();
    const ledger: SqsBatchEvent[] = [];
    const bus = new LocalBus({
      rules: RULES,
      vars: VARS,
      clock,
      targets: { router: router.fn, 'health-monitor': health.fn, 'ledger-writer': async (b: SqsBatchEvent) => void ledger.push(b) },
    });
    const e1 = env('orders.created', 'shop', { n: 1, skip: undefined } as Record<string, unknown>, { recipient: 'billing' });
    const e2 = env('agent.cycle', 'shop', { ok: true });
    const e3 = env('agent.failed', 'shop', { error: 'x' });
    await bus.publish([e1, e2, e3]);
    await bus.idle();

    const ev = router.events[0]!;
    expect(Object.keys(ev).sort()).toEqual(['account', 'detail', 'detail-type', 'id', 'region', 'resources', 'source', 'time', 'version']);
    expect(BusEventSchema.parse(ev)).toBeTruthy();
    expect(ev).toMatchObject({
      version: '0',
      source: BUS_SOURCE,
      'detail-type': 'orders.created',
      account: '000000000000',
      region: 'us-east-1',
      resources: [],
      time: '2026-01-01T00:00:01Z',
    });
    // the detail is the envelope after the JSON round trip PutEvents implies (undefined dropped)
    expect(ev.detail).toEqual(JSON.parse(JSON.stringify(e1)));
    expect(Object.keys(ev.detail as object)).not.toContain('skip');
    // Delivery: everything but agent.cycle; Health: agent.failed only; Ledger: everything
    expect(router.events.map((x) => x['detail-type'])).toEqual(['orders.created', 'agent.failed']);
    expect(health.events.map((x) => x['detail-type'])).toEqual(['agent.failed']);
    expect(bodies(ledger).map((x) => x.detail.id)).toEqual([e1.id, e2.id, e3.id]);
    // one PutEvents entry = one event id, shared by every rule that matched it
    expect(router.events[1]!.id).toBe(health.events[0]!.id);
    expect(router.events[1]).not.toBe(health.events[0]);
    expect(bus.stats()).toMatchObject({
      published: 3,
      matched: { Ledger: 3, Delivery: 2, Health: 1, HotDirectory: 0 },
      delivered: { Ledger: 3, Delivery: 2, Health: 1 },
    });
  });

  it('hands the ledger writer SQS FIFO batches of at most 10 records, in publish order', async () => {
    const batches: SqsBatchEvent[] = [];
    const gate = deferred();
    const bus = new LocalBus({
      rules: RULES,
      vars: VARS,
      targets: {
        'ledger-writer': async (b: SqsBatchEvent) => {
          batches.push(b);
          if (batches.length === 1) await gate.promise; // events queue up behind the first batch
        },
      },
    });
    const envs = Array.from({ length: 25 }, (_, i) => env('t', 's', { i }));
    await bus.publish(envs.slice(0, 1));
    await bus.publish(envs.slice(1));
    gate.resolve();
    await bus.idle();
    expect(batches.map((b) => b.Records.length)).toEqual([1, 10, 10, 4]);
    expect(bodies(batches).map((e) => e.detail.id)).toEqual(envs.map((e) => e.id));
    const rec = batches[1]!.Records[0]!;
    expect(rec).toMatchObject({ eventSource: 'aws:sqs', attributes: { MessageGroupId: 'ledger', ApproximateReceiveCount: '1' } });
    expect(rec.attributes.MessageDeduplicationId).toBe(JSON.parse(rec.body).id);
    const seqs = batches.flatMap((b) => b.Records.map((r) => r.attributes.SequenceNumber));
    expect([...seqs].sort()).toEqual(seqs);
  });

  it('delivers the S3 events of the default bus to the manager only for the hot bucket under agents/', async () => {
    const manager = recorder();
    const bus = new LocalBus({ rules: RULES, vars: VARS, targets: { 'agent-manager': manager.fn } });
    const s3 = (bucket: string, key: string): BusEvent => ({
      version: '0',
      id: key,
      'detail-type': 'Object Created',
      source: 'aws.s3',
      account: '000000000000',
      time: '2026-01-01T00:00:00Z',
      region: 'us-east-1',
      resources: [`arn:aws:s3:::${bucket}`],
      detail: { version: '0', bucket: { name: bucket }, object: { key, size: 1 }, reason: 'PutObject' },
    });
    bus.putDefaultBusEvent(s3('hot', 'agents/a/1.0.0.mjs'));
    bus.putDefaultBusEvent(s3('hot', 'elsewhere/a.mjs'));
    bus.putDefaultBusEvent(s3('cold', 'agents/a/1.0.0.mjs'));
    await bus.publish([env('t', 's', {})]); // envelopes never reach the manager
    await bus.idle();
    expect(manager.events.map((e) => e.id)).toEqual(['agents/a/1.0.0.mjs']);
    expect(bus.stats()).toMatchObject({ defaultBusEvents: 3, delivered: { HotDirectory: 1 } });
  });

  it('refuses what PutEvents refuses, before accepting anything', async () => {
    const router = recorder();
    const bus = new LocalBus({ rules: RULES, vars: VARS, targets: { router: router.fn } });
    const good = env('t', 's', {});
    await expect(bus.publish([good, { ...good, topic: 'no spaces allowed' }])).rejects.toBeInstanceOf(ValidationError);
    // within the contract's 256 KB, but not a PutEvents entry once Source and DetailType count
    const big = env('t', 's', { blob: '' });
    big.payload.blob = 'x'.repeat(256 * 1024 - JSON.stringify(big).length);
    expect(Buffer.byteLength(JSON.stringify(big))).toBe(256 * 1024);
    await expect(bus.publish([good, big])).rejects.toBeInstanceOf(BusEntryTooLargeError);
    await bus.idle();
    expect(router.events).toEqual([]);
    expect(bus.stats().published).toBe(0);
  });

  it('each target gets one delivery at a time, in order; targets do not wait for each other', async () => {
    const gate = deferred();
    let active = 0;
    let maxActive = 0;
    const seen: number[] = [];
    const ledgerSeen: number[] = [];
    const bus = new LocalBus({
      rules: RULES,
      vars: VARS,
      targets: {
        router: async (e: BusEvent<Envelope>) => {
          active++;
          maxActive = Math.max(maxActive, active);
          if (seen.length === 0) await gate.promise;
          await new Promise((r) => setTimeout(r, 1));
          seen.push(e.detail.payload.i as number);
          active--;
        },
        'ledger-writer': async (b: SqsBatchEvent) => {
          for (const r of b.Records) ledgerSeen.push((JSON.parse(r.body) as BusEvent<Envelope>).detail.payload.i as number);
        },
      },
    });
    for (let i = 0; i < 20; i++) await bus.publish([env('t', 's', { i })]);
    // the router is blocked on its first event, the ledger is not: it gets all 20 meanwhile
    await expect.poll(() => ledgerSeen.length).toBe(20);
    expect(ledgerSeen).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(seen).toEqual([]);
    gate.resolve();
    await bus.idle();
    expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(maxActive).toBe(1);
  });

  it('ledgerLingerMs: a Ledger batch waits out the linger since the previous one, so what arrives meanwhile goes in one append', async () => {
    const batches: SqsBatchEvent[] = [];
    const bus = new LocalBus({
      rules: RULES,
      vars: VARS,
      ledgerLingerMs: 200,
      targets: { 'ledger-writer': async (b: SqsBatchEvent) => void batches.push(b) },
    });
    // the first goes at once (nothing appended before)
    await bus.publish([env('t', 's', { i: 0 })]);
    await expect.poll(() => batches.length).toBe(1);
    // five separate publishes within the linger: one batch of five, in order
    for (let i = 1; i <= 5; i++) await bus.publish([env('t', 's', { i })]);
    await bus.idle();
    expect(batches.map((b) => b.Records.length)).toEqual([1, 5]);
    expect(bodies(batches).map((e) => e.detail.payload.i)).toEqual([0, 1, 2, 3, 4, 5]);

    // without it (the default) each separate publish is its own append
    const single: SqsBatchEvent[] = [];
    const plain = new LocalBus({ rules: RULES, vars: VARS, targets: { 'ledger-writer': async (b: SqsBatchEvent) => void single.push(b) } });
    for (let i = 0; i < 3; i++) {
      await plain.publish([env('t', 's', { i })]);
      await plain.idle();
    }
    expect(single.map((b) => b.Records.length)).toEqual([1, 1, 1]);
  });

  it('a target given a concurrency takes that many deliveries at once (the cloud invokes it per event); a queued rule target cannot', async () => {
    const gates: (() => void)[] = [];
    let active = 0;
    let maxActive = 0;
    const seen: number[] = [];
    const bus = new LocalBus({
      rules: RULES,
      vars: VARS,
      concurrency: { 'health-monitor': 3 },
      targets: {
        'health-monitor': async (e: BusEvent<Envelope>) => {
          active++;
          maxActive = Math.max(maxActive, active);
          await new Promise<void>((r) => gates.push(r));
          seen.push(e.detail.payload.i as number);
          active--;
        },
      },
    });
    for (let i = 0; i < 7; i++) await bus.publish([env('agent.failed', 'orchestrator', { i })]);
    // three held at once, the other four wait their turn
    await expect.poll(() => gates.length).toBe(3);
    expect(bus.stats().queued['health-monitor']).toBe(4);
    // released one by one, each freed place takes the next event, never more than three
    for (let released = 0; released < 7; released++) {
      await expect.poll(() => gates.length).toBeGreaterThan(released);
      gates[released]!();
    }
    await bus.idle();
    expect(seen.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(maxActive).toBe(3);
    expect(bus.stats().delivered.Health).toBe(7);
    // a second burst after the queue ran dry is picked up again
    await bus.publish([env('agent.failed', 'orchestrator', { i: 7 })]);
    await expect.poll(() => gates.length).toBe(8);
    gates[7]!();
    await bus.idle();
    expect(seen).toContain(7);

    expect(() => new LocalBus({ rules: RULES, vars: VARS, targets: {}, concurrency: { 'ledger-writer': 2 } })).toThrow(/queued rule/);
    expect(() => new LocalBus({ rules: RULES, vars: VARS, targets: {}, concurrency: { router: 0 } })).toThrow(/positive integer/);
  });

  it('retries a failing Ledger delivery in place, holding back the events behind it (FIFO), for as long as its time budget', async () => {
    let down = true;
    const seen: number[] = [];
    let attempts = 0;
    const bus = new LocalBus({
      rules: RULES,
      vars: VARS,
      retryBaseMs: 1,
      retryMaxDelayMs: 5,
      ledgerBatchSize: 1,
      targets: {
        'ledger-writer': async (e: { Records: { body: string }[] }) => {
          attempts++;
          if (down) throw new Error('ECONNREFUSED');
          for (const r of e.Records) seen.push((JSON.parse(r.body) as BusEvent<Envelope>).detail.payload.i as number);
        },
      },
    });
    await bus.publish([0, 1, 2].map((i) => env('t', 's', { i })));
    // an outage far longer than the old 3-attempt bound: nothing is given up, nothing overtakes
    while (attempts < 20) await new Promise((r) => setTimeout(r, 5));
    expect(seen).toEqual([]);
    down = false;
    await bus.idle();
    expect(seen).toEqual([0, 1, 2]);
    expect(bus.deadLetters).toEqual([]);
    expect(bus.stats()).toMatchObject({ delivered: { Ledger: 3 }, failed: { Ledger: 0 } });
  });

  it('gives up on a delivery once its retry time is spent', async () => {
    const bus = new LocalBus({
      rules: RULES,
      vars: VARS,
      retryBaseMs: 1,
      retryMaxDelayMs: 2,
      retryForMs: 30,
      targets: { router: async () => Promise.reject(new Error('down')) },
    });
    await bus.publish([env('t', 's', { i: 0 })]);
    await bus.idle();
    expect(bus.stats()).toMatchObject({ failed: { Delivery: 1 }, delivered: { Delivery: 0 } });
    expect(bus.deadLetters).toEqual([expect.objectContaining({ rule: 'Delivery', error: 'down' })]);
  });

  it('retries a failing target with a bound, then counts, logs and moves on without crashing', async () => {
    const lines: string[] = [];
    const { createLogger } = await import('../../shared/core/logger');
    const logger = createLogger({ level: 'warn', sink: (l) => void lines.push(l) });
    let calls = 0;
    const tries = new Map<number, number>();
    const got: number[] = [];
    const bus = new LocalBus({
      rules: RULES,
      vars: VARS,
      logger,
      retryBaseMs: 1,
      maxAttempts: 3,
      targets: {
        router: async (e: BusEvent<Envelope>) => {
          calls++;
          const i = e.detail.payload.i as number;
          tries.set(i, (tries.get(i) ?? 0) + 1);
          if (i === 0 && tries.get(i)! < 3) throw new Error('transient');
          if (i === 1) throw new Error('permanent');
          got.push(i);
        },
      },
    });
    await bus.publish([env('t', 's', { i: 0 }), env('t', 's', { i: 1 }), env('t', 's', { i: 2 })]);
    await bus.idle();
    // retries run in the background: event 2 was not held back by the retries of 0 and 1
    expect(got).toEqual([2, 0]);
    expect(calls).toBe(3 + 3 + 1);
    expect(bus.stats()).toMatchObject({ delivered: { Delivery: 2 }, failed: { Delivery: 1 }, retried: { Delivery: 2 + 2 } });
    expect(bus.deadLetters).toEqual([expect.objectContaining({ rule: 'Delivery', target: 'router', error: 'permanent' })]);
    expect(lines.some((l) => JSON.parse(l).msg === 'bus delivery failed; giving up')).toBe(true);
  });

  it('a disabled rule drops its events; the Delivery rule buffers them and delivers in order on enable', async () => {
    const router = recorder();
    const health = recorder();
    const bus = new LocalBus({ rules: RULES, vars: VARS, targets: { router: router.fn, 'health-monitor': health.fn } });
    const sw = bus.ruleSwitch('Delivery');
    sw.setEnabled(false);
    bus.setRuleEnabled('Health', false);
    expect(sw.isEnabled()).toBe(false);
    const failed = [0, 1, 2].map((i) => env('agent.failed', 's', { i }));
    await bus.publish(failed);
    await bus.idle();
    expect(router.events).toEqual([]);
    expect(health.events).toEqual([]);
    expect(bus.stats()).toMatchObject({ buffered: { Delivery: 3 }, dropped: { Health: 3 } });
    bus.setRuleEnabled('Health', true);
    sw.setEnabled(true);
    await bus.idle();
    expect(router.events.map((e) => (e.detail as Envelope).id)).toEqual(failed.map((e) => e.id));
    expect(health.events).toEqual([]); // dropped, as EventBridge does for a disabled rule
    expect(bus.stats()).toMatchObject({ buffered: { Delivery: 0 }, delivered: { Delivery: 3 } });
    expect(() => bus.setRuleEnabled('Nope' as never, true)).toThrow(ValidationError);
  });

  it('idle() also waits for what targets publish while being delivered; listeners see every envelope', async () => {
    const seen: string[] = [];
    const ledger: string[] = [];
    const bus: LocalBus = new LocalBus({
      rules: RULES,
      vars: VARS,
      targets: {
        router: async (e: BusEvent<Envelope>) => {
          const depth = e.detail.payload.depth as number;
          if (depth < 3) await bus.publish([env('chain', 's', { depth: depth + 1 })]);
        },
        'ledger-writer': async (b: SqsBatchEvent) => {
          await new Promise((r) => setTimeout(r, 5));
          for (const r of b.Records) ledger.push(String((JSON.parse(r.body) as BusEvent<Envelope>).detail.payload.depth));
        },
      },
    });
    const off = bus.subscribe((e) => seen.push(e['detail-type']));
    await bus.publish([env('chain', 's', { depth: 0 })]);
    await bus.idle();
    expect(ledger).toEqual(['0', '1', '2', '3']);
    expect(seen).toEqual(['chain', 'chain', 'chain', 'chain']);
    off();
    await bus.publish([env('other', 's', { depth: 9 })]);
    await bus.idle();
    expect(seen).toHaveLength(4);
  });

  it('counts events whose rule has no local target', async () => {
    const bus = new LocalBus({ rules: RULES, vars: VARS, targets: {} });
    await bus.publish([env('agent.failed', 's', {})]);
    await bus.idle();
    expect(bus.stats()).toMatchObject({
      matched: { Ledger: 1, Delivery: 1, Health: 1 },
      undeliverable: { Ledger: 1, Delivery: 1, Health: 1 },
    });
  });
});
