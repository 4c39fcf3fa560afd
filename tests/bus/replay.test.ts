/**
 * Replay end to end in local mode: LocalBus with the shared RULES → the very ledger-writer and
 * router handlers → DynamoDB Local (ledger, registry); dispatches recorded at the Dispatcher port.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createTestTables } from '../support/env';
import { LocalBus } from '../../local/bus';
import { RULES } from '../../shared/definitions/routing';
import { createLedgerWriterHandler } from '../../functions/ledger-writer/core';
import { createRouterHandler } from '../../functions/router/core';
import { DynamoRegistry } from '../../shared/adapters/aws/dynamo-registry';
import type { LedgerService } from '../../shared/core/ledger/service';
import type { Envelope } from '../../shared/core/envelope';
import { RecordingDispatcher, allEntries, env, ledgerOn, registration } from './helpers';

let bus: LocalBus;
let ledger: LedgerService;
let dispatcher: RecordingDispatcher;
let originals: Envelope[];

beforeAll(async () => {
  const t = await createTestTables();
  const registry = new DynamoRegistry(t.clients.ddb, t.names.Registry);
  await registry.register(registration('billing', { subscriptions: ['orders.*'] }));
  await registry.register(registration('audit', { subscriptions: ['*'] }));
  dispatcher = new RecordingDispatcher();
  let writer: ReturnType<typeof createLedgerWriterHandler> | undefined;
  bus = new LocalBus({
    rules: RULES,
    vars: { HOT_BUCKET: 'hot' },
    targets: { 'ledger-writer': (e: unknown) => writer!(e), router: createRouterHandler({ registry, dispatcher }) },
  });
  ledger = ledgerOn(t.clients.ddb, t.names.Ledger, { publisher: bus });
  writer = createLedgerWriterHandler({ ledger });
  originals = Array.from({ length: 20 }, (_, i) => env(i % 2 ? 'orders.created' : 'misc.note', i % 4 < 2 ? 'shop' : 'crm', { i }));
  for (const e of originals) await bus.publish([e]);
  await bus.idle();
});

describe('ledger replay (local mode)', () => {
  it('re-delivers a range to subscribers in sequence order, marked replayOf, and ledgers the replays as new entries', async () => {
    const entries = await allEntries(ledger);
    expect(entries.map((e) => e.id)).toEqual(originals.map((e) => e.id));
    expect(dispatcher.envelopesFor('audit').map((e) => e.id)).toEqual(originals.map((e) => e.id));
    dispatcher.items.length = 0;

    expect(await ledger.replay({ fromSeq: 5, toSeq: 14 })).toEqual({ count: 10 });
    await bus.idle();

    const range = entries.slice(4, 14);
    const audit = dispatcher.envelopesFor('audit');
    expect(audit.map((e) => e.replayOf)).toEqual(range.map((e) => e.seq));
    for (const [i, r] of audit.entries()) {
      const orig = range[i]!;
      expect(r).toEqual({
        id: expect.any(String),
        topic: orig.topic,
        sender: orig.sender,
        ts: orig.ts,
        payload: orig.payload,
        replayOf: orig.seq,
      });
      expect(r.id).not.toBe(orig.id);
    }
    expect(dispatcher.envelopesFor('billing').map((e) => e.replayOf)).toEqual(
      range.filter((e) => e.topic === 'orders.created').map((e) => e.seq),
    );
    // each replayed envelope is a separate run (runId = agent + the NEW envelope id)
    expect(new Set(dispatcher.items.map((i) => i.message.runId)).size).toBe(dispatcher.items.length);

    const after = await allEntries(ledger);
    expect(after).toHaveLength(30);
    const replays = after.slice(20);
    expect(replays.map((e) => e.replayOf)).toEqual(range.map((e) => e.seq));
    expect(replays.map((e) => e.id)).toEqual(audit.map((e) => e.id));
    expect(after.slice(0, 20).every((e) => e.replayOf === undefined)).toBe(true);
    expect((await ledger.verify()).ok).toBe(true);
  });

  it('filters by topic and agent; a replay of a replay still names the original', async () => {
    dispatcher.items.length = 0;
    expect(await ledger.replay({ fromSeq: 1, toSeq: 20, topic: 'orders.created', agent: 'crm' })).toEqual({ count: 5 });
    await bus.idle();
    const got = dispatcher.envelopesFor('billing');
    expect(got.every((e) => e.topic === 'orders.created' && e.sender === 'crm')).toBe(true);
    expect(got.map((e) => e.replayOf)).toEqual(
      originals.flatMap((e, i) => (e.topic === 'orders.created' && e.sender === 'crm' ? [i + 1] : [])),
    );

    dispatcher.items.length = 0;
    expect(await ledger.replay({ fromSeq: 21, toSeq: 21 })).toEqual({ count: 1 });
    await bus.idle();
    expect(dispatcher.envelopesFor('audit').map((e) => e.replayOf)).toEqual([5]);
    // a range past the head replays what exists
    expect(await ledger.replay({ fromSeq: 36, toSeq: 500 })).toEqual({ count: 1 });
    await bus.idle();
    expect((await ledger.head()).seq).toBe(37);
    expect((await ledger.verify()).ok).toBe(true);
  });
});
