/**
 * One orchestrator Lambda function: bundled by the local esbuild (no Docker) into one minified
 * ESM file per function (the AWS SDK v3 comes from the runtime), Node.js 24 on arm64, its own
 * role (no managed policies: only the statements its construct adds, plus writing to its own log
 * group), its own log group with a retention, JSON log format (the platform's START/END/REPORT
 * lines become JSON, like our own lines from shared/core/logger.ts).
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { LogLevel, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { Construct } from 'constructs';

/** repository root (infra/constructs/../..) */
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export const RUNTIME = lambda.Runtime.NODEJS_24_X;
export const ARCHITECTURE = lambda.Architecture.ARM_64;

/** ESM output still meets CommonJS dependencies; give them a `require`. */
const ESM_REQUIRE_BANNER =
  "import { createRequire as __orchestratorCreateRequire } from 'node:module'; const require = __orchestratorCreateRequire(import.meta.url);";

/** Settings every function of the stack shares. */
export interface FunctionDefaults {
  logRetention: logs.RetentionDays;
  tracing: boolean;
  /** env every function gets (tables, bucket, bus, queue, keys, knobs, LOG_LEVEL) */
  environment: Record<string, string>;
  /** on-failure destination of asynchronous invocations (EventBridge rules, Scheduler) */
  asyncFailures: sqs.IQueue;
}

export interface OrchestratorFunctionProps {
  defaults: FunctionDefaults;
  /** directory under functions/ */
  dir: string;
  /** file in that directory exporting `handler`; default handler.ts */
  file?: string;
  description: string;
  memoryMb: number;
  timeout: Duration;
  environment?: Record<string, string>;
  /**
   * the function runs untrusted code: it gets only `environment` (none of the shared env: no
   * table, bucket, bus or queue names, no keys), no tracing
   */
  untrusted?: boolean;
  /** invoked asynchronously (rule/schedule targets): retries and the on-failure destination */
  async?: { retryAttempts: number; maxEventAge: Duration };
  /**
   * Runs attached to these subnets with these security groups (to reach brokers inside a VPC).
   * Lambda's VpcConfig names only subnets and security groups, so they are set as such, with the
   * network-interface permissions Lambda needs for them (EC2 offers no resource scoping for these).
   */
  vpc?: { subnetIds: string[]; securityGroupIds: string[] };
}

export class OrchestratorFunction extends Construct {
  readonly fn: NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: OrchestratorFunctionProps) {
    super(scope, id);
    const d = props.defaults;
    this.logGroup = new logs.LogGroup(this, 'Logs', { retention: d.logRetention, removalPolicy: RemovalPolicy.DESTROY });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `${props.dir}: ${props.description}`.slice(0, 1000),
    });
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'OwnLogGroup',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );
    this.fn = new NodejsFunction(this, 'Function', {
      entry: join(REPO_ROOT, 'functions', props.dir, props.file ?? 'handler.ts'),
      handler: 'handler',
      description: props.description,
      runtime: RUNTIME,
      architecture: ARCHITECTURE,
      memorySize: props.memoryMb,
      timeout: props.timeout,
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      tracing: d.tracing && !props.untrusted ? lambda.Tracing.ACTIVE : lambda.Tracing.DISABLED,
      environment: props.untrusted ? { ...props.environment } : { ...d.environment, ...props.environment },
      projectRoot: REPO_ROOT,
      depsLockFilePath: join(REPO_ROOT, 'package-lock.json'),
      bundling: {
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        minify: true,
        sourceMap: false,
        mainFields: ['module', 'main'],
        banner: ESM_REQUIRE_BANNER,
        externalModules: ['@aws-sdk/*'],
        tsconfig: join(REPO_ROOT, 'tsconfig.json'),
        logLevel: LogLevel.ERROR,
      },
      ...(props.async
        ? {
            onFailure: new SqsDestination(d.asyncFailures),
            retryAttempts: props.async.retryAttempts,
            maxEventAge: props.async.maxEventAge,
          }
        : {}),
    });
    this.vpcNetworkInterfaces = props.vpc !== undefined;
    if (props.vpc) {
      (this.fn.node.defaultChild as lambda.CfnFunction).vpcConfig = {
        subnetIds: props.vpc.subnetIds,
        securityGroupIds: props.vpc.securityGroupIds,
      };
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'VpcNetworkInterfaces',
          actions: [
            'ec2:CreateNetworkInterface',
            'ec2:DescribeNetworkInterfaces',
            'ec2:DescribeSubnets',
            'ec2:DeleteNetworkInterface',
            'ec2:AssignPrivateIpAddresses',
            'ec2:UnassignPrivateIpAddresses',
          ],
          resources: ['*'],
        }),
      );
    }
  }

  /** `Resource::*` of the network-interface statement, when the function runs in a VPC (cdk-nag acknowledges it by name) */
  readonly vpcNetworkInterfaces: boolean;

  addToPolicy(...statements: iam.PolicyStatement[]): void {
    for (const s of statements) this.role.addToPrincipalPolicy(s);
  }
}
