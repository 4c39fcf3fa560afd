/**
 * Local component switches map each component to the same rules and schedules the CDK stack
 * disables for it (shared/definitions/routing.ts), and local timers deliver schedule inputs.
 */
import { describe, expect, it } from 'vitest';
import { LocalComponentControl, type Switch } from '../../local/components';
import { LocalTimers } from '../../local/timers';
import { SCHEDULES } from '../../shared/definitions/routing';
import { silentLogger } from '../../shared/core/logger';

function flag(): Switch & { on: boolean } {
  return {
    on: true,
    setEnabled(e: boolean) {
      this.on = e;
    },
    isEnabled() {
      return this.on;
    },
  };
}

describe('LocalComponentControl', () => {
  it('stops exactly the rules, schedules and pool of one component and restarts them', async () => {
    const rules = new Map<string, ReturnType<typeof flag>>();
    const schedules = new Map<string, ReturnType<typeof flag>>();
    const pool = flag();
    let rescans = 0;
    const control = new LocalComponentControl({
      rule: (id) => rules.set(id, rules.get(id) ?? flag()).get(id)!,
      schedule: (id) => schedules.set(id, schedules.get(id) ?? flag()).get(id)!,
      extra: { runner: [pool] },
      onStarted: { manager: async () => void rescans++ },
    });
    expect(await control.list()).toEqual([
      { name: 'manager', running: true },
      { name: 'scheduler', running: true },
      { name: 'runner', running: true },
      { name: 'monitor', running: true },
      { name: 'bus', running: true },
    ]);
    expect(await control.set('scheduler', false)).toEqual({ name: 'scheduler', running: false });
    expect(schedules.get('SchedulerTick')?.on).toBe(false);
    expect([...schedules.entries()].filter(([id]) => id !== 'SchedulerTick').every(([, s]) => s.on)).toBe(true);
    expect([...rules.values()].every((r) => r.on)).toBe(true);

    await control.set('monitor', false);
    expect(rules.get('Health')?.on).toBe(false);
    expect(schedules.get('HealthSweep')?.on).toBe(false);
    // the ledger rule belongs to no component: no switch can turn it off
    expect(rules.has('Ledger')).toBe(false);
    expect([...rules.keys()].sort()).toEqual(['Delivery', 'Health', 'HotDirectory']);

    await control.set('runner', false);
    expect(pool.on).toBe(false);

    await control.set('manager', false);
    expect(rules.get('HotDirectory')?.on).toBe(false);
    expect(schedules.get('Rescan')?.on).toBe(false);
    await control.set('manager', true);
    await control.set('manager', true); // already running: no second catch-up
    expect(rescans).toBe(1);
    expect((await control.list()).filter((c) => !c.running).map((c) => c.name)).toEqual(['scheduler', 'runner', 'monitor']);
    await expect(control.set('nope' as never, true)).rejects.toThrow(/unknown component/);
  });
});

describe('LocalTimers', () => {
  it('delivers each schedule input to its target, and a disabled schedule does not fire on its timer', async () => {
    const seen: [string, unknown][] = [];
    const timers = new LocalTimers(SCHEDULES, { scheduler: async (e) => void seen.push(['scheduler', e]), 'health-monitor': async (e) => void seen.push(['monitor', e]) }, silentLogger, {
      SchedulerTick: 0.01,
      HealthSweep: 3600,
      Rescan: 3600,
    });
    timers.setEnabled('SchedulerTick', false);
    timers.start();
    await new Promise((r) => setTimeout(r, 100));
    expect(seen).toEqual([]);
    timers.setEnabled('SchedulerTick', true);
    for (let i = 0; i < 100 && seen.length < 3; i++) await new Promise((r) => setTimeout(r, 20));
    await timers.fire('HealthSweep');
    await timers.stop();
    expect(seen.filter(([t]) => t === 'scheduler').length).toBeGreaterThanOrEqual(3);
    expect(seen).toContainEqual(['scheduler', { action: 'tick' }]);
    expect(seen).toContainEqual(['monitor', { action: 'sweep' }]);
    // stop() stops the timers for good
    const n = seen.length;
    await new Promise((r) => setTimeout(r, 60));
    expect(seen.length).toBe(n);
    // the rescan schedule targets the agent-manager, which has no handler here: counted, not thrown
    await expect(timers.fire('Rescan')).resolves.toBeUndefined();
  });
});
