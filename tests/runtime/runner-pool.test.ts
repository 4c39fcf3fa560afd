/**
 * LocalRunnerPool with a recording core (the runner core itself is tested with real runs in
 * runner/schedule/health tests): notBefore timers, the concurrency limit, stop/start, retries.
 */
import { describe, expect, it } from 'vitest';
import { LocalRunnerPool } from '../../local/runner';
import { FakeClock } from '../../shared/core/clock';
import type { DispatchItem, DispatchMessage } from '../../shared/core/dispatch';
import type { RunReport } from '../../shared/core/runner/service';
import { ValidationError } from '../../shared/core/errors';
import { T0 } from './helpers';

const trigger = (i: number, notBefore: number): DispatchItem => ({
  message: { kind: 'trigger', agent: 'pool-agent', runId: `r${i}` },
  notBefore,
});
const ok = (m: DispatchMessage): RunReport => ({
  status: 'ran',
  agent: m.agent,
  runId: m.runId,
  kind: m.kind,
  cycle: 1,
  outcome: 'ok',
  error: null,
  durationMs: 1,
  consecutiveErrors: 0,
  published: 0,
});

function gatedCore() {
  const started: string[] = [];
  const gates = new Map<string, () => void>();
  let concurrent = 0;
  let maxConcurrent = 0;
  const core = (m: DispatchMessage) =>
    new Promise<RunReport>((resolve) => {
      started.push(m.runId);
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      gates.set(m.runId, () => {
        concurrent--;
        resolve(ok(m));
      });
    });
  const release = (id: string) => gates.get(id)?.();
  return { core, started, release, releaseAll: () => [...gates.keys()].forEach(release), max: () => maxConcurrent };
}

describe('LocalRunnerPool', () => {
  it('starts each item at its notBefore, in order, at most `concurrency` at once', async () => {
    const clock = new FakeClock(T0);
    const g = gatedCore();
    const pool = new LocalRunnerPool({ core: g.core, concurrency: 2, clock });
    await pool.dispatch([trigger(3, T0 + 2000), trigger(1, T0), trigger(2, T0), trigger(0, T0 - 5)]);
    expect(g.started).toEqual(['r0', 'r1']);
    g.release('r0');
    await new Promise((r) => setImmediate(r));
    expect(g.started).toEqual(['r0', 'r1', 'r2']); // r3 is not due yet
    g.releaseAll();
    await pool.idle();
    clock.advance(2000);
    pool.poke();
    expect(g.started).toEqual(['r0', 'r1', 'r2', 'r3']);
    g.releaseAll();
    await pool.idle();
    expect(g.max()).toBe(2);
    expect(pool.stats()).toMatchObject({ pending: 0, inFlight: 0, started: 4, ran: 4, outcomes: { ok: 4 } });
  });

  it('fires timers on real time for future items', async () => {
    const seen: string[] = [];
    const pool = new LocalRunnerPool({
      core: async (m) => {
        seen.push(m.runId);
        return ok(m);
      },
    });
    const at = Date.now() + 30;
    await pool.dispatch([trigger(1, at)]);
    expect(seen).toEqual([]);
    // the pool's own timer starts it (nothing pokes the pool here), not before its time
    await expect.poll(() => seen).toEqual(['r1']);
    expect(Date.now()).toBeGreaterThanOrEqual(at);
    await pool.idle();
  });

  it('stop() lets runs in flight finish and starts nothing new until start()', async () => {
    const clock = new FakeClock(T0);
    const g = gatedCore();
    const pool = new LocalRunnerPool({ core: g.core, concurrency: 1, clock });
    await pool.dispatch([trigger(1, T0), trigger(2, T0)]);
    const stopped = pool.stop();
    expect(pool.isEnabled()).toBe(false);
    g.release('r1');
    await stopped;
    expect(g.started).toEqual(['r1']);
    expect(pool.waiting().map((w) => w.message.runId)).toEqual(['r2']);
    await pool.setEnabled(true);
    expect(g.started).toEqual(['r1', 'r2']);
    g.releaseAll();
    await pool.idle();
  });

  it('retries a run whose core throws, then dead-letters it', async () => {
    const clock = new FakeClock(T0);
    let calls = 0;
    const pool = new LocalRunnerPool({
      core: async () => {
        calls++;
        throw new Error('dynamodb down');
      },
      clock,
      maxAttempts: 2,
      retryDelayMs: 500,
    });
    await pool.dispatch([trigger(1, T0)]);
    await pool.idle();
    expect(calls).toBe(1);
    clock.advance(500);
    pool.poke();
    await pool.idle();
    expect(calls).toBe(2);
    expect(pool.deadLetters).toEqual([{ message: trigger(1, T0).message, error: 'dynamodb down' }]);
    expect(pool.stats()).toMatchObject({ errors: 2, deadLetters: 1, pending: 0 });
  });

  it('refuses invalid items without accepting any', async () => {
    const pool = new LocalRunnerPool({ core: async (m) => ok(m) });
    await expect(
      pool.dispatch([trigger(1, Date.now()), { message: { kind: 'nope' }, notBefore: 0 } as unknown as DispatchItem]),
    ).rejects.toBeInstanceOf(ValidationError);
    expect(pool.stats().started).toBe(0);
  });
});
