/**
 * An agent's error keeps its name, message and stack, with frames naming the bundle's key
 * (`agents/<name>/<version>.mjs:LINE:COL`), bounded: on agent.failed, in the heartbeat and in
 * GET /agents/NAME's view (ControlService.describe); a successful cycle or a new version makes the
 * error history (`lastFailure`), not current (`lastError`). Real runs: worker threads (the
 * runtime harness) and agent processes (the process runtime).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRuntime, type Runtime } from './harness';
import { createTestProcesses } from '../support/inspector';
import { agentStack, MAX_STACK_BYTES, MAX_STACK_FRAMES } from '../../shared/core/stack';
import { sha256Hex } from '../../shared/core/bundle/signing';

/** Throws a TypeError on line 4 of the bundle, column 15 (`x.items`), on odd cycles; fine on even ones. */
const BUGGY = [
  'export default {',
  '  cycleSeconds: 1,',
  '  runCycle(ctx) {',
  '    const x = ctx.cycle % 2 === 1 ? undefined : { items: [] }; return x.items;',
  '  },',
  '};',
  '',
].join('\n');

describe('error stacks', () => {
  let rt: Runtime;
  beforeAll(async () => {
    rt = await startRuntime();
  });
  afterAll(async () => {
    await rt?.stop();
  });

  it('agent.failed, the heartbeat and the agent detail carry the stack mapped to the bundle key; a success makes it history', async () => {
    await rt.publish('buggy', BUGGY, '1.0.0');
    const trigger = async () => {
      await rt.control.act('buggy', 'trigger');
      await rt.settle();
    };
    await trigger();
    const failed = rt.ledgerOf('agent.failed', 'buggy');
    expect(failed).toHaveLength(1);
    const p = failed[0]!.payload as { error: string; stack: string };
    expect(p.error).toBe("TypeError: Cannot read properties of undefined (reading 'items')");
    expect(p.stack.split('\n')[0]).toBe(p.error);
    expect(p.stack).toMatch(/at Object\.runCycle \(agents\/buggy\/1\.0\.0\.mjs:4:\d+\)/);
    expect(p.stack).not.toMatch(/data:|\[eval\]|\[worker eval\]|node:internal/);

    const detail = await rt.control.describe('buggy');
    expect(detail.lastError).toBe(p.error);
    expect(detail.lastErrorStack).toBe(p.stack);
    expect(detail.lastErrorAt).toBe(new Date(rt.clock.now()).toISOString());
    expect(detail.lastFailure).toMatchObject({ error: p.error, stack: p.stack, version: '1.0.0', current: true });

    // the next cycle succeeds: the error is no longer current, but stays as the last failure
    await trigger();
    const healed = await rt.control.describe('buggy');
    expect(healed).toMatchObject({ consecutiveErrors: 0, lastOutcome: 'ok', lastError: null, lastErrorAt: null, lastErrorStack: null });
    expect(healed.lastFailure).toMatchObject({ error: p.error, version: '1.0.0', current: false, at: detail.lastErrorAt });
    expect((await rt.control.list()).find((a) => a.name === 'buggy')?.lastError).toBeNull();
  });

  it('a new version makes the old version’s error history even before it runs', async () => {
    await rt.publish('upgraded', 'export default { cycleSeconds: 1, runCycle() { throw new RangeError("v1 is broken"); } };');
    await rt.control.act('upgraded', 'trigger');
    await rt.settle();
    expect((await rt.control.describe('upgraded')).lastError).toBe('RangeError: v1 is broken');
    await rt.publish('upgraded', 'export default { cycleSeconds: 1, runCycle() {} };', '1.0.1');
    const d = await rt.control.describe('upgraded');
    expect(d).toMatchObject({ version: '1.0.1', lastError: null, lastErrorStack: null });
    expect(d.lastFailure).toMatchObject({ error: 'RangeError: v1 is broken', version: '1.0.0', current: false });
    expect(d.lastFailure?.stack).toMatch(/agents\/upgraded\/1\.0\.0\.mjs:1:\d+/);
  });

  it('the process runtime reports the same stack; an uncaught error from a timer is mapped too', async () => {
    const sb = createTestProcesses();
    const run = async (source: string) => {
      const bytes = new TextEncoder().encode(source);
      const key = 'agents/proc/2.0.0.mjs';
      const r = await sb.run({
        agent: 'proc',
        version: '2.0.0',
        bundle: { key, sha256: sha256Hex(bytes), bytes },
        kind: 'cycle',
        cycle: 1,
        state: {},
        timeoutMs: 20_000,
      });
      return { ...r, kept: agentStack(r.stack, key, r.error) };
    };
    const thrown = await run(BUGGY);
    expect(thrown.outcome).toBe('error');
    expect(thrown.kept).toMatch(
      /^TypeError: Cannot read properties of undefined \(reading 'items'\)\n {4}at .*agents\/proc\/2\.0\.0\.mjs:4:\d+/,
    );
    expect(thrown.kept).not.toMatch(/data:|\[eval\]/);
    const floating = await run('export default { runCycle() { return new Promise(() => setTimeout(() => { null.x; }, 1)); } };\n');
    expect(floating.outcome).toBe('error');
    expect(floating.kept).toMatch(/agents\/proc\/2\.0\.0\.mjs:1:\d+/);
  });
});

describe('agentStack', () => {
  const key = 'agents/a/1.0.0.mjs';
  it('renames data: URLs and bundle files to the key, drops the runtime’s frames, bounds frames and bytes', () => {
    const frames = Array.from({ length: 50 }, (_, i) => `    at f${i} (data:text/javascript;base64,QUJD:${i + 1}:3)`);
    const s = agentStack(['Error: x', ...frames, '    at runAgent ([eval]:170:12)', '    at node:internal/x:1:1'].join('\n'), key)!;
    const lines = s.split('\n');
    expect(lines[0]).toBe('Error: x');
    expect(lines[1]).toBe(`    at f0 (${key}:1:3)`);
    expect(lines).toHaveLength(1 + MAX_STACK_FRAMES + 1);
    expect(lines.at(-1)).toBe('    ... 30 more frames');
    expect(agentStack('E: y\n    at g (file:///tmp/scratch-1/agents/a/1.0.0.mjs:2:5)', key)).toBe(`E: y\n    at g (${key}:2:5)`);
    const huge = agentStack(`Error: ${'m'.repeat(10_000)}\n    at f (x:1:1)`, key)!;
    expect(Buffer.byteLength(huge)).toBeLessThanOrEqual(MAX_STACK_BYTES);
    expect(agentStack(null, key)).toBeNull();
    expect(agentStack('   ', key)).toBeNull();
  });
});
