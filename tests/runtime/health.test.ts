/**
 * Health in local mode (DynamoDB Local, s3rver, local bus, real worker runs, fake clock): failing
 * agents are restarted with capped exponential backoff and quarantined after the restart budget,
 * hangs are cut and counted, stuck agents are restarted, crashes and memory blow-ups stay inside
 * their run, and neighbours are never disturbed.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { slotExpiryMs } from '../../shared/core/runner/service';
import { makeEnvelope } from '../../shared/core/envelope';
import { ValidationError } from '../../shared/core/errors';
import { InvalidFailureEventError } from '../../shared/core/health/errors';
import { BUS_SOURCE } from '../../shared/definitions/routing';
import { restartBackoffMs } from '../../shared/core/health/policy';
import { dyingHost, startRuntime, type Runtime } from './harness';
import { registration, withFaults } from './helpers';
import { createHealthMonitorHandler } from '../../functions/health-monitor/core';

/** slots of an agent's runs must be consecutive grid slots: no missed, no doubled */
function expectContiguous(slots: number[], periodMs = 1000) {
  expect(slots.length).toBeGreaterThan(0);
  for (let i = 1; i < slots.length; i++) expect(slots[i]! - slots[i - 1]!).toBe(periodMs);
}

/** The agent's heartbeat records `errThreshold` failed cycles of this generation (as the runner would). */
async function failToThreshold(rt: Runtime, name: string, generation: number): Promise<void> {
  for (let i = 1; i <= rt.policy.errThreshold; i++)
    await rt.heartbeats.complete(name, {
      runId: `${name}-f${i}`,
      at: rt.clock.now(),
      outcome: 'error',
      error: 'boom',
      durationMs: 1,
      generation,
      stateChanges: {},
      expectBy: null,
      countsAsCycle: true,
    });
}

/** An agent.failed event as EventBridge hands it to the health monitor. */
function failedEvent(rt: Runtime, name: string, generation: number, error = 'boom') {
  return {
    source: BUS_SOURCE,
    'detail-type': 'agent.failed',
    detail: makeEnvelope(
      { topic: 'agent.failed', sender: 'orchestrator', payload: { name, generation, outcome: 'error', error } },
      rt.clock.now(),
    ),
  };
}

describe('failing agents: restart at the threshold, quarantine after the budget (contract defaults)', () => {
  let rt: Runtime;
  beforeAll(async () => {
    rt = await startRuntime();
  });
  afterAll(async () => rt?.stop());

  it('an agent that always throws is restarted 3 times with backoff 5/10/20 s, then quarantined; its neighbour runs undisturbed', async () => {
    await rt.publish('neighbour', 'healthy.mjs');
    await rt.publish('faulty', 'thrower.mjs');
    for (let s = 0; s < 90 && (await rt.registry.get('faulty'))?.status !== 'quarantined'; s++) await rt.step(1000);
    const rec = await rt.registry.get('faulty');
    expect(rec?.status).toBe('quarantined');
    expect(rec?.nextRunAt).toBeNull();

    const restarted = rt.ledgerOf('agent.restarted', 'faulty').map((e) => e.payload);
    expect(restarted.map((p) => [p.backoffMs, p.restartsInWindow, p.cause, p.by])).toEqual([
      [5000, 1, 'failures', 'health-monitor'],
      [10000, 2, 'failures', 'health-monitor'],
      [20000, 3, 'failures', 'health-monitor'],
    ]);
    expect(String(restarted[0]?.reason)).toMatch(/^3 consecutive failures \(last: error: thrower always fails\)/);
    const quarantined = rt.ledgerOf('agent.quarantined', 'faulty').map((e) => e.payload);
    expect(quarantined).toHaveLength(1);
    expect(String(quarantined[0]?.reason)).toMatch(/more than 3 restarts within 600 s/);

    // exactly AGENT_ERR_THRESHOLD failures per generation; slots enqueued before a restart never ran
    const failed = rt.runsOf('faulty');
    expect(failed.every((e) => e.topic === 'agent.failed')).toBe(true);
    expect(failed).toHaveLength(12);
    const byGen = new Map<number, number>();
    for (const e of failed) byGen.set(e.payload.generation as number, (byGen.get(e.payload.generation as number) ?? 0) + 1);
    expect([...byGen.values()]).toEqual([3, 3, 3, 3]);
    // each restart's backoff held: the first run after it is at least backoff later
    const restartEvents = rt.ledgerOf('agent.restarted', 'faulty');
    for (const r of restartEvents) {
      const at = Date.parse(r.ts);
      const firstAfter = failed.find((e) => Date.parse(e.ts) > at);
      expect(firstAfter && (firstAfter.payload.slot as number) - at).toBeGreaterThanOrEqual(r.payload.backoffMs as number);
    }
    // a failed run persists no state
    expect(await rt.heartbeats.getState('faulty')).toEqual({});

    // the neighbour: every second, every run ok, no missed or doubled slot
    const n = rt.runsOf('neighbour');
    expect(n.every((e) => e.topic === 'agent.cycle')).toBe(true);
    expectContiguous(n.map((e) => e.payload.slot as number));
    expect(n.length).toBeGreaterThanOrEqual(40);

    // quarantined: no agent code runs any more, the stub consumes deliveries
    const before = rt.runsOf('faulty').length;
    for (let s = 0; s < 5; s++) await rt.step(1000);
    expect(rt.runsOf('faulty').length).toBe(before);
    const env = makeEnvelope({ topic: 'note', sender: 'neighbour', recipient: 'faulty', payload: {} }, rt.clock.now());
    expect(await rt.core({ kind: 'envelope', agent: 'faulty', runId: `faulty<${env.id}`, envelope: env })).toMatchObject({
      status: 'skipped',
      reason: 'quarantined',
    });
    expect(await rt.core({ kind: 'trigger', agent: 'faulty', runId: 'faulty!t' })).toMatchObject({
      status: 'skipped',
      reason: 'quarantined',
    });
    expect(await rt.heartbeats.droppedCount('faulty')).toBe(1);
    expect((await rt.control.get('faulty')).status).toBe('quarantined');
  });

  it('ignores replayed failures, failures of an older generation, and refuses events that are not failures or sweeps', async () => {
    // an agent of its own, registered but not due for a day (its runs play no part here)
    await rt.registry.register(registration('bystander', { cycleSeconds: 60, firstRunAt: rt.clock.now() + 86_400_000 }));
    const rec = await rt.registry.get('bystander');
    const failed = (payload: Record<string, unknown>, replayOf?: number) => ({
      source: BUS_SOURCE,
      'detail-type': 'agent.failed',
      detail: makeEnvelope({ topic: 'agent.failed', sender: 'orchestrator', payload, replayOf }, rt.clock.now()),
    });
    for (const runId of ['x', 'y', 'z'])
      await rt.heartbeats.complete('bystander', {
        runId,
        at: rt.clock.now(),
        outcome: 'error',
        error: 'e',
        durationMs: 1,
        generation: rec!.generation,
        stateChanges: {},
        expectBy: null,
        countsAsCycle: true,
      });
    expect(await rt.health(failed({ name: 'bystander', generation: rec!.generation }, 7))).toEqual({
      kind: 'failed',
      decision: { action: 'none', name: 'bystander', reason: 'replay of ledger entry 7' },
    });
    expect(await rt.health(failed({ name: 'bystander', generation: rec!.generation - 1 }))).toEqual({
      kind: 'failed',
      decision: {
        action: 'none',
        name: 'bystander',
        reason: `failure of generation ${rec!.generation - 1}, agent is at ${rec!.generation}`,
      },
    });
    expect(await rt.registry.get('bystander')).toEqual(rec);
    await expect(rt.health({ action: 'tick' })).rejects.toBeInstanceOf(ValidationError);
    await expect(rt.health(failed({ nope: true }))).rejects.toBeInstanceOf(InvalidFailureEventError);
    await rt.registry.deregister('bystander', rec!.version);
  });
});

describe('release: a fresh restart window (fast backoff, so quarantine comes quickly)', () => {
  let rt: Runtime;
  beforeAll(async () => {
    rt = await startRuntime({ env: { AGENT_RESTART_BACKOFF_BASE_SECONDS: '1', AGENT_RESTART_BACKOFF_MAX_SECONDS: '1' } });
  });
  afterAll(async () => rt?.stop());

  it('a released agent runs again, with a fresh restart window', async () => {
    await rt.publish('relapse', 'thrower.mjs');
    for (let s = 0; s < 40 && (await rt.registry.get('relapse'))?.status !== 'quarantined'; s++) await rt.step(1000);
    expect((await rt.registry.get('relapse'))?.status).toBe('quarantined');
    expect(rt.ledgerOf('agent.restarted', 'relapse').map((e) => e.payload.restartsInWindow)).toEqual([1, 2, 3]);

    const before = rt.runsOf('relapse').length;
    await rt.control.release('relapse');
    await rt.alignTo('relapse');
    for (let s = 0; s < 3; s++) await rt.step(1000);
    const after = rt.runsOf('relapse').slice(before);
    expect(after.length).toBe(3);
    expect(after.every((e) => e.payload.outcome === 'error')).toBe(true);
    expect(rt.ledgerOf('agent.released', 'relapse')).toHaveLength(1);
    // the third failure after release restarts it (window was reset), it is not quarantined again
    await rt.settle();
    const rec = await rt.registry.get('relapse');
    expect(rec?.status).toBe('restarting');
    expect(rt.ledgerOf('agent.restarted', 'relapse').at(-1)?.payload).toMatchObject({
      restartsInWindow: 1,
      backoffMs: restartBackoffMs(rt.policy, 1),
    });
    expect(rt.ledgerOf('agent.quarantined', 'relapse')).toHaveLength(1);
  });
});

describe('concurrent agent.failed deliveries', () => {
  let rt: Runtime;
  beforeAll(async () => {
    rt = await startRuntime();
  });
  afterAll(async () => rt?.stop());

  it('five deliveries of the threshold failure at once restart the agent exactly once', async () => {
    await rt.publish('flaky', 'healthy.mjs');
    const rec = (await rt.registry.get('flaky'))!;
    await failToThreshold(rt, 'flaky', rec.generation);
    // at-least-once delivery: four failure events and a duplicate of the first, all at once
    const events = Array.from({ length: 4 }, (_, i) => failedEvent(rt, 'flaky', rec.generation, `boom ${i}`));
    const results = await Promise.all([...events, events[0]].map((e) => rt.health(e)));
    const decisions = results.map((r) => (r.kind === 'failed' ? r.decision.action : r.kind));
    expect(decisions.filter((d) => d === 'restarted')).toHaveLength(1);
    expect(decisions.filter((d) => d === 'none')).toHaveLength(results.length - 1);
    await rt.bus.idle();
    expect(rt.ledgerOf('agent.restarted', 'flaky').map((e) => e.payload.restartsInWindow)).toEqual([1]);
    const after = (await rt.registry.get('flaky'))!;
    expect(after).toMatchObject({ status: 'restarting', generation: rec.generation + 1, restarts: rec.restarts + 1 });
    expect(after.restartTimes).toHaveLength(rec.restartTimes.length + 1);
    expect((await rt.heartbeats.get('flaky'))?.consecutiveErrors).toBe(0);
  });
});

describe('a restart whose registry write loses its answer', () => {
  let rt: Runtime;
  beforeAll(async () => {
    rt = await startRuntime();
  });
  afterAll(async () => rt?.stop());

  it('is read back and carried through: heartbeat reset and agent.restarted, once, though the event is delivered again', async () => {
    await rt.publish('lossy', 'healthy.mjs');
    const rec = (await rt.registry.get('lossy'))!;
    await failToThreshold(rt, 'lossy', rec.generation);
    // the store applies the restart, then the connection dies before the answer
    let lost = 0;
    const registry = withFaults(rt.registry, {
      transition: async (name, t) => {
        await rt.registry.transition(name, t);
        lost++;
        throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      },
    });
    const health = createHealthMonitorHandler({ registry, heartbeats: rt.heartbeats, events: rt.bus, config: rt.config, clock: rt.clock });
    const event = failedEvent(rt, 'lossy', rec.generation);
    expect(await health(event)).toMatchObject({ kind: 'failed', decision: { action: 'restarted', generation: rec.generation + 1 } });
    expect(lost).toBe(1);
    // the bus delivers the event again (at least once): nothing more happens
    expect(await health(event)).toMatchObject({ kind: 'failed', decision: { action: 'none' } });
    await rt.bus.idle();
    expect(rt.ledgerOf('agent.restarted', 'lossy').map((e) => e.payload.generation)).toEqual([rec.generation + 1]);
    expect(await rt.registry.get('lossy')).toMatchObject({ status: 'restarting', generation: rec.generation + 1 });
    expect((await rt.heartbeats.get('lossy'))?.consecutiveErrors).toBe(0);
  });

  it('a write that was not applied is not taken for one that was: the error goes to the bus for a retry', async () => {
    await rt.publish('refused', 'healthy.mjs');
    const rec = (await rt.registry.get('refused'))!;
    await failToThreshold(rt, 'refused', rec.generation);
    const registry = withFaults(rt.registry, {
      transition: async () => {
        throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      },
    });
    const health = createHealthMonitorHandler({ registry, heartbeats: rt.heartbeats, events: rt.bus, config: rt.config, clock: rt.clock });
    const event = failedEvent(rt, 'refused', rec.generation);
    await expect(health(event)).rejects.toThrow('ECONNREFUSED');
    expect(await rt.registry.get('refused')).toMatchObject({ status: 'active', generation: rec.generation });
    await rt.bus.idle();
    expect(rt.ledgerOf('agent.restarted', 'refused')).toEqual([]);
  });
});

describe('hangs, crashes, memory blow-ups and stuck agents', () => {
  let rt: Runtime;
  /** agents whose runs go to a runner host that dies mid-run (claims, never completes) */
  const host = dyingHost(() => rt);
  const { dying } = host;
  // a runtime of its own per test, each with its own well-behaved neighbour 'calm'
  beforeEach(async () => {
    dying.clear();
    rt = await startRuntime({ env: { AGENT_STUCK_GRACE_SECONDS: '2' }, wrapCore: host.wrapCore });
    await rt.publish('calm', 'healthy.mjs');
  });
  afterEach(async () => rt?.stop());

  it('a hang is cut at the timeout and counted as a failure (restart at the threshold)', async () => {
    await rt.publish('hangs', 'hanger.mjs');
    await rt.alignTo('hangs');
    for (let s = 0; s < 3; s++) await rt.step(1000);
    const runs = rt.runsOf('hangs');
    expect(runs.map((e) => [e.topic, e.payload.outcome, e.payload.error, e.payload.consecutiveErrors])).toEqual([
      ['agent.failed', 'timeout', 'timed out after 300 ms', 1],
      ['agent.failed', 'timeout', 'timed out after 300 ms', 2],
      ['agent.failed', 'timeout', 'timed out after 300 ms', 3],
    ]);
    expect((await rt.heartbeats.get('hangs'))?.lastOutcome).toBe('timeout');
    expect(rt.ledgerOf('agent.restarted', 'hangs')).toHaveLength(1);
    expectContiguous(rt.runsOf('calm').map((e) => e.payload.slot as number));
  });

  it('process.exit(1) and an unbounded allocation fail only their own run', async () => {
    await rt.publish('exits', 'exiter.mjs');
    await rt.publish('hogs', 'hog.mjs');
    await rt.alignTo('exits', 'hogs', 'calm');
    for (let s = 0; s < 2; s++) await rt.step(1000);
    expect(rt.runsOf('exits').map((e) => [e.payload.outcome, e.payload.error])).toEqual([
      ['crashed', 'agent code ended its worker (exit code 1) before the run finished'],
      ['crashed', 'agent code ended its worker (exit code 1) before the run finished'],
    ]);
    expect(rt.runsOf('hogs').map((e) => e.payload.outcome)).toEqual(['oom', 'oom']);
    const calm = rt.runsOf('calm');
    expect(calm.every((e) => e.payload.outcome === 'ok')).toBe(true);
    expectContiguous(calm.map((e) => e.payload.slot as number));
    expect(calm).toHaveLength(2);
  });

  it('an agent whose heartbeats stop (its runs never finish) is detected as stuck and restarted', async () => {
    await rt.publish('wedged', 'healthy.mjs');
    for (let s = 0; s < 3; s++) await rt.step(1000, { sweep: true });
    const lastBeat = (await rt.heartbeats.get('wedged'))?.lastHeartbeat;
    expect(lastBeat).toBe(rt.clock.now() - 1000);
    dying.add('wedged');
    // stuck limit: max(3 × 1 s, 1 s + 2 s timeout + 2 s grace) = 5 s without heartbeat
    let stuckAt = 0;
    for (let s = 0; s < 12 && !stuckAt; s++) {
      await rt.step(1000, { sweep: true });
      if (rt.ledgerOf('agent.restarted', 'wedged').length) stuckAt = rt.clock.now() - 1000;
    }
    const ev = rt.ledgerOf('agent.restarted', 'wedged')[0];
    expect(ev?.payload).toMatchObject({ cause: 'stuck', by: 'health-monitor', backoffMs: 5000 });
    expect(String(ev?.payload.reason)).toMatch(/^stuck: no heartbeat since .* never finished/);
    expect(stuckAt - lastBeat!).toBeGreaterThanOrEqual(5000);
    expect(stuckAt - lastBeat!).toBeLessThanOrEqual(8000);
    expect((await rt.registry.get('wedged'))?.status).toBe('restarting');
    // its neighbour kept running all along
    expectContiguous(rt.runsOf('calm').map((e) => e.payload.slot as number));
    dying.delete('wedged');
  });

  it('a stopped runner is not mistaken for stuck agents; queued slots are not replayed in a burst', async () => {
    await rt.alignTo('calm');
    for (let s = 0; s < 3; s++) await rt.step(1000, { sweep: true });
    expect(rt.runsOf('calm').map((e) => e.payload.outcome)).toEqual(['ok', 'ok', 'ok']);
    await rt.pool.stop(); // runs in flight finish, nothing new starts
    await rt.bus.idle();
    const restartsBefore = rt.ledgerOf('agent.restarted').length;
    const calmBefore = rt.runsOf('calm').length;
    for (let s = 0; s < 30; s++) await rt.step(1000, { sweep: true });
    expect(rt.runsOf('calm').length).toBe(calmBefore);
    expect(rt.ledgerOf('agent.restarted').length).toBe(restartsBefore);
    expect((await rt.registry.get('calm'))?.status).toBe('active');
    rt.pool.start();
    await rt.step(1000, { sweep: true });
    const resumed = rt.runsOf('calm').slice(calmBefore);
    // 30 s of queued slots: only those younger than the expiry (max(2 periods, timeout + 15 s) = 17 s) run
    const expiryS = slotExpiryMs(1, 2) / 1000;
    expect(expiryS).toBe(17);
    expect(resumed.length).toBeGreaterThan(0);
    expect(resumed.length).toBeLessThanOrEqual(expiryS + 2);
    expect(rt.reports.filter((r) => r.status === 'skipped' && r.reason === 'expired' && r.agent === 'calm').length).toBeGreaterThanOrEqual(
      30 - expiryS - 2,
    );
  });
});
