/**
 * Lean cycles through local mode's own pieces (scheduler handler, LocalRunnerPool, runner core,
 * DynamoHeartbeats on DynamoDB Local, worker-thread runs, fake clock): in the steady state a slot
 * costs one write to the heartbeat table (the completion, conditional on the slot), the first run
 * and any run after a gap write their lease first; copies of one slot handed to the pool run
 * once; a runner host that dies leaving no trace of a steady-state run is still found stuck, one
 * stuck window later, because the next run after the gap writes its lease first.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createClients } from '../../shared/adapters/aws/clients';
import { DynamoHeartbeats } from '../../shared/adapters/aws/dynamo-heartbeats';
import { RequestCounter } from '../../shared/adapters/aws/request-counter';
import type { DispatchMessage } from '../../shared/core/dispatch';
import type { RunReport } from '../../shared/core/runner/service';
import { ddbEndpoint } from '../support/env';
import { dyingHost, startRuntime, type Runtime } from './harness';

let rt: Runtime | undefined;
afterEach(async () => {
  await rt?.stop();
  rt = undefined;
});

/** Requests to the heartbeat table by operation (a counting client on the same table). */
function countingHeartbeats(table: string, shards: number): { hb: DynamoHeartbeats; counter: RequestCounter } {
  const clients = createClients({ region: 'us-east-1', endpoints: { dynamodb: ddbEndpoint() }, localCredentials: true });
  const counter = new RequestCounter();
  counter.count(clients.ddbRaw, 'DynamoDB', { capacity: true });
  return { hb: new DynamoHeartbeats(clients.ddb, table, { shards }), counter };
}

describe('lean cycles', () => {
  it('steady state: one GetItem and one UpdateItem on the heartbeat table per slot; the first run writes its lease first', async () => {
    // the pool runs a core whose heartbeat store counts its requests (same table as the harness)
    let leanCore: ((m: DispatchMessage) => Promise<RunReport>) | undefined;
    rt = await startRuntime({ wrapCore: () => (msg) => leanCore!(msg) });
    const c = countingHeartbeats(rt.tables.names.Heartbeats, rt.config.AGENT_SCHEDULE_SHARDS);
    leanCore = rt.coreWith({ heartbeats: c.hb });
    await rt.publish('steady', 'healthy.mjs');
    // the first slot is on the agent's grid (its phase offset): within a period or so
    for (let i = 0; i < 5 && rt.runsOf('steady').length === 0; i++) await rt.step(1000);
    expect(rt.runsOf('steady')).toHaveLength(1);
    // the first run: no previous slot completed, so its lease went first (claim + completion)
    expect(c.counter.snapshot()).toMatchObject({ 'DynamoDB:UpdateItem': 2 });
    c.counter.reset();
    for (let s = 0; s < 5; s++) await rt.step(1000);
    const runs = rt.runsOf('steady');
    expect(runs.map((e) => e.payload.outcome)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'ok']);
    // five steady-state slots: a read (state, cycle count) and the completion each, nothing else
    expect(c.counter.snapshot()).toEqual({ 'DynamoDB:GetItem': 5, 'DynamoDB:UpdateItem': 5 });
    expect(await rt.heartbeats.get('steady')).toMatchObject({ cycles: 6, running: null, lastSlot: runs.at(-1)!.payload.slot });
  });

  it('copies of one slot handed to the pool at once run once; the copy finds the slot done', async () => {
    rt = await startRuntime();
    await rt.publish('twin', 'healthy.mjs');
    for (let s = 0; s < 3; s++) await rt.step(1000);
    const rec = (await rt.registry.get('twin'))!;
    const last = rt.runsOf('twin').at(-1)!.payload.slot as number;
    const slot = last + 1000;
    const msg: DispatchMessage = { kind: 'cycle', agent: 'twin', runId: `twin@${slot}`, slot, generation: rec.generation };
    // the steady state (the previous slot completed): the lean path, where the pool is the lease
    expect((await rt.heartbeats.get('twin'))?.lastSlot).toBe(last);
    const before = rt.reports.length;
    await rt.pool.dispatch([0, 1, 2].map(() => ({ message: msg, notBefore: rt!.clock.now() })));
    await rt.settle();
    const reports = rt.reports.slice(before).filter((r) => r.runId === msg.runId);
    // our three copies, and the scheduler's own dispatch of that slot (its horizon covered it): one ran
    const outcomes = reports.map((r) => (r.status === 'ran' ? 'ran' : r.reason));
    expect(outcomes.filter((o) => o === 'ran')).toHaveLength(1);
    expect(outcomes.filter((o) => o !== 'ran').every((o) => o === 'duplicate')).toBe(true);
    expect(outcomes.length).toBeGreaterThanOrEqual(3);
    await rt.bus.idle();
    expect(rt.runsOf('twin').filter((e) => e.payload.slot === slot)).toHaveLength(1);
  });

  it('a runner host that dies without a trace of a steady-state run: the next run writes its lease first, and the agent is found stuck', async () => {
    const host = dyingHost(() => rt!);
    const { dying } = host;
    rt = await startRuntime({ env: { AGENT_STUCK_GRACE_SECONDS: '2' }, wrapCore: host.wrapCore });
    await rt.publish('fragile', 'healthy.mjs');
    for (let s = 0; s < 3; s++) await rt.step(1000, { sweep: true });
    const lastBeat = (await rt.heartbeats.get('fragile'))!.lastHeartbeat!;
    dying.add('fragile');
    await rt.step(1000, { sweep: true });
    // the first dead run left nothing: no lease, no heartbeat
    expect(await rt.heartbeats.get('fragile')).toMatchObject({ running: null, lastHeartbeat: lastBeat });
    let stuckAt = 0;
    for (let s = 0; s < 20 && !stuckAt; s++) {
      await rt.step(1000, { sweep: true });
      if (rt.ledgerOf('agent.restarted', 'fragile').length) stuckAt = rt.clock.now() - 1000;
    }
    const ev = rt.ledgerOf('agent.restarted', 'fragile')[0];
    expect(ev?.payload).toMatchObject({ cause: 'stuck', by: 'health-monitor' });
    expect(String(ev?.payload.reason)).toMatch(/never finished/);
    // stuck limit 5 s (max(3 × 1 s, 1 s + 2 s + 2 s)); the untraced first death costs at most one more window
    expect(stuckAt - lastBeat).toBeGreaterThanOrEqual(5000);
    expect(stuckAt - lastBeat).toBeLessThanOrEqual(15_000);
  });
});
