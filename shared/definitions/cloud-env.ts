/**
 * Environment variables that exist only in the cloud: the CDK stack (infra/) sets them on the
 * Lambda functions, and the API's cloud adapters (component switches, auth) read them. Single
 * source of the names for both sides. Plain data: no CDK or SDK imports.
 *
 * Component switches (`POST /components/{name}/{stop|start}`) in the cloud act on:
 * - the EventBridge rules of RULES whose `component` is that component — env value = the rule
 *   NAME (not the CloudFormation Ref, which is `bus|name` for custom-bus rules). The bus is
 *   `default` for a RuleDef with `bus: 'default'` (HotDirectory), else `EVENT_BUS_NAME`;
 * - the EventBridge Scheduler schedules of SCHEDULES whose `component` is that component —
 *   env value = the schedule name, all in the group `SCHEDULE_GROUP`. UpdateSchedule replaces the
 *   whole definition, so the adapter reads it with GetSchedule and writes it back with only
 *   `State` changed; the target's RoleArn is `SCHEDULER_ROLE_ARN` (the API role may pass it);
 * - the runner's SQS event source mapping (component `runner`) — env value = the mapping's UUID.
 * The component `bus` is the Delivery rule; the Ledger rule is never switched off.
 * The optional component `kafka` (only when the Kafka bridge is deployed) is its event source
 * mappings: one per inbound Kafka topic, and the outbound queue's (the rule KafkaOutbound stays
 * on, so what is published while the bridge is stopped waits in the queue).
 */
import type { ComponentName, RuleDef, ScheduleDef, SwitchableScheduleId } from './routing';
import { RULES, SCHEDULES } from './routing';

/** rules that have a component switch (RuleDef.component set); the Kafka bridge switches its event source mappings instead */
export type SwitchableRuleId = Exclude<RuleDef['id'], 'Ledger' | 'KafkaOutbound'>;

export const CLOUD_ENV = {
  /** `iam` (default) or `jwt`: which API Gateway authorizer fronts the API */
  apiAuthMode: 'API_AUTH_MODE',
  /** EventBridge Scheduler schedule group holding the stack's schedules */
  scheduleGroup: 'SCHEDULE_GROUP',
  /** role EventBridge Scheduler assumes to invoke the targets (needed back in UpdateSchedule) */
  schedulerRoleArn: 'SCHEDULER_ROLE_ARN',
  /** schedule name per ScheduleDef id */
  schedules: {
    SchedulerTick: 'SCHEDULER_TICK_SCHEDULE',
    HealthSweep: 'HEALTH_SWEEP_SCHEDULE',
    Rescan: 'RESCAN_SCHEDULE',
  } satisfies Record<SwitchableScheduleId, string>,
  /** rule name per switchable RuleDef id */
  rules: {
    HotDirectory: 'HOTDIR_RULE',
    Delivery: 'DELIVERY_RULE',
    Health: 'HEALTH_RULE',
  } satisfies Record<SwitchableRuleId, string>,
  /** UUID of the runner's SQS event source mapping (component `runner`) */
  runnerEsmUuid: 'RUNNER_ESM_UUID',
  /** UUIDs (comma-separated) of the Kafka bridge's event source mappings (component `kafka`) */
  kafkaEsmUuids: 'KAFKA_ESM_UUIDS',
  /** URL of the streaming function URL serving `GET /events/stream` (informational, for clients) */
  streamUrl: 'EVENTS_STREAM_URL',
} as const;

/** What a component switch acts on in the cloud. */
export interface CloudSwitches {
  rules: SwitchableRuleId[];
  schedules: ScheduleDef['id'][];
  /** true for `runner`: the dispatch queue's event source mapping */
  runnerEventSourceMapping: boolean;
}

export function cloudSwitchesOf(component: ComponentName): CloudSwitches {
  return {
    rules: RULES.filter((r) => r.component === component).map((r) => r.id as SwitchableRuleId),
    schedules: SCHEDULES.filter((s) => s.component === component).map((s) => s.id),
    runnerEventSourceMapping: component === 'runner',
  };
}
