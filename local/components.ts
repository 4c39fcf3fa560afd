/**
 * Component switches of local mode (`GET /components`, `POST /components/{name}/{stop|start}`).
 * A component is the set of things the CDK stack would disable for it: its EventBridge rules and
 * schedules (both read from shared/definitions/routing.ts, so the mapping is the same in both
 * modes), plus, for the runner, the local runner pool (the cloud disables the SQS event source
 * mapping: queued runs wait, nothing is lost). Starting the manager also runs a rescan, which
 * catches up with the hot-directory changes made while it was stopped.
 *
 * Optional components (`kafka`) exist only when configured (`optional`): only then are they
 * listed, and switching one that is not configured is a ComponentNotConfiguredError (404).
 */
import {
  ALL_COMPONENT_NAMES,
  COMPONENT_NAMES,
  type OPTIONAL_COMPONENT_NAMES,
  RULES,
  SCHEDULES,
  type ComponentName,
  type RuleDef,
  type ScheduleDef,
} from '../shared/definitions/routing';
import { ValidationError } from '../shared/core/errors';
import { ComponentNotConfiguredError } from '../shared/core/control/errors';
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
  /** the optional components this deployment has (their switches are in `extra`) */
  optional?: readonly (typeof OPTIONAL_COMPONENT_NAMES)[number][];
}

export class LocalComponentControl implements ComponentControl {
  private readonly switches = new Map<ComponentName, Switch[]>();
  private readonly names: ComponentName[];

  constructor(private readonly targets: LocalSwitchTargets) {
    this.names = [...COMPONENT_NAMES, ...(targets.optional ?? [])];
    for (const name of this.names) {
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
    return this.names.map((n) => this.state(n));
  }

  async set(name: ComponentName, running: boolean): Promise<ComponentState> {
    const list = this.switches.get(name);
    if (!list && (ALL_COMPONENT_NAMES as readonly string[]).includes(name))
      throw new ComponentNotConfiguredError(name, 'set KAFKA_BROKERS and KAFKA_INBOUND or KAFKA_OUTBOUND, docs/kafka.md');
    if (!list) throw new ValidationError(`unknown component ${String(name)}; one of ${this.names.join(', ')}`);
    const wasRunning = this.state(name).running;
    for (const s of list) await s.setEnabled(running);
    if (running && !wasRunning) await this.targets.onStarted?.[name]?.();
    return this.state(name);
  }
}
