/**
 * EventBridge rules and EventBridge Scheduler schedules built from shared/definitions/routing.ts
 * (RULES, SCHEDULES) — the definitions local mode's bus and timers also run. Each component
 * construct creates the rules/schedules that target it; tests/infra compares the synthesized
 * template with the definitions.
 */
import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { MAX_RULE_NAME, stackScopedName } from './names';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import {
  RULES,
  SCHEDULES,
  resolvePattern,
  type ComponentName,
  type RuleDef,
  type ScheduleDef,
  type TargetName,
} from '../../shared/definitions/routing';
import type { OrchestratorContext } from './context';

/**
 * Explicit rule names: component switches and alarms need the NAME, and the CloudFormation Ref
 * of a custom-bus rule is `bus|name`, not the name.
 */
export function ruleNameFor(scope: Construct, def: RuleDef): string {
  return stackScopedName(scope, def.id, MAX_RULE_NAME);
}

export function isEnabled(def: { component?: ComponentName }, components: Record<ComponentName, boolean>): boolean {
  return def.component === undefined ? true : components[def.component];
}

export interface RuleOptions {
  /** the custom bus, for rules with `bus: 'agents'` (undefined = default bus) */
  agentsBus: events.IEventBus;
  hotBucketName: string;
  components: Record<ComponentName, boolean>;
  target: events.IRuleTarget;
}

export function createRule(scope: Construct, def: RuleDef, opts: RuleOptions): events.Rule {
  const pattern = resolvePattern(def.pattern, { HOT_BUCKET: opts.hotBucketName });
  return new events.Rule(scope, `${def.id}Rule`, {
    ruleName: ruleNameFor(scope, def),
    description: def.description,
    ...(def.bus === 'agents' ? { eventBus: opts.agentsBus } : {}),
    eventPattern: pattern as events.EventPattern,
    enabled: isEnabled(def, opts.components),
    targets: [opts.target],
  });
}

/** EventBridge Scheduler rate expression of a period (whole minutes/hours/days as Scheduler wants) */
export function rateOf(everySeconds: number): scheduler.ScheduleExpression {
  return scheduler.ScheduleExpression.rate(Duration.seconds(everySeconds));
}

export interface ScheduleOptions {
  group: scheduler.IScheduleGroup;
  /** the one role Scheduler assumes for every target (SCHEDULER_ROLE_ARN) */
  role: iam.IRole;
  deadLetterQueue: sqs.IQueue;
  components: Record<ComponentName, boolean>;
  fn: lambda.IFunction;
  retryAttempts: number;
  maxEventAge: Duration;
}

export function createSchedule(scope: Construct, def: ScheduleDef, opts: ScheduleOptions): scheduler.Schedule {
  const schedule = new scheduler.Schedule(scope, `${def.id}Schedule`, {
    schedule: rateOf(def.everySeconds),
    description: def.description,
    scheduleGroup: opts.group,
    enabled: isEnabled(def, opts.components),
    timeWindow: scheduler.TimeWindow.off(),
    target: new LambdaInvoke(opts.fn, {
      role: opts.role,
      input: scheduler.ScheduleTargetInput.fromObject(def.input),
      deadLetterQueue: opts.deadLetterQueue,
      retryAttempts: opts.retryAttempts,
      maxEventAge: opts.maxEventAge,
    }),
  });
  // the group has an explicit name, so the reference carries no dependency by itself
  schedule.node.addDependency(opts.group);
  return schedule;
}

/** How a rule or schedule retries delivering to its target, and how long an event stays worth delivering. */
export interface DeliveryPolicy {
  retryAttempts: number;
  maxEventAge: Duration;
}

/**
 * The rules of RULES whose target is `target`, each delivering to `eventTarget(def)` (a Lambda
 * function or a queue); the bus, the hot bucket and the component switches from the context.
 */
export function rulesFor(
  scope: Construct,
  ctx: OrchestratorContext,
  target: TargetName,
  eventTarget: (def: RuleDef) => events.IRuleTarget,
): events.Rule[] {
  return RULES.filter((r) => r.target === target).map((def) =>
    createRule(scope, def, {
      agentsBus: ctx.bus.bus,
      hotBucketName: ctx.hot.bucket.bucketName,
      components: ctx.props.components,
      target: eventTarget(def),
    }),
  );
}

/** The rules of RULES whose target is the function `fn`, with its delivery policy and the delivery-failures DLQ. */
export function lambdaRulesFor(
  scope: Construct,
  ctx: OrchestratorContext,
  target: TargetName,
  fn: lambda.IFunction,
  policy: DeliveryPolicy,
): events.Rule[] {
  return rulesFor(
    scope,
    ctx,
    target,
    () => new targets.LambdaFunction(fn, { deadLetterQueue: ctx.deadLetters.deliveryFailures, ...policy }),
  );
}

/** The schedules of SCHEDULES whose target is the function `fn`, in the stack's group, with its delivery policy. */
export function schedulesFor(
  scope: Construct,
  ctx: OrchestratorContext,
  target: TargetName,
  fn: lambda.IFunction,
  policy: DeliveryPolicy,
): scheduler.Schedule[] {
  return SCHEDULES.filter((s) => s.target === target).map((def) =>
    createSchedule(scope, def, {
      group: ctx.schedules.group,
      role: ctx.schedules.role,
      deadLetterQueue: ctx.deadLetters.deliveryFailures,
      components: ctx.props.components,
      fn,
      ...policy,
    }),
  );
}
