/**
 * Health metrics from the bus, at no cost to the functions: an observability rule on the agents
 * bus sends the health transitions (`agent.failed`, `agent.restarted`, `agent.quarantined`,
 * `agent.released`, `bundle.rejected`, `bundle.unverified`) to a CloudWatch log group (also a
 * searchable audit trail of them), and metric filters turn them into CloudWatch metrics
 * (FailedCycles, Restarts, Quarantines, ...) that the alarms and the dashboard use.
 *
 * This rule is not a routing rule (it targets no component, and local mode has no use for it),
 * so it is not in shared/definitions/routing.ts; tests/infra tells the two kinds apart.
 *
 * The rule target and the log group's resource policy are written without the L2
 * `CloudWatchLogGroup` target, which would add a custom-resource Lambda to the stack.
 */
import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { addToDeadLetterQueueResourcePolicy, bindBaseTargetConfig } from 'aws-cdk-lib/aws-events-targets';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { BUS_SOURCE } from '../../shared/definitions/routing';
import { ORCHESTRATOR_SENDER } from '../../shared/core/envelope';
import { MAX_RULE_NAME, stackScopedName } from './names';

/** topic → metric name */
export const HEALTH_EVENT_METRICS = {
  'agent.failed': 'FailedCycles',
  'agent.restarted': 'Restarts',
  'agent.quarantined': 'Quarantines',
  'agent.released': 'Releases',
  'bundle.rejected': 'BundlesRejected',
  'bundle.unverified': 'BundlesUnverified',
} as const;
export type HealthMetricName = (typeof HEALTH_EVENT_METRICS)[keyof typeof HEALTH_EVENT_METRICS];

/** construct id of the observability rule (not a RuleDef id) */
export const HEALTH_EVENTS_RULE_ID = 'HealthEventsRule';

export interface HealthEventsProps {
  bus: events.IEventBus;
  logRetention: logs.RetentionDays;
  /** events EventBridge could not deliver to the log group */
  deadLetterQueue: sqs.IQueue;
}

export class HealthEvents extends Construct {
  readonly logGroup: logs.LogGroup;
  readonly rule: events.Rule;
  readonly namespace: string;
  readonly metrics: Record<HealthMetricName, cloudwatch.Metric>;

  constructor(scope: Construct, id: string, props: HealthEventsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.namespace = `AgentOrchestrator/${stack.stackName}`;
    // EventBridge can only deliver to log groups named /aws/events/...
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: `/aws/events/${stack.stackName}/health-events`,
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const targetArn = stack.formatArn({
      service: 'logs',
      resource: 'log-group',
      resourceName: this.logGroup.logGroupName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    this.rule = new events.Rule(this, HEALTH_EVENTS_RULE_ID, {
      ruleName: stackScopedName(this, 'HealthEvents', MAX_RULE_NAME),
      description: 'observability: health transitions to a log group (metrics, audit trail)',
      eventBus: props.bus,
      // the orchestrator's own events only: a look-alike from anyone else is no health transition
      eventPattern: { source: [BUS_SOURCE], detailType: Object.keys(HEALTH_EVENT_METRICS), detail: { sender: [ORCHESTRATOR_SENDER] } },
    });
    // what the L2 CloudWatchLogGroup target does, minus its custom resource (policy below)
    this.rule.addTarget({
      bind: (rule) => {
        addToDeadLetterQueueResourcePolicy(rule, props.deadLetterQueue);
        return {
          ...bindBaseTargetConfig({ deadLetterQueue: props.deadLetterQueue, retryAttempts: 8, maxEventAge: Duration.hours(2) }),
          arn: targetArn,
        };
      },
    });
    // EventBridge's pattern for a log group target: CreateLogStream unconditioned (that request
    // carries no aws:SourceArn of the rule, so a condition on it denies the stream and nothing is
    // ever delivered: empty metric filters, silent NOT_BREACHING alarms), PutLogEvents only from
    // this rule.
    const deliverers = [new iam.ServicePrincipal('events.amazonaws.com'), new iam.ServicePrincipal('delivery.logs.amazonaws.com')];
    new logs.ResourcePolicy(this, 'DeliveryPolicy', {
      policyStatements: [
        new iam.PolicyStatement({
          sid: 'EventBridgeCreatesStreams',
          principals: deliverers,
          actions: ['logs:CreateLogStream'],
          resources: [this.logGroup.logGroupArn],
        }),
        new iam.PolicyStatement({
          sid: 'EventBridgeDeliversFromRule',
          principals: deliverers,
          actions: ['logs:PutLogEvents'],
          resources: [this.logGroup.logGroupArn],
          conditions: { ArnEquals: { 'aws:SourceArn': this.rule.ruleArn } },
        }),
      ],
    });
    const entries = Object.entries(HEALTH_EVENT_METRICS).map(([topic, metricName]) => {
      const filter = new logs.MetricFilter(this, `${metricName}Filter`, {
        logGroup: this.logGroup,
        filterPattern: logs.FilterPattern.stringValue('$.detail.topic', '=', topic),
        metricNamespace: this.namespace,
        metricName,
        metricValue: '1',
        unit: cloudwatch.Unit.COUNT,
      });
      return [metricName, filter.metric({ statistic: cloudwatch.Stats.SUM })] as const;
    });
    this.metrics = Object.fromEntries(entries) as Record<HealthMetricName, cloudwatch.Metric>;
  }
}
