/**
 * The agent's kept log lines (shared/core/logs.ts) through the real runner and runtime (worker
 * threads), DynamoDB Local and ControlService.logs (GET /agents/{name}/logs): per-run bounds (50
 * lines, long messages cut), a ring of the last 10 cycles, envelope runs in a ring of their own,
 * a failed run's last line its error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRuntime, type Runtime } from './harness';
import { LINE_MAX_CHARS, LOG_RING_RUNS, RUN_LOG_MAX_LINES } from '../../shared/core/logs';
import { makeEnvelope } from '../../shared/core/envelope';

describe('kept agent logs', () => {
  let rt: Runtime;
  beforeAll(async () => {
    rt = await startRuntime();
  });
  afterAll(async () => {
    await rt?.stop();
  });

  it('keeps at most 50 lines per run, the last 10 cycles, and a failed run’s error', async () => {
    await rt.publish(
      'noisy',
      `export default { cycleSeconds: 1, subscriptions: ['poke'], async runCycle(ctx) {
        for (let i = 0; i < 60; i++) ctx.log('c' + ctx.cycle + ' line ' + i);
        if (ctx.cycle === 12) { ctx.log.warn('x'.repeat(5000)); throw new Error('cycle 12 fails'); }
      }, async onEnvelope(e, ctx) { ctx.log('got ' + e.payload.n); } };`,
    );
    for (let i = 0; i < 12; i++) {
      await rt.control.act('noisy', 'trigger');
      await rt.settle();
    }
    const { lines } = await rt.control.logs('noisy', 1000);
    const cycles = [...new Set(lines.map((l) => l.cycle))];
    expect(cycles).toEqual(Array.from({ length: LOG_RING_RUNS }, (_, i) => i + 3));
    const c3 = lines.filter((l) => l.cycle === 3);
    expect(c3).toHaveLength(RUN_LOG_MAX_LINES);
    expect(c3[0]).toMatchObject({ msg: 'c3 line 0', level: 'info', kind: 'trigger', version: '1.0.0' });
    const last = lines.at(-1)!;
    expect(last).toMatchObject({ cycle: 12, level: 'error', msg: 'run failed (error): cycle 12 fails' });
    // the 50 kept lines of cycle 12 are its first 50 (the long warning came after them), plus the error
    expect(lines.filter((l) => l.cycle === 12)).toHaveLength(RUN_LOG_MAX_LINES + 1);
    expect((await rt.control.logs('noisy', 5)).lines).toEqual(lines.slice(-5));

    // an envelope run's lines are kept in a ring of their own: the cycles' stay
    rt.clock.advance(1000);
    const env = makeEnvelope({ topic: 'poke', sender: 'api', recipient: 'noisy', payload: { n: 1 } }, rt.clock.now());
    expect(await rt.core({ kind: 'envelope', agent: 'noisy', runId: `noisy<${env.id}`, envelope: env })).toMatchObject({ outcome: 'ok' });
    const after = (await rt.control.logs('noisy', 1000)).lines;
    expect(after.at(-1)).toMatchObject({ kind: 'envelope', msg: 'got 1' });
    expect(after.filter((l) => l.kind !== 'envelope')).toEqual(lines);
  });

  it('cuts a long message and keeps a line that would overflow the run’s bytes out', async () => {
    await rt.publish('long', `export default { cycleSeconds: 1, runCycle(ctx) { ctx.log('y'.repeat(3000)); } };`);
    await rt.control.act('long', 'trigger');
    await rt.settle();
    const { lines } = await rt.control.logs('long', 10);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.msg).toHaveLength(LINE_MAX_CHARS + 1);
    await expect(rt.control.logs('nobody', 10)).rejects.toThrow(/nobody/);
  });
});
