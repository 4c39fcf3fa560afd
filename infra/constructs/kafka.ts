/**
 * The Kafka bridge (optional: only when `-c kafkaInbound` / `-c kafkaOutbound` configure it; see
 * docs/kafka.md). The component `kafka` of `POST /components/kafka/{stop|start}` is its event
 * source mappings.
 *
 * Inbound (Kafka → bus), per Kafka topic of the mapping: a Lambda event source mapping — Amazon
 * MSK (`kafkaMskClusterArn`) or self-managed Kafka (`kafkaBrokers`, in the subnets and security
 * groups given) — in the consumer group `kafkaGroup`, SASL/SCRAM or PLAIN credentials from a
 * Secrets Manager secret, batches of `kafkaBatchSize` to the kafka-inbound function, which puts
 * each record on the bus as an envelope (or a `kafka.rejected` event). A batch that fails is
 * retried by the mapping (the records' derived envelope ids keep the ledger from recording one
 * twice); what the mapping gives up on goes to its on-failure queue (InboundFailures, alarmed).
 *
 * Outbound (bus → Kafka): the rule KafkaOutbound (shared/definitions/kafka.ts) → an SQS queue →
 * the kafka-producer function (idempotent KafkaJS producer, in the VPC when subnets are given),
 * in batches, partial failures reported; redriven after 5 receives to OutboundDeadLetters. The
 * queue is what the switch stops: the rule stays on, so envelopes published while the bridge is
 * stopped wait in the queue (4 days) and are produced after start.
 *
 * Execution-role permissions of the mappings follow "Configuring Lambda permissions for Amazon
 * MSK event source mappings" (the actions of the AWSLambdaMSKExecutionRole managed policy,
 * scoped to the cluster where IAM allows it).
 */
import { Duration } from 'aws-cdk-lib';
import type * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDlq, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { formatInbound, formatOutbound } from '../../shared/core/kafka/config';
import { kafkaOutboundRule } from '../../shared/definitions/kafka';
import type { KafkaProps } from '../props';
import { putEventsStatement } from './access';
import type { OrchestratorContext } from './context';
import { OrchestratorFunction } from './function';
import { DLQ_RETENTION, secureQueue } from './queues';
import { createRule } from './routing';
import { visibilityFor } from './runner';

/** the kafka-producer function's timeout (the queue's visibility timeout follows from it) */
const PRODUCER_TIMEOUT_SECONDS = 60;

const SASL_MECHANISM: Record<Exclude<KafkaProps['auth'], 'none'>, string> = {
  'scram-sha-512': 'scram-sha-512',
  'scram-sha-256': 'scram-sha-256',
  plain: 'plain',
};

/** the event source mapping's authentication for a self-managed cluster / MSK */
const ESM_AUTH: Record<Exclude<KafkaProps['auth'], 'none'>, lambda.SourceAccessConfigurationType> = {
  'scram-sha-512': lambda.SourceAccessConfigurationType.SASL_SCRAM_512_AUTH,
  'scram-sha-256': lambda.SourceAccessConfigurationType.SASL_SCRAM_256_AUTH,
  plain: lambda.SourceAccessConfigurationType.BASIC_AUTH,
};

export interface KafkaMappingRef {
  /** UUID (component switch) */
  id: string;
  arn: string;
}

export class KafkaBridge extends Construct {
  readonly inboundFunction?: OrchestratorFunction;
  /** one per inbound Kafka topic */
  readonly inboundMappings: lambda.EventSourceMapping[] = [];
  /** where the inbound mappings send what they gave up on */
  readonly inboundFailures?: sqs.Queue;
  readonly producerFunction?: OrchestratorFunction;
  readonly outboundQueue?: sqs.Queue;
  readonly outboundDeadLetters?: sqs.Queue;
  readonly outboundEventSource?: SqsEventSource;
  readonly outboundRule?: events.Rule;

  constructor(scope: Construct, id: string, ctx: OrchestratorContext, k: KafkaProps) {
    super(scope, id);
    const enabled = ctx.props.components.kafka;
    const secretStatement = (sid: string) =>
      k.secretArn ? [new iam.PolicyStatement({ sid, actions: ['secretsmanager:GetSecretValue'], resources: [k.secretArn] })] : [];

    if (k.inbound.length > 0) {
      const fn = new OrchestratorFunction(this, 'Inbound', {
        defaults: ctx.functions,
        dir: 'kafka-inbound',
        description: 'Kafka records (event source mapping) → envelopes on the bus',
        memoryMb: 512,
        timeout: Duration.seconds(60),
        environment: { KAFKA_INBOUND: formatInbound(k.inbound), KAFKA_GROUP: k.group },
      });
      this.inboundFunction = fn;
      fn.addToPolicy(putEventsStatement(ctx.bus.bus), ...secretStatement('ReadKafkaSecret'));
      if (k.mskClusterArn) {
        fn.addToPolicy(
          new iam.PolicyStatement({
            sid: 'ReadMskCluster',
            actions: ['kafka:DescribeCluster', 'kafka:DescribeClusterV2', 'kafka:GetBootstrapBrokers'],
            resources: [k.mskClusterArn],
          }),
        );
      }
      if (k.mskClusterArn || k.vpc) {
        // the mapping's pollers reach the brokers through network interfaces in the cluster's (or the given) subnets
        fn.addToPolicy(
          new iam.PolicyStatement({
            sid: 'MappingNetworkInterfaces',
            actions: [
              'ec2:CreateNetworkInterface',
              'ec2:DescribeNetworkInterfaces',
              'ec2:DescribeVpcs',
              'ec2:DeleteNetworkInterface',
              'ec2:DescribeSubnets',
              'ec2:DescribeSecurityGroups',
            ],
            resources: ['*'],
          }),
        );
      }
      this.inboundFailures = secureQueue(this, 'InboundFailures', { retentionPeriod: DLQ_RETENTION });
      const access: lambda.SourceAccessConfiguration[] = [];
      if (k.auth !== 'none' && k.secretArn) access.push({ type: ESM_AUTH[k.auth], uri: k.secretArn });
      if (!k.mskClusterArn && k.vpc) {
        for (const s of k.vpc.subnetIds) access.push({ type: lambda.SourceAccessConfigurationType.VPC_SUBNET, uri: s });
        for (const g of k.vpc.securityGroupIds) access.push({ type: lambda.SourceAccessConfigurationType.VPC_SECURITY_GROUP, uri: g });
      }
      k.inbound.forEach((route, i) => {
        this.inboundMappings.push(
          new lambda.EventSourceMapping(this, `Mapping${i}`, {
            target: fn.fn,
            kafkaTopic: route.kafkaTopic,
            kafkaConsumerGroupId: k.group,
            ...(k.mskClusterArn ? { eventSourceArn: k.mskClusterArn } : { kafkaBootstrapServers: k.brokers }),
            startingPosition: k.startingPosition === 'LATEST' ? lambda.StartingPosition.LATEST : lambda.StartingPosition.TRIM_HORIZON,
            batchSize: k.batchSize,
            maxBatchingWindow: Duration.seconds(1),
            enabled,
            onFailure: new SqsDlq(this.inboundFailures!),
            ...(access.length ? { sourceAccessConfigurations: access } : {}),
          }),
        );
      });
    }

    if (k.outbound.length > 0) {
      this.outboundDeadLetters = secureQueue(this, 'OutboundDeadLetters', { retentionPeriod: DLQ_RETENTION });
      this.outboundQueue = secureQueue(this, 'OutboundQueue', {
        visibilityTimeout: visibilityFor(PRODUCER_TIMEOUT_SECONDS),
        retentionPeriod: Duration.days(4),
        deadLetterQueue: { queue: this.outboundDeadLetters, maxReceiveCount: 5 },
      });
      // the rule is never switched: the queue holds what arrives while the bridge is stopped
      this.outboundRule = createRule(this, kafkaOutboundRule(k.outbound.map((r) => r.pattern)), {
        agentsBus: ctx.bus.bus,
        hotBucketName: ctx.hot.bucket.bucketName,
        components: { ...ctx.props.components, kafka: true },
        target: new targets.SqsQueue(this.outboundQueue, {
          deadLetterQueue: ctx.deadLetters.deliveryFailures,
          retryAttempts: 185,
          maxEventAge: Duration.hours(24),
        }),
      });
      const env: Record<string, string> = {
        KAFKA_BROKERS: k.brokers.join(','),
        KAFKA_OUTBOUND: formatOutbound(k.outbound),
        KAFKA_SSL: String(k.tls),
      };
      if (k.auth !== 'none' && k.secretArn) {
        env.KAFKA_SASL_MECHANISM = SASL_MECHANISM[k.auth];
        env.KAFKA_SECRET_ARN = k.secretArn;
      }
      this.producerFunction = new OrchestratorFunction(this, 'Producer', {
        defaults: ctx.functions,
        dir: 'kafka-producer',
        description: 'envelopes of the rule KafkaOutbound → Kafka records (idempotent producer)',
        memoryMb: 512,
        timeout: Duration.seconds(PRODUCER_TIMEOUT_SECONDS),
        environment: env,
        ...(k.vpc ? { vpc: k.vpc } : {}),
      });
      this.producerFunction.addToPolicy(...secretStatement('ReadKafkaSecret'));
      this.outboundEventSource = new SqsEventSource(this.outboundQueue, {
        batchSize: k.batchSize,
        ...(k.batchSize > 10 ? { maxBatchingWindow: Duration.seconds(1) } : {}),
        reportBatchItemFailures: true,
        enabled,
      });
      this.producerFunction.fn.addEventSource(this.outboundEventSource);
    }
  }

  /** every event source mapping of the bridge: what the component switch `kafka` turns on and off */
  get mappings(): KafkaMappingRef[] {
    return [
      ...this.inboundMappings.map((m) => ({ id: m.eventSourceMappingId, arn: m.eventSourceMappingArn })),
      ...(this.outboundEventSource
        ? [{ id: this.outboundEventSource.eventSourceMappingId, arn: this.outboundEventSource.eventSourceMappingArn }]
        : []),
    ];
  }

  get functions(): Record<string, OrchestratorFunction> {
    return {
      ...(this.inboundFunction ? { KafkaInbound: this.inboundFunction } : {}),
      ...(this.producerFunction ? { KafkaProducer: this.producerFunction } : {}),
    };
  }

  get deadLetterQueues(): Record<string, sqs.IQueue> {
    return {
      ...(this.inboundFailures ? { KafkaInboundFailures: this.inboundFailures } : {}),
      ...(this.outboundDeadLetters ? { KafkaOutboundDeadLetters: this.outboundDeadLetters } : {}),
    };
  }
}
