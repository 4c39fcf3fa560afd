/**
 * Assertions on the synthesized template of the default stack (signed bundles, IAM auth): every
 * component is there, and the properties that matter are pinned — runtime, async failure
 * handling, queues, bucket, tables, API routes/auth/throttling/logs, IAM scoped to resources
 * (the runner cannot change the registry), alarms, dashboard, cdk-nag clean.
 */
import { describe, expect, it } from 'vitest';
import { Match } from 'aws-cdk-lib/assertions';
import { CLOUD_ENV } from '../../shared/definitions/cloud-env';
import { SCHEDULES } from '../../shared/definitions/routing';
import { TABLES } from '../../shared/definitions/tables';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { buildApp, cdkJsonContext } from '../../infra/build';
import { nagPacks } from '../../infra/nag';
import { actionsOf, arnOf, ofType, refOf, resourcesOf, statementsOfRole, synth, tempDir, TEST_PUBKEY, type Statement } from './synth';

const s = synth({ trustedKeys: TEST_PUBKEY });
const { stack, template, resources, id } = s;
const fnIds = Object.fromEntries(Object.entries(stack.functions).map(([k, f]) => [k, id(f.fn)])) as Record<string, string>;
const roleIds = Object.fromEntries(Object.entries(stack.functions).map(([k, f]) => [k, id(f.role)])) as Record<string, string>;
const runnerEsmId = ofType(resources, 'AWS::Lambda::EventSourceMapping').find(
  ([, m]) => JSON.stringify(m.Properties?.FunctionName) === JSON.stringify(refOf(fnIds.Runner as string)),
)?.[0] as string;
const tableIds = {
  Registry: id(stack.tables.tables.Registry),
  Heartbeats: id(stack.tables.tables.Heartbeats),
  Ledger: id(stack.tables.tables.Ledger),
};

describe('components', () => {
  it('has every component of the orchestrator', () => {
    const count = (type: string) => ofType(resources, type).length;
    expect(count('AWS::DynamoDB::Table')).toBe(3);
    expect(count('AWS::Lambda::Function')).toBe(10);
    expect(Object.keys(stack.functions).sort()).toEqual([
      'AgentManager',
      'Api',
      'ApiStream',
      'HealthMonitor',
      'LedgerDigest',
      'LedgerWriter',
      'Router',
      'Runner',
      'Sandbox',
      'Scheduler',
    ]);
    expect(count('AWS::S3::Bucket')).toBe(3); // hot directory + its access logs + the ledger digests
    expect(count('AWS::Events::EventBus')).toBe(1);
    expect(count('AWS::Events::Archive')).toBe(1);
    expect(count('AWS::Events::Rule')).toBe(5); // 4 routing rules + the health-events rule
    expect(count('AWS::Scheduler::ScheduleGroup')).toBe(1);
    expect(count('AWS::Scheduler::Schedule')).toBe(SCHEDULES.length);
    expect(count('AWS::Lambda::EventSourceMapping')).toBe(2); // runner, ledger writer
    expect(count('AWS::ApiGatewayV2::Api')).toBe(1);
    expect(count('AWS::ApiGatewayV2::Stage')).toBe(1);
    expect(count('AWS::Lambda::Url')).toBe(1);
    expect(count('AWS::CloudWatch::Dashboard')).toBe(1);
    expect(count('AWS::CloudWatch::Alarm')).toBeGreaterThanOrEqual(10);
    // no custom-resource Lambdas (bucket notifications / log-group policies are native here)
    expect(
      ofType(resources, 'AWS::CloudFormation::CustomResource').length +
        Object.values(resources).filter((r) => r.Type.startsWith('Custom::')).length,
    ).toBe(0);
  });

  it('outputs what operators and agent authors need', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(Object.keys(outputs)).toEqual(
      expect.arrayContaining(['ApiUrl', 'EventsStreamUrl', 'HotBucket', 'EventBusName', 'RegistryTable', 'HeartbeatsTable', 'LedgerTable']),
    );
    expect(outputs.HotBucket?.Value).toEqual(refOf(id(stack.hotDirectory.bucket)));
  });
});

describe('functions', () => {
  it('run Node.js 24 on arm64 with explicit memory, timeout and JSON logs to their own log group', () => {
    for (const [name, fid] of Object.entries(fnIds)) {
      const p = resources[fid]?.Properties as Record<string, any>;
      expect(p.Runtime, name).toBe('nodejs24.x');
      expect(p.Architectures, name).toEqual(['arm64']);
      expect(p.Handler, name).toBe('index.handler');
      expect(p.MemorySize, name).toBeGreaterThanOrEqual(256);
      expect(p.Timeout, name).toBeGreaterThan(3);
      expect(p.LoggingConfig.LogFormat, name).toBe('JSON');
      const logGroupId = (p.LoggingConfig.LogGroup as { Ref: string }).Ref;
      expect(resources[logGroupId]?.Properties?.RetentionInDays, name).toBe(30);
      expect(p.TracingConfig?.Mode ?? 'PassThrough', name).toBe('PassThrough');
      // own role, no managed policies
      expect(p.Role).toEqual(arnOf(roleIds[name] as string));
      expect(resources[roleIds[name] as string]?.Properties?.ManagedPolicyArns, name).toBeUndefined();
    }
  });

  it('get the tables, bucket, bus, queue, trusted keys and knobs from the environment (all but the sandbox)', () => {
    for (const [name, fid] of Object.entries(fnIds)) {
      if (name === 'Sandbox') continue;
      const env = resources[fid]?.Properties?.Environment.Variables as Record<string, unknown>;
      for (const def of TABLES) expect(env[def.envVar], `${name} ${def.envVar}`).toEqual(refOf(tableIds[def.id]));
      expect(env.HOT_BUCKET, name).toEqual(refOf(id(stack.hotDirectory.bucket)));
      expect(env.EVENT_BUS_NAME, name).toEqual(refOf(id(stack.eventBus.bus)));
      expect(env.DISPATCH_QUEUE_URL, name).toEqual(refOf(id(stack.dispatch.queue)));
      expect(env.AGENT_BUNDLE_PUBKEYS, name).toBe(TEST_PUBKEY);
      expect(env.AGENT_LEDGER_RETENTION_DAYS, name).toBe('0');
      expect(env.LOG_LEVEL, name).toBe('info');
    }
  });

  it('the sandbox function (agent code) knows nothing of the deployment: no table, bucket, bus, queue or key in its environment', () => {
    const env = resources[fnIds.Sandbox as string]?.Properties?.Environment.Variables as Record<string, unknown>;
    expect(env).toEqual({ LOG_LEVEL: 'info', AGENT_RUNTIME_PROCESSES: '1' });
    const p = resources[fnIds.Sandbox as string]?.Properties as Record<string, any>;
    // a run cannot outlast the runner waiting for it
    expect(p.Timeout).toBe(resources[fnIds.Runner as string]?.Properties?.Timeout);
    expect(p.MemorySize).toBe(1024);
    // invoked synchronously only: no event source, no async configuration, no function URL, no permission for a service
    const refersToSandbox = (r: { Properties?: Record<string, unknown> }) =>
      JSON.stringify(r.Properties ?? {}).includes(`"${fnIds.Sandbox}"`);
    for (const type of [
      'AWS::Lambda::EventSourceMapping',
      'AWS::Lambda::EventInvokeConfig',
      'AWS::Lambda::Url',
      'AWS::Lambda::Permission',
    ]) {
      expect(
        ofType(resources, type).filter(([, r]) => refersToSandbox(r)),
        type,
      ).toEqual([]);
    }
  });

  it('the runner and the agent manager use the lambda runtime: they are told the sandbox function', () => {
    for (const name of ['Runner', 'AgentManager']) {
      const env = resources[fnIds[name] as string]?.Properties?.Environment.Variables as Record<string, unknown>;
      expect(env.SANDBOX_FUNCTION, name).toEqual(refOf(fnIds.Sandbox as string));
      expect(env.AGENT_RUNTIME, name).toBe('lambda');
    }
    for (const name of ['Scheduler', 'HealthMonitor', 'LedgerWriter', 'Router', 'Api', 'ApiStream']) {
      const env = resources[fnIds[name] as string]?.Properties?.Environment.Variables as Record<string, unknown>;
      expect(env.SANDBOX_FUNCTION, name).toBeUndefined();
    }
  });

  it('asynchronously invoked functions retry and then send failures to the on-failure queue', () => {
    const asyncFns = ['AgentManager', 'Scheduler', 'HealthMonitor', 'Router', 'LedgerDigest'];
    const configs = ofType(resources, 'AWS::Lambda::EventInvokeConfig');
    expect(configs).toHaveLength(asyncFns.length);
    for (const name of asyncFns) {
      const cfg = configs.find(([, c]) => JSON.stringify(c.Properties?.FunctionName) === JSON.stringify(refOf(fnIds[name] as string)));
      expect(cfg, name).toBeDefined();
      expect(cfg?.[1].Properties?.DestinationConfig).toEqual({ OnFailure: { Destination: arnOf(id(stack.deadLetters.asyncFailures)) } });
    }
    // a stale scheduler tick is never retried (the next tick makes up for it)
    const tick = configs.find(([, c]) => JSON.stringify(c.Properties?.FunctionName) === JSON.stringify(refOf(fnIds.Scheduler as string)));
    expect(tick?.[1].Properties?.MaximumRetryAttempts).toBe(0);
  });

  it('runner: one message per invocation from the dispatch queue, partial batch failures, bounded concurrency', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: refOf(fnIds.Runner as string),
      EventSourceArn: arnOf(id(stack.dispatch.queue)),
      BatchSize: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 50 },
      Enabled: true,
    });
    const queue = resources[id(stack.dispatch.queue)]?.Properties as Record<string, any>;
    const runnerTimeout = resources[fnIds.Runner as string]?.Properties?.Timeout as number;
    expect(queue.VisibilityTimeout).toBeGreaterThanOrEqual(Math.min(43_200, 6 * runnerTimeout));
    expect(queue.FifoQueue).toBeUndefined();
    expect(queue.RedrivePolicy).toEqual({ deadLetterTargetArn: arnOf(id(stack.dispatch.deadLetters)), maxReceiveCount: 3 });
  });

  it('ledger writer: FIFO queue with one message group and content de-duplication, its own DLQ', () => {
    const q = resources[id(stack.ledgerWriter.queue)]?.Properties as Record<string, any>;
    expect(q.FifoQueue).toBe(true);
    expect(q.ContentBasedDeduplication).toBe(true);
    expect(q.RedrivePolicy.deadLetterTargetArn).toEqual(arnOf(id(stack.ledgerWriter.deadLetters)));
    expect(resources[id(stack.ledgerWriter.deadLetters)]?.Properties?.FifoQueue).toBe(true);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: refOf(fnIds.LedgerWriter as string),
      EventSourceArn: arnOf(id(stack.ledgerWriter.queue)),
      BatchSize: 10,
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      Name: 'AgentOrchestrator-Ledger',
      Targets: [Match.objectLike({ Arn: arnOf(id(stack.ledgerWriter.queue)), SqsParameters: { MessageGroupId: 'ledger' } })],
    });
  });

  it('every rule and schedule target has a dead-letter queue', () => {
    const dlq = arnOf(id(stack.deadLetters.deliveryFailures));
    for (const [rid, rule] of ofType(resources, 'AWS::Events::Rule')) {
      for (const t of (rule.Properties?.Targets ?? []) as { DeadLetterConfig?: unknown }[])
        expect(t.DeadLetterConfig, rid).toEqual({ Arn: dlq });
    }
    for (const [sid, sch] of ofType(resources, 'AWS::Scheduler::Schedule')) {
      expect(sch.Properties?.Target.DeadLetterConfig, sid).toEqual({ Arn: dlq });
      expect(sch.Properties?.Target.RoleArn, sid).toEqual(arnOf(id(stack.schedules.role)));
    }
  });
});

describe('storage and messaging', () => {
  it('hot-directory bucket: encrypted, versioned, public access blocked, TLS only, access logs, EventBridge notifications', () => {
    const b = resources[id(stack.hotDirectory.bucket)] as { Properties: Record<string, any>; DeletionPolicy?: string };
    expect(b.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm).toBe('AES256');
    expect(b.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(b.Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(b.Properties.NotificationConfiguration).toEqual({ EventBridgeConfiguration: { EventBridgeEnabled: true } });
    expect(b.Properties.LoggingConfiguration.DestinationBucketName).toEqual(refOf(id(stack.hotDirectory.accessLogs)));
    expect(b.DeletionPolicy).toBe('Retain');
    const policy = ofType(resources, 'AWS::S3::BucketPolicy').find(
      ([, p]) => JSON.stringify(p.Properties?.Bucket) === JSON.stringify(refOf(id(stack.hotDirectory.bucket))),
    );
    const statements = policy?.[1].Properties?.PolicyDocument.Statement as Statement[];
    expect(statements).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        expect.objectContaining({ Effect: 'Deny', Action: 's3:*', Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } } }),
      ]),
    );
  });

  it('tables: on demand, point-in-time recovery, deletion protection, retained', () => {
    for (const [name, tid] of Object.entries(tableIds)) {
      const t = resources[tid] as { Properties: Record<string, any>; DeletionPolicy?: string };
      expect(t.Properties.PointInTimeRecoverySpecification, name).toEqual({ PointInTimeRecoveryEnabled: true });
      expect(t.Properties.BillingMode, name).toBe('PAY_PER_REQUEST');
      expect(t.Properties.DeletionProtectionEnabled, name).toBe(true);
      expect(t.DeletionPolicy, name).toBe('Retain');
    }
  });

  it('every queue is encrypted and refuses non-TLS access', () => {
    const queues = ofType(resources, 'AWS::SQS::Queue');
    expect(queues.length).toBe(6);
    for (const [qid, q] of queues) {
      expect(q.Properties?.SqsManagedSseEnabled, qid).toBe(true);
      const policy = ofType(resources, 'AWS::SQS::QueuePolicy').find(([, p]) =>
        ((p.Properties?.Queues ?? []) as unknown[]).some((x) => JSON.stringify(x) === JSON.stringify(refOf(qid))),
      );
      expect(policy, qid).toBeDefined();
      expect(policy?.[1].Properties?.PolicyDocument.Statement).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ Effect: 'Deny', Action: 'sqs:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      );
    }
  });

  it('the agents bus is archived', () => {
    template.hasResourceProperties('AWS::Events::Archive', {
      SourceArn: arnOf(id(stack.eventBus.bus)),
      EventPattern: { source: ['agent-orchestrator'] },
      RetentionDays: 30,
    });
  });
});

describe('control API', () => {
  // the CONTRACT's routes, written out independently of infra/constructs/api.ts
  const contract = [
    'GET /agents',
    'GET /agents/summary',
    'GET /agents/{name}',
    'GET /agents/{name}/logs',
    ...['pause', 'resume', 'trigger', 'restart', 'quarantine', 'release'].map((a) => `POST /agents/{name}/${a}`),
    'GET /metrics',
    'GET /events/stream',
    'POST /events',
    'GET /ledger',
    'GET /ledger/verify',
    'POST /ledger/replay',
    'GET /components',
    'POST /components/{name}/stop',
    'POST /components/{name}/start',
    // the unary gRPC/Connect methods of proto/ (Connect and gRPC-Web through API Gateway)
    ...[
      'AgentsService/ListAgents',
      'AgentsService/GetAgent',
      'AgentsService/PauseAgent',
      'AgentsService/ResumeAgent',
      'AgentsService/TriggerAgent',
      'AgentsService/RestartAgent',
      'AgentsService/QuarantineAgent',
      'AgentsService/ReleaseAgent',
      'BusService/Publish',
      'LedgerService/ListLedgerEntries',
      'LedgerService/VerifyLedger',
      'LedgerService/ReplayLedger',
      'ComponentsService/ListComponents',
      'ComponentsService/StartComponent',
      'ComponentsService/StopComponent',
      'MetricsService/GetMetrics',
    ].map((m) => `POST /agentorchestrator.v1.${m}`),
  ];
  const publicRoutes = ['GET /healthz', 'GET /openapi.json', 'GET /', 'GET /dashboard/app.js', 'GET /dashboard/app.css'];
  const routes = ofType(resources, 'AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties as Record<string, any>);
  const byKey = new Map(routes.map((r) => [r.RouteKey as string, r]));

  it('has exactly the contract routes, IAM-authorized, plus public healthz/dashboard and an authorized $default', () => {
    expect([...byKey.keys()].sort()).toEqual([...contract, ...publicRoutes, '$default'].sort());
    for (const k of [...contract, '$default']) expect(byKey.get(k)?.AuthorizationType, k).toBe('AWS_IAM');
    for (const k of publicRoutes) expect(byKey.get(k)?.AuthorizationType, k).toBe('NONE');
    const integrations = ofType(resources, 'AWS::ApiGatewayV2::Integration');
    expect(integrations).toHaveLength(1);
    expect(integrations[0]?.[1].Properties).toMatchObject({
      IntegrationType: 'AWS_PROXY',
      PayloadFormatVersion: '2.0',
      IntegrationUri: arnOf(fnIds.Api as string),
    });
  });

  it('stage: throttled, JSON access logs', () => {
    const stage = ofType(resources, 'AWS::ApiGatewayV2::Stage')[0]?.[1].Properties as Record<string, any>;
    expect(stage.StageName).toBe('$default');
    expect(stage.DefaultRouteSettings).toMatchObject({ ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 });
    expect(stage.AccessLogSettings.DestinationArn).toEqual(arnOf(id(stack.api.accessLogs)));
    const format = JSON.parse(stage.AccessLogSettings.Format as string) as Record<string, string>;
    expect(format).toMatchObject({
      requestId: '$context.requestId',
      status: '$context.status',
      routeKey: '$context.routeKey',
      caller: '$context.identity.userArn',
    });
  });

  it('streaming endpoint: function URL with response streaming and IAM auth', () => {
    template.hasResourceProperties('AWS::Lambda::Url', {
      TargetFunctionArn: arnOf(fnIds.ApiStream as string),
      AuthType: 'AWS_IAM',
      InvokeMode: 'RESPONSE_STREAM',
    });
    expect(ofType(resources, 'AWS::Lambda::Permission').some(([, p]) => p.Properties?.Principal === '*')).toBe(false);
  });

  it('the API function knows the component switches by the shared env names', () => {
    const env = resources[fnIds.Api as string]?.Properties?.Environment.Variables as Record<string, unknown>;
    expect(env[CLOUD_ENV.apiAuthMode]).toBe('iam');
    expect(env[CLOUD_ENV.scheduleGroup]).toBe('AgentOrchestrator-schedules');
    expect(env[CLOUD_ENV.schedulerRoleArn]).toEqual(arnOf(id(stack.schedules.role)));
    expect(env[CLOUD_ENV.runnerEsmUuid]).toEqual(refOf(runnerEsmId));
    for (const def of SCHEDULES) {
      // the digest schedule has no switch: anchoring is always on
      if (def.id === 'LedgerDigest') continue;
      expect(env[CLOUD_ENV.schedules[def.id]], def.id).toEqual(refOf(id(stack.scheduleById[def.id])));
    }
    expect(env[CLOUD_ENV.rules.HotDirectory]).toBe('AgentOrchestrator-HotDirectory');
    expect(env[CLOUD_ENV.rules.Delivery]).toBe('AgentOrchestrator-Delivery');
    expect(env[CLOUD_ENV.rules.Health]).toBe('AgentOrchestrator-Health');
    expect(env[CLOUD_ENV.streamUrl]).toEqual({ 'Fn::GetAtt': [id(stack.api.streamUrl), 'FunctionUrl'] });
  });
});

describe('IAM: least privilege per function', () => {
  const roleStatements = Object.fromEntries(Object.entries(roleIds).map(([k, r]) => [k, statementsOfRole(resources, r)])) as Record<
    string,
    Statement[]
  >;
  const grants = (name: string, action: string, resource: unknown) =>
    (roleStatements[name] ?? []).some(
      (st) =>
        st.Effect === 'Allow' &&
        actionsOf(st).includes(action) &&
        resourcesOf(st).some((r) => JSON.stringify(r) === JSON.stringify(resource)),
    );
  const allActions = (name: string) => new Set((roleStatements[name] ?? []).flatMap(actionsOf));

  it('no function statement has a wildcard action or a "*" resource', () => {
    for (const [name, sts] of Object.entries(roleStatements)) {
      expect(sts.length, name).toBeGreaterThan(0);
      for (const st of sts) {
        for (const a of actionsOf(st)) expect(a, `${name} ${a}`).not.toMatch(/\*/);
        for (const r of resourcesOf(st)) expect(r, `${name} ${st.Sid ?? ''}`).not.toBe('*');
      }
    }
  });

  it('each function writes only to its own log group', () => {
    for (const [name, f] of Object.entries(stack.functions)) {
      const logs = (roleStatements[name] ?? []).filter((st) => actionsOf(st).some((a) => a.startsWith('logs:')));
      expect(logs.flatMap(resourcesOf), name).toEqual([arnOf(id(f.logGroup))]);
    }
  });

  it('the runner reads bundles and the agent record, writes heartbeats, publishes — and cannot change the registry or the keys', () => {
    const registry = arnOf(tableIds.Registry);
    expect(grants('Runner', 'dynamodb:GetItem', registry)).toBe(true);
    for (const a of ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem']) {
      expect(grants('Runner', a, registry), a).toBe(false);
    }
    expect(grants('Runner', 'dynamodb:UpdateItem', arnOf(tableIds.Heartbeats))).toBe(true);
    expect(grants('Runner', 'dynamodb:PutItem', arnOf(tableIds.Heartbeats))).toBe(true);
    expect(grants('Runner', 's3:GetObject', { 'Fn::Join': ['', [arnOf(id(stack.hotDirectory.bucket)), '/agents/*']] })).toBe(true);
    expect(grants('Runner', 'events:PutEvents', arnOf(id(stack.eventBus.bus)))).toBe(true);
    const actions = allActions('Runner');
    for (const a of actions) {
      expect(a, a).toMatch(
        /^(logs:(CreateLogStream|PutLogEvents)|lambda:InvokeFunction|s3:(GetObject|ListBucket)|dynamodb:(GetItem|BatchGetItem|PutItem|UpdateItem|DeleteItem|ConditionCheckItem)|events:PutEvents|sqs:(ReceiveMessage|DeleteMessage|ChangeMessageVisibility|GetQueueAttributes|GetQueueUrl))$/,
      );
    }
    // no access to the ledger, no way to change configuration (keys live in the function's env)
    expect((roleStatements.Runner ?? []).flatMap(resourcesOf)).not.toContainEqual(arnOf(tableIds.Ledger));
    expect([...actions].some((a) => a.startsWith('iam:') || a.startsWith('kms:'))).toBe(false);
  });

  it('the sandbox role can write its own logs and nothing else; only the runner and the manager may invoke it', () => {
    const sandboxStatements = roleStatements.Sandbox ?? [];
    expect([...allActions('Sandbox')].sort()).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
    expect(sandboxStatements.flatMap(resourcesOf)).toEqual([arnOf(id(stack.sandbox.function.logGroup))]);
    // no other policy names the role (inline or managed), no permissions boundary widening it
    const role = resources[roleIds.Sandbox as string]?.Properties as Record<string, unknown>;
    expect(role.ManagedPolicyArns).toBeUndefined();
    expect(role.Policies).toBeUndefined();
    const policiesOfRole = [...ofType(resources, 'AWS::IAM::Policy'), ...ofType(resources, 'AWS::IAM::ManagedPolicy')].filter(([, p]) =>
      JSON.stringify(p.Properties?.Roles ?? []).includes(`"${roleIds.Sandbox}"`),
    );
    expect(policiesOfRole).toHaveLength(1);
    // who may invoke it: exactly the runner and the manager, on exactly this function; the only
    // other function that invokes one is the scheduler, itself (the fan-out by shard)
    const sandboxArn = arnOf(fnIds.Sandbox as string);
    const invokers = Object.keys(roleStatements)
      .filter((name) => (roleStatements[name] ?? []).some((st) => actionsOf(st).includes('lambda:InvokeFunction')))
      .sort();
    expect(invokers).toEqual(['AgentManager', 'Runner', 'Scheduler']);
    const invoked = (name: string) => {
      const lambdaStatements = (roleStatements[name] ?? []).filter((st) => actionsOf(st).includes('lambda:InvokeFunction'));
      expect(lambdaStatements.flatMap(actionsOf), name).toEqual(['lambda:InvokeFunction']);
      return lambdaStatements.flatMap(resourcesOf);
    };
    for (const name of ['AgentManager', 'Runner']) expect(invoked(name), name).toEqual([sandboxArn]);
    expect(invoked('Scheduler')).toEqual([arnOf(fnIds.Scheduler as string)]);
  });

  it('only the ledger writer writes the ledger', () => {
    const ledger = arnOf(tableIds.Ledger);
    for (const name of Object.keys(roleStatements)) {
      for (const a of ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem']) {
        expect(grants(name, a, ledger), `${name} ${a}`).toBe(name === 'LedgerWriter');
      }
    }
  });

  it('the scheduler queries only the due index and updates the registry; the monitor queries only the expect index', () => {
    const registry = arnOf(tableIds.Registry);
    expect(grants('Scheduler', 'dynamodb:Query', { 'Fn::Join': ['', [registry, '/index/due']] })).toBe(true);
    expect(grants('Scheduler', 'dynamodb:UpdateItem', registry)).toBe(true);
    expect(grants('Scheduler', 'dynamodb:Scan', registry)).toBe(false);
    expect(grants('Scheduler', 'sqs:SendMessage', arnOf(id(stack.dispatch.queue)))).toBe(true);
    // the fan-out: one asynchronous invocation of itself per shard
    expect(grants('Scheduler', 'lambda:InvokeFunction', arnOf(fnIds.Scheduler as string))).toBe(true);
    expect([...allActions('Scheduler')].sort()).toEqual([
      'dynamodb:Query',
      'dynamodb:UpdateItem',
      'lambda:InvokeFunction',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      'sqs:GetQueueAttributes',
      'sqs:GetQueueUrl',
      'sqs:SendMessage',
    ]);
    expect(grants('HealthMonitor', 'dynamodb:Query', { 'Fn::Join': ['', [arnOf(tableIds.Heartbeats), '/index/expect']] })).toBe(true);
  });

  it('only the API may flip component switches, scoped to the stack’s rules, schedules and runner mapping', () => {
    const switchActions = [
      'scheduler:UpdateSchedule',
      'events:DisableRule',
      'events:EnableRule',
      'lambda:UpdateEventSourceMapping',
      'iam:PassRole',
    ];
    for (const name of Object.keys(roleStatements)) {
      for (const a of switchActions) expect(allActions(name).has(a), `${name} ${a}`).toBe(name === 'Api');
    }
    const api = roleStatements.Api ?? [];
    const by = (sid: string) => api.find((st) => st.Sid === sid);
    const sorted = (xs: unknown[]) => xs.map((x) => JSON.stringify(x)).sort();
    // every schedule but the digest's, which no switch stops
    expect(sorted(resourcesOf(by('SwitchSchedules') as Statement))).toEqual(
      sorted(SCHEDULES.filter((d) => d.component !== undefined).map((d) => arnOf(id(stack.scheduleById[d.id])))),
    );
    expect(SCHEDULES.filter((d) => d.component === undefined).map((d) => d.id)).toEqual(['LedgerDigest']);
    expect(resourcesOf(by('SwitchRules') as Statement)).toHaveLength(3);
    expect(resourcesOf(by('SwitchRules') as Statement)).not.toContainEqual(arnOf(id(stack.rules.Ledger)));
    expect(by('PassSchedulerRole')).toMatchObject({
      Resource: arnOf(id(stack.schedules.role)),
      Condition: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
    });
    expect(JSON.stringify(by('SwitchRunner')?.Resource)).toContain(JSON.stringify(refOf(runnerEsmId)));
  });

  it('EventBridge Scheduler’s role invokes only the scheduled functions', () => {
    const sts = statementsOfRole(resources, id(stack.schedules.role));
    const invoke = sts.filter((st) => actionsOf(st).includes('lambda:InvokeFunction')).flatMap(resourcesOf);
    const scheduled = ['AgentManager', 'Scheduler', 'HealthMonitor', 'LedgerDigest'].map((n) => JSON.stringify(arnOf(fnIds[n] as string)));
    for (const r of invoke) expect(scheduled.some((f) => JSON.stringify(r).includes(JSON.parse(f)['Fn::GetAtt'][0]))).toBe(true);
    const trust = resources[id(stack.schedules.role)]?.Properties?.AssumeRolePolicyDocument.Statement[0];
    expect(trust).toMatchObject({
      Principal: { Service: 'scheduler.amazonaws.com' },
      Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
    });
  });
});

describe('operations', () => {
  const alarms = ofType(resources, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties as Record<string, any>);
  const alarm = (name: string) => alarms.find((a) => a.AlarmName === `AgentOrchestrator-${name}`);

  it('alarms on quarantines and failed cycles, from metrics the bus feeds', () => {
    expect(alarm('Quarantines')).toMatchObject({
      Namespace: 'AgentOrchestrator/AgentOrchestrator',
      MetricName: 'Quarantines',
      Statistic: 'Sum',
      Threshold: 1,
    });
    expect(alarm('FailedCycles')).toMatchObject({
      Namespace: 'AgentOrchestrator/AgentOrchestrator',
      MetricName: 'FailedCycles',
      Statistic: 'Sum',
    });
    for (const [topic, metric] of [
      ['agent.failed', 'FailedCycles'],
      ['agent.quarantined', 'Quarantines'],
      ['agent.restarted', 'Restarts'],
    ]) {
      template.hasResourceProperties('AWS::Logs::MetricFilter', {
        LogGroupName: refOf(id(stack.healthEvents.logGroup)),
        FilterPattern: `{ $.detail.topic = "${topic}" }`,
        MetricTransformations: [
          Match.objectLike({ MetricName: metric, MetricNamespace: 'AgentOrchestrator/AgentOrchestrator', MetricValue: '1' }),
        ],
      });
    }
    template.hasResourceProperties('AWS::Events::Rule', {
      Name: 'AgentOrchestrator-HealthEvents',
      EventBusName: refOf(id(stack.eventBus.bus)),
      EventPattern: {
        source: ['agent-orchestrator'],
        'detail-type': Match.arrayWith(['agent.failed', 'agent.quarantined']),
        detail: { sender: ['orchestrator'] },
      },
    });
    // EventBridge may write to that log group, and only for that rule
    const policies = ofType(resources, 'AWS::Logs::ResourcePolicy');
    expect(policies).toHaveLength(1);
    const doc = JSON.stringify(policies[0]?.[1].Properties?.PolicyDocument);
    expect(doc).toContain('aws:SourceArn');
    expect(doc).toContain(JSON.stringify(arnOf(id(stack.healthEvents.rule))));
    expect(doc).toContain('events.amazonaws.com');
  });

  /** what every alarm of infra/constructs/monitoring.ts shares: one 5-minute period at or over the threshold, no data is fine */
  const fires = {
    EvaluationPeriods: 1,
    Period: 300,
    ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    TreatMissingData: 'notBreaching',
  };

  it('alarms on ledger writer errors, every dead-letter queue, API 5xx and the dispatch backlog', () => {
    expect(alarm('LedgerWriterErrors')).toEqual({
      AlarmName: 'AgentOrchestrator-LedgerWriterErrors',
      AlarmDescription: 'the ledger writer failed: ledger appends are delayed (FIFO, one group) until it succeeds',
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: refOf(fnIds.LedgerWriter as string) }],
      Statistic: 'Sum',
      Threshold: 1,
      ...fires,
    });
    const dlqs = {
      DispatchDeadLettersDepth: stack.dispatch.deadLetters,
      LedgerDeadLettersDepth: stack.ledgerWriter.deadLetters,
      DeliveryFailuresDepth: stack.deadLetters.deliveryFailures,
      AsyncFailuresDepth: stack.deadLetters.asyncFailures,
    };
    for (const [name, q] of Object.entries(dlqs)) {
      expect(alarm(name), name).toMatchObject({
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Threshold: 1,
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [id(q), 'QueueName'] } }],
      });
    }
    expect(alarm('Api5xx')).toEqual({
      AlarmName: 'AgentOrchestrator-Api5xx',
      AlarmDescription: 'the control API answered 5xx',
      Namespace: 'AWS/ApiGateway',
      MetricName: '5xx',
      Dimensions: [{ Name: 'ApiId', Value: refOf(id(stack.api.httpApi)) }],
      Statistic: 'Sum',
      Threshold: 1,
      ...fires,
    });
    expect(alarm('DispatchBacklog')).toEqual({
      AlarmName: 'AgentOrchestrator-DispatchBacklog',
      AlarmDescription: 'dispatched runs wait for more than 30 minutes: runner stopped, throttled or failing',
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [id(stack.dispatch.queue), 'QueueName'] } }],
      Statistic: 'Maximum',
      Threshold: 1800,
      ...fires,
    });
    // no notification target configured by default: no actions (props.test.ts has them with a topic)
    for (const a of alarms) {
      expect(a.AlarmActions, a.AlarmName).toBeUndefined();
      expect(a.OKActions, a.AlarmName).toBeUndefined();
    }
  });

  it('alarms on the errors of each of the eight other functions (not the sandbox: agent code ends its environments): Errors summed over 5 minutes, at least 1', () => {
    const names = ['AgentManager', 'Scheduler', 'Runner', 'HealthMonitor', 'Router', 'Api', 'ApiStream', 'LedgerDigest'];
    expect(alarm('SandboxErrors')).toBeUndefined();
    expect(
      Object.keys(fnIds)
        .filter((n) => n !== 'LedgerWriter' && n !== 'Sandbox')
        .sort(),
    ).toEqual([...names].sort());
    for (const name of names) {
      expect(alarm(`${name}Errors`), name).toEqual({
        AlarmName: `AgentOrchestrator-${name}Errors`,
        AlarmDescription: `the ${name} function failed (an infrastructure error, not an agent failure)`,
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Dimensions: [{ Name: 'FunctionName', Value: refOf(fnIds[name] as string) }],
        Statistic: 'Sum',
        Threshold: 1,
        ...fires,
      });
    }
  });

  it('has a dashboard with the health metrics, queues and API', () => {
    const body = JSON.stringify(ofType(resources, 'AWS::CloudWatch::Dashboard')[0]?.[1].Properties?.DashboardBody);
    for (const word of ['FailedCycles', 'Quarantines', 'ApproximateNumberOfMessagesVisible', 'AWS/ApiGateway', 'Alarms'])
      expect(body).toContain(word);
  });
});

describe('cdk-nag', () => {
  it('AwsSolutions and Serverless packs: no unacknowledged finding, each acknowledgment with a reason', () => {
    for (const pack of nagPacks(s.app)) {
      const report = pack.validateScope(s.app);
      expect(
        report.violations.map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`),
        pack.name,
      ).toEqual([]);
      expect(report.success).toBe(true);
    }
    const acks = stack.node
      .findAll()
      .flatMap((c) => c.node.metadata.filter((m) => m.type === 'aws:cdk:acknowledged-rules').map((m) => m.data as Record<string, string>))
      .flatMap((d) => Object.entries(d));
    expect(acks.length).toBeGreaterThan(0);
    for (const [rule, reason] of acks) {
      expect(rule).toMatch(/^Annotation::(AwsSolutions|Serverless)-/);
      expect(reason.length, rule).toBeGreaterThan(40);
    }
  });

  it('the app registers the packs: a new, unacknowledged finding fails the synth', () => {
    const { app, stack: other } = buildApp({
      context: { ...cdkJsonContext(), trustedKeys: TEST_PUBKEY },
      bundle: false,
      outdir: tempDir('nag-'),
    });
    new sqs.Queue(other, 'UnencryptedQueue', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    expect(() => app.synth()).toThrow(/AwsSolutions-SQS2/);
  });
});
