/**
 * What the first days in a real AWS account would have found (issue #10, items 7–14), each
 * asserted on the synthesized template against what the AWS documentation says the service
 * does — not against an emulator.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../infra/constructs/function';
import { boundedName } from '../../infra/constructs/names';
import { nagPacks } from '../../infra/nag';
import { toBusEntry, toBusEvent } from '../../shared/core/bus/events';
import { DispatchMessageSchema, envelopeRunId } from '../../shared/core/dispatch';
import { envelopeSize, MAX_ENVELOPE_BYTES, parseEnvelope, type Envelope } from '../../shared/core/envelope';
import { CLOUD_ENV } from '../../shared/definitions/cloud-env';
import { BUS_SOURCE } from '../../shared/definitions/routing';
import { cdkCommands, contextOf, ofType, synth, TEST_PUBKEY, type CfnResourceJson } from './synth';

const s = synth({ trustedKeys: TEST_PUBKEY });
const { stack, resources, id } = s;

describe('item 7: a deploy after a destroy, and long stack names', () => {
  it('the schedule group goes with the stack (no Retain): its fixed name is free again after cdk destroy', () => {
    const groups = ofType(resources, 'AWS::Scheduler::ScheduleGroup');
    expect(groups.map(([gid]) => gid)).toEqual([id(stack.schedules.group)]);
    const group = groups[0]?.[1] as CfnResourceJson;
    expect(group.Properties?.Name).toBe('AgentOrchestrator-schedules');
    expect(group.DeletionPolicy).toBe('Delete');
    expect(group.UpdateReplacePolicy).toBe('Delete');
    // only data is retained (retainData=true): tables and buckets (the digest bucket always: its
    // locked versions cannot be deleted), none with a fixed name
    const retained = Object.entries(resources).filter(([, r]) => r.DeletionPolicy === 'Retain');
    expect(retained.map(([, r]) => r.Type).sort()).toEqual([
      'AWS::DynamoDB::Table',
      'AWS::DynamoDB::Table',
      'AWS::DynamoDB::Table',
      'AWS::S3::Bucket',
      'AWS::S3::Bucket',
      'AWS::S3::Bucket',
    ]);
    for (const [rid, r] of retained) {
      expect(r.Properties?.TableName ?? r.Properties?.BucketName, rid).toBeUndefined();
    }
  });

  const RULE_NAME = /^[.\-_A-Za-z0-9]{1,64}$/;
  const GROUP_NAME = /^[0-9a-zA-Z\-_.]{1,64}$/;
  const longA = `A${'b'.repeat(99)}x`; // 101 characters, the longest -c stackName accepted
  const longB = `A${'b'.repeat(99)}y`; // same first 100 characters

  it('with the longest stack name, every rule name is distinct and valid, and so is the group name', () => {
    const long = synth({ trustedKeys: TEST_PUBKEY, stackName: longA }, { nag: false });
    expect(long.stack.stackName).toHaveLength(101);
    const names = ofType(long.resources, 'AWS::Events::Rule').map(([, r]) => r.Properties?.Name as string);
    expect(names).toHaveLength(5);
    expect(new Set(names).size).toBe(5);
    for (const n of names) expect(n).toMatch(RULE_NAME);
    const group = ofType(long.resources, 'AWS::Scheduler::ScheduleGroup')[0]?.[1].Properties?.Name as string;
    expect(group).toMatch(GROUP_NAME);
    // the API switches rules by these very names
    const env = long.resources[long.id(long.stack.api.function.fn)]?.Properties?.Environment.Variables as Record<string, unknown>;
    for (const rid of ['HotDirectory', 'Delivery', 'Health'] as const) {
      expect(names, rid).toContain(env[CLOUD_ENV.rules[rid]]);
    }
    expect(env[CLOUD_ENV.scheduleGroup]).toBe(group);
  });

  it('two long stack names with the same beginning get different names; short names are unchanged', () => {
    for (const suffix of ['HotDirectory', 'Ledger', 'Delivery', 'Health', 'HealthEvents', 'schedules']) {
      const a = boundedName(longA, suffix, 64);
      const b = boundedName(longB, suffix, 64);
      expect(a).toHaveLength(64);
      expect(a.endsWith(`-${suffix}`)).toBe(true);
      expect(a).not.toBe(b);
      expect(boundedName('AgentOrchestrator', suffix, 64)).toBe(`AgentOrchestrator-${suffix}`);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// A template value with the pseudo parameters and Refs of one made-up deployment put in.

const DEPLOYED = { partition: 'aws', region: 'eu-west-1', account: '123456789012' };

function resolveValue(v: unknown, refs: Record<string, string> = {}): string {
  if (typeof v === 'string') return v;
  const o = v as Record<string, unknown>;
  if ('Ref' in o) {
    const r = o.Ref as string;
    const pseudo: Record<string, string> = {
      'AWS::Partition': DEPLOYED.partition,
      'AWS::Region': DEPLOYED.region,
      'AWS::AccountId': DEPLOYED.account,
      'AWS::URLSuffix': 'amazonaws.com',
    };
    const got = pseudo[r] ?? refs[r];
    if (got === undefined) throw new Error(`no value for Ref ${r}`);
    return got;
  }
  if ('Fn::Join' in o) {
    const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
    return parts.map((p) => resolveValue(p, refs)).join(sep);
  }
  if ('Fn::GetAtt' in o) {
    const [lid, attr] = o['Fn::GetAtt'] as [string, string];
    const got = refs[`${lid}.${attr}`];
    if (got === undefined) throw new Error(`no value for GetAtt ${lid}.${attr}`);
    return got;
  }
  throw new Error(`cannot resolve ${JSON.stringify(v)}`);
}

/**
 * IAM's ArnLike: each of the six colon-delimited parts of the ARN is matched on its own, `*`
 * any run of characters (slashes included), `?` any one character.
 */
function arnLike(pattern: string, arn: string): boolean {
  const split = (a: string) => {
    const p = a.split(':');
    return [...p.slice(0, 5), p.slice(5).join(':')];
  };
  const pp = split(pattern);
  const ap = split(arn);
  return pp.every((part, i) =>
    new RegExp(
      `^${part
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.')}$`,
    ).test(ap[i] ?? ''),
  );
}

describe('item 8: API Gateway may invoke the API function for every route, $default included', () => {
  const API_ID = 'a1b2c3d4e5';
  const apiFn = id(stack.api.function.fn);
  const permissions = ofType(resources, 'AWS::Lambda::Permission').filter(
    ([, p]) =>
      JSON.stringify(p.Properties?.FunctionName) === JSON.stringify({ 'Fn::GetAtt': [apiFn, 'Arn'] }) &&
      p.Properties?.Principal === 'apigateway.amazonaws.com',
  );
  const patterns = permissions.map(([, p]) => resolveValue(p.Properties?.SourceArn, { [id(stack.api.httpApi)]: API_ID }));
  /** the source ARN API Gateway presents for an HTTP API route: `<api-id>/<stage>/<route key, space as slash>` */
  const sourceArn = (routeKey: string) =>
    `arn:aws:execute-api:${DEPLOYED.region}:${DEPLOYED.account}:${API_ID}/$default/${routeKey === '$default' ? '$default' : routeKey.replace(' ', '')}`;
  const invokable = (routeKey: string) => patterns.some((p) => arnLike(p, sourceArn(routeKey)));

  it('the ArnLike check itself: `*` spans slashes, but not a missing segment', () => {
    expect(
      arnLike('arn:aws:execute-api:eu-west-1:123456789012:x/*/*/*', 'arn:aws:execute-api:eu-west-1:123456789012:x/$default/GET/agents/a'),
    ).toBe(true);
    expect(
      arnLike('arn:aws:execute-api:eu-west-1:123456789012:x/*/*/*', 'arn:aws:execute-api:eu-west-1:123456789012:x/$default/$default'),
    ).toBe(false);
    expect(
      arnLike('arn:aws:execute-api:eu-west-1:123456789012:x/*/$default', 'arn:aws:execute-api:eu-west-1:123456789012:x/$default/$default'),
    ).toBe(true);
  });

  it('every route key of the API, and `$default`, matches a permission of this API only', () => {
    const routeKeys = ofType(resources, 'AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties?.RouteKey as string);
    expect(routeKeys).toContain('$default');
    expect(routeKeys).toContain('GET /agents/{name}');
    for (const k of routeKeys) expect(invokable(k), k).toBe(true);
    // scoped to this API: another API id, account or region is not allowed
    for (const p of patterns) {
      expect(arnLike(p, `arn:aws:execute-api:${DEPLOYED.region}:${DEPLOYED.account}:otherapi/$default/$default`)).toBe(false);
      expect(arnLike(p, `arn:aws:execute-api:${DEPLOYED.region}:999999999999:${API_ID}/$default/$default`)).toBe(false);
    }
  });

  it('the $default permission is exactly `<api-id>/*/$default` (AWS console and SAM use the same)', () => {
    expect(patterns).toContain(`arn:aws:execute-api:${DEPLOYED.region}:${DEPLOYED.account}:${API_ID}/*/$default`);
    expect(patterns).toHaveLength(2);
  });
});

describe('item 12: EventBridge can create its log stream in the health-events log group', () => {
  const policies = ofType(resources, 'AWS::Logs::ResourcePolicy');
  const LOG_GROUP_ARN = `arn:aws:logs:${DEPLOYED.region}:${DEPLOYED.account}:log-group:/aws/events/AgentOrchestrator/health-events:*`;
  const RULE_ARN = `arn:aws:events:${DEPLOYED.region}:${DEPLOYED.account}:rule/AgentOrchestrator-agents/AgentOrchestrator-HealthEvents`;
  const doc = JSON.parse(
    resolveValue(policies[0]?.[1].Properties?.PolicyDocument, {
      [`${id(stack.healthEvents.logGroup)}.Arn`]: LOG_GROUP_ARN,
      [`${id(stack.healthEvents.rule)}.Arn`]: RULE_ARN,
    }),
  ) as {
    Statement: { Effect: string; Principal: { Service: string[] }; Action: string | string[]; Resource: unknown; Condition?: unknown }[];
  };
  const actions = (a: string | string[]) => (Array.isArray(a) ? a : [a]);

  it('CreateLogStream without a condition, PutLogEvents only from the health-events rule (the AWS pattern)', () => {
    expect(policies).toHaveLength(1);
    const create = doc.Statement.filter((st) => actions(st.Action).includes('logs:CreateLogStream'));
    const put = doc.Statement.filter((st) => actions(st.Action).includes('logs:PutLogEvents'));
    expect(create).toHaveLength(1);
    expect(put).toHaveLength(1);
    expect(create[0]).toEqual({
      Sid: 'EventBridgeCreatesStreams',
      Effect: 'Allow',
      Principal: { Service: ['events.amazonaws.com', 'delivery.logs.amazonaws.com'] },
      Action: 'logs:CreateLogStream',
      Resource: LOG_GROUP_ARN,
    });
    expect(put[0]).toEqual({
      Sid: 'EventBridgeDeliversFromRule',
      Effect: 'Allow',
      Principal: { Service: ['events.amazonaws.com', 'delivery.logs.amazonaws.com'] },
      Action: 'logs:PutLogEvents',
      Resource: LOG_GROUP_ARN,
      Condition: { ArnEquals: { 'aws:SourceArn': RULE_ARN } },
    });
    // nothing else is granted
    expect(doc.Statement).toHaveLength(2);
  });

  it('the rule delivers to exactly that log group (named /aws/events/...), without a role', () => {
    const rule = resources[id(stack.healthEvents.rule)]?.Properties as { Targets: { Arn: unknown; RoleArn?: unknown }[] };
    expect(rule.Targets).toHaveLength(1);
    expect(rule.Targets[0]?.RoleArn).toBeUndefined();
    expect(resources[id(stack.healthEvents.logGroup)]?.Properties?.LogGroupName).toBe('/aws/events/AgentOrchestrator/health-events');
    expect(resolveValue(rule.Targets[0]?.Arn, { [id(stack.healthEvents.logGroup)]: '/aws/events/AgentOrchestrator/health-events' })).toBe(
      LOG_GROUP_ARN.replace(/:\*$/, ''),
    );
  });
});

describe('item 13: CloudWatch may publish this stack’s alarms to the alarm topic', () => {
  const e = synth({ trustedKeys: TEST_PUBKEY, alarmEmail: 'ops@example.com' });
  const topicId = e.id(e.stack.monitoring.topic as never);
  const policies = ofType(e.resources, 'AWS::SNS::TopicPolicy').filter(
    ([, p]) => JSON.stringify(p.Properties?.Topics) === JSON.stringify([{ Ref: topicId }]),
  );
  type St = {
    Sid?: string;
    Effect: string;
    Principal: unknown;
    Action: string;
    Resource: unknown;
    Condition?: Record<string, Record<string, unknown>>;
  };
  const statements = (policies[0]?.[1].Properties?.PolicyDocument.Statement ?? []) as St[];
  const allow = statements.filter((st) => st.Effect === 'Allow');

  it('the topic policy keeps the TLS-only Deny and allows cloudwatch.amazonaws.com to publish, nothing more', () => {
    expect(policies).toHaveLength(1);
    expect(statements.find((st) => st.Effect === 'Deny')).toMatchObject({
      Action: 'sns:Publish',
      Principal: '*',
      Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    });
    expect(allow).toHaveLength(1);
    expect(allow[0]).toMatchObject({
      Principal: { Service: 'cloudwatch.amazonaws.com' },
      Action: 'sns:Publish',
      Resource: { Ref: topicId },
    });
    expect(allow[0]?.Condition?.StringEquals).toEqual({ 'aws:SourceAccount': { Ref: 'AWS::AccountId' } });
  });

  it('scoped to the alarms of this stack in this account and region: every alarm that notifies the topic matches', () => {
    const pattern = resolveValue(allow[0]?.Condition?.ArnLike?.['aws:SourceArn']);
    expect(pattern).toBe(`arn:aws:cloudwatch:${DEPLOYED.region}:${DEPLOYED.account}:alarm:AgentOrchestrator-*`);
    const alarms = ofType(e.resources, 'AWS::CloudWatch::Alarm').map(
      ([, a]) => a.Properties as { AlarmName: string; AlarmActions: unknown[] },
    );
    expect(alarms.length).toBeGreaterThanOrEqual(10);
    for (const a of alarms) {
      expect(a.AlarmActions, a.AlarmName).toContainEqual({ Ref: topicId });
      expect(arnLike(pattern, `arn:aws:cloudwatch:${DEPLOYED.region}:${DEPLOYED.account}:alarm:${a.AlarmName}`), a.AlarmName).toBe(true);
    }
    expect(arnLike(pattern, `arn:aws:cloudwatch:${DEPLOYED.region}:999999999999:alarm:AgentOrchestrator-Quarantines`)).toBe(false);
    expect(arnLike(pattern, `arn:aws:cloudwatch:${DEPLOYED.region}:${DEPLOYED.account}:alarm:SomeoneElse-Quarantines`)).toBe(false);
  });

  it('cdk-nag stays clean with the topic', () => {
    for (const pack of nagPacks(e.app))
      expect(
        pack.validateScope(e.app).violations.map((v) => v.ruleName),
        pack.name,
      ).toEqual([]);
  });
});

describe('item 14: a 256 KB envelope fits every queue it can travel through', () => {
  const SQS_MAX = 1_048_576; // SendMessage: "The maximum size is 1 MiB or 1,048,576 bytes"
  const queues = ofType(resources, 'AWS::SQS::Queue');

  /**
   * The largest envelope the API accepts: every field at its longest, JSON exactly
   * MAX_ENVELOPE_BYTES (a little more than the bus takes: PutEvents also counts Source and
   * DetailType, so what travels is at most this).
   */
  function largestEnvelope(): Envelope {
    const base: Envelope = {
      id: 'i'.repeat(128),
      topic: `t${'.'.repeat(127)}`,
      sender: 's'.repeat(128),
      recipient: 'r'.repeat(128),
      ts: '2026-01-01T00:00:00.000+14:00',
      payload: { data: '' },
      replayOf: Number.MAX_SAFE_INTEGER,
    };
    // 3-byte UTF-8 characters, then ASCII to land on the limit exactly
    const room = MAX_ENVELOPE_BYTES - envelopeSize(base);
    const wide = Math.floor(room / 3) - 10;
    const filler = '€'.repeat(wide) + 'x'.repeat(room - wide * 3);
    return parseEnvelope({ ...base, payload: { data: filler } });
  }
  const envelope = largestEnvelope();

  it('every queue, dead-letter queues included, takes SQS’s largest message (1 MiB)', () => {
    expect(queues).toHaveLength(6);
    for (const [qid, q] of queues) expect(q.Properties?.MaximumMessageSize, qid).toBe(SQS_MAX);
  });

  it('the largest envelope the API accepts is exactly 256 KB (and one byte more is refused)', () => {
    expect(envelopeSize(envelope)).toBe(MAX_ENVELOPE_BYTES);
    expect(() => parseEnvelope({ ...envelope, payload: { data: `${String(envelope.payload.data)}x` } })).toThrow(/over the limit/);
  });

  it('as the event EventBridge delivers to the ledger queue (and to DeliveryFailures), it fits — and would not have fit 256 KiB', () => {
    const entry = toBusEntry(envelope);
    const event = toBusEvent(
      { source: entry.Source, detailType: entry.DetailType, detail: JSON.parse(entry.Detail) as Envelope, resources: [] },
      { now: Date.UTC(2026, 0, 1), account: '123456789012', region: 'ap-southeast-2', id: randomUUID() },
    );
    const body = Buffer.byteLength(JSON.stringify(event), 'utf8');
    expect(body).toBeGreaterThan(256 * 1024);
    // EventBridge adds message attributes to dead-lettered events (error code/message, rule and target ARNs)
    expect(body + 4096).toBeLessThanOrEqual(resources[id(stack.ledgerWriter.queue)]?.Properties?.MaximumMessageSize as number);
    expect(body + 4096).toBeLessThanOrEqual(resources[id(stack.ledgerWriter.deadLetters)]?.Properties?.MaximumMessageSize as number);
    expect(body + 4096).toBeLessThanOrEqual(resources[id(stack.deadLetters.deliveryFailures)]?.Properties?.MaximumMessageSize as number);
  });

  it('as the dispatch message the router sends for it (and in the dispatch DLQ), it fits — and would not have fit 256 KiB', () => {
    const agent = `a${'-'.repeat(61)}z`;
    const message = DispatchMessageSchema.parse({ kind: 'envelope', agent, runId: envelopeRunId(agent, envelope.id), envelope });
    const body = Buffer.byteLength(JSON.stringify(message), 'utf8');
    expect(body).toBeGreaterThan(256 * 1024);
    expect(body).toBeLessThanOrEqual(resources[id(stack.dispatch.queue)]?.Properties?.MaximumMessageSize as number);
    expect(body).toBeLessThanOrEqual(resources[id(stack.dispatch.deadLetters)]?.Properties?.MaximumMessageSize as number);
  });

  it('as the on-failure record of an asynchronous invocation (AsyncFailures), it fits', () => {
    // Lambda's destination record: request context, the whole event as requestPayload, the error
    const event = toBusEvent(
      { source: BUS_SOURCE, detailType: envelope.topic, detail: envelope },
      { now: 0, account: '123456789012', region: 'ap-southeast-2' },
    );
    const record = {
      version: '1.0',
      timestamp: '2026-01-01T00:00:00.000Z',
      requestContext: {
        requestId: randomUUID(),
        functionArn: `arn:aws:lambda:ap-southeast-2:123456789012:function:${'f'.repeat(64)}:$LATEST`,
        condition: 'RetriesExhausted',
        approximateInvokeCount: 3,
      },
      requestPayload: event,
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      responsePayload: { errorType: 'Error', errorMessage: 'e'.repeat(4096), trace: Array.from({ length: 20 }, () => 'x'.repeat(200)) },
    };
    expect(Buffer.byteLength(JSON.stringify(record), 'utf8')).toBeLessThanOrEqual(
      resources[id(stack.deadLetters.asyncFailures)]?.Properties?.MaximumMessageSize as number,
    );
  });
});

describe('item 15: the web dashboard in the cloud is a JWT-mode feature, and the documents say so', () => {
  const deployMd = readFileSync(join(REPO_ROOT, 'docs/deploy.md'), 'utf8');
  const apiMd = readFileSync(join(REPO_ROOT, 'docs/api.md'), 'utf8');
  const readmeDeploy = /^## Deploy to AWS\n([\s\S]*?)^## /m.exec(readFileSync(join(REPO_ROOT, 'README.md'), 'utf8'))?.[1] ?? '';
  const jwtCommand = cdkCommands(deployMd).find((c) => c.includes('authMode=jwt')) as string;
  // as documented, with the key given inline instead of the keys/signing.pub of a deployer's checkout
  const { trustedKeysFile, ...jwtContext } = contextOf(jwtCommand);
  const jwt = synth({ ...jwtContext, trustedKeys: TEST_PUBKEY });
  const outputs = (t: typeof s) => t.template.toJSON().Outputs as Record<string, { Value: unknown }>;

  it('the documented JWT deployment synthesizes: JWT authorizer on every route but the public page files, WebDashboardUrl output', () => {
    expect(jwtCommand).toMatch(/^deploy /);
    expect(trustedKeysFile).toBe('keys/signing.pub');
    for (const pack of nagPacks(jwt.app))
      expect(
        pack.validateScope(jwt.app).violations.map((v) => v.ruleName),
        pack.name,
      ).toEqual([]);
    const authorizers = ofType(jwt.resources, 'AWS::ApiGatewayV2::Authorizer');
    expect(authorizers).toHaveLength(1);
    expect(authorizers[0]?.[1].Properties).toMatchObject({
      AuthorizerType: 'JWT',
      JwtConfiguration: { Issuer: contextOf(jwtCommand).jwtIssuer, Audience: [contextOf(jwtCommand).jwtAudience] },
    });
    const publicKeys = ['GET /', 'GET /dashboard/app.js', 'GET /dashboard/app.css', 'GET /healthz', 'GET /openapi.json'];
    for (const [, r] of ofType(jwt.resources, 'AWS::ApiGatewayV2::Route')) {
      const key = r.Properties?.RouteKey as string;
      expect(r.Properties?.AuthorizationType, key).toBe(publicKeys.includes(key) ? 'NONE' : 'JWT');
    }
    expect(
      resolveValue(outputs(jwt).WebDashboardUrl?.Value, {
        [`${jwt.id(jwt.stack.api.httpApi)}.ApiEndpoint`]: 'https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com',
      }),
    ).toBe('https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/');
  });

  it('with IAM auth (the default) there is no dashboard URL to follow', () => {
    expect(Object.keys(outputs(s))).not.toContain('WebDashboardUrl');
    expect(
      ofType(resources, 'AWS::ApiGatewayV2::Route').find(([, r]) => r.Properties?.RouteKey === 'GET /agents')?.[1].Properties
        ?.AuthorizationType,
    ).toBe('AWS_IAM');
  });

  it('docs/api.md opens the Dashboard section with it; the README and docs/deploy.md say it where the cloud dashboard comes up', () => {
    const dashboard = /^## Dashboard\n\n([^\n]+(?:\n[^\n]+)*)/m.exec(apiMd)?.[1] ?? '';
    expect(dashboard).toMatch(/needs `authMode=jwt`/);
    expect(dashboard).toMatch(/browser page has none and cannot sign/);
    expect(readmeDeploy).toMatch(/dashboard[\s\S]*cannot work with the default IAM auth[\s\S]*-c authMode=jwt[\s\S]*WebDashboardUrl/);
    expect(deployMd).toMatch(/## Web dashboard: deploy with `authMode=jwt`/);
  });
});

describe('docs/deploy.md: the IAM policy for callers names what the stack outputs', () => {
  const deployMd = readFileSync(join(REPO_ROOT, 'docs/deploy.md'), 'utf8');
  const policy = JSON.parse(/Callers need `execute-api:Invoke`[\s\S]*?```json\n([\s\S]*?)```/.exec(deployMd)?.[1] ?? '{}') as {
    Statement: { Action: string; Resource: string; Condition?: unknown }[];
  };

  it('execute-api:Invoke on ApiExecuteArn; lambda:InvokeFunctionUrl AND lambda:InvokeFunction (via the URL only) on EventsStreamFunctionArn', () => {
    const outputs = Object.keys(s.template.toJSON().Outputs as object);
    for (const st of policy.Statement) expect(outputs).toContain(/^<(\w+)>$/.exec(st.Resource)?.[1]);
    expect(policy.Statement.map((st) => [st.Action, st.Resource])).toEqual([
      ['execute-api:Invoke', '<ApiExecuteArn>'],
      ['lambda:InvokeFunctionUrl', '<EventsStreamFunctionArn>'],
      ['lambda:InvokeFunction', '<EventsStreamFunctionArn>'],
    ]);
    expect(policy.Statement[1]?.Condition).toEqual({ StringEquals: { 'lambda:FunctionUrlAuthType': 'AWS_IAM' } });
    expect(policy.Statement[2]?.Condition).toEqual({ Bool: { 'lambda:InvokedViaFunctionUrl': 'true' } });
  });
});
