/**
 * Local component switches map each component to the same rules and schedules the CDK stack
 * disables for it (shared/definitions/routing.ts), and local timers deliver schedule inputs.
 */
import { describe, expect, it, vi } from 'vitest';
import { LocalComponentControl, type Switch } from '../../local/components';
import { LocalTimers } from '../../local/timers';
import { SCHEDULES } from '../../shared/definitions/routing';
import { createLogger } from '../../shared/core/logger';
import { ComponentNotConfiguredError } from '../../shared/core/control/errors';

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

describe('LocalComponentControl: the optional component kafka', () => {
  it('is listed and switched only when configured; otherwise switching it is ComponentNotConfiguredError (404)', async () => {
    const without = new LocalComponentControl({ rule: () => flag(), schedule: () => flag() });
    expect((await without.list()).map((c) => c.name)).toEqual(['manager', 'scheduler', 'runner', 'monitor', 'bus']);
    await expect(without.set('kafka', false)).rejects.toThrow(ComponentNotConfiguredError);

    const outboundRule = flag();
    const consumer = flag();
    const withKafka = new LocalComponentControl({
      rule: () => flag(),
      schedule: () => flag(),
      extra: { kafka: [outboundRule, consumer] },
      optional: ['kafka'],
    });
    expect((await withKafka.list()).map((c) => c.name)).toEqual(['manager', 'scheduler', 'runner', 'monitor', 'bus', 'kafka']);
    expect(await withKafka.set('kafka', false)).toEqual({ name: 'kafka', running: false });
    expect([outboundRule.on, consumer.on]).toEqual([false, false]);
    expect(await withKafka.set('kafka', true)).toEqual({ name: 'kafka', running: true });
    expect([outboundRule.on, consumer.on]).toEqual([true, true]);
  });
});

describe('LocalTimers', () => {
  it('delivers each schedule input to its target on its period, and a disabled schedule does not fire', async () => {
    // the timers' own clock, faked: firings are counted per period, not raced against real time
    vi.useFakeTimers();
    try {
      const seen: [string, unknown][] = [];
      const logged: { level: string; msg: string; schedule?: unknown }[] = [];
      const log = createLogger({
        level: 'debug',
        sink: (line, level) => logged.push({ level, ...(JSON.parse(line) as { msg: string; schedule?: unknown }) }),
      });
      const timers = new LocalTimers(
        SCHEDULES,
        { scheduler: async (e) => void seen.push(['scheduler', e]), 'health-monitor': async (e) => void seen.push(['monitor', e]) },
        log,
        {
          SchedulerTick: 1,
          HealthSweep: 3600,
          Rescan: 3600,
        },
      );
      timers.setEnabled('SchedulerTick', false);
      timers.start();
      await vi.advanceTimersByTimeAsync(5_000);
      expect(seen).toEqual([]);
      timers.setEnabled('SchedulerTick', true);
      await vi.advanceTimersByTimeAsync(3_000);
      // one firing per period once enabled: at 1 s, 2 s and 3 s
      expect(seen).toEqual([
        ['scheduler', { action: 'tick' }],
        ['scheduler', { action: 'tick' }],
        ['scheduler', { action: 'tick' }],
      ]);
      await timers.fire('HealthSweep');
      expect(seen.at(-1)).toEqual(['monitor', { action: 'sweep' }]);
      expect(timers.stats().find((t) => t.id === 'SchedulerTick')).toEqual({ id: 'SchedulerTick', enabled: true, fired: 3, failed: 0 });
      await timers.stop();
      // stop() stops the timers for good
      await vi.advanceTimersByTimeAsync(60_000);
      expect(seen).toHaveLength(4);
      // the rescan schedule targets the agent-manager, which has no handler here: logged, not thrown
      await expect(timers.fire('Rescan')).resolves.toBeUndefined();
      expect(logged).toEqual([expect.objectContaining({ level: 'warn', msg: 'schedule has no local target', schedule: 'Rescan' })]);
      expect(timers.stats().find((t) => t.id === 'Rescan')).toMatchObject({ fired: 0, failed: 0 });
    } finally {
      vi.useRealTimers();
    }
  });
});
