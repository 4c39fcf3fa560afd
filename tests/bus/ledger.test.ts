/**
 * The ledger against DynamoDB Local: gap-free appends under concurrency (through the local bus
 * and the very ledger-writer handler), tamper evidence per field, dedup of redeliveries, list
 * filters and paging, retention with TTL and checkpoints.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { setImmediate as tick } from 'node:timers/promises';
import { createTestTables, ddbEndpoint, type TestTables } from '../support/env';
import { LocalBus } from '../../local/bus';
import { RULES } from '../../shared/definitions/routing';
import { createLedgerWriterHandler } from '../../functions/ledger-writer/core';
import { GENESIS_HASH } from '../../shared/core/ledger/hash';
import { LedgerRequestError } from '../../shared/core/ledger/errors';
import { LEDGER_CHECKPOINT_EVERY } from '../../shared/core/ledger/service';
import { FakeClock } from '../../shared/core/clock';
import { ValidationError } from '../../shared/core/errors';
import type { Envelope } from '../../shared/core/envelope';
import { LedgerTable, T0, allEntries, env, ledgerOn } from './helpers';
import { blockPk } from '../../shared/adapters/aws/dynamo-ledger';
import { createClients } from '../../shared/adapters/aws/clients';
import { RequestCounter } from '../../shared/adapters/aws/request-counter';
import { toBusEvent } from '../../shared/core/bus/events';

let t: TestTables;
let n = 0;
/** a fresh ledger table per test (tables are cheap in DynamoDB Local) */
async function freshTable(): Promise<string> {
  const { ensureTable } = await import('../../shared/adapters/aws/tables');
  const { LEDGER_TABLE } = await import('../../shared/definitions/tables');
  const name = `${t.names.Ledger}-${++n}`;
  await ensureTable(t.clients.ddbRaw, LEDGER_TABLE, name);
  return name;
}

beforeAll(async () => {
  t = await createTestTables();
});

const DAY = 86_400_000;

describe('ledger (DynamoDB Local)', () => {
  it('10,000 envelopes from 20 concurrent publishers: exactly 10,000 entries, gap-free, verify ok', { timeout: 300_000 }, async () => {
    const table = await freshTable();
    const ledger = ledgerOn(t.clients.ddb, table);
    const writer = createLedgerWriterHandler({ ledger });
    // the SQS batch size is 10 in the cloud; 45 (one full commit) keeps this test fast on DynamoDB Local
    const bus = new LocalBus({ rules: RULES, vars: { HOT_BUCKET: 'hot' }, targets: { 'ledger-writer': writer }, ledgerBatchSize: 45 });
    const PUBLISHERS = 20;
    const PER = 500;
    const published: Envelope[][] = Array.from({ length: PUBLISHERS }, () => []);
    await Promise.all(
      Array.from({ length: PUBLISHERS }, async (_, p) => {
        let i = 0;
        while (i < PER) {
          const k = Math.min(PER - i, 1 + ((p * 7 + i) % 10));
          const batch = Array.from({ length: k }, (_, j) => env(`pub.${p % 4}`, `publisher-${p}`, { p, i: i + j }));
          await bus.publish(batch);
          published[p]!.push(...batch);
          i += k;
          await tick(); // interleave the publishers
        }
      }),
    );
    await bus.idle();
    expect(bus.stats()).toMatchObject({ published: 10_000, delivered: { Ledger: 10_000 }, failed: { Ledger: 0 } });

    const entries = await allEntries(ledger);
    expect(entries).toHaveLength(10_000);
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: 10_000 }, (_, i) => i + 1));
    const ids = new Set(entries.map((e) => e.id));
    expect(ids.size).toBe(10_000);
    expect([...ids].sort()).toEqual(
      published
        .flat()
        .map((e) => e.id)
        .sort(),
    );
    // each publisher's envelopes are ledgered in the order it published them (FIFO delivery)
    for (let p = 0; p < PUBLISHERS; p++) {
      const mine = entries.filter((e) => e.sender === `publisher-${p}`).map((e) => e.id);
      expect(mine).toEqual(published[p]!.map((e) => e.id));
    }
    // links: every entry chains to the previous one
    for (let i = 1; i < entries.length; i++) expect(entries[i]!.prevHash).toBe(entries[i - 1]!.hash);
    expect(entries[0]!.prevHash).toBe(GENESIS_HASH);
    const head = await ledger.head();
    expect(head).toEqual({ seq: 10_000, hash: entries[9_999]!.hash });
    expect(await ledger.verify()).toEqual({ ok: true, entries: 10_000, head: head.hash, firstBad: null });
    const raw = new LedgerTable(t.clients.ddb, table);
    // blocks, no id markers: every entry is stored once, inside the block of its commit
    expect(await raw.markers()).toBe(0);
    expect(await raw.countEntries()).toBe(10_000);
    const blocks = await raw.blocks();
    expect(blocks.length).toBeLessThan(10_000);
    expect(blocks.map((b) => Number(b.seq))).toEqual([1, ...blocks.slice(0, -1).map((b) => Number(b.last) + 1)]);
    expect((await raw.checkpoints()).map((c) => c.seq)).toEqual(Array.from({ length: 10 }, (_, i) => (i + 1) * LEDGER_CHECKPOINT_EVERY));
  });

  it('concurrent writers (several ledger services on one table) stay gap-free and record each id once', async () => {
    const table = await freshTable();
    const writers = Array.from({ length: 4 }, () => ledgerOn(t.clients.ddb, table));
    const shared = Array.from({ length: 20 }, (_, i) => env('shared', 'x', { i }));
    const results = await Promise.all(
      writers.map(async (w, k) => {
        const mine = Array.from({ length: 60 }, (_, i) => env('w', `writer-${k}`, { i }));
        const all = [...mine.slice(0, 30), ...shared, ...mine.slice(30)];
        let appended = 0;
        for (let i = 0; i < all.length; i += 7) appended += (await w.append(all.slice(i, i + 7))).appended.length;
        return appended;
      }),
    );
    const ledger = writers[0]!;
    const entries = await allEntries(ledger);
    expect(results.reduce((a, b) => a + b, 0)).toBe(4 * 60 + 20);
    expect(entries).toHaveLength(4 * 60 + 20);
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: entries.length }, (_, i) => i + 1));
    expect(new Set(entries.map((e) => e.id)).size).toBe(entries.length);
    expect((await ledger.verify()).ok).toBe(true);
  });

  it('a writer whose cached head is stale loses the commit, re-reads and appends after the other writer', async () => {
    const table = await freshTable();
    const { DynamoLedgerStore } = await import('../../shared/adapters/aws/dynamo-ledger');
    const { LedgerService } = await import('../../shared/core/ledger/service');
    const store = new DynamoLedgerStore(t.clients.ddb, table);
    const results: boolean[] = [];
    const counting = Object.assign(Object.create(store) as typeof store, {
      commit: async (c: Parameters<typeof store.commit>[0]) => {
        const r = await store.commit(c);
        results.push(r.ok);
        return r;
      },
    });
    const a = new LedgerService({ store: counting });
    const b = ledgerOn(t.clients.ddb, table);
    await a.append([env('a', 'a', { n: 1 })]);
    const shared = env('both', 'x', {});
    await b.append([env('b', 'b', { n: 1 }), shared]);
    // a still believes the head is seq 1; its commit must fail and be redone on seq 3, and the
    // id b already recorded must be recognised after the re-read
    const r = await a.append([env('a', 'a', { n: 2 }), shared]);
    expect(results).toEqual([true, false, true]); // first append, the stale commit, the retry
    expect(r.appended.map((e) => e.seq)).toEqual([4]);
    expect(r.duplicates).toEqual([shared.id]);
    const entries = await allEntries(a);
    expect(entries.map((e) => `${e.seq}:${e.sender}`)).toEqual(['1:a', '2:b', '3:x', '4:a']);
    expect((await a.verify()).ok).toBe(true);
  });

  it('a batch is one block: one conditional PutItem, no id markers, no transaction (the first block and checkpoint blocks aside)', async () => {
    const table = await freshTable();
    const clients = createClients({ region: 'us-east-1', endpoints: { dynamodb: ddbEndpoint() }, localCredentials: true });
    const counter = new RequestCounter();
    counter.count(clients.ddbRaw, 'DynamoDB', { capacity: true });
    const ledger = ledgerOn(clients.ddb, table);
    const writer = createLedgerWriterHandler({ ledger });
    const batch = (n: number) => ({
      Records: Array.from({ length: n }, (_, i) => {
        const e = env('orders.created', 'shop', { order: i, note: 'x'.repeat(300) });
        return {
          messageId: e.id,
          body: JSON.stringify(
            toBusEvent({ source: 'agent-orchestrator', detailType: e.topic, detail: e }, { now: T0, account: '1', region: 'us-east-1' }),
          ),
        };
      }),
    });
    await writer(batch(10)); // the first block records where blocks begin: a transaction with the hint
    counter.reset();
    for (let i = 0; i < 5; i++) await writer(batch(10));
    // the tail was read once (cold start); then each batch of 10 is exactly one PutItem
    expect(counter.snapshot()).toEqual({ 'DynamoDB:PutItem': 5 });
    expect(counter.units.write / 50).toBeLessThanOrEqual(0.5);
    const raw = new LedgerTable(clients.ddb, table);
    expect((await raw.blocks()).map((b) => [b.seq, b.last])).toEqual([1, 11, 21, 31, 41, 51].map((f) => [f, f + 9]));
    expect(await raw.markers()).toBe(0);
    expect(await ledger.verify()).toMatchObject({ ok: true, entries: 60 });
  });

  it('a ledger written in the per-entry layout goes on in blocks: one chain, verified, listed, de-duplicated', async () => {
    const table = await freshTable();
    const raw = new LedgerTable(t.clients.ddb, table);
    const old = Array.from({ length: 25 }, (_, i) => env('old', 'x', { i }));
    const legacy = await raw.writeLegacy(old);
    const ledger = ledgerOn(t.clients.ddb, table);
    expect(await ledger.verify()).toEqual({ ok: true, entries: 25, head: legacy[24]!.hash, firstBad: null });
    // an old event delivered again is still recognised (its marker), new ones go into blocks
    const fresh = Array.from({ length: 12 }, (_, i) => env('new', 'y', { i }));
    const r = await ledger.append([old[3]!, ...fresh]);
    expect(r.duplicates).toEqual([old[3]!.id]);
    expect(r.appended.map((e) => e.seq)).toEqual(Array.from({ length: 12 }, (_, i) => 26 + i));
    expect(r.appended[0]!.prevHash).toBe(legacy[24]!.hash);
    expect(Number((await raw.hint())!.blocksFrom)).toBe(26);
    const entries = await allEntries(ledger, 7);
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: 37 }, (_, i) => i + 1));
    expect(entries.slice(0, 25)).toEqual(legacy);
    expect(await ledger.verify()).toMatchObject({ ok: true, entries: 37, firstBad: null });
    // tampering on either side of the boundary is found
    await raw.put({ ...(await raw.items('C#')).find((it) => it.seq === 7)!, sender: 'mallory' });
    expect(await ledger.verify()).toMatchObject({ ok: false, firstBad: 7 });
  });

  it('the same event delivered twice appears once', async () => {
    const table = await freshTable();
    const ledger = ledgerOn(t.clients.ddb, table);
    const writer = createLedgerWriterHandler({ ledger });
    const bus = new LocalBus({ rules: RULES, vars: { HOT_BUCKET: 'hot' }, targets: { 'ledger-writer': writer } });
    const e = env('orders.created', 'shop', { order: 1 });
    const other = env('orders.created', 'shop', { order: 2 });
    // 1. published twice (two PutEvents: two EventBridge events with different ids, same envelope)
    await bus.publish([e]);
    await bus.publish([e, other]);
    await bus.idle();
    // 2. the same SQS batch redelivered to the handler (FIFO redelivery after a timeout)
    const batch = {
      Records: [e, other].map((x, i) => ({
        messageId: `m${i}`,
        body: JSON.stringify({
          version: '0',
          id: `ev-${i}`,
          'detail-type': x.topic,
          source: 'agent-orchestrator',
          account: '1',
          time: '2026-01-01T00:00:00Z',
          region: 'us-east-1',
          resources: [],
          detail: x,
        }),
      })),
    };
    const r1 = await writer(batch);
    const r2 = await writer(batch);
    // 3. the same envelope twice within one batch
    const r3 = await writer({ Records: [batch.Records[0]!, batch.Records[0]!] });
    expect([r1, r2, r3].map((r) => [r.appended, r.duplicates])).toEqual([
      [0, 2],
      [0, 2],
      [0, 2],
    ]);
    const entries = await allEntries(ledger);
    expect(entries.map((x) => x.id)).toEqual([e.id, other.id]);
    expect(entries.map((x) => x.seq)).toEqual([1, 2]);
    expect(await new LedgerTable(t.clients.ddb, table).markers()).toBe(0);
    expect((await ledger.verify()).ok).toBe(true);
  });

  it('a batch redelivered after its append had committed (writer timed out) is not recorded twice', async () => {
    const table = await freshTable();
    const ledger = ledgerOn(t.clients.ddb, table);
    const writer = createLedgerWriterHandler({ ledger });
    let calls = 0;
    const flaky = async (e: unknown) => {
      const r = await writer(e);
      if (++calls === 2) throw new Error('Task timed out after the commit');
      return r;
    };
    const bus = new LocalBus({ rules: RULES, vars: { HOT_BUCKET: 'hot' }, targets: { 'ledger-writer': flaky }, retryBaseMs: 1 });
    const envs = Array.from({ length: 25 }, (_, i) => env('t', 's', { i }));
    for (const e of envs) await bus.publish([e]);
    await bus.idle();
    expect(bus.stats()).toMatchObject({ delivered: { Ledger: 25 }, retried: { Ledger: expect.any(Number) }, failed: { Ledger: 0 } });
    expect(bus.stats().retried.Ledger).toBeGreaterThan(0);
    const entries = await allEntries(ledger);
    expect(entries.map((e) => e.id)).toEqual(envs.map((e) => e.id));
    expect((await ledger.verify()).ok).toBe(true);
  });

  it('the ledger writer skips records without a valid envelope and refuses events it does not know', async () => {
    const table = await freshTable();
    const ledger = ledgerOn(t.clients.ddb, table);
    const writer = createLedgerWriterHandler({ ledger });
    const good = env('a.b', 'x', {});
    const ev = (detail: unknown, extra: Record<string, unknown> = {}) =>
      JSON.stringify({
        version: '0',
        id: 'e',
        'detail-type': 'a.b',
        source: 'agent-orchestrator',
        account: '1',
        time: 't',
        region: 'r',
        resources: [],
        detail,
        ...extra,
      });
    const res = await writer({
      Records: [
        { messageId: '1', body: 'not json' },
        { messageId: '2', body: ev({ ...good, payload: 'not an object' }) },
        { messageId: '3', body: ev(good, { 'detail-type': 'other.topic' }) },
        { messageId: '4', body: ev(good, { source: 'someone.else' }) },
        { messageId: '5', body: ev(good) },
      ],
    });
    expect(res).toEqual({ batchItemFailures: [], appended: 1, duplicates: 0, invalid: 4, lastSeq: 1 });
    // called locally with one EventBridge event (no SQS around it)
    const direct = env('a.b', 'y', {});
    expect(await writer(JSON.parse(ev(direct)))).toEqual({ batchItemFailures: [], appended: 1, duplicates: 0, invalid: 0, lastSeq: 2 });
    await expect(writer({ hello: 'world' })).rejects.toBeInstanceOf(ValidationError);
    await expect(writer({ Records: [] })).rejects.toBeInstanceOf(ValidationError);
    expect((await allEntries(ledger)).map((x) => x.id)).toEqual([good.id, direct.id]);
  });

  it('list filters by topic and agent, pages with after/limit/next, and refuses bad queries', async () => {
    const table = await freshTable();
    const ledger = ledgerOn(t.clients.ddb, table, {}, 7); // small query pages exercise DynamoDB paging
    const envs: Envelope[] = [];
    for (let i = 0; i < 40; i++)
      envs.push(env(i % 3 === 0 ? 'alpha' : 'beta', i % 2 === 0 ? 'even' : 'odd', { i }, i % 5 === 0 ? { recipient: 'five' } : {}));
    await ledger.append(envs);
    const p1 = await ledger.list({ limit: 10 });
    expect(p1.entries.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(p1.next).toBe(10);
    const last = await ledger.list({ after: 35, limit: 10 });
    expect(last.entries.map((e) => e.seq)).toEqual([36, 37, 38, 39, 40]);
    expect(last.next).toBeNull();
    expect(await ledger.list({ after: 40, limit: 10 })).toEqual({ entries: [], next: null });
    const alpha = await ledger.list({ topic: 'alpha', limit: 100 });
    expect(alpha.entries.map((e) => e.payload.i)).toEqual(envs.map((e, i) => (e.topic === 'alpha' ? i : -1)).filter((i) => i >= 0));
    const five = await ledger.list({ agent: 'five', limit: 3 });
    expect(five.entries.map((e) => e.payload.i)).toEqual([0, 5, 10]);
    expect(five.next).toBe(11);
    const odd = await ledger.list({ agent: 'odd', topic: 'beta', limit: 100 });
    expect(odd.entries.every((e) => e.sender === 'odd' && e.topic === 'beta')).toBe(true);
    expect(odd.entries).toHaveLength(envs.filter((e) => e.sender === 'odd' && e.topic === 'beta').length);
    // the entry shape of the contract
    expect(Object.keys(p1.entries[0]!).sort()).toEqual(['hash', 'id', 'payload', 'prevHash', 'recipient', 'sender', 'seq', 'topic', 'ts']);
    for (const bad of [{ limit: 0 }, { limit: 1001 }, { limit: 5, after: -1 }, { limit: 5, topic: 'bad topic!' }, { limit: 1.5 }]) {
      await expect(ledger.list(bad)).rejects.toBeInstanceOf(LedgerRequestError);
    }
    // an empty ledger
    const empty = ledgerOn(t.clients.ddb, await freshTable());
    expect(await empty.list({ limit: 10 })).toEqual({ entries: [], next: null });
    expect(await empty.head()).toEqual({ seq: 0, hash: GENESIS_HASH });
    expect(await empty.verify()).toEqual({ ok: true, entries: 0, head: GENESIS_HASH, firstBad: null });
  });

  it('stores large envelopes and payloads with awkward JSON numbers exactly', async () => {
    const table = await freshTable();
    const ledger = ledgerOn(t.clients.ddb, table);
    const big = (i: number) => env('big', 'x', { i, blob: 'z'.repeat(200_000) });
    const awkward = env('num', 'x', {
      huge: 1e300,
      tiny: 5e-324,
      neg: -0,
      float: 0.1 + 0.2,
      deep: { b: [1, { a: null }], a: 'é\u2028😀' },
    });
    // 25 × 200 KB: more than one commit's byte budget, so the append splits into several commits
    const res = await ledger.append([...Array.from({ length: 25 }, (_, i) => big(i)), awkward]);
    expect(res.appended.map((e) => e.seq)).toEqual(Array.from({ length: 26 }, (_, i) => i + 1));
    const entries = await allEntries(ledger);
    expect(entries[25]!.payload).toEqual(JSON.parse(JSON.stringify(awkward.payload)));
    expect((entries[3]!.payload.blob as string).length).toBe(200_000);
    expect(await ledger.verify()).toMatchObject({ ok: true, entries: 26 });
  });

  it('append refuses an invalid envelope and writes nothing', async () => {
    const table = await freshTable();
    const ledger = ledgerOn(t.clients.ddb, table);
    const good = env('a', 'x', {});
    await expect(ledger.append([good, { ...good, id: 'other', topic: 'bad topic' } as Envelope])).rejects.toBeInstanceOf(ValidationError);
    expect(await ledger.head()).toEqual({ seq: 0, hash: GENESIS_HASH });
  });
});

describe('tamper evidence', () => {
  let table: string;
  let raw: LedgerTable;
  let ledger: ReturnType<typeof ledgerOn>;
  const clock = new FakeClock(T0);

  beforeAll(async () => {
    table = await freshTable();
    raw = new LedgerTable(t.clients.ddb, table);
    // retention on, so entries carry expiresAt/prevExpiresAt too
    ledger = ledgerOn(t.clients.ddb, table, { retentionDays: 30, clock });
    const envs = Array.from({ length: 30 }, (_, i) =>
      env(`t.${i % 3}`, `s${i % 4}`, { i, nested: { list: [i, 'x'] } }, { recipient: 'r' }),
    );
    await ledger.append(envs.slice(0, 15));
    clock.advance(60_000);
    await ledger.append(envs.slice(15));
    await ledger.append([{ ...env('t.r', 'replayer', { again: true }), replayOf: 3 }]);
    expect(await ledger.verify()).toMatchObject({ ok: true, entries: 31 });
  });

  const altered: Record<string, (v: unknown) => unknown> = {
    id: (v) => `${String(v)}x`,
    ts: () => '2030-01-01T00:00:00.000Z',
    topic: () => 'forged',
    sender: () => 'mallory',
    recipient: () => 'mallory',
    payload: (v) => ({ ...(v as Record<string, unknown>), i: 1000 }),
    hash: (v) => String(v).replace(/^./, (c) => (c === 'a' ? 'b' : 'a')),
    prevHash: (v) => String(v).replace(/^./, (c) => (c === 'a' ? 'b' : 'a')),
    expiresAt: (v) => Number(v) - 86_400,
    prevExpiresAt: (v) => (v === undefined ? 1_800_000_000 : Number(v) + 1),
  };

  for (const seq of [1, 17, 30]) {
    for (const [field, change] of Object.entries(altered)) {
      it(`editing ${field} of entry ${seq} is reported at ${seq}`, async () => {
        const original = (await raw.get(seq))!;
        const restore = await raw.snapshot(seq);
        await raw.set(seq, field, change(original[field]));
        try {
          const report = await ledger.verify();
          expect(report).toMatchObject({ ok: false, firstBad: seq });
        } finally {
          await restore();
        }
        expect((await ledger.verify()).ok).toBe(true);
      });
    }
  }

  it('editing replayOf, removing a field, or adding an unknown one is reported', async () => {
    const cases: [number, (seq: number) => Promise<void>][] = [
      [31, (s) => raw.set(s, 'replayOf', 4)],
      [31, (s) => raw.remove(s, 'replayOf')],
      [9, (s) => raw.set(s, 'replayOf', 1)],
      [12, (s) => raw.remove(s, 'recipient')],
      [13, (s) => raw.set(s, 'seq2', 1)],
      [14, (s) => raw.set(s, 'payload', 'not json')],
      [15, (s) => raw.set(s, 'topic', 42)],
    ];
    for (const [seq, edit] of cases) {
      const restore = await raw.snapshot(seq);
      await edit(seq);
      try {
        expect(await ledger.verify()).toMatchObject({ ok: false, firstBad: seq });
      } finally {
        await restore();
      }
    }
    expect((await ledger.verify()).ok).toBe(true);
  });

  it('deleting an entry that has not expired (first, middle or last of its block, the last of the ledger), or adding a block after the last, is reported', async () => {
    for (const seq of [1, 15, 16, 20, 30, 31]) {
      const restore = await raw.snapshot(seq);
      await raw.delete(seq);
      try {
        expect(await ledger.verify()).toMatchObject({ ok: false, firstBad: seq });
      } finally {
        await restore();
      }
    }
    // a block appended after the last one that does not link to it
    const last = (await raw.block(31))!;
    const copy = { ...last, pk: blockPk(32), seq: 32, last: 32 };
    await raw.putBody(copy, [{ ...(await raw.get(31))!, seq: 32 }]);
    try {
      expect(await ledger.verify()).toMatchObject({ ok: false, firstBad: 32 });
    } finally {
      await raw.putBody(copy, []);
    }
    expect((await ledger.verify()).ok).toBe(true);
  });

  it('a consistently re-hashed forgery of the last entry still breaks the head (its block and the head hint)', async () => {
    const restore = await raw.snapshot(31);
    const { hashEntry } = await import('../../shared/core/ledger/hash');
    const entries = await allEntries(ledger);
    const forged = { ...entries[30]!, payload: { forged: true } };
    await raw.set(31, 'payload', { forged: true });
    await raw.set(31, 'hash', hashEntry(forged, forged.prevHash));
    try {
      expect(await ledger.verify()).toMatchObject({ ok: false, firstBad: 31 });
    } finally {
      await restore();
    }
  });
});

describe('retention (TTL) and checkpoints', () => {
  it('verify accepts entries that expired and were deleted by TTL, and still detects deletions of live ones', async () => {
    const table = await freshTable();
    const raw = new LedgerTable(t.clients.ddb, table);
    const clock = new FakeClock(T0);
    const ledger = ledgerOn(t.clients.ddb, table, { retentionDays: 1, clock });
    // blocks of 10: TTL deletes whole blocks, in no particular order
    for (let b = 0; b < 3; b++) await ledger.append(Array.from({ length: 10 }, (_, i) => env('old', 'x', { i: b * 10 + i })));
    clock.advance(DAY / 2);
    await ledger.append(Array.from({ length: 30 }, (_, i) => env('new', 'x', { i })));
    const before = await allEntries(ledger);
    expect(before[0]!.expiresAt).toBe(T0 / 1000 + 86_400);
    expect(before[59]!.expiresAt).toBe((T0 + DAY / 2) / 1000 + 86_400);
    expect(before[30]!.prevExpiresAt).toBe(before[29]!.expiresAt);

    clock.advance(DAY / 2 + 1000); // the first 30 have expired, the last 30 not
    // list leaves out expired entries TTL has not deleted yet
    expect((await allEntries(ledger)).map((e) => e.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 31));
    expect(await ledger.verify()).toMatchObject({ ok: true, entries: 60 });
    // TTL deletes lazily and in no particular order: some expired blocks first, then the rest
    expect(await raw.expire(clock.now(), (it) => Number(it.seq) === 11)).toBe(2);
    expect(await ledger.verify()).toMatchObject({ ok: true, firstBad: null });
    expect(await raw.expire(clock.now())).toBeGreaterThan(0);
    expect(await raw.countEntries()).toBe(30);
    expect(await ledger.verify()).toEqual({ ok: true, entries: 30, head: before[59]!.hash, firstBad: null });
    // deleting a live entry next to the expired range is detected
    const restore31 = await raw.snapshot(31);
    await raw.delete(31);
    expect(await ledger.verify()).toMatchObject({ ok: false, firstBad: 31 });
    await restore31();
    // editing the first retained entry is still detected (its hash, and the next entry's link)
    await raw.set(31, 'sender', 'mallory');
    expect(await ledger.verify()).toMatchObject({ ok: false, firstBad: 31 });
    await restore31();
    // appends go on after expiry; the chain continues from the head
    await ledger.append([env('later', 'x', {})]);
    expect(await ledger.verify()).toMatchObject({ ok: true, entries: 31 });
    // everything expired and deleted: an empty remainder still verifies against the head
    clock.advance(2 * DAY);
    await raw.expire(clock.now());
    expect(await raw.countEntries()).toBe(0);
    expect(await ledger.verify()).toMatchObject({ ok: true, entries: 0, firstBad: null });
  });

  it('expiry never decreases along the chain, also when the retention setting is lowered', async () => {
    const table = await freshTable();
    const clock = new FakeClock(T0);
    await ledgerOn(t.clients.ddb, table, { retentionDays: 30, clock }).append([env('a', 'x', {})]);
    clock.advance(1000);
    const shorter = ledgerOn(t.clients.ddb, table, { retentionDays: 1, clock });
    await shorter.append([env('b', 'x', {})]);
    const [a, b] = await allEntries(shorter);
    expect(b!.expiresAt).toBe(a!.expiresAt);
    expect(b!.expiresAt).toBe(T0 / 1000 + 30 * 86_400);
  });

  it('retention switched on after keep-forever entries: those can never be missing, a checkpoint marks the switch', async () => {
    const table = await freshTable();
    const raw = new LedgerTable(t.clients.ddb, table);
    const clock = new FakeClock(T0);
    await ledgerOn(t.clients.ddb, table, { retentionDays: 0, clock }).append(
      Array.from({ length: 10 }, (_, i) => env('forever', 'x', { i })),
    );
    const ledger = ledgerOn(t.clients.ddb, table, { retentionDays: 1, clock });
    await ledger.append(Array.from({ length: 10 }, (_, i) => env('ttl', 'x', { i })));
    await ledgerOn(t.clients.ddb, table, { retentionDays: 0, clock }).append(
      Array.from({ length: 5 }, (_, i) => env('forever-again', 'x', { i })),
    );
    expect((await raw.checkpoints()).map((c) => [c.seq, c.retentionStart])).toEqual([[11, true]]);
    clock.advance(2 * DAY);
    await raw.expire(clock.now());
    expect(await raw.countEntries()).toBe(15);
    expect(await ledger.verify()).toMatchObject({ ok: true, entries: 15 });
    // entry 10 never expires: deleting it (next to the expired 11..20) is detected
    const restore10 = await raw.snapshot(10);
    await raw.delete(10);
    expect(await ledger.verify()).toMatchObject({ ok: false, firstBad: 10 });
    await restore10();
    // an entry written after retention was switched off never expires either
    const restore21 = await raw.snapshot(21);
    await raw.delete(21);
    expect(await ledger.verify()).toMatchObject({ ok: false, firstBad: 21 });
    await restore21();
    expect((await ledger.verify()).ok).toBe(true);
  });
});

describe('replay validation', () => {
  it('refuses bad ranges and changes nothing', async () => {
    const table = await freshTable();
    const published: Envelope[] = [];
    const ledger = ledgerOn(t.clients.ddb, table, { publisher: { publish: async (e) => void published.push(...e) } });
    await ledger.append([env('a', 'x', {})]);
    for (const bad of [
      { fromSeq: 0, toSeq: 1 },
      { fromSeq: 5, toSeq: 4 },
      { fromSeq: 1, toSeq: 10_001 },
      { fromSeq: 1.5, toSeq: 2 },
      { fromSeq: 1, toSeq: 2, topic: '' },
    ]) {
      await expect(ledger.replay(bad)).rejects.toBeInstanceOf(LedgerRequestError);
    }
    expect(published).toEqual([]);
    expect(await ledger.replay({ fromSeq: 2, toSeq: 100 })).toEqual({ count: 0 });
    const noPublisher = ledgerOn(t.clients.ddb, table);
    await expect(noPublisher.replay({ fromSeq: 1, toSeq: 1 })).rejects.toBeInstanceOf(LedgerRequestError);
  });
});
