/**
 * Operations: CloudWatch alarms (quarantines, failed cycles, ledger writer errors, every
 * dead-letter queue's depth, each function's errors, API 5xx, dispatch backlog) and a dashboard.
 * Alarm notifications are optional: an SNS topic with an e-mail subscription
 * (`alarms.email`), an existing topic (`alarms.topicArn`), both, or none (alarms still show on
 * the dashboard and in the console).
 */
import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { OrchestratorFunction } from './function';
import type { HealthEvents } from './health-events';
import { stackScopedName } from './names';

export interface MonitoringProps {
  alarms: { email?: string | undefined; topicArn?: string | undefined };
  health: HealthEvents;
  /** function construct id → function (alarms on Errors for each) */
  functions: Record<string, OrchestratorFunction>;
  ledgerWriter: OrchestratorFunction;
  runner: OrchestratorFunction;
  /**
   * the sandbox function: no errors alarm (its errors are agent code ending its environment, e.g.
   * `process.kill(process.ppid)`, which the runner records as a crashed run, not infrastructure)
   */
  sandbox?: OrchestratorFunction;
  dispatchQueue: sqs.IQueue;
  ledgerQueue: sqs.IQueue;
  /** name → dead-letter queue (alarm when anything is in it) */
  deadLetterQueues: Record<string, sqs.IQueue>;
  httpApi: apigwv2.HttpApi;
  /** where undeliverable alarm notifications go (the e-mail subscription's redrive policy) */
  notificationFailures: sqs.IQueue;
  /** thresholds: failed cycles per 5 minutes */
  failedCyclesThreshold?: number;
}

const FIVE_MIN = Duration.minutes(5);

/** every alarm of the stack is named `<stack>-<alarm>` (the alarm topic lets exactly those publish) */
export const alarmNamePrefix = (stackName: string): string => `${stackName}-`;

export class Monitoring extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly topic?: sns.Topic;
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const alarmActions: cloudwatch.IAlarmAction[] = [];
    if (props.alarms.email) {
      this.topic = new sns.Topic(this, 'AlarmTopic', { displayName: `${stack.stackName} alarms`, enforceSSL: true });
      // The topic policy (needed for the TLS-only Deny) replaces SNS's default policy, which is what
      // let the account's alarms publish: allow CloudWatch again, for this stack's alarms only.
      this.topic.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'CloudWatchAlarmsPublish',
          principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
          actions: ['sns:Publish'],
          resources: [this.topic.topicArn],
          conditions: {
            ArnLike: {
              'aws:SourceArn': stack.formatArn({
                service: 'cloudwatch',
                resource: 'alarm',
                resourceName: `${alarmNamePrefix(stack.stackName)}*`,
                arnFormat: ArnFormat.COLON_RESOURCE_NAME,
              }),
            },
            StringEquals: { 'aws:SourceAccount': stack.account },
          },
        }),
      );
      this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarms.email, { deadLetterQueue: props.notificationFailures }));
      alarmActions.push(new actions.SnsAction(this.topic));
    }
    if (props.alarms.topicArn) {
      alarmActions.push(new actions.SnsAction(sns.Topic.fromTopicArn(this, 'ExistingAlarmTopic', props.alarms.topicArn)));
    }

    const alarm = (id: string, metric: cloudwatch.IMetric, threshold: number, description: string) => {
      const a = new cloudwatch.Alarm(this, id, {
        alarmName: `${alarmNamePrefix(stack.stackName)}${id}`,
        alarmDescription: description,
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      for (const act of alarmActions) {
        a.addAlarmAction(act);
        a.addOkAction(act);
      }
      this.alarms.push(a);
      return a;
    };

    const m = props.health.metrics;
    alarm(
      'Quarantines',
      m.Quarantines.with({ period: FIVE_MIN }),
      1,
      'an agent was quarantined (crash loop): inspect it, fix and publish a new version, then release',
    );
    alarm(
      'FailedCycles',
      m.FailedCycles.with({ period: FIVE_MIN }),
      props.failedCyclesThreshold ?? 5,
      'agent cycles are failing (agent.failed events in 5 minutes)',
    );
    alarm(
      'LedgerWriterErrors',
      props.ledgerWriter.fn.metricErrors({ period: FIVE_MIN, statistic: cloudwatch.Stats.SUM }),
      1,
      'the ledger writer failed: ledger appends are delayed (FIFO, one group) until it succeeds',
    );
    for (const [name, fn] of Object.entries(props.functions)) {
      if (fn === props.ledgerWriter || fn === props.sandbox) continue;
      alarm(
        `${name}Errors`,
        fn.fn.metricErrors({ period: FIVE_MIN, statistic: cloudwatch.Stats.SUM }),
        1,
        `the ${name} function failed (an infrastructure error, not an agent failure)`,
      );
    }
    for (const [name, q] of Object.entries(props.deadLetterQueues)) {
      alarm(
        `${name}Depth`,
        q.metricApproximateNumberOfMessagesVisible({ period: FIVE_MIN, statistic: cloudwatch.Stats.MAXIMUM }),
        1,
        `messages in the ${name} dead-letter queue: inspect them and redrive or delete`,
      );
    }
    alarm(
      'DispatchBacklog',
      props.dispatchQueue.metricApproximateAgeOfOldestMessage({ period: FIVE_MIN, statistic: cloudwatch.Stats.MAXIMUM }),
      1800,
      'dispatched runs wait for more than 30 minutes: runner stopped, throttled or failing',
    );
    alarm(
      'Api5xx',
      props.httpApi.metricServerError({ period: FIVE_MIN, statistic: cloudwatch.Stats.SUM }),
      1,
      'the control API answered 5xx',
    );

    // --- dashboard
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: stackScopedName(this, 'orchestrator', 255),
      defaultInterval: Duration.hours(3),
    });
    const fns = Object.entries(props.functions);
    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown: `# ${stack.stackName}\nAgent cycles, health transitions, queues, API. Health metrics come from the bus (namespace \`${props.health.namespace}\`).`,
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Runs (runner invocations) and failed cycles',
        left: [props.runner.fn.metricInvocations({ statistic: cloudwatch.Stats.SUM, period: Duration.minutes(1) })],
        right: [m.FailedCycles.with({ period: Duration.minutes(1) })],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Health transitions',
        left: [m.Restarts, m.Quarantines, m.Releases, m.BundlesRejected, m.BundlesUnverified].map((x) => x.with({ period: FIVE_MIN })),
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Function errors',
        left: fns.map(([n, f]) => f.fn.metricErrors({ label: n, statistic: cloudwatch.Stats.SUM, period: FIVE_MIN })),
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Function duration p99 (ms)',
        left: fns.map(([n, f]) => f.fn.metricDuration({ label: n, statistic: cloudwatch.Stats.p(99), period: FIVE_MIN })),
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Dispatch and ledger queues',
        left: [
          props.dispatchQueue.metricApproximateNumberOfMessagesVisible({ label: 'dispatch visible', period: Duration.minutes(1) }),
          props.ledgerQueue.metricApproximateNumberOfMessagesVisible({ label: 'ledger visible', period: Duration.minutes(1) }),
        ],
        right: [
          props.dispatchQueue.metricApproximateAgeOfOldestMessage({ label: 'dispatch oldest (s)', period: Duration.minutes(1) }),
          props.ledgerQueue.metricApproximateAgeOfOldestMessage({ label: 'ledger oldest (s)', period: Duration.minutes(1) }),
        ],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Dead-letter queues',
        left: Object.entries(props.deadLetterQueues).map(([n, q]) =>
          q.metricApproximateNumberOfMessagesVisible({ label: n, statistic: cloudwatch.Stats.MAXIMUM, period: FIVE_MIN }),
        ),
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Control API',
        left: [
          props.httpApi.metricCount({ label: 'requests', period: FIVE_MIN }),
          props.httpApi.metricClientError({ label: '4xx', period: FIVE_MIN }),
          props.httpApi.metricServerError({ label: '5xx', period: FIVE_MIN }),
        ],
        right: [props.httpApi.metricLatency({ label: 'latency p99', statistic: cloudwatch.Stats.p(99), period: FIVE_MIN })],
        width: 12,
      }),
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 12, height: 6 }),
    );
  }
}
