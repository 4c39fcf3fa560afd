/**
 * cdk-nag (v3, CDK Validations plugins): the AWS Solutions and Serverless packs run on every
 * synth; any finding that is not acknowledged here fails the synth (cdk-nag reports failure
 * for warnings too). Each acknowledgment names the exact finding on the narrowest construct and
 * says why it is acceptable; everything else was fixed in the constructs.
 */
import { Validations, type App, type CfnElement, type Stack } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import type { OrchestratorStack } from './stack';
import { BUNDLE_PREFIX } from './constructs/hot-directory';
import { DIGEST_PREFIX } from '../shared/adapters/aws/s3-digest-store';

export function nagPacks(app: App): [AwsSolutionsChecks, ServerlessChecks] {
  return [new AwsSolutionsChecks(app), new ServerlessChecks(app)];
}

export function addNagChecks(app: App): void {
  Validations.of(app).addPlugins(...nagPacks(app));
}

/** `Validations.of(scope).acknowledge` for several findings with one reason */
export function acknowledge(scope: IConstruct, ids: string[], reason: string): void {
  Validations.of(scope).acknowledge(...ids.map((id) => ({ id, reason })));
}

/** `<LogicalId.Arn>` as cdk-nag prints an ARN reference in a finding */
function arnRef(stack: Stack, construct: IConstruct): string {
  return `<${stack.getLogicalId(construct.node.defaultChild as CfnElement)}.Arn>`;
}

export function acknowledgeFindings(stack: OrchestratorStack): void {
  const dlqs = [
    stack.deadLetters.deliveryFailures,
    stack.deadLetters.asyncFailures,
    stack.dispatch.deadLetters,
    stack.ledgerWriter.deadLetters,
  ];
  for (const q of dlqs) {
    acknowledge(
      q,
      ['AwsSolutions-SQS3', 'Serverless-SQSRedrivePolicy'],
      'This queue IS a dead-letter queue (of a queue, a rule/schedule target or an on-failure destination); a DLQ of a DLQ adds nothing. Its depth is alarmed.',
    );
  }

  // Bundles are objects under agents/<name>/<version>.mjs: the set is open by design.
  const bundles = `Resource::${arnRef(stack, stack.hotDirectory.bucket)}/${BUNDLE_PREFIX}*`;
  for (const f of [stack.manager.function, stack.runner.function]) {
    acknowledge(
      f.role,
      [`AwsSolutions-IAM5[${bundles}]`],
      'Read access (s3:GetObject) to the published bundles, which are any objects under the agents/ prefix of the hot-directory bucket; no other object or bucket (s3:ListBucket is on the bucket ARN itself, no wildcard).',
    );
  }

  // EventBridge Scheduler's LambdaInvoke target grants invoke on the function and its
  // versions/aliases (`<arn>:*`); the scope is still exactly the scheduled functions.
  const scheduled = [stack.manager.function, stack.scheduler.function, stack.monitor.function, stack.ledgerDigests.function];
  acknowledge(
    stack.schedules.role,
    scheduled.map((f) => `AwsSolutions-IAM5[Resource::${arnRef(stack, f.fn)}:*]`),
    'lambda:InvokeFunction on the scheduled function and its qualified ARNs (versions/aliases), as the CDK Scheduler target grants it; no other function.',
  );

  // one object per digest, named by the digest itself: the set of keys is open by design
  acknowledge(
    stack.ledgerDigests.function.role,
    [`AwsSolutions-IAM5[Resource::${arnRef(stack, stack.digestBucket.bucket)}/${DIGEST_PREFIX}*]`],
    's3:PutObject of new digests, which are any objects under the ledger-digests/ prefix of the Object Lock digest bucket; no delete, no retention change, no other bucket.',
  );

  for (const route of stack.api.publicRoutes) {
    acknowledge(
      route,
      ['AwsSolutions-APIG4'],
      'Public by design: GET /healthz (liveness, no data) and the static dashboard files (no data; every API call the page makes goes to an authorized route).',
    );
  }

  for (const f of Object.values(stack.functions)) {
    acknowledge(
      f,
      ['Serverless-LambdaDLQ'],
      'No function needs a Lambda DLQ: asynchronously invoked ones (rule and schedule targets) have an on-failure destination (AsyncFailures queue, which also records the error); SQS-driven ones fail messages into their source queue’s redrive DLQ; the API functions are invoked synchronously and answer the caller.',
    );
    if (f === stack.functions.Sandbox) {
      acknowledge(
        f,
        ['Serverless-LambdaTracing'],
        'The sandbox function runs agent code: active tracing would give its role xray:PutTraceSegments/PutTelemetryRecords (on "*"), a permission agent code could use to write arbitrary trace data into the account. The runner that invokes it is traced; the duration of its invocation includes the sandbox call.',
      );
    } else if (!stack.config.tracing) {
      acknowledge(
        f,
        ['Serverless-LambdaTracing'],
        'X-Ray tracing is opt-in (-c tracing=true) because it is billed per trace and would dominate the cost per cycle; structured JSON logs and CloudWatch metrics cover operations by default.',
      );
    } else {
      acknowledge(
        f.role,
        ['AwsSolutions-IAM5[Resource::*]'],
        'xray:PutTraceSegments/PutTelemetryRecords support no resource-level scoping; added by CDK only when tracing is enabled.',
      );
    }
  }
  for (const f of [stack.runner.function, stack.ledgerWriter.function]) {
    acknowledge(
      f,
      ['Serverless-LambdaEventSourceMappingDestination'],
      'SQS event source mappings do not support on-failure destinations; failed messages go to the source queue’s redrive dead-letter queue after maxReceiveCount (alarmed).',
    );
  }

  if (stack.kafka) acknowledgeKafka(stack);

  if (stack.monitoring.topic) {
    acknowledge(
      stack.monitoring.topic,
      ['AwsSolutions-SNS2'],
      'Alarm notifications carry no sensitive data; CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed SNS key, and a customer-managed key per stack is not worth its cost here. TLS is enforced (SNS3).',
    );
  }
}

function acknowledgeKafka(stack: OrchestratorStack): void {
  const k = stack.kafka;
  if (!k) return;
  for (const q of [k.inboundFailures, k.outboundDeadLetters]) {
    if (!q) continue;
    acknowledge(
      q,
      ['AwsSolutions-SQS3', 'Serverless-SQSRedrivePolicy'],
      'This queue IS a dead-letter queue (the Kafka event source mappings\u2019 on-failure destination, or the outbound queue\u2019s redrive target); its depth is alarmed.',
    );
  }
  if (k.producerFunction) {
    acknowledge(
      k.producerFunction,
      ['Serverless-LambdaEventSourceMappingDestination'],
      'SQS event source mappings do not support on-failure destinations; failed messages go to the outbound queue\u2019s redrive dead-letter queue after maxReceiveCount (alarmed).',
    );
    if (k.producerFunction.vpcNetworkInterfaces) {
      acknowledge(
        k.producerFunction.role,
        ['AwsSolutions-IAM5[Resource::*]'],
        'Lambda creates and deletes the network interfaces of a function in a VPC; EC2 offers no resource-level scoping for ec2:CreateNetworkInterface/Describe*/DeleteNetworkInterface (AWSLambdaVPCAccessExecutionRole has the same statement).',
      );
    }
  }
  if (k.inboundFunction && stack.config.kafka && (stack.config.kafka.mskClusterArn || stack.config.kafka.vpc)) {
    acknowledge(
      k.inboundFunction.role,
      ['AwsSolutions-IAM5[Resource::*]'],
      'The Kafka event source mapping creates the network interfaces of its pollers in the cluster\u2019s subnets with the function\u2019s role; EC2 offers no resource-level scoping for these actions (AWSLambdaMSKExecutionRole has the same statement).',
    );
  }
}
