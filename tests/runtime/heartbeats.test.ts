/** DynamoHeartbeats against DynamoDB Local: claims, one-write completion, state, expectations. */
import { beforeAll, describe, expect, it } from 'vitest';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoHeartbeats, claimItemKey } from '../../shared/adapters/aws/dynamo-heartbeats';
import type { RunCompletion } from '../../shared/core/ports';
import { shardOf } from '../../shared/definitions/tables';
import { createTestTables, ddbEndpoint, type TestTables } from '../support/env';
import { createClients } from '../../shared/adapters/aws/clients';
import { RequestCounter } from '../../shared/adapters/aws/request-counter';
import { T0 } from './helpers';

const SHARDS = 3;
let t: TestTables;
let hb: DynamoHeartbeats;

beforeAll(async () => {
  t = await createTestTables();
  hb = new DynamoHeartbeats(t.clients.ddb, t.names.Heartbeats, { shards: SHARDS });
});

const done = (over: Partial<RunCompletion> = {}): RunCompletion => ({
  runId: 'r',
  at: T0,
  outcome: 'ok',
  error: null,
  durationMs: 7,
  generation: 1,
  stateChanges: {},
  expectBy: T0 + 60_000,
  countsAsCycle: true,
  ...over,
});

describe('DynamoHeartbeats (DynamoDB Local)', () => {
  it('claims a slot at most once, and only slots after the last one', async () => {
    const c = (slot: number) => ({ runId: `a@${slot}`, slot, startedAt: T0, deadline: T0 + 1000 });
    expect(await hb.claim('a', c(1000))).toBe(true);
    expect(await hb.claim('a', c(1000))).toBe(false);
    expect(await hb.claim('a', c(500))).toBe(false);
    // racing claims of one slot: exactly one wins
    const wins = await Promise.all(Array.from({ length: 8 }, () => hb.claim('a', c(2000))));
    expect(wins.filter(Boolean)).toHaveLength(1);
    expect(await hb.get('a')).toMatchObject({ lastSlot: 2000, running: { runId: 'a@2000' } });
  });

  it('claims trigger/envelope runs once per runId with a TTL claim item', async () => {
    const claim = { runId: 'a!trigger!1', startedAt: T0, deadline: T0 + 5000 };
    const wins = await Promise.all([hb.claim('a', claim), hb.claim('a', claim), hb.claim('a', claim)]);
    expect(wins.filter(Boolean)).toHaveLength(1);
    const item = await t.clients.ddb.send(new GetCommand({ TableName: t.names.Heartbeats, Key: { name: claimItemKey('a', claim.runId) } }));
    expect(item.Item).toMatchObject({ runId: claim.runId, expiresAt: Math.ceil((T0 + 5000) / 1000) + 86_400 });
    expect(await hb.claim('a', { ...claim, runId: 'a!trigger!2' })).toBe(true);
  });

  it('a slot claim is a lease: taken over by the same run only after its deadline, and its completion is applied once', async () => {
    const lease = { runId: 'l@1000', slot: 1000, startedAt: T0, deadline: T0 + 5000 };
    expect(await hb.claim('l', lease)).toBe(true);
    // a redelivery while the first attempt may still run: refused
    expect(await hb.claim('l', { ...lease, startedAt: T0 + 4000, deadline: T0 + 9000 })).toBe(false);
    // after the deadline, without a completion: taken over (the first attempt died after claiming)
    const second = { ...lease, startedAt: T0 + 6000, deadline: T0 + 11_000 };
    expect(await hb.claim('l', second)).toBe(true);
    expect(await hb.get('l')).toMatchObject({ running: { runId: 'l@1000', startedAt: T0 + 6000 } });
    // the first attempt finishing late: superseded, nothing written
    const late = await hb.complete('l', done({ runId: 'l@1000', lease: { slot: 1000, startedAt: T0 }, stateChanges: { who: 'first' } }));
    expect(late.status).toBe('superseded');
    expect(await hb.get('l')).toMatchObject({ cycles: 0 });
    // the lease holder completes; a retried write of the same completion is not applied twice
    const d2 = done({ runId: 'l@1000', lease: { slot: 1000, startedAt: T0 + 6000 }, stateChanges: { who: 'second' } });
    expect(await hb.complete('l', d2)).toEqual({ consecutiveErrors: 0, status: 'applied' });
    expect(await hb.complete('l', d2)).toEqual({ consecutiveErrors: 0, status: 'already' });
    expect(await hb.get('l')).toMatchObject({ cycles: 1, running: null });
    expect(await hb.getState('l')).toEqual({ who: 'second' });
    // a completed slot cannot be claimed again, even after its deadline
    expect(await hb.claim('l', { ...lease, startedAt: T0 + 60_000, deadline: T0 + 65_000 })).toBe(false);
  });

  it('a slot completion applied but unanswered, retried after the next slot ran: already (applied once), never superseded', async () => {
    const lease = (slot: number, startedAt: number) => ({ runId: `u@${slot}`, slot, startedAt, deadline: startedAt + 5000 });
    const fail = (slot: number, startedAt: number, at: number) =>
      done({ runId: `u@${slot}`, outcome: 'error', error: `slot ${slot}`, at, lease: { slot, startedAt }, expectBy: null });
    expect((await hb.claimAndRead('u', lease(1000, T0))).claimed).toBe(true);
    // the first attempt is applied; its answer is lost (the runner only sees a network error)
    expect(await hb.complete('u', fail(1000, T0, T0 + 100))).toEqual({ consecutiveErrors: 1, status: 'applied' });
    // meanwhile the next slot is claimed and completed
    expect((await hb.claimAndRead('u', lease(2000, T0 + 1000))).claimed).toBe(true);
    expect(await hb.complete('u', fail(2000, T0 + 1000, T0 + 1100))).toEqual({ consecutiveErrors: 2, status: 'applied' });
    // the retry of the first completion: it was applied, once
    expect(await hb.complete('u', fail(1000, T0, T0 + 100))).toEqual({ consecutiveErrors: 2, status: 'already' });
    expect(await hb.get('u')).toMatchObject({ cycles: 2, failures: 2, consecutiveErrors: 2, lastError: 'slot 2000' });
    // a lease overwritten by a newer slot's lease before it completed: superseded, nothing written
    expect((await hb.claimAndRead('u', { ...lease(3000, T0 + 2000), exclusive: true })).claimed).toBe(true);
    expect((await hb.claimAndRead('u', { ...lease(4000, T0 + 3000), exclusive: true })).claimed).toBe(true);
    expect((await hb.complete('u', fail(3000, T0 + 2000, T0 + 3100))).status).toBe('superseded');
    expect((await hb.complete('u', fail(4000, T0 + 3000, T0 + 3200))).status).toBe('applied');
    expect(await hb.get('u')).toMatchObject({ cycles: 3, consecutiveErrors: 3, lastError: 'slot 4000' });
    // without the claim's read (another runner instance): the same answers
    const other = new DynamoHeartbeats(t.clients.ddb, t.names.Heartbeats, { shards: SHARDS });
    expect((await other.complete('u', fail(2000, T0 + 1000, T0 + 1100))).status).toBe('already');
    expect((await other.complete('u', fail(3000, T0 + 2000, T0 + 3100))).status).toBe('superseded');
  });

  it('a lean trigger or envelope claim is one BatchGetItem; the completion creates the claim item done in its one transaction', async () => {
    const clients = createClients({ region: 'us-east-1', endpoints: { dynamodb: ddbEndpoint() }, localCredentials: true });
    const counter = new RequestCounter();
    counter.count(clients.ddbRaw, 'DynamoDB');
    const lean = new DynamoHeartbeats(clients.ddb, t.names.Heartbeats, { shards: SHARDS });
    await lean.complete('tl', done({ runId: 'seed', stateChanges: { n: 1 } }));
    counter.reset();
    const claim = { runId: 'tl!trigger!1', startedAt: T0 + 1000, deadline: T0 + 36_000 };
    const c = await lean.claimAndRead('tl', claim);
    expect(c).toMatchObject({ claimed: true, state: { n: 1 }, record: { cycles: 1 } });
    expect(counter.snapshot()).toEqual({ 'DynamoDB:BatchGetItem': 1 });
    // nothing written by the claim
    const key = { name: claimItemKey('tl', claim.runId) };
    expect((await t.clients.ddb.send(new GetCommand({ TableName: t.names.Heartbeats, Key: key }))).Item).toBeUndefined();
    counter.reset();
    const d = done({ runId: claim.runId, at: T0 + 1050, lease: { startedAt: claim.startedAt }, stateChanges: { n: 2 } });
    expect(await lean.complete('tl', d)).toEqual({ consecutiveErrors: 0, status: 'applied' });
    // a successful cycle's count is 0 by the write itself: nothing read back
    expect(counter.snapshot()).toEqual({ 'DynamoDB:TransactWriteItems': 1 });
    expect((await t.clients.ddb.send(new GetCommand({ TableName: t.names.Heartbeats, Key: key }))).Item).toMatchObject({
      runId: claim.runId,
      startedAt: claim.startedAt,
      doneAt: T0 + 1050,
      expiresAt: Math.ceil(claim.deadline / 1000) + 86_400,
    });
    // the retried write of that completion (its answer lost): already applied, not twice
    await lean.claimAndRead('tl', { ...claim, runId: 'tl!other', startedAt: T0 + 1100 }); // (an unrelated claim meanwhile)
    const retry = new DynamoHeartbeats(clients.ddb, t.names.Heartbeats, { shards: SHARDS });
    expect((await retry.claimAndRead('tl', { ...claim, startedAt: T0 + 2000 })).claimed).toBe(false);
    expect(await lean.getState('tl')).toEqual({ n: 2 });

    // two copies of one run claimed at once (what the queue normally prevents): both may run,
    // one completion is recorded, the other is superseded and its state is not kept
    const twin = { runId: 'tl<env-7', startedAt: T0 + 3000, deadline: T0 + 38_000 };
    const other = { ...twin, startedAt: T0 + 3001 };
    expect((await lean.claimAndRead('tl', twin)).claimed).toBe(true);
    expect((await lean.claimAndRead('tl', other)).claimed).toBe(true);
    const env = (startedAt: number, n: number) =>
      done({ runId: twin.runId, at: startedAt + 10, countsAsCycle: false, expectBy: null, lease: { startedAt }, stateChanges: { n } });
    expect((await lean.complete('tl', env(twin.startedAt, 3))).status).toBe('applied');
    expect((await lean.complete('tl', env(other.startedAt, 4))).status).toBe('superseded');
    expect(await lean.getState('tl')).toEqual({ n: 3 });
    // a later delivery of that envelope run: done, refused
    expect(await lean.claimAndRead('tl', { ...twin, startedAt: T0 + 9000, deadline: T0 + 44_000 })).toMatchObject({
      claimed: false,
      claimedBefore: true,
    });
  });

  it('a claim item written as a lease (claim) is honoured by a lean claim: live → held, expired → taken over', async () => {
    const lease = { runId: 'th!trigger!1', startedAt: T0, deadline: T0 + 5000 };
    expect(await hb.claim('th', lease)).toBe(true);
    expect(await hb.claimAndRead('th', { ...lease, startedAt: T0 + 1000 })).toMatchObject({ claimed: false, heldUntil: T0 + 5000 });
    const taken = { ...lease, startedAt: T0 + 6000, deadline: T0 + 11_000 };
    expect((await hb.claimAndRead('th', taken)).claimed).toBe(true);
    expect((await hb.complete('th', done({ runId: lease.runId, lease: { startedAt: T0 } }))).status).toBe('superseded');
    expect((await hb.complete('th', done({ runId: lease.runId, lease: { startedAt: T0 + 6000 } }))).status).toBe('applied');
    expect((await hb.claimAndRead('th', { ...lease, startedAt: T0 + 20_000, deadline: T0 + 25_000 })).claimed).toBe(false);
  });

  it('a lean slot claim writes nothing: the completion is the one write (GetItem + UpdateItem per slot)', async () => {
    const clients = createClients({ region: 'us-east-1', endpoints: { dynamodb: ddbEndpoint() }, localCredentials: true });
    const counter = new RequestCounter();
    counter.count(clients.ddbRaw, 'DynamoDB', { capacity: true });
    const lean = new DynamoHeartbeats(clients.ddb, t.names.Heartbeats, { shards: SHARDS });
    const run = async (slot: number, at: number) => {
      const c = await lean.claimAndRead('lean', { runId: `lean@${slot}`, slot, startedAt: at, deadline: at + 35_000 });
      expect(c.claimed).toBe(true);
      const r = await lean.complete(
        'lean',
        done({ runId: `lean@${slot}`, at: at + 40, lease: { slot, startedAt: at }, expectBy: at + 180_000 }),
      );
      expect(r.status).toBe('applied');
    };
    for (let i = 1; i <= 6; i++) await run(i * 60_000, T0 + i * 60_000);
    expect(counter.snapshot()).toEqual({ 'DynamoDB:GetItem': 6, 'DynamoDB:UpdateItem': 6 });
    const rec = await lean.get('lean');
    expect(rec).toMatchObject({ cycles: 6, lastSlot: 360_000, running: null, expectBy: T0 + 360_000 + 180_000 });
    // a slot claimed (completed) before is refused, without a write
    counter.reset();
    expect(
      await lean.claimAndRead('lean', { runId: 'lean@300000', slot: 300_000, startedAt: T0 + 400_000, deadline: T0 + 435_000 }),
    ).toMatchObject({
      claimed: false,
      claimedBefore: true,
    });
    expect(counter.snapshot()).toEqual({ 'DynamoDB:GetItem': 1 });
  });

  it('the index bound moves about every third cycle; the exact deadline (stuckAt) with every heartbeat; the sweep finds only what is overdue', async () => {
    const raw = async () =>
      (await t.clients.ddb.send(new GetCommand({ TableName: t.names.Heartbeats, Key: { name: 'x1' }, ConsistentRead: true }))).Item!;
    const bounds: number[] = [];
    for (let i = 1; i <= 9; i++) {
      const at = T0 + i * 60_000;
      await hb.claimAndRead('x1', { runId: `x1@${i}`, slot: i, startedAt: at - 40, deadline: at + 35_000 });
      await hb.complete('x1', done({ runId: `x1@${i}`, at, lease: { slot: i, startedAt: at - 40 }, expectBy: at + 180_000 }));
      const it = await raw();
      expect(it.stuckAt).toBe(at + 180_000);
      expect(it.expectBy).toBeLessThanOrEqual(it.stuckAt as number);
      bounds.push(it.expectBy as number);
    }
    // moved at cycles 1, 4 and 7 (when less than a third of the 180 s window was left): not at every heartbeat
    expect(bounds.map((b) => (b - T0) / 60_000)).toEqual([4, 4, 4, 7, 7, 7, 10, 10, 10]);
    const last = T0 + 9 * 60_000;
    const shard = shardOf('x1', SHARDS);
    // the bound has passed, the deadline not: a candidate the sweep reads back and leaves out
    expect(bounds[8]!).toBe(last + 60_000);
    expect((await hb.queryOverdue(shard, last + 100_000, 100)).map((o) => o.name)).not.toContain('x1');
    expect(await hb.queryOverdue(shard, last + 180_001, 100)).toContainEqual({ name: 'x1', expectBy: last + 180_000, lastHeartbeat: last });
  });

  it('after a gap (the previous slot is not the last completed) the lease goes first: a copy waits for it, the run is visible', async () => {
    // slot 2000 completed lean; slot 3000 never completed (its host died without a trace)
    expect(
      (await hb.claimAndRead('s', { runId: 's@2000', slot: 2000, previousSlot: 1000, startedAt: T0, deadline: T0 + 35_000 })).claimed,
    ).toBe(true);
    expect((await hb.complete('s', done({ runId: 's@2000', lease: { slot: 2000, startedAt: T0 } }))).status).toBe('applied');
    const claim = { runId: 's@4000', slot: 4000, previousSlot: 3000, startedAt: T0 + 2000, deadline: T0 + 37_000 };
    expect((await hb.claimAndRead('s', claim)).claimed).toBe(true);
    // the lease is written before the run: the health monitor sees a run that never finishes
    expect((await hb.get('s'))?.running).toMatchObject({ runId: 's@4000', startedAt: T0 + 2000 });
    // a copy of the slot (another runner instance) while the run goes on: it waits for the lease
    const other = new DynamoHeartbeats(t.clients.ddb, t.names.Heartbeats, { shards: SHARDS });
    expect(await other.claimAndRead('s', { ...claim, startedAt: T0 + 3000 })).toMatchObject({ claimed: false, heldUntil: T0 + 37_000 });
    expect((await hb.complete('s', done({ runId: 's@4000', lease: { slot: 4000, startedAt: T0 + 2000 } }))).status).toBe('applied');
    expect(await hb.get('s')).toMatchObject({ cycles: 2, lastSlot: 4000, running: null });
    // and after the completion the copy finds the slot done
    expect(await other.claimAndRead('s', { ...claim, startedAt: T0 + 4000 })).toMatchObject({ claimed: false, claimedBefore: true });
  });

  it('lean copies of one slot that both ran: one completion lands, the other is superseded; a restart ends a lean claim', async () => {
    const c = (startedAt: number) => ({ runId: 'd@1000', slot: 1000, startedAt, deadline: startedAt + 35_000 });
    const a = new DynamoHeartbeats(t.clients.ddb, t.names.Heartbeats, { shards: SHARDS });
    const b = new DynamoHeartbeats(t.clients.ddb, t.names.Heartbeats, { shards: SHARDS });
    expect((await a.claimAndRead('d', c(T0))).claimed).toBe(true);
    expect((await b.claimAndRead('d', c(T0 + 1))).claimed).toBe(true);
    expect((await a.complete('d', done({ runId: 'd@1000', lease: { slot: 1000, startedAt: T0 }, stateChanges: { by: 'a' } }))).status).toBe(
      'applied',
    );
    expect(
      (await b.complete('d', done({ runId: 'd@1000', lease: { slot: 1000, startedAt: T0 + 1 }, stateChanges: { by: 'b' } }))).status,
    ).toBe('superseded');
    expect(await a.getState('d')).toEqual({ by: 'a' });
    expect(await a.get('d')).toMatchObject({ cycles: 1 });
    // two lean slots in flight complete in slot order: both count; out of order: the older is superseded
    expect((await a.claimAndRead('d', { ...c(T0 + 10), runId: 'd@2000', slot: 2000 })).claimed).toBe(true);
    expect((await a.claimAndRead('d', { ...c(T0 + 11), runId: 'd@3000', slot: 3000 })).claimed).toBe(true);
    expect((await a.complete('d', done({ runId: 'd@3000', lease: { slot: 3000, startedAt: T0 + 11 } }))).status).toBe('applied');
    expect((await a.complete('d', done({ runId: 'd@2000', lease: { slot: 2000, startedAt: T0 + 10 } }))).status).toBe('superseded');
    // a restart (resetHealth) between the claim and the completion: the run of the old epoch writes nothing
    expect((await a.claimAndRead('d', { ...c(T0 + 20), runId: 'd@4000', slot: 4000 })).claimed).toBe(true);
    await a.resetHealth('d', { expectBy: null });
    expect(
      (await a.complete('d', done({ runId: 'd@4000', outcome: 'error', error: 'late', lease: { slot: 4000, startedAt: T0 + 20 } }))).status,
    ).toBe('superseded');
    expect(await a.get('d')).toMatchObject({ cycles: 2, consecutiveErrors: 0, lastSlot: 3000 });
  });

  it('keeps slot receipts for the retry window only (plus a minute)', async () => {
    const receipts = async () => {
      const out = await t.clients.ddb.send(new GetCommand({ TableName: t.names.Heartbeats, Key: { name: 'w' }, ConsistentRead: true }));
      return out.Item?.doneLeases instanceof Set ? out.Item.doneLeases.size : 0;
    };
    const run = async (slot: number, at: number) => {
      expect((await hb.claimAndRead('w', { runId: `w@${slot}`, slot, startedAt: at - 50, deadline: at + 5000 })).claimed).toBe(true);
      expect(
        (await hb.complete('w', done({ runId: `w@${slot}`, at, lease: { slot, startedAt: at - 50 }, retryWindowMs: 10_000 }))).status,
      ).toBe('applied');
    };
    for (let i = 1; i <= 5; i++) await run(i * 1000, T0 + i * 1000);
    expect(await receipts()).toBe(5);
    // 10 s window + 60 s margin later: only the receipts completed within it remain
    await run(100_000, T0 + 74_500);
    expect(await receipts()).toBe(2); // T0+5000 (inside: 74 500 − 70 000 = 4 500) and the new one
    // and a late retry of one pruned away long after its window is not mistaken for applied
    expect((await hb.complete('w', done({ runId: 'w@1000', at: T0 + 1000, lease: { slot: 1000, startedAt: T0 + 950 } }))).status).toBe(
      'superseded',
    );
  });

  it('a trigger or envelope claim item is a lease too; its completion marks it done in the same transaction', async () => {
    const lease = { runId: 'm<env-1', startedAt: T0, deadline: T0 + 5000 };
    expect(await hb.claim('m', lease)).toBe(true);
    expect(await hb.claim('m', { ...lease, startedAt: T0 + 1000 })).toBe(false);
    const taken = { ...lease, startedAt: T0 + 6000, deadline: T0 + 11_000 };
    expect(await hb.claim('m', taken)).toBe(true);
    const env = (startedAt: number, over: Partial<RunCompletion> = {}) =>
      done({ runId: 'm<env-1', countsAsCycle: false, expectBy: null, lease: { startedAt }, ...over });
    expect((await hb.complete('m', env(T0, { stateChanges: { n: 1 } }))).status).toBe('superseded');
    expect(await hb.complete('m', env(T0 + 6000, { outcome: 'error', error: 'x' }))).toEqual({ consecutiveErrors: 1, status: 'applied' });
    expect(await hb.complete('m', env(T0 + 6000, { outcome: 'error', error: 'x' }))).toEqual({ consecutiveErrors: 1, status: 'already' });
    expect(await hb.get('m')).toMatchObject({ failures: 1, consecutiveErrors: 1 });
    expect(await hb.getState('m')).toEqual({});
    // done: never claimed again
    expect(await hb.claim('m', { ...lease, startedAt: T0 + 60_000, deadline: T0 + 65_000 })).toBe(false);
  });

  it("a trigger's completion leaves a running slot's lease alone", async () => {
    expect(await hb.claim('k', { runId: 'k@1000', slot: 1000, startedAt: T0, deadline: T0 + 5000 })).toBe(true);
    expect(await hb.claim('k', { runId: 'k!t', startedAt: T0, deadline: T0 + 5000 })).toBe(true);
    expect((await hb.complete('k', done({ runId: 'k!t', lease: { startedAt: T0 } }))).status).toBe('applied');
    expect(await hb.get('k')).toMatchObject({ cycles: 1, running: { runId: 'k@1000' } });
    expect((await hb.complete('k', done({ runId: 'k@1000', lease: { slot: 1000, startedAt: T0 } }))).status).toBe('applied');
    expect(await hb.get('k')).toMatchObject({ cycles: 2, running: null });
  });

  it('writes heartbeat, outcome, counters, histogram and changed state keys in one completion; failures count up, success resets', async () => {
    expect(await hb.complete('b', done({ stateChanges: { count: 1, keep: { x: 'y' } }, durationMs: 30 }))).toEqual({
      consecutiveErrors: 0,
      status: 'applied',
    });
    expect(await hb.complete('b', done({ outcome: 'error', error: 'boom', at: T0 + 1, durationMs: 3 }))).toEqual({
      consecutiveErrors: 1,
      status: 'applied',
    });
    expect(await hb.complete('b', done({ outcome: 'timeout', error: 'slow', at: T0 + 2, durationMs: 70_000 }))).toEqual({
      consecutiveErrors: 2,
      status: 'applied',
    });
    let rec = await hb.get('b');
    expect(rec).toMatchObject({
      lastHeartbeat: T0 + 2,
      cycles: 3,
      failures: 2,
      consecutiveErrors: 2,
      lastOutcome: 'timeout',
      lastError: 'slow',
      lastDurationMs: 70_000,
      durationSumMs: 70_033,
    });
    // cumulative buckets: 30 ms counts from le=50 up, 3 ms from le=5 up, 70 s only in +Inf
    expect(rec?.durationBuckets).toMatchObject({ '5': 1, '25': 1, '50': 2, '60000': 2, '+Inf': 3 });
    // only changed keys are written: a concurrent run's key survives, deletes remove
    await hb.complete('b', done({ stateChanges: { count: 2, keep: undefined }, at: T0 + 3 }));
    expect(await hb.getState('b')).toEqual({ count: 2 });
    rec = await hb.get('b');
    expect(rec).toMatchObject({ consecutiveErrors: 0, cycles: 4, failures: 2, lastOutcome: 'ok', lastError: 'slow' });
  });

  it('envelope runs count failures but neither heartbeat nor reset the consecutive count on success', async () => {
    await hb.complete('c', done({ outcome: 'error', error: 'x' }));
    expect(await hb.complete('c', done({ countsAsCycle: false, at: T0 + 50, expectBy: null, stateChanges: { seen: 1 } }))).toEqual({
      consecutiveErrors: 1,
      status: 'applied',
    });
    expect(await hb.complete('c', done({ countsAsCycle: false, outcome: 'error', error: 'env', at: T0 + 60, expectBy: null }))).toEqual({
      consecutiveErrors: 2,
      status: 'applied',
    });
    expect(await hb.get('c')).toMatchObject({ lastHeartbeat: T0, cycles: 1, failures: 2, lastError: 'env', expectBy: T0 + 60_000 });
    expect(await hb.getState('c')).toEqual({ seen: 1 });
  });

  it('queries overdue expectations through the sparse expect index, per shard', async () => {
    const names = ['o1', 'o2', 'o3', 'o4', 'o5', 'o6'];
    for (const [i, n] of names.entries()) await hb.setExpectedBy(n, T0 + i * 1000);
    await hb.setExpectedBy('o6', null); // unexpected again: leaves the index
    await hb.resetHealth('o5', { expectBy: T0 + 999_999 });
    const overdue = [];
    for (let s = 0; s < SHARDS; s++) overdue.push(...(await hb.queryOverdue(String(s), T0 + 4500, 100)));
    expect(
      overdue
        .map((o) => o.name)
        .filter((n) => n.startsWith('o'))
        .sort(),
    ).toEqual(['o1', 'o2', 'o3', 'o4']);
    const one = await hb.queryOverdue(shardOf('o1', SHARDS), T0 + 4500, 100);
    expect(one.find((o) => o.name === 'o1')).toEqual({ name: 'o1', expectBy: T0, lastHeartbeat: null });
  });

  it('getMany reads many heartbeats at once; remove deletes', async () => {
    const many = await hb.getMany(['a', 'b', 'missing', 'b']);
    expect([...many.keys()].sort()).toEqual(['a', 'b']);
    await hb.remove('b');
    expect(await hb.get('b')).toBeNull();
  });
});
