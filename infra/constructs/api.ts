/**
 * Control API: API Gateway HTTP API (payload v2) → the api function, with the routes of the
 * CONTRACT, IAM (SigV4) authorization by default or a JWT authorizer as an option. Public
 * without authorization: `GET /healthz`, `GET /openapi.json` and the dashboard's static files (`/`,
 * `/dashboard/app.js`, `/dashboard/app.css`: no data; every call the page makes is authorized).
 * The unary gRPC/Connect methods (`POST /agentorchestrator.v1.<Service>/<Method>`, route kind
 * `rpc`) are authorized routes to the same function (Connect and gRPC-Web over HTTP/1.1); their
 * server streams go to the streaming function URL, which serves them as well as the SSE stream.
 * A `$default` route (authorized) sends anything else to the handler, which answers with the
 * API's error shape (404/405) instead of API Gateway's.
 * Stage: throttling, JSON access logs. `GET /events/stream` through API Gateway answers one
 * batch (API Gateway cannot stream); the streaming endpoint is a Lambda function URL
 * (RESPONSE_STREAM, AWS_IAM auth) on functions/api/stream.ts.
 *
 * Component switches (`POST /components/{name}/{stop|start}`): the api function gets the rule
 * names, schedule names and group, the Scheduler role and the runner's event source mapping
 * UUID (names in shared/definitions/cloud-env.ts) and exactly the permissions to read and flip
 * those — nothing else of EventBridge, Scheduler or Lambda.
 */
import { CfnOutput, Duration, Fn, Stack } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer, HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { RemovalPolicy } from 'aws-cdk-lib';
import type * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Construct } from 'constructs';
import { CLOUD_ENV, type SwitchableRuleId } from '../../shared/definitions/cloud-env';
import { RULES, type SwitchableScheduleId } from '../../shared/definitions/routing';
import { expandedRoutes } from '../../shared/definitions/api';
import { AGENTS_INDEX, ERRORING_INDEX, EXPECT_INDEX } from '../../shared/definitions/tables';
import { DDB_READ, DDB_SCAN, DDB_WRITE, indexStatement, putEventsStatement, sendStatement, tableStatement } from './access';
import type { OrchestratorContext } from './context';
import { OrchestratorFunction } from './function';
import { ruleNameFor } from './routing';
import type { KafkaMappingRef } from './kafka';
import type { DigestBucket } from './ledger-digests';

export interface CloudRoute {
  method: 'GET' | 'POST';
  path: string;
  /** false: no authorizer (public) */
  auth: boolean;
}

/** The API's route table (shared/definitions/api.ts) as API Gateway routes (plus `$default`, added separately). */
export const CLOUD_API_ROUTES: CloudRoute[] = expandedRoutes().map((r) => ({ method: r.method, path: r.path, auth: !r.public }));

/** JSON access log line of the stage ($context variables of HTTP APIs) */
export const ACCESS_LOG_FORMAT = {
  requestId: '$context.requestId',
  time: '$context.requestTime',
  ip: '$context.identity.sourceIp',
  caller: '$context.identity.userArn',
  jwtSub: '$context.authorizer.claims.sub',
  method: '$context.httpMethod',
  path: '$context.path',
  routeKey: '$context.routeKey',
  status: '$context.status',
  protocol: '$context.protocol',
  responseLength: '$context.responseLength',
  latencyMs: '$context.responseLatency',
  integrationLatencyMs: '$context.integrationLatency',
  integrationError: '$context.integrationErrorMessage',
  authorizerError: '$context.authorizer.error',
};

export interface ApiSwitchTargets {
  rules: Record<SwitchableRuleId, events.Rule>;
  schedules: Record<SwitchableScheduleId, scheduler.Schedule>;
  runnerEventSource: SqsEventSource;
  /** the Kafka bridge's event source mappings (component `kafka`); empty: no bridge */
  kafkaMappings: KafkaMappingRef[];
  /** the ledger digests (verify?digests=true lists them) */
  digests: DigestBucket;
}

export class ControlApi extends Construct {
  readonly function: OrchestratorFunction;
  readonly streamFunction: OrchestratorFunction;
  readonly httpApi: apigwv2.HttpApi;
  readonly stage: apigwv2.HttpStage;
  readonly streamUrl: lambda.FunctionUrl;
  readonly accessLogs: logs.LogGroup;
  /** routes without an authorizer (healthz, dashboard files) */
  readonly publicRoutes: apigwv2.HttpRoute[] = [];

  constructor(scope: Construct, id: string, ctx: OrchestratorContext, switches: ApiSwitchTargets) {
    super(scope, id);
    const p = ctx.props;

    // --- streaming endpoint (function URL): GET /events/stream as server-sent events
    this.streamFunction = new OrchestratorFunction(this, 'Stream', {
      defaults: ctx.functions,
      dir: 'api',
      file: 'stream.ts',
      description: 'GET /events/stream: tails the ledger as server-sent events (response streaming)',
      memoryMb: 256,
      timeout: Duration.minutes(5),
      environment: { [CLOUD_ENV.apiAuthMode]: 'iam' },
    });
    this.streamFunction.addToPolicy(
      tableStatement('LedgerRead', ctx.tables.Ledger, DDB_READ),
      tableStatement('RegistryRead', ctx.tables.Registry, [...DDB_READ, ...DDB_SCAN]),
      tableStatement('HeartbeatsRead', ctx.tables.Heartbeats, DDB_READ),
    );
    this.streamUrl = this.streamFunction.fn.addFunctionUrl({
      authType: lambda.FunctionUrlAuthType.AWS_IAM,
      invokeMode: lambda.InvokeMode.RESPONSE_STREAM,
    });

    // --- the API function
    const switchEnv: Record<string, string> = {
      [CLOUD_ENV.apiAuthMode]: p.api.authMode,
      [CLOUD_ENV.scheduleGroup]: ctx.schedules.group.scheduleGroupName,
      [CLOUD_ENV.schedulerRoleArn]: ctx.schedules.role.roleArn,
      [CLOUD_ENV.runnerEsmUuid]: switches.runnerEventSource.eventSourceMappingId,
      [CLOUD_ENV.streamUrl]: this.streamUrl.url,
    };
    if (switches.kafkaMappings.length)
      switchEnv[CLOUD_ENV.kafkaEsmUuids] = Fn.join(
        ',',
        switches.kafkaMappings.map((m) => m.id),
      );
    for (const [sid, s] of Object.entries(switches.schedules)) switchEnv[CLOUD_ENV.schedules[sid as SwitchableScheduleId]] = s.scheduleName;
    // the rule NAME: `rule.ruleName` is the CloudFormation Ref, `bus|name` for custom-bus rules
    for (const rid of Object.keys(switches.rules) as SwitchableRuleId[]) {
      const def = RULES.find((d) => d.id === rid);
      if (def) switchEnv[CLOUD_ENV.rules[rid]] = ruleNameFor(this, def);
    }

    this.function = new OrchestratorFunction(this, 'Api', {
      defaults: ctx.functions,
      dir: 'api',
      description: 'control API (HTTP API payload v2): agents, ledger, metrics, components',
      memoryMb: 512,
      timeout: Duration.seconds(29),
      environment: switchEnv,
    });
    const stack = Stack.of(this);
    this.function.addToPolicy(
      tableStatement('RegistryReadWrite', ctx.tables.Registry, [...DDB_READ, ...DDB_SCAN, ...DDB_WRITE]),
      tableStatement('HeartbeatsReadWrite', ctx.tables.Heartbeats, [...DDB_READ, ...DDB_WRITE]),
      // the paged GET /agents and GET /agents/summary
      indexStatement('QueryAgentPages', ctx.tables.Registry, AGENTS_INDEX),
      indexStatement('QueryErroringAgents', ctx.tables.Heartbeats, ERRORING_INDEX),
      indexStatement('QueryExpectedHeartbeats', ctx.tables.Heartbeats, EXPECT_INDEX),
      tableStatement('LedgerRead', ctx.tables.Ledger, DDB_READ),
      switches.digests.readStatement(),
      putEventsStatement(ctx.bus.bus),
      sendStatement('DispatchTriggers', ctx.dispatchQueue),
      new iam.PolicyStatement({
        sid: 'SwitchSchedules',
        actions: ['scheduler:GetSchedule', 'scheduler:UpdateSchedule'],
        resources: Object.values(switches.schedules).map((s) => s.scheduleArn),
      }),
      new iam.PolicyStatement({
        sid: 'PassSchedulerRole',
        actions: ['iam:PassRole'],
        resources: [ctx.schedules.role.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
      }),
      new iam.PolicyStatement({
        sid: 'SwitchRules',
        actions: ['events:DescribeRule', 'events:EnableRule', 'events:DisableRule'],
        resources: Object.values(switches.rules).map((r) => r.ruleArn),
      }),
      new iam.PolicyStatement({
        sid: 'SwitchRunner',
        actions: ['lambda:GetEventSourceMapping', 'lambda:UpdateEventSourceMapping'],
        resources: [switches.runnerEventSource.eventSourceMappingArn],
      }),
    );
    if (switches.kafkaMappings.length) {
      this.function.addToPolicy(
        new iam.PolicyStatement({
          sid: 'SwitchKafka',
          actions: ['lambda:GetEventSourceMapping', 'lambda:UpdateEventSourceMapping'],
          resources: switches.kafkaMappings.map((m) => m.arn),
        }),
      );
    }

    // --- HTTP API
    const authorizer: apigwv2.IHttpRouteAuthorizer =
      p.api.authMode === 'jwt' && p.api.jwt
        ? new HttpJwtAuthorizer('JwtAuthorizer', p.api.jwt.issuer, { jwtAudience: p.api.jwt.audience })
        : new HttpIamAuthorizer();
    this.httpApi = new apigwv2.HttpApi(this, 'HttpApi', {
      description: 'agent orchestrator control API',
      createDefaultStage: false,
    });
    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: ctx.functions.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stage = new apigwv2.HttpStage(this, 'DefaultStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: p.api.rateLimit, burstLimit: p.api.burstLimit },
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(this.accessLogs),
        format: apigw.AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FORMAT)),
      },
    });
    const integration = new HttpLambdaIntegration('ApiIntegration', this.function.fn, {
      payloadFormatVersion: apigwv2.PayloadFormatVersion.VERSION_2_0,
      scopePermissionToRoute: false,
    });
    for (const r of CLOUD_API_ROUTES) {
      const added = this.httpApi.addRoutes({
        path: r.path,
        methods: [r.method === 'GET' ? apigwv2.HttpMethod.GET : apigwv2.HttpMethod.POST],
        integration,
        authorizer: r.auth ? authorizer : new apigwv2.HttpNoneAuthorizer(),
      });
      if (!r.auth) this.publicRoutes.push(...added);
    }
    new apigwv2.HttpRoute(this, 'DefaultRoute', {
      httpApi: this.httpApi,
      routeKey: apigwv2.HttpRouteKey.DEFAULT,
      integration,
      authorizer,
    });
    // The integration's one API-scoped permission allows `<api-id>/*/*/*` (stage/method/path),
    // but API Gateway invokes the `$default` route as `<api-id>/<stage>/$default`: two segments,
    // so without this permission unknown paths get API Gateway's 500 instead of the handler's 404.
    this.function.fn.addPermission('DefaultRouteInvoke', {
      principal: new iam.ServicePrincipal('apigateway.amazonaws.com'),
      sourceArn: stack.formatArn({ service: 'execute-api', resource: this.httpApi.apiId, resourceName: '*/$default' }),
    });

    new CfnOutput(stack, 'ApiUrl', { value: this.httpApi.apiEndpoint, description: 'control API (AGENT_API_URL)' });
    // The web dashboard (GET /) calls the API from the browser, which cannot SigV4-sign: it works
    // with JWT auth only, so only then is it an output.
    if (p.api.authMode === 'jwt') {
      new CfnOutput(stack, 'WebDashboardUrl', {
        value: `${this.httpApi.apiEndpoint}/`,
        description: 'web dashboard: paste a JWT of the configured issuer as the token',
      });
    }
    new CfnOutput(stack, 'ApiExecuteArn', {
      value: stack.formatArn({ service: 'execute-api', resource: this.httpApi.apiId, resourceName: '*' }),
      description: 'callers (authMode iam) need execute-api:Invoke on this',
    });
    new CfnOutput(stack, 'EventsStreamUrl', {
      value: this.streamUrl.url,
      description: 'GET /events/stream as a stream (function URL, IAM; AGENT_STREAM_URL)',
    });
    // Function URLs created since October 2025 authorize an IAM caller only with BOTH
    // lambda:InvokeFunctionUrl and lambda:InvokeFunction on the function: policies need its ARN.
    new CfnOutput(stack, 'EventsStreamFunctionArn', {
      value: this.streamFunction.fn.functionArn,
      description: 'callers of EventsStreamUrl need lambda:InvokeFunctionUrl and lambda:InvokeFunction on this',
    });
  }
}
