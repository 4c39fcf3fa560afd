/**
 * Component switches in the cloud (ComponentControl): a component is stopped by disabling what
 * feeds it, the same mapping local mode uses (shared/definitions/routing.ts: each RULE and
 * SCHEDULE names its component), plus the runner's SQS event source mapping:
 *
 * | component | switched resources |
 * |---|---|
 * | manager   | rule HotDirectory (default bus), schedule Rescan |
 * | scheduler | schedule SchedulerTick |
 * | runner    | Lambda event source mapping of the dispatch queue (queued runs wait, nothing is lost) |
 * | monitor   | rule Health, schedule HealthSweep |
 * | bus       | rule Delivery (delivery to onEnvelope; the Ledger rule is never switched off) |
 * | kafka     | the Kafka bridge's event source mappings (inbound topics, outbound queue); listed only when deployed |
 *
 * EventBridge Scheduler has no enable/disable call: UpdateSchedule replaces the whole schedule,
 * so the definition read with GetSchedule is sent back with only `State` changed.
 * A component is running when all of its resources are enabled.
 */
import {
  GetScheduleCommand,
  UpdateScheduleCommand,
  type GetScheduleCommandOutput,
  type SchedulerClient,
  type UpdateScheduleCommandInput,
} from '@aws-sdk/client-scheduler';
import { DescribeRuleCommand, DisableRuleCommand, EnableRuleCommand, type EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { GetEventSourceMappingCommand, UpdateEventSourceMappingCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { ALL_COMPONENT_NAMES, COMPONENT_NAMES, type ComponentName, type ScheduleDef } from '../../definitions/routing';
import { cloudSwitchesOf, CLOUD_ENV, type SwitchableRuleId } from '../../definitions/cloud-env';
import type { ComponentControl, ComponentState } from '../../core/ports';
import { ValidationError, errorMessage } from '../../core/errors';
import { ComponentNotConfiguredError } from '../../core/control/errors';
import { ComponentSwitchError } from './errors';

/** Physical names of the switched resources (read from the environment by `switchIdsFromEnv`). */
export interface CloudSwitchIds {
  /** EventBridge Scheduler group of the schedules ('default' if omitted) */
  scheduleGroup?: string;
  schedules: Partial<Record<ScheduleDef['id'], string>>;
  /** rule name and the bus it is on (`default` for the HotDirectory rule) */
  rules: Partial<Record<SwitchableRuleId, { name: string; eventBusName: string }>>;
  runnerEventSourceMappingUuid?: string;
  /** the Kafka bridge's event source mappings (none: no bridge, no component `kafka`) */
  kafkaEventSourceMappingUuids?: string[];
}

interface CloudSwitch {
  describe: string;
  isEnabled(): Promise<boolean>;
  setEnabled(enabled: boolean): Promise<void>;
}

const ESM_RUNNING = new Set(['Enabled', 'Enabling', 'Updating', 'Creating']);

export class AwsComponentControl implements ComponentControl {
  private readonly switches = new Map<ComponentName, CloudSwitch[]>();
  private readonly names: ComponentName[];

  constructor(
    private readonly clients: { scheduler: SchedulerClient; eventBridge: EventBridgeClient; lambda: LambdaClient },
    ids: CloudSwitchIds,
  ) {
    const group = ids.scheduleGroup ?? 'default';
    for (const name of COMPONENT_NAMES) {
      const wanted = cloudSwitchesOf(name);
      const list: CloudSwitch[] = [];
      for (const id of wanted.rules) {
        const r = ids.rules[id];
        if (r) list.push(this.ruleSwitch(r.name, r.eventBusName));
      }
      for (const id of wanted.schedules) {
        const sname = ids.schedules[id];
        if (sname) list.push(this.scheduleSwitch(sname, group));
      }
      if (wanted.runnerEventSourceMapping && ids.runnerEventSourceMappingUuid) list.push(this.esmSwitch(ids.runnerEventSourceMappingUuid));
      this.switches.set(name, list);
    }
    this.names = [...COMPONENT_NAMES];
    if (ids.kafkaEventSourceMappingUuids?.length) {
      this.switches.set(
        'kafka',
        ids.kafkaEventSourceMappingUuids.map((u) => this.esmSwitch(u)),
      );
      this.names.push('kafka');
    }
  }

  private scheduleSwitch(name: string, group: string): CloudSwitch {
    const get = async (): Promise<GetScheduleCommandOutput> =>
      this.clients.scheduler.send(new GetScheduleCommand({ Name: name, GroupName: group }));
    return {
      describe: `schedule ${group}/${name}`,
      isEnabled: async () => (await get()).State === 'ENABLED',
      setEnabled: async (enabled) => {
        const s = await get();
        const want = enabled ? 'ENABLED' : 'DISABLED';
        if (s.State === want) return;
        // UpdateSchedule replaces the schedule: send the whole definition back, State changed.
        const input: UpdateScheduleCommandInput = {
          Name: s.Name ?? name,
          GroupName: s.GroupName ?? group,
          ScheduleExpression: s.ScheduleExpression,
          Target: s.Target,
          FlexibleTimeWindow: s.FlexibleTimeWindow,
          State: want,
        };
        if (s.ScheduleExpressionTimezone !== undefined) input.ScheduleExpressionTimezone = s.ScheduleExpressionTimezone;
        if (s.StartDate !== undefined) input.StartDate = s.StartDate;
        if (s.EndDate !== undefined) input.EndDate = s.EndDate;
        if (s.Description !== undefined) input.Description = s.Description;
        if (s.KmsKeyArn !== undefined) input.KmsKeyArn = s.KmsKeyArn;
        if (s.ActionAfterCompletion !== undefined) input.ActionAfterCompletion = s.ActionAfterCompletion;
        await this.clients.scheduler.send(new UpdateScheduleCommand(input));
      },
    };
  }

  private ruleSwitch(name: string, eventBusName: string): CloudSwitch {
    return {
      describe: `rule ${eventBusName}/${name}`,
      isEnabled: async () => {
        const r = await this.clients.eventBridge.send(new DescribeRuleCommand({ Name: name, EventBusName: eventBusName }));
        return r.State?.startsWith('ENABLED') === true;
      },
      setEnabled: async (enabled) => {
        const input = { Name: name, EventBusName: eventBusName };
        await this.clients.eventBridge.send(enabled ? new EnableRuleCommand(input) : new DisableRuleCommand(input));
      },
    };
  }

  private esmSwitch(uuid: string): CloudSwitch {
    return {
      describe: `event source mapping ${uuid}`,
      isEnabled: async () =>
        ESM_RUNNING.has((await this.clients.lambda.send(new GetEventSourceMappingCommand({ UUID: uuid }))).State ?? ''),
      setEnabled: async (enabled) => {
        await this.clients.lambda.send(new UpdateEventSourceMappingCommand({ UUID: uuid, Enabled: enabled }));
      },
    };
  }

  private listFor(name: ComponentName): CloudSwitch[] {
    const list = this.switches.get(name);
    if (!list && (ALL_COMPONENT_NAMES as readonly string[]).includes(name))
      throw new ComponentNotConfiguredError(name, 'deploy with -c kafkaInbound / -c kafkaOutbound, docs/kafka.md');
    if (!list) throw new ValidationError(`unknown component ${String(name)}; one of ${this.names.join(', ')}`);
    return list;
  }

  private async state(name: ComponentName): Promise<ComponentState> {
    const list = this.listFor(name);
    if (list.length === 0) return { name, running: false };
    const states = await Promise.all(
      list.map(async (s) => {
        try {
          return await s.isEnabled();
        } catch (e) {
          throw new ComponentSwitchError(`reading ${s.describe} failed: ${errorMessage(e)}`, { component: name });
        }
      }),
    );
    return { name, running: states.every(Boolean) };
  }

  async list(): Promise<ComponentState[]> {
    return Promise.all(this.names.map((n) => this.state(n)));
  }

  async set(name: ComponentName, running: boolean): Promise<ComponentState> {
    const list = this.listFor(name);
    if (list.length === 0) throw new ComponentSwitchError(`component ${name} has no switchable resources configured`, { component: name });
    for (const s of list) {
      try {
        await s.setEnabled(running);
      } catch (e) {
        throw new ComponentSwitchError(`${running ? 'enabling' : 'disabling'} ${s.describe} failed: ${errorMessage(e)}`, {
          component: name,
        });
      }
    }
    return this.state(name);
  }
}

/**
 * The switch identifiers from the function's environment (names in shared/definitions/cloud-env.ts,
 * set by the CDK stack). Rules on the default bus (HotDirectory) use `default`, the others
 * `EVENT_BUS_NAME`. Unset variables leave that resource out.
 */
export function switchIdsFromEnv(env: Record<string, string | undefined>, eventBusName: string): CloudSwitchIds {
  const rules: CloudSwitchIds['rules'] = {};
  for (const [id, varName] of Object.entries(CLOUD_ENV.rules) as [SwitchableRuleId, string][]) {
    const name = env[varName];
    if (name) rules[id] = { name, eventBusName: id === 'HotDirectory' ? 'default' : eventBusName };
  }
  const schedules: CloudSwitchIds['schedules'] = {};
  for (const [id, varName] of Object.entries(CLOUD_ENV.schedules) as [ScheduleDef['id'], string][]) {
    const name = env[varName];
    if (name) schedules[id] = name;
  }
  const out: CloudSwitchIds = { rules, schedules };
  const group = env[CLOUD_ENV.scheduleGroup];
  if (group) out.scheduleGroup = group;
  const esm = env[CLOUD_ENV.runnerEsmUuid];
  if (esm) out.runnerEventSourceMappingUuid = esm;
  const kafka = (env[CLOUD_ENV.kafkaEsmUuids] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (kafka.length) out.kafkaEventSourceMappingUuids = kafka;
  return out;
}
