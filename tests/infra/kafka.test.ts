/**
 * The optional Kafka bridge in the synthesized template (infra/constructs/kafka.ts): absent
 * unless configured; with self-managed Kafka (brokers, subnets, security groups, SASL/SCRAM
 * secret) and with Amazon MSK, the event source mappings (one per inbound topic, in the consumer
 * group, on-failure queue), the rule KafkaOutbound → queue → producer (the same pattern local
 * mode's bus runs), the functions' environment and permissions, the API's switch (env + exact
 * permissions), cdk-nag clean; the context is validated.
 */
import { describe, expect, it } from 'vitest';
import { InfraConfigError } from '../../infra/errors';
import { propsFromContext, resolveProps } from '../../infra/props';
import { nagPacks } from '../../infra/nag';
import { kafkaOutboundRule } from '../../shared/definitions/kafka';
import { CLOUD_ENV } from '../../shared/definitions/cloud-env';
import { arnOf, ofType, refOf, synth, TEST_PUBKEY, type Statement, type Synthesized } from './synth';

const SECRET = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:kafka-bridge-AbCdEf';
const MSK = 'arn:aws:kafka:us-east-1:123456789012:cluster/orders/1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d-2';
const SELF_MANAGED = {
  trustedKeys: TEST_PUBKEY,
  kafkaBrokers: 'b1.kafka.internal:9096,b2.kafka.internal:9096',
  kafkaInbound: 'market-ticks=market.tick,fills=orders.filled',
  kafkaOutbound: 'orders.*=agent-orders,alerts=agent-alerts',
  kafkaGroup: 'orchestrator-prod',
  kafkaSubnetIds: 'subnet-0a1b2c3d,subnet-4e5f6a7b',
  kafkaSecurityGroupIds: 'sg-0123abcd',
  kafkaAuth: 'scram-sha-512',
  kafkaSecretArn: SECRET,
};

function statements(s: Synthesized, roleOf: { role: unknown }): Statement[] {
  const roleId = s.id(roleOf.role as never);
  return ofType(s.resources, 'AWS::IAM::Policy')
    .filter(([, p]) => ((p.Properties?.Roles ?? []) as unknown[]).some((r) => JSON.stringify(r) === JSON.stringify(refOf(roleId))))
    .flatMap(([, p]) => p.Properties?.PolicyDocument.Statement as Statement[]);
}

function nagClean(s: Synthesized): void {
  for (const pack of nagPacks(s.app)) {
    const report = pack.validateScope(s.app);
    expect(
      report.violations.map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`),
      pack.name,
    ).toEqual([]);
  }
}

describe('without Kafka context', () => {
  const s = synth({ trustedKeys: TEST_PUBKEY });
  it('nothing of the bridge is in the template, and the API has no kafka switch', () => {
    expect(s.stack.kafka).toBeUndefined();
    expect(ofType(s.resources, 'AWS::Lambda::EventSourceMapping').filter(([, r]) => r.Properties?.Topics)).toEqual([]);
    expect(JSON.stringify(s.resources)).not.toMatch(/kafka/i);
    const env = s.resources[s.id(s.stack.api.function.fn)]?.Properties?.Environment.Variables as Record<string, unknown>;
    expect(env[CLOUD_ENV.kafkaEsmUuids]).toBeUndefined();
  });
});

describe('self-managed Kafka', () => {
  const s = synth(SELF_MANAGED);
  const k = s.stack.kafka!;

  it('one event source mapping per inbound topic: brokers, group, subnets, security group, SCRAM secret, on-failure queue', () => {
    const mappings = ofType(s.resources, 'AWS::Lambda::EventSourceMapping').filter(([, r]) => r.Properties?.Topics);
    expect(mappings.map(([, r]) => r.Properties?.Topics)).toEqual([['market-ticks'], ['fills']]);
    for (const [, m] of mappings) {
      expect(m.Properties).toMatchObject({
        FunctionName: refOf(s.id(k.inboundFunction!.fn)),
        SelfManagedEventSource: { Endpoints: { KafkaBootstrapServers: ['b1.kafka.internal:9096', 'b2.kafka.internal:9096'] } },
        SelfManagedKafkaEventSourceConfig: { ConsumerGroupId: 'orchestrator-prod' },
        StartingPosition: 'TRIM_HORIZON',
        BatchSize: 100,
        Enabled: true,
        DestinationConfig: { OnFailure: { Destination: arnOf(s.id(k.inboundFailures!)) } },
      });
      expect(m.Properties?.SourceAccessConfigurations).toEqual([
        { Type: 'SASL_SCRAM_512_AUTH', URI: SECRET },
        { Type: 'VPC_SUBNET', URI: 'subnet-0a1b2c3d' },
        { Type: 'VPC_SUBNET', URI: 'subnet-4e5f6a7b' },
        { Type: 'VPC_SECURITY_GROUP', URI: 'sg-0123abcd' },
      ]);
    }
    const fn = s.resources[s.id(k.inboundFunction!.fn)]!;
    expect(fn.Properties?.Environment.Variables).toMatchObject({
      KAFKA_INBOUND: 'market-ticks=market.tick,fills=orders.filled',
      KAFKA_GROUP: 'orchestrator-prod',
    });
    const st = statements(s, k.inboundFunction!);
    expect(st.find((x) => x.Sid === 'PublishEnvelopes')?.Action).toBe('events:PutEvents');
    expect(st.find((x) => x.Sid === 'ReadKafkaSecret')).toMatchObject({ Action: 'secretsmanager:GetSecretValue', Resource: SECRET });
    expect(st.find((x) => x.Sid === 'MappingNetworkInterfaces')?.Resource).toBe('*');
  });

  it('outbound: the rule KafkaOutbound (same pattern as local mode) → queue → producer in the VPC with the secret', () => {
    const rule = s.resources[s.id(k.outboundRule!)]!;
    expect(rule.Properties?.EventPattern).toEqual(kafkaOutboundRule(['orders.*', 'alerts']).pattern);
    expect(rule.Properties?.State).toBe('ENABLED');
    expect(rule.Properties?.Targets[0].Arn).toEqual(arnOf(s.id(k.outboundQueue!)));
    const queue = s.resources[s.id(k.outboundQueue!)]!;
    expect(queue.Properties).toMatchObject({
      SqsManagedSseEnabled: true,
      RedrivePolicy: { deadLetterTargetArn: arnOf(s.id(k.outboundDeadLetters!)), maxReceiveCount: 5 },
    });
    const fn = s.resources[s.id(k.producerFunction!.fn)]!;
    expect(fn.Properties?.Environment.Variables).toMatchObject({
      KAFKA_BROKERS: 'b1.kafka.internal:9096,b2.kafka.internal:9096',
      KAFKA_OUTBOUND: 'orders.*=agent-orders,alerts=agent-alerts',
      KAFKA_SSL: 'true',
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SECRET_ARN: SECRET,
    });
    expect(fn.Properties?.VpcConfig).toEqual({ SubnetIds: ['subnet-0a1b2c3d', 'subnet-4e5f6a7b'], SecurityGroupIds: ['sg-0123abcd'] });
    const esm = ofType(s.resources, 'AWS::Lambda::EventSourceMapping').find(
      ([, r]) => JSON.stringify(r.Properties?.EventSourceArn) === JSON.stringify(arnOf(s.id(k.outboundQueue!))),
    )?.[1];
    expect(esm?.Properties).toMatchObject({
      BatchSize: 100,
      MaximumBatchingWindowInSeconds: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      Enabled: true,
    });
    const st = statements(s, k.producerFunction!);
    expect(st.find((x) => x.Sid === 'ReadKafkaSecret')?.Resource).toBe(SECRET);
    expect(st.find((x) => x.Sid === 'VpcNetworkInterfaces')?.Resource).toBe('*');
    expect(st.some((x) => JSON.stringify(x.Action).includes('dynamodb'))).toBe(false);
  });

  it('the API switches exactly the bridge’s mappings (component kafka)', () => {
    const env = s.resources[s.id(s.stack.api.function.fn)]?.Properties?.Environment.Variables as Record<string, unknown>;
    expect(JSON.stringify(env[CLOUD_ENV.kafkaEsmUuids])).toContain('Fn::Join');
    const sw = statements(s, s.stack.api.function).find((x) => x.Sid === 'SwitchKafka');
    expect(sw?.Action).toEqual(['lambda:GetEventSourceMapping', 'lambda:UpdateEventSourceMapping']);
    expect(sw?.Resource).toHaveLength(3);
  });

  it('has its functions and dead-letter queues alarmed, and is cdk-nag clean', () => {
    expect(Object.keys(s.stack.functions)).toEqual(expect.arrayContaining(['KafkaInbound', 'KafkaProducer']));
    const alarms = JSON.stringify(ofType(s.resources, 'AWS::CloudWatch::Alarm'));
    for (const q of [k.inboundFailures!, k.outboundDeadLetters!]) expect(alarms).toContain(s.id(q));
    nagClean(s);
  });

  it('-c disable=kafka deploys the bridge stopped: its mappings disabled, the rule still on', () => {
    const off = synth({ ...SELF_MANAGED, disable: 'kafka' }, { nag: false });
    const m = ofType(off.resources, 'AWS::Lambda::EventSourceMapping').filter(
      ([id]) => off.stack.kafka!.mappings.some((x) => JSON.stringify(x.id).includes(id)) || id.includes('Kafka'),
    );
    expect(m.length).toBe(3);
    for (const [, r] of m) expect(r.Properties?.Enabled).toBe(false);
    expect(off.resources[off.id(off.stack.kafka!.outboundRule!)]?.Properties?.State).toBe('ENABLED');
  });
});

describe('Amazon MSK', () => {
  const s = synth({
    trustedKeys: TEST_PUBKEY,
    kafkaMskClusterArn: MSK,
    kafkaInbound: 'market-ticks=market.tick',
    kafkaStartingPosition: 'LATEST',
  });
  const k = s.stack.kafka!;
  it('an MSK event source mapping on the cluster, the cluster permissions, no producer without outbound', () => {
    const [m] = ofType(s.resources, 'AWS::Lambda::EventSourceMapping').filter(([, r]) => r.Properties?.Topics);
    expect(m?.[1].Properties).toMatchObject({
      EventSourceArn: MSK,
      Topics: ['market-ticks'],
      AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: 'agent-orchestrator' },
      StartingPosition: 'LATEST',
    });
    expect(statements(s, k.inboundFunction!).find((x) => x.Sid === 'ReadMskCluster')).toMatchObject({
      Action: ['kafka:DescribeCluster', 'kafka:DescribeClusterV2', 'kafka:GetBootstrapBrokers'],
      Resource: MSK,
    });
    expect(k.producerFunction).toBeUndefined();
    expect(k.outboundRule).toBeUndefined();
    nagClean(s);
  });
});

describe('context validation', () => {
  const props = (ctx: Record<string, string>) => resolveProps(propsFromContext(ctx).props);
  it('reads the same formats as the env and refuses what cannot deploy', () => {
    expect(props(SELF_MANAGED).kafka).toMatchObject({
      brokers: ['b1.kafka.internal:9096', 'b2.kafka.internal:9096'],
      inbound: [
        { kafkaTopic: 'market-ticks', busTopic: 'market.tick' },
        { kafkaTopic: 'fills', busTopic: 'orders.filled' },
      ],
      outbound: [
        { pattern: 'orders.*', kafkaTopic: 'agent-orders' },
        { pattern: 'alerts', kafkaTopic: 'agent-alerts' },
      ],
      group: 'orchestrator-prod',
      auth: 'scram-sha-512',
    });
    expect(props({ trustedKeys: TEST_PUBKEY }).kafka).toBeUndefined();
    const refused: [Record<string, string>, RegExp][] = [
      [{ kafkaInbound: 'a=b' }, /kafkaInbound needs kafkaMskClusterArn .* or kafkaBrokers/],
      [{ kafkaOutbound: 'a=b' }, /kafkaOutbound needs kafkaBrokers/],
      [{ kafkaBrokers: 'b:1', kafkaInbound: 'a=b', kafkaAuth: 'plain' }, /kafkaAuth=plain needs kafkaSecretArn/],
      [{ kafkaMskClusterArn: MSK, kafkaInbound: 'a=b', kafkaAuth: 'plain', kafkaSecretArn: SECRET }, /SCRAM-SHA-512/],
      [{ kafkaMskClusterArn: MSK, kafkaBrokers: 'b:1', kafkaOutbound: 'a=b' }, /kafkaSubnetIds/],
      [{ kafkaBrokers: 'b:1' }, /needs kafkaInbound or kafkaOutbound/],
      [{ kafkaBrokers: 'b:1', kafkaInbound: 'a=b', kafkaSubnetIds: 'nope', kafkaSecurityGroupIds: 'sg-1' }, /subnet id/],
      [{ kafkaBrokers: 'b:1', kafkaInbound: 'a b=c' }, /-c kafkaInbound: "a b" is not a Kafka topic/],
    ];
    for (const [ctx, msg] of refused) {
      expect(() => props({ trustedKeys: TEST_PUBKEY, ...ctx }), JSON.stringify(ctx)).toThrow(InfraConfigError);
      expect(() => props({ trustedKeys: TEST_PUBKEY, ...ctx }), JSON.stringify(ctx)).toThrow(msg);
    }
  });
});
