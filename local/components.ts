/**
 * Component switches of local mode (`GET /components`, `POST /components/{name}/{stop|start}`).
 * A component is the set of things the CDK stack would disable for it: its EventBridge rules and
 * schedules (both read from shared/definitions/routing.ts, so the mapping is the same in both
 * modes), plus, for the runner, the local runner pool (the cloud disables the SQS event source
 * mapping: queued runs wait, nothing is lost). Starting the manager also runs a rescan, which
 * catches up with the hot-directory changes made while it was stopped.
 */
import { COMPONENT_NAMES, RULES, SCHEDULES, type ComponentName, type RuleDef, type ScheduleDef } from '../shared/definitions/routing';
import { ValidationError } from '../shared/core/errors';
import type { ComponentControl, ComponentState } from '../shared/core/ports';

export interface Switch {
  setEnabled(enabled: boolean): Promise<void> | void;
  isEnabled(): boolean;
}

export interface LocalSwitchTargets {
  rule(id: RuleDef['id']): Switch;
  schedule(id: ScheduleDef['id']): Switch;
  /** extra switches per component (the runner pool) */
  extra?: Partial<Record<ComponentName, Switch[]>>;
  /** called after a component was started (e.g. the manager's catch-up rescan) */
  onStarted?: Partial<Record<ComponentName, () => Promise<void>>>;
}

export class LocalComponentControl implements ComponentControl {
  private readonly switches = new Map<ComponentName, Switch[]>();

  constructor(private readonly targets: LocalSwitchTargets) {
    for (const name of COMPONENT_NAMES) {
      const list: Switch[] = [
        ...RULES.filter((r) => r.component === name).map((r) => targets.rule(r.id)),
        ...SCHEDULES.filter((s) => s.component === name).map((s) => targets.schedule(s.id)),
        ...(targets.extra?.[name] ?? []),
      ];
      this.switches.set(name, list);
    }
  }

  private state(name: ComponentName): ComponentState {
    const list = this.switches.get(name) ?? [];
    return { name, running: list.length > 0 && list.every((s) => s.isEnabled()) };
  }

  async list(): Promise<ComponentState[]> {
    return COMPONENT_NAMES.map((n) => this.state(n));
  }

  async set(name: ComponentName, running: boolean): Promise<ComponentState> {
    const list = this.switches.get(name);
    if (!list) throw new ValidationError(`unknown component ${String(name)}; one of ${COMPONENT_NAMES.join(', ')}`);
    const wasRunning = this.state(name).running;
    for (const s of list) await s.setEnabled(running);
    if (running && !wasRunning) await this.targets.onStarted?.[name]?.();
    return this.state(name);
  }
}
