/**
 * Lean cycles, counted (docs/capacity.md, issue 19): what one steady-state scheduled cycle writes
 * to DynamoDB, all tables and indexes together.
 *
 * Local mode's own pieces against DynamoDB Local (tests/runtime/harness.ts: the scheduler handler
 * ticking into the LocalRunnerPool, the runner core, DynamoRegistry/DynamoSchedule/DynamoHeartbeats,
 * worker-thread runs, a fake clock). After the first runs (whose lease goes first), an SDK
 * middleware (RequestCounter) on the one DynamoDB client all of them share counts every request
 * and the write units DynamoDB Local reports (ConsumedCapacity INDEXES: table and indexes). A
 * cycle may write twice: the scheduler's advance of nextRunAt and the run's completion; the
 * slot's claim is a read. The heartbeat item's `expect` index entry (KEYS_ONLY) moves only when
 * less than a third of the stuck window is left, so not every cycle pays for it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RequestCounter } from '../../shared/adapters/aws/request-counter';
import { startRuntime, type Runtime } from '../runtime/harness';

const WRITE_OPS = ['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems'];

let rt: Runtime | undefined;
afterEach(async () => {
  await rt?.stop();
  rt = undefined;
});

describe('DynamoDB writes per steady-state cycle', () => {
  it('at most 2 write requests per scheduled cycle (advance + completion), the claim a read', async () => {
    rt = await startRuntime();
    // healthy.mjs: cycleSeconds 1, so the scheduler (tick 1 s, horizon 1.5 s) advances once per slot
    await rt.publish('lean', 'healthy.mjs');
    for (let s = 0; s < 3; s++) await rt.step(1000);
    expect(rt.runsOf('lean').length).toBeGreaterThanOrEqual(2);

    const counter = new RequestCounter();
    counter.count(rt.tables.clients.ddbRaw, 'DynamoDB', { capacity: true });
    const before = rt.runsOf('lean').length;
    const SLOTS = 12;
    for (let s = 0; s < SLOTS; s++) await rt.step(1000);
    await rt.bus.idle();
    const runs = rt.runsOf('lean').slice(before);
    expect(runs.map((e) => e.payload.outcome)).toEqual(Array.from({ length: runs.length }, () => 'ok'));
    expect(runs.length).toBeGreaterThanOrEqual(SLOTS - 1);

    const ops = counter.snapshot();
    const writes = WRITE_OPS.reduce((n, op) => n + (ops[`DynamoDB:${op}`] ?? 0), 0);
    // the scheduler's advances (one per slot) and the completions (one per run): nothing else writes
    expect(ops['DynamoDB:PutItem'] ?? 0).toBe(0);
    expect(ops['DynamoDB:TransactWriteItems'] ?? 0).toBe(0);
    expect(writes / runs.length).toBeLessThanOrEqual(2);
    // the claim is the run's one read of its heartbeat item
    expect(ops['DynamoDB:GetItem'] ?? 0).toBeGreaterThanOrEqual(runs.length);
    // write units: advance 1 + its `due` index entry moved (2, projection ALL), completion 1-2
    // (the item's size) + the `expect` entry moved only every few cycles (2, KEYS_ONLY);
    // eager claims (the previous design) added 2 more per cycle (the item and the ALL index entry)
    expect(counter.units.write / runs.length).toBeLessThan(6);
    expect(await rt.heartbeats.get('lean')).toMatchObject({ running: null, lastSlot: runs.at(-1)!.payload.slot });
  });
});
