/**
 * Stack props and `-c` context: bad input is refused with a clear error before anything is
 * synthesized; a missing trusted key is not bad input for synthesis, but the template then
 * refuses its own deployment; the options (component switches, JWT auth, alarm e-mail, tracing, retention,
 * removal, health knobs) land in the template; cdk-nag stays clean with them.
 */
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPair } from '../../shared/core/bundle/signing';
import { App } from 'aws-cdk-lib';
import { buildApp, cdkJsonContext } from '../../infra/build';
import { InfraConfigError } from '../../infra/errors';
import { nagPacks } from '../../infra/nag';
import { deployRefusal, propsFromContext, resolveProps } from '../../infra/props';
import { OrchestratorStack, TRUSTED_KEYS_RULE_ID } from '../../infra/stack';
import { arnOf, ofType, refOf, synth, tempDir, TEST_PUBKEY } from './synth';

function refused(context: Record<string, string>): InfraConfigError {
  let err: unknown;
  let app: App | undefined;
  try {
    app = buildApp({ context: { ...cdkJsonContext(), ...context }, bundle: false }).app;
  } catch (e) {
    err = e;
  }
  expect(app, 'no app may be built from bad props').toBeUndefined();
  expect(err).toBeInstanceOf(InfraConfigError);
  expect((err as InfraConfigError).code).toBe('infra_config_invalid');
  return err as InfraConfigError;
}

describe('bad configuration is refused before synthesis', () => {
  it('keys must be base64 raw 32-byte ed25519 public keys', () => {
    // an SPKI-encoded key (44 bytes) instead of the raw 32 bytes
    expect(refused({ trustedKeys: 'MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=' }).message).toMatch(/32 raw bytes/);
    expect(refused({ trustedKeys: `${TEST_PUBKEY},not-base64!` }).message).toMatch(/trustedPublicKeys/);
  });

  it('unknown context keys and malformed values are named', () => {
    expect(refused({ trustedKey: TEST_PUBKEY }).message).toMatch(/unknown context key\(s\): trustedKey/);
    expect(refused({ trustedKeys: TEST_PUBKEY, disable: 'scheduler,ledger' }).message).toMatch(/unknown component\(s\) ledger/);
    expect(refused({ trustedKeys: TEST_PUBKEY, tracing: 'yes' }).message).toMatch(/-c tracing: expected true or false/);
    expect(refused({ trustedKeys: TEST_PUBKEY, logRetentionDays: '8' }).message).toMatch(
      /must be one of 1, 3, 5, 7, 14, 30[\s\S]*retention\.logDays/,
    );
    expect(refused({ trustedKeys: TEST_PUBKEY, runnerTimeoutSeconds: '2000' }).message).toMatch(/runner\.timeoutSeconds/);
    expect(refused({ trustedKeys: TEST_PUBKEY, apiRateLimit: '-1' }).message).toMatch(/-c apiRateLimit: expected a whole number/);
    expect(refused({ trustedKeys: TEST_PUBKEY, apiRateLimit: '100', apiBurstLimit: '10' }).message).toMatch(
      /burstLimit must be at least rateLimit/,
    );
    expect(refused({ trustedKeys: TEST_PUBKEY, alarmEmail: 'not-an-address' }).message).toMatch(/alarms\.email/);
    expect(refused({ trustedKeys: TEST_PUBKEY, stackName: '1-bad name' }).message).toMatch(/not a valid CloudFormation stack name/);
  });

  it('JWT auth needs an https issuer and an audience; IAM auth takes no JWT settings', () => {
    expect(refused({ trustedKeys: TEST_PUBKEY, authMode: 'jwt' }).message).toMatch(/authMode jwt needs jwt\.issuer and jwt\.audience/);
    expect(refused({ trustedKeys: TEST_PUBKEY, authMode: 'jwt', jwtIssuer: 'http://idp.example.com', jwtAudience: 'x' }).message).toMatch(
      /https/,
    );
    expect(refused({ trustedKeys: TEST_PUBKEY, jwtIssuer: 'https://idp.example.com', jwtAudience: 'x' }).message).toMatch(
      /authMode is iam/,
    );
  });

  it('health knobs are validated with the functions’ own env schema', () => {
    expect(refused({ trustedKeys: TEST_PUBKEY, AGENT_ERR_THRESHOLD: '0' }).message).toMatch(/AGENT_ERR_THRESHOLD/);
    expect(refused({ trustedKeys: TEST_PUBKEY, AGENT_VERIFIER: 'openssl' }).message).toMatch(/AGENT_VERIFIER/);
  });

  it('the stack itself validates props given in code', () => {
    expect(() => new OrchestratorStack(new App(), 'S', { orchestrator: { trustedPublicKeys: [], api: { authMode: 'jwt' } } })).toThrow(
      InfraConfigError,
    );
    expect(() => resolveProps({ trustedPublicKeys: [TEST_PUBKEY], surprise: true })).toThrow(/surprise/);
  });

  it('keys can come from agentctl signing.pub files', () => {
    const dir = tempDir('keys-');
    const other = generateKeyPair().publicKey;
    writeFileSync(join(dir, 'signing.pub'), `${other}\n`);
    const { props } = propsFromContext({ trustedKeys: TEST_PUBKEY, trustedKeysFile: join(dir, 'signing.pub') });
    expect(resolveProps(props).trustedPublicKeys).toEqual([TEST_PUBKEY, other]);
    expect(refused({ trustedKeysFile: join(dir, 'missing.pub') }).message).toMatch(/-c trustedKeysFile: cannot read .*missing\.pub/);
  });

  it('context mapping: defaults, lists and switches', () => {
    const { stackName, props } = propsFromContext({
      '@aws-cdk/core:checkSecretUsage': true,
      trustedKeys: ` ${TEST_PUBKEY} , `,
      disable: 'runner',
    });
    expect(stackName).toBe('AgentOrchestrator');
    const p = resolveProps(props);
    expect(p.trustedPublicKeys).toEqual([TEST_PUBKEY]);
    expect(p.components).toEqual({ manager: true, scheduler: true, runner: false, monitor: true, bus: true, kafka: true });
    expect(p.api).toEqual({ authMode: 'iam', rateLimit: 50, burstLimit: 100 });
    expect(p.retention).toEqual({
      logDays: 30,
      ledgerDays: 0,
      archiveDays: 30,
      noncurrentBundleDays: 90,
      accessLogDays: 90,
      digestDays: 365,
    });
  });
});

describe('no trusted key: every command synthesizes, CloudFormation refuses the deployment', () => {
  /** every commercial, China and GovCloud region name there is or is planned has this shape */
  const REGIONS = [
    'us-east-1',
    'eu-west-1',
    'ap-southeast-2',
    'cn-north-1',
    'us-gov-west-1',
    'eu-central-2',
    'il-central-1',
    'mx-central-1',
  ];
  type Rule = { Assertions: { Assert: Record<string, unknown>; AssertDescription: string }[] };
  const rulesOf = (r: ReturnType<typeof synth>) => (r.template.toJSON().Rules ?? {}) as Record<string, Rule>;
  const warningsOf = (r: ReturnType<typeof synth>) =>
    r.stack.node.metadata.filter((m) => m.type === 'aws:cdk:warning').map((m) => String(m.data));

  for (const context of [{}, { allowUnsignedBundles: 'false' }] as Record<string, string>[]) {
    it(`${JSON.stringify(context)}: the app synthesizes, with the rule TrustedKeysRequired that no region satisfies`, () => {
      const r = synth(context, { nag: false });
      const rule = rulesOf(r)[TRUSTED_KEYS_RULE_ID];
      expect(rule?.Assertions).toHaveLength(1);
      const assertion = rule?.Assertions[0];
      // Fn::Equals [Ref AWS::Region, <a name no region has>]: false wherever the stack is deployed
      const [left, right] = (assertion?.Assert['Fn::Equals'] ?? []) as [unknown, string];
      expect(left).toEqual({ Ref: 'AWS::Region' });
      for (const region of REGIONS) expect(region === right, region).toBe(false);
      expect(right).not.toMatch(/^[a-z]{2}(-gov)?-[a-z]+-\d$/);
      // what the deploy prints: the cause and both ways out
      expect(assertion?.AssertDescription).toMatch(/deployment refused: no trusted bundle-signing key/);
      expect(assertion?.AssertDescription).toContain('-c trustedKeysFile=keys/signing.pub');
      expect(assertion?.AssertDescription).toContain('-c allowUnsignedBundles=true');
      // every synth says so before anything reaches AWS
      expect(warningsOf(r).join('\n')).toMatch(/cannot be deployed \(CloudFormation rule TrustedKeysRequired refuses it\)/);
      for (const f of Object.values(r.stack.functions)) {
        expect(r.resources[r.id(f.fn)]?.Properties?.Environment.Variables.AGENT_BUNDLE_PUBKEYS).toBeUndefined();
      }
    });
  }

  it('with a trusted key, or unsigned bundles allowed explicitly, there is no such rule and no warning', () => {
    for (const context of [{ trustedKeys: TEST_PUBKEY }, { allowUnsignedBundles: 'true' }] as Record<string, string>[]) {
      const r = synth(context, { nag: false });
      expect(Object.keys(rulesOf(r)), JSON.stringify(context)).toEqual(['CheckBootstrapVersion']);
      expect(warningsOf(r), JSON.stringify(context)).toEqual([]);
    }
  });

  it('props given in code follow the same rule', () => {
    const app = new App({ context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] } });
    const stack = new OrchestratorStack(app, 'InCode', { orchestrator: {} });
    expect(stack.node.findChild(TRUSTED_KEYS_RULE_ID)).toBeDefined();
    expect(deployRefusal(resolveProps({ trustedPublicKeys: [TEST_PUBKEY] }))).toBeNull();
  });
});

describe('options land in the template', () => {
  const v = synth({
    stackName: 'Orch-Test',
    trustedKeys: TEST_PUBKEY,
    disable: 'scheduler,runner,bus',
    authMode: 'jwt',
    jwtIssuer: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_example',
    jwtAudience: 'client-a,client-b',
    alarmEmail: 'ops@example.com',
    alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:pager',
    tracing: 'true',
    retainData: 'false',
    logRetentionDays: '7',
    ledgerRetentionDays: '365',
    archiveRetentionDays: '0',
    runnerMemoryMb: '2048',
    runnerTimeoutSeconds: '300',
    runnerMaxConcurrency: '5',
    AGENT_ERR_THRESHOLD: '5',
    logLevel: 'debug',
  });
  const { stack, template, resources, id } = v;

  it('component switches start as deployed: disabled schedule, rule and event source mapping', () => {
    expect(stack.stackName).toBe('Orch-Test');
    const state = (s: { node: unknown }) => resources[id(s as never)]?.Properties?.State;
    expect(state(stack.scheduleById.SchedulerTick)).toBe('DISABLED');
    expect(state(stack.scheduleById.HealthSweep)).toBe('ENABLED');
    expect(state(stack.scheduleById.Rescan)).toBe('ENABLED');
    expect(state(stack.rules.Delivery)).toBe('DISABLED');
    expect(state(stack.rules.Health)).toBe('ENABLED');
    expect(state(stack.rules.Ledger)).toBe('ENABLED'); // never switched
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: refOf(id(stack.runner.function.fn)),
      Enabled: false,
      ScalingConfig: { MaximumConcurrency: 5 },
    });
    expect(resources[id(stack.rules.Delivery)]?.Properties?.Name).toBe('Orch-Test-Delivery');
  });

  it('JWT authorizer on every authorized route', () => {
    const authorizers = ofType(resources, 'AWS::ApiGatewayV2::Authorizer');
    expect(authorizers).toHaveLength(1);
    expect(authorizers[0]?.[1].Properties).toMatchObject({
      AuthorizerType: 'JWT',
      JwtConfiguration: { Issuer: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_example', Audience: ['client-a', 'client-b'] },
    });
    const routes = ofType(resources, 'AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties as Record<string, any>);
    for (const r of routes) {
      if (['GET /healthz', 'GET /openapi.json', 'GET /', 'GET /dashboard/app.js', 'GET /dashboard/app.css'].includes(r.RouteKey))
        expect(r.AuthorizationType, r.RouteKey).toBe('NONE');
      else expect(r.AuthorizationType, r.RouteKey).toBe('JWT');
    }
    expect(resources[id(stack.api.function.fn)]?.Properties?.Environment.Variables.API_AUTH_MODE).toBe('jwt');
  });

  it('alarm notifications: an e-mail topic (with a redrive policy) and the given topic on every alarm', () => {
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
      RedrivePolicy: { deadLetterTargetArn: arnOf(id(stack.deadLetters.deliveryFailures)) },
    });
    const topicId = id(stack.monitoring.topic as never);
    const names = ofType(resources, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties?.AlarmName as string);
    // every function's error alarm is among them (each notifies the topics, below), but the
    // sandbox's: agent code failing is the agents' failure, counted by the health monitor
    for (const fn of Object.keys(stack.functions))
      if (fn === 'Sandbox') expect(names).not.toContain(`${stack.stackName}-${fn}Errors`);
      else expect(names, fn).toContain(`${stack.stackName}-${fn}Errors`);
    for (const [aid, a] of ofType(resources, 'AWS::CloudWatch::Alarm')) {
      expect(a.Properties?.AlarmActions, aid).toEqual([refOf(topicId), 'arn:aws:sns:eu-west-1:123456789012:pager']);
      expect(a.Properties?.OKActions, aid).toEqual([refOf(topicId), 'arn:aws:sns:eu-west-1:123456789012:pager']);
    }
  });

  it('tracing, retention, removal, sizes and knobs', () => {
    for (const [name, f] of Object.entries(stack.functions)) {
      const p = resources[id(f.fn)]?.Properties as Record<string, any>;
      expect(resources[id(f.logGroup)]?.Properties?.RetentionInDays).toBe(7);
      if (name === 'Sandbox') {
        // agent code: no tracing (no X-Ray permission for agents), none of the shared settings
        expect(p.TracingConfig).toBeUndefined();
        expect(p.Environment.Variables).toMatchObject({ LOG_LEVEL: 'debug' });
        expect(p.Environment.Variables.AGENT_ERR_THRESHOLD).toBeUndefined();
        continue;
      }
      expect(p.TracingConfig).toEqual({ Mode: 'Active' });
      expect(p.Environment.Variables).toMatchObject({ AGENT_ERR_THRESHOLD: '5', AGENT_LEDGER_RETENTION_DAYS: '365', LOG_LEVEL: 'debug' });
    }
    expect(resources[id(stack.runner.function.fn)]?.Properties).toMatchObject({ MemorySize: 2048, Timeout: 300 });
    expect(resources[id(stack.dispatch.queue)]?.Properties?.VisibilityTimeout).toBe(1800);
    for (const t of Object.values(stack.tables.tables)) {
      expect(resources[id(t)]?.DeletionPolicy).toBe('Delete');
      expect(resources[id(t)]?.Properties?.DeletionProtectionEnabled).toBe(false);
    }
    expect(resources[id(stack.hotDirectory.bucket)]?.DeletionPolicy).toBe('Delete');
    template.hasResourceProperties('AWS::Events::Archive', { RetentionDays: 0 }); // 0 = kept indefinitely
  });

  it('cdk-nag stays clean with every option on', () => {
    for (const pack of nagPacks(v.app)) {
      const report = pack.validateScope(v.app);
      expect(
        report.violations.map((x) => x.ruleName),
        pack.name,
      ).toEqual([]);
    }
  });

  it('unsigned bundles when allowed explicitly: no keys in the environment', () => {
    const u = synth({ allowUnsignedBundles: 'true' }, { nag: false });
    for (const f of Object.values(u.stack.functions)) {
      expect(u.resources[u.id(f.fn)]?.Properties?.Environment.Variables.AGENT_BUNDLE_PUBKEYS).toBeUndefined();
    }
  });
});
