/**
 * Local replacement for EventBridge Scheduler: runs the SCHEDULES of
 * shared/definitions/routing.ts (the same definitions the CDK stack turns into schedules) on
 * local timers, with their local periods, delivering each schedule's `input` to its target
 * handler core. A schedule never overlaps itself: the next firing waits for the previous one.
 * Each schedule can be disabled and enabled (component switches), like UpdateSchedule State.
 */
import type { ScheduleDef, TargetName } from '../shared/definitions/routing';
import type { Logger } from '../shared/core/logger';

export type TargetHandler = (event: unknown) => Promise<unknown>;

interface TimerState {
  def: ScheduleDef;
  enabled: boolean;
  timer: NodeJS.Timeout | null;
  running: Promise<void> | null;
  fired: number;
  failed: number;
}

export class LocalTimers {
  private readonly states = new Map<ScheduleDef['id'], TimerState>();
  private started = false;

  constructor(
    defs: ScheduleDef[],
    private readonly targets: Partial<Record<TargetName, TargetHandler>>,
    private readonly log: Logger,
    /** overrides of the local period (tests), seconds */
    private readonly periodOverride: Partial<Record<ScheduleDef['id'], number>> = {},
  ) {
    for (const def of defs) this.states.set(def.id, { def, enabled: true, timer: null, running: null, fired: 0, failed: 0 });
  }

  private periodMs(s: TimerState): number {
    return (this.periodOverride[s.def.id] ?? s.def.localEverySeconds) * 1000;
  }

  private arm(s: TimerState): void {
    if (!this.started || !s.enabled || s.timer) return;
    s.timer = setTimeout(() => {
      s.timer = null;
      s.running = this.fire(s).finally(() => {
        s.running = null;
        this.arm(s);
      });
    }, this.periodMs(s));
  }

  /** Delivers one firing now (also used by tests and by `start` of a component to catch up). */
  async fire(s: TimerState | ScheduleDef['id']): Promise<void> {
    const st = typeof s === 'string' ? this.states.get(s) : s;
    if (!st) return;
    const handler = this.targets[st.def.target];
    if (!handler) {
      this.log.warn('schedule has no local target', { schedule: st.def.id, target: st.def.target });
      return;
    }
    st.fired++;
    try {
      await handler({ ...st.def.input });
    } catch (e) {
      st.failed++;
      this.log.error('scheduled invocation failed', { schedule: st.def.id, target: st.def.target, error: e });
    }
  }

  start(): void {
    this.started = true;
    for (const s of this.states.values()) this.arm(s);
  }

  setEnabled(id: ScheduleDef['id'], enabled: boolean): void {
    const s = this.states.get(id);
    if (!s) return;
    s.enabled = enabled;
    if (!enabled && s.timer) {
      clearTimeout(s.timer);
      s.timer = null;
    }
    if (enabled) this.arm(s);
  }

  /**
   * Resolves once the schedule's firing in progress (if any) has ended: a switch turned off stops
   * the next firings, not the one under way (a tick already querying dispatches what it won).
   */
  async settled(id: ScheduleDef['id']): Promise<void> {
    await this.states.get(id)?.running;
  }

  isEnabled(id: ScheduleDef['id']): boolean {
    return this.states.get(id)?.enabled ?? false;
  }

  stats(): { id: ScheduleDef['id']; enabled: boolean; fired: number; failed: number }[] {
    return [...this.states.values()].map((s) => ({ id: s.def.id, enabled: s.enabled, fired: s.fired, failed: s.failed }));
  }

  /** Stops all timers and waits for firings in progress. */
  async stop(): Promise<void> {
    this.started = false;
    for (const s of this.states.values()) {
      if (s.timer) clearTimeout(s.timer);
      s.timer = null;
    }
    await Promise.all([...this.states.values()].map((s) => s.running));
  }
}
