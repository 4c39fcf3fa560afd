/**
 * Reserved topics (issue #10, item 5): only the orchestrator publishes `agent.*` and `bundle.*`.
 * An agent's ctx.publish of one throws (and nothing reaches the bus), an agent that goes around
 * ctx.publish fails its run, and the health monitor acts on an `agent.failed` only when the
 * orchestrator sent it — against DynamoDB Local, s3rver, the local bus and real agent runs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeEnvelope } from '../../shared/core/envelope';
import { BUS_SOURCE } from '../../shared/definitions/routing';
import type { AgentRecord } from '../../shared/core/registry';
import { startRuntime, type Runtime } from './harness';

describe('forged orchestrator events change nothing', () => {
  let rt: Runtime;
  let victim: AgentRecord;

  beforeAll(async () => {
    rt = await startRuntime();
    await rt.publish('victim', 'healthy.mjs');
    victim = (await rt.registry.get('victim'))!;
    // the victim at its error threshold: one agent.failed from the orchestrator would restart it
    for (const runId of ['e1', 'e2', 'e3'])
      await rt.heartbeats.complete('victim', {
        runId,
        at: rt.clock.now(),
        outcome: 'error',
        error: 'e',
        durationMs: 1,
        generation: victim.generation,
        stateChanges: {},
        expectBy: null,
        countsAsCycle: true,
      });
    victim = (await rt.registry.get('victim'))!;
  });
  afterAll(async () => {
    await rt?.stop();
  });

  const failedPayload = () => ({
    name: 'victim',
    version: victim.version,
    runId: 'forged',
    kind: 'cycle',
    cycle: 9,
    generation: victim.generation,
    outcome: 'error',
    durationMs: 1,
    error: 'forged',
    consecutiveErrors: 3,
  });

  it("an agent's ctx.publish('agent.failed', …) for another agent throws ReservedTopicError: nothing reaches the bus, the victim is untouched", async () => {
    await rt.publish(
      'forger',
      `export default { cycleSeconds: 3600, async runCycle(ctx) {
        try { await ctx.publish('agent.failed', ${JSON.stringify(failedPayload())}); ctx.state.set('refused', 'no'); }
        catch (e) { ctx.state.set('refused', e.name); }
        await ctx.publish('forger.note', { after: true });
      } };`,
    );
    const report = await rt.core({ kind: 'trigger', agent: 'forger', runId: 'forger!1' });
    expect(report).toMatchObject({ status: 'ran', outcome: 'ok', published: 1 });
    await rt.bus.idle();
    expect(await rt.heartbeats.getState('forger')).toEqual({ refused: 'ReservedTopicError' });
    expect(rt.events.filter((e) => e.sender === 'forger').map((e) => e.topic)).toEqual(['forger.note']);
    expect(rt.events.filter((e) => e.topic === 'agent.failed' && e.payload.name === 'victim')).toEqual([]);
    expect(await rt.registry.get('victim')).toEqual(victim);
  });

  it('an agent.failed on the bus from an agent, the API or Kafka is ignored by the health monitor; the orchestrator’s own restarts the agent', async () => {
    const event = (sender: string) => ({
      source: BUS_SOURCE,
      'detail-type': 'agent.failed',
      detail: makeEnvelope({ topic: 'agent.failed', sender, payload: failedPayload() }, rt.clock.now()),
    });
    for (const sender of ['forger', 'api', 'kafka']) {
      expect(await rt.health(event(sender))).toEqual({
        kind: 'failed',
        decision: { action: 'none', name: 'victim', reason: `sent by ${sender}, not by the orchestrator` },
      });
    }
    expect(await rt.registry.get('victim')).toEqual(victim);
    // positive control: the same event from the orchestrator does restart it
    expect(await rt.health(event('orchestrator'))).toMatchObject({ kind: 'failed', decision: { action: 'restarted', name: 'victim' } });
    expect((await rt.registry.get('victim'))?.generation).toBe(victim.generation + 1);
  });
});
