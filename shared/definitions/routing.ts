/**
 * Routing rules and schedules: the single definition used by the CDK stack (infra/, as
 * EventBridge rules and EventBridge Scheduler schedules) and by local mode (local router and
 * local timers). A test compares the synthesized template with these definitions.
 *
 * Plain data: no CDK or SDK imports. Patterns are EventBridge event patterns; `{{HOT_BUCKET}}`
 * is replaced with the hot-directory bucket name by `resolvePattern`.
 */

/** `Source` of every envelope the orchestrator puts on its bus (DetailType = topic, Detail = envelope). */
export const BUS_SOURCE = 'agent-orchestrator';

/** Functions (cloud) / handler cores (local) that rules and schedules target. */
export type TargetName = 'agent-manager' | 'scheduler' | 'health-monitor' | 'ledger-writer' | 'router' | 'kafka-producer' | 'ledger-digest';

/** Components an operator can stop and start (`POST /components/{name}/{stop|start}`), always present. */
export const COMPONENT_NAMES = ['manager', 'scheduler', 'runner', 'monitor', 'bus'] as const;
/**
 * Components that exist only when configured (listed by `GET /components` only then): `kafka`,
 * the Kafka bridge (shared/definitions/kafka.ts).
 */
export const OPTIONAL_COMPONENT_NAMES = ['kafka'] as const;
/** Every component name the API knows. */
export const ALL_COMPONENT_NAMES = [...COMPONENT_NAMES, ...OPTIONAL_COMPONENT_NAMES] as const;
export type ComponentName = (typeof ALL_COMPONENT_NAMES)[number];

export type EventPattern = Record<string, unknown>;

export interface RuleDef {
  /** logical id (CDK construct id, local router rule name); KafkaOutbound: see shared/definitions/kafka.ts */
  id: 'HotDirectory' | 'Ledger' | 'Delivery' | 'Health' | 'KafkaOutbound';
  /** `default`: the account's default bus (S3 sends there); `agents`: the orchestrator's custom bus */
  bus: 'default' | 'agents';
  target: TargetName;
  /** component whose stop/start disables/enables this rule; undefined = always on */
  component?: ComponentName;
  description: string;
  pattern: EventPattern;
}

export interface ScheduleDef {
  id: 'SchedulerTick' | 'HealthSweep' | 'Rescan' | 'LedgerDigest';
  target: TargetName;
  /** component whose stop/start disables/enables this schedule; undefined = always on */
  component?: ComponentName;
  /** period in the cloud (EventBridge Scheduler `rate(...)`; minimum 60 s) */
  everySeconds: number;
  /** period of the local timer (local mode ticks faster: it has no SQS delay queue to look ahead) */
  localEverySeconds: number;
  /** event payload the target receives */
  input: Record<string, unknown>;
  description: string;
}

/** Topics written for every cycle: ledgered, but not routed to agents' onEnvelope (volume). */
export const UNROUTED_TOPICS = ['agent.cycle'];

export const RULES: RuleDef[] = [
  {
    id: 'HotDirectory',
    bus: 'default',
    target: 'agent-manager',
    component: 'manager',
    description: 'S3 object created, or current object deleted (delete marker), under agents/ in the hot directory',
    // The hot directory is versioned: "the current object is gone" is a delete marker. An
    // "Object Deleted" with deletion-type "Permanently Deleted" removes one version — above all
    // the lifecycle expiry of superseded (noncurrent) versions — and must not deregister the
    // agent; the rare permanent delete of the last version is caught by the daily rescan.
    pattern: {
      source: ['aws.s3'],
      detail: { bucket: { name: ['{{HOT_BUCKET}}'] }, object: { key: [{ prefix: 'agents/' }] } },
      $or: [
        { 'detail-type': ['Object Created'] },
        { 'detail-type': ['Object Deleted'], detail: { 'deletion-type': ['Delete Marker Created'] } },
      ],
    },
  },
  {
    id: 'Ledger',
    bus: 'agents',
    target: 'ledger-writer',
    description: 'every envelope on the bus is appended to the ledger',
    pattern: { source: [BUS_SOURCE] },
  },
  {
    id: 'Delivery',
    bus: 'agents',
    target: 'router',
    component: 'bus',
    description: "envelopes routed to agents' onEnvelope (by recipient or subscribed topic)",
    pattern: { source: [BUS_SOURCE], 'detail-type': [{ 'anything-but': UNROUTED_TOPICS }] },
  },
  {
    id: 'Health',
    bus: 'agents',
    target: 'health-monitor',
    component: 'monitor',
    description: 'failed cycles go to the health monitor',
    pattern: { source: [BUS_SOURCE], 'detail-type': ['agent.failed'] },
  },
];

export const SCHEDULES: ScheduleDef[] = [
  {
    id: 'SchedulerTick',
    target: 'scheduler',
    component: 'scheduler',
    everySeconds: 60,
    localEverySeconds: 1,
    input: { action: 'tick' },
    description: 'dispatch the slots due before the next tick',
  },
  {
    id: 'HealthSweep',
    target: 'health-monitor',
    component: 'monitor',
    everySeconds: 60,
    localEverySeconds: 2,
    input: { action: 'sweep' },
    description: 'restart agents whose heartbeat is overdue (stuck)',
  },
  {
    id: 'Rescan',
    target: 'agent-manager',
    component: 'manager',
    everySeconds: 86_400,
    localEverySeconds: 3_600,
    input: { action: 'rescan' },
    description: 'full rescan of the hot directory (catches missed S3 events)',
  },
  {
    // always on (no component): anchoring is what makes a rewrite of the ledger's history
    // detectable, so no operator switch stops it
    id: 'LedgerDigest',
    target: 'ledger-digest',
    everySeconds: 300,
    localEverySeconds: 60,
    input: { action: 'digest' },
    description: 'anchor the ledger head (seq, hash, time) in the append-only digest store',
  },
];

/** schedules with a component switch (ScheduleDef.component set) */
export type SwitchableScheduleId = Exclude<ScheduleDef['id'], 'LedgerDigest'>;

/** Replaces `{{HOT_BUCKET}}` placeholders in a pattern. */
export function resolvePattern(pattern: EventPattern, vars: { HOT_BUCKET: string }): EventPattern {
  return JSON.parse(JSON.stringify(pattern).replaceAll('{{HOT_BUCKET}}', vars.HOT_BUCKET)) as EventPattern;
}
