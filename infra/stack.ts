/**
 * The whole orchestrator in one stack, composed of one construct per component (see
 * docs/deploy.md for the picture and the props):
 *
 *   StateTables (Registry, Heartbeats, Ledger) · HotDirectory (S3) · AgentsEventBus (+ archive)
 *   DeadLetters · Schedules (group + Scheduler role) · DispatchQueue
 *   DigestBucket (S3 Object Lock)
 *   AgentSandboxFunction (agent code, zero permissions) · AgentManager · Scheduler · Runner
 *   HealthMonitor · LedgerWriter · LedgerDigests · Router · ControlApi
 *   HealthEvents (metrics from the bus) · Monitoring (alarms, dashboard)
 *   Kafka (the optional Kafka bridge: only with -c kafkaInbound / -c kafkaOutbound)
 *
 * Tables come from shared/definitions/tables.ts, rules and schedules from
 * shared/definitions/routing.ts — the definitions local mode runs.
 */
import { Annotations, Aws, CfnOutput, CfnRule, Fn, Stack, type StackProps } from 'aws-cdk-lib';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type { Construct } from 'constructs';
import type { SwitchableRuleId } from '../shared/definitions/cloud-env';
import type { RuleDef, ScheduleDef } from '../shared/definitions/routing';
import { TABLES } from '../shared/definitions/tables';
import { deployRefusal, resolveProps, type OrchestratorProps, type OrchestratorPropsInput } from './props';
import { AgentManager } from './constructs/agent-manager';
import { ControlApi } from './constructs/api';
import type { OrchestratorContext } from './constructs/context';
import { AgentsEventBus } from './constructs/event-bus';
import type { FunctionDefaults, OrchestratorFunction } from './constructs/function';
import { HealthEvents } from './constructs/health-events';
import { HealthMonitor } from './constructs/health-monitor';
import { HotDirectory } from './constructs/hot-directory';
import { KafkaBridge } from './constructs/kafka';
import { LedgerWriter } from './constructs/ledger-writer';
import { DigestBucket, LedgerDigests } from './constructs/ledger-digests';
import { Monitoring } from './constructs/monitoring';
import { DeadLetters } from './constructs/queues';
import { Router } from './constructs/router';
import { DispatchQueue, Runner } from './constructs/runner';
import { AgentSandboxFunction } from './constructs/sandbox';
import { Scheduler } from './constructs/scheduler';
import { Schedules } from './constructs/schedules';
import { StateTables } from './constructs/tables';
import { acknowledgeFindings } from './nag';

/** logical id of the CloudFormation rule that refuses a deployment without trusted keys */
export const TRUSTED_KEYS_RULE_ID = 'TrustedKeysRequired';

export interface OrchestratorStackProps extends StackProps {
  orchestrator: OrchestratorPropsInput;
}

export class OrchestratorStack extends Stack {
  readonly config: OrchestratorProps;
  readonly tables: StateTables;
  readonly hotDirectory: HotDirectory;
  readonly eventBus: AgentsEventBus;
  readonly deadLetters: DeadLetters;
  readonly schedules: Schedules;
  readonly dispatch: DispatchQueue;
  readonly manager: AgentManager;
  readonly scheduler: Scheduler;
  readonly runner: Runner;
  readonly sandbox: AgentSandboxFunction;
  readonly monitor: HealthMonitor;
  readonly ledgerWriter: LedgerWriter;
  readonly digestBucket: DigestBucket;
  readonly ledgerDigests: LedgerDigests;
  readonly router: Router;
  readonly api: ControlApi;
  readonly healthEvents: HealthEvents;
  readonly monitoring: Monitoring;
  /** the Kafka bridge; undefined unless configured */
  readonly kafka?: KafkaBridge;
  /** every routing rule of shared/definitions/routing.ts, by id */
  readonly rules: Record<RuleDef['id'], events.Rule>;
  /** every schedule of shared/definitions/routing.ts, by id */
  readonly scheduleById: Record<ScheduleDef['id'], scheduler.Schedule>;
  /** every function, by component */
  readonly functions: Record<string, OrchestratorFunction>;

  constructor(scope: Construct, id: string, props: OrchestratorStackProps) {
    super(scope, id, props);
    this.config = resolveProps(props.orchestrator);
    const config = this.config;
    this.templateOptions.description =
      'Agent orchestrator: signed agent bundles, scheduler, isolated runners, health monitor, event bus with tamper-evident ledger';

    this.tables = new StateTables(this, 'Tables', { retainData: config.retainData });
    this.hotDirectory = new HotDirectory(this, 'HotDirectory', {
      retainData: config.retainData,
      noncurrentBundleDays: config.retention.noncurrentBundleDays,
      accessLogDays: config.retention.accessLogDays,
    });
    this.deadLetters = new DeadLetters(this, 'DeadLetters');
    this.eventBus = new AgentsEventBus(this, 'EventBus', { archiveDays: config.retention.archiveDays });
    this.schedules = new Schedules(this, 'Schedules');
    this.dispatch = new DispatchQueue(this, 'Dispatch', { runnerTimeoutSeconds: config.runner.timeoutSeconds });
    this.digestBucket = new DigestBucket(this, 'LedgerDigestBucket', {
      retentionDays: config.retention.digestDays,
      accessLogs: this.hotDirectory.accessLogs,
    });

    const environment: Record<string, string> = {
      HOT_BUCKET: this.hotDirectory.bucket.bucketName,
      EVENT_BUS_NAME: this.eventBus.bus.eventBusName,
      DISPATCH_QUEUE_URL: this.dispatch.queue.queueUrl,
      LEDGER_DIGEST_BUCKET: this.digestBucket.bucket.bucketName,
      AGENT_LEDGER_RETENTION_DAYS: String(config.retention.ledgerDays),
      LOG_LEVEL: config.logLevel,
      ...(config.trustedPublicKeys.length ? { AGENT_BUNDLE_PUBKEYS: config.trustedPublicKeys.join(',') } : {}),
      ...(config.agentEnv as Record<string, string>),
    };
    for (const def of TABLES) environment[def.envVar] = this.tables.tables[def.id].tableName;
    const functions: FunctionDefaults = {
      logRetention: config.retention.logDays as logs.RetentionDays,
      tracing: config.tracing,
      environment,
      asyncFailures: this.deadLetters.asyncFailures,
    };
    const ctx: OrchestratorContext = {
      props: config,
      functions,
      tables: this.tables.tables,
      hot: this.hotDirectory,
      bus: this.eventBus,
      deadLetters: this.deadLetters,
      schedules: this.schedules,
      dispatchQueue: this.dispatch.queue,
    };

    this.sandbox = new AgentSandboxFunction(this, 'AgentSandbox', ctx);
    this.manager = new AgentManager(this, 'AgentManager', ctx);
    this.scheduler = new Scheduler(this, 'Scheduler', ctx);
    this.runner = new Runner(this, 'Runner', ctx);
    // agent code runs (and bundles are inspected) in the sandbox function, never in these two
    this.sandbox.allowInvoke(this.manager.function);
    this.sandbox.allowInvoke(this.runner.function);
    this.monitor = new HealthMonitor(this, 'HealthMonitor', ctx);
    this.ledgerWriter = new LedgerWriter(this, 'LedgerWriter', ctx);
    this.ledgerDigests = new LedgerDigests(this, 'LedgerDigests', ctx, this.digestBucket);
    this.router = new Router(this, 'Router', ctx);

    const ruleList = [...this.manager.rules, ...this.monitor.rules, ...this.ledgerWriter.rules, ...this.router.rules];
    this.rules = Object.fromEntries(ruleList.map((r) => [r.node.id.replace(/Rule$/, ''), r])) as Record<RuleDef['id'], events.Rule>;
    const scheduleList = [
      ...this.manager.schedules,
      ...this.scheduler.schedules,
      ...this.monitor.schedules,
      ...this.ledgerDigests.schedules,
    ];
    this.scheduleById = Object.fromEntries(scheduleList.map((s) => [s.node.id.replace(/Schedule$/, ''), s])) as Record<
      ScheduleDef['id'],
      scheduler.Schedule
    >;

    if (config.kafka) this.kafka = new KafkaBridge(this, 'Kafka', ctx, config.kafka);

    const { Ledger: _alwaysOn, ...switchable } = this.rules;
    const { LedgerDigest: _anchoring, ...switchableSchedules } = this.scheduleById;
    this.api = new ControlApi(this, 'Api', ctx, {
      rules: switchable as Record<SwitchableRuleId, events.Rule>,
      schedules: switchableSchedules,
      digests: this.digestBucket,
      runnerEventSource: this.runner.eventSource,
      kafkaMappings: this.kafka?.mappings ?? [],
    });

    this.functions = {
      AgentManager: this.manager.function,
      Scheduler: this.scheduler.function,
      Runner: this.runner.function,
      Sandbox: this.sandbox.function,
      HealthMonitor: this.monitor.function,
      LedgerWriter: this.ledgerWriter.function,
      LedgerDigest: this.ledgerDigests.function,
      Router: this.router.function,
      Api: this.api.function,
      ApiStream: this.api.streamFunction,
      ...(this.kafka?.functions ?? {}),
    };

    this.healthEvents = new HealthEvents(this, 'HealthEvents', {
      bus: this.eventBus.bus,
      logRetention: functions.logRetention,
      deadLetterQueue: this.deadLetters.deliveryFailures,
    });
    this.monitoring = new Monitoring(this, 'Monitoring', {
      alarms: config.alarms,
      health: this.healthEvents,
      functions: this.functions,
      ledgerWriter: this.ledgerWriter.function,
      runner: this.runner.function,
      sandbox: this.sandbox.function,
      dispatchQueue: this.dispatch.queue,
      ledgerQueue: this.ledgerWriter.queue,
      deadLetterQueues: {
        DispatchDeadLetters: this.dispatch.deadLetters,
        LedgerDeadLetters: this.ledgerWriter.deadLetters,
        DeliveryFailures: this.deadLetters.deliveryFailures,
        AsyncFailures: this.deadLetters.asyncFailures,
        ...(this.kafka?.deadLetterQueues ?? {}),
      },
      httpApi: this.api.httpApi,
      notificationFailures: this.deadLetters.deliveryFailures,
    });

    // No trusted key and no explicit allowUnsignedBundles: synthesize (bootstrap, diff, destroy and
    // synth need the app, not the deploy options), but make the deployment itself fail. A
    // CloudFormation rule is evaluated before CloudFormation creates or updates anything; this
    // assertion can never hold (no region has that name), so a create or an update of this
    // template stops with the AssertDescription — also when a stack deployed with keys is
    // redeployed without them, which would otherwise strip the keys from every function.
    const refusal = deployRefusal(config);
    if (refusal) {
      new CfnRule(this, TRUSTED_KEYS_RULE_ID, {
        assertions: [{ assert: Fn.conditionEquals(Aws.REGION, 'no-trusted-bundle-signing-key'), assertDescription: refusal.rule }],
      });
      Annotations.of(this).addWarningV2('agent-orchestrator:no-trusted-keys', refusal.warning);
    }

    new CfnOutput(this, 'HotBucket', { value: this.hotDirectory.bucket.bucketName, description: 'agentctl publish --bucket' });
    new CfnOutput(this, 'EventBusName', { value: this.eventBus.bus.eventBusName });
    new CfnOutput(this, 'LedgerDigestBucketName', {
      value: this.digestBucket.bucket.bucketName,
      description: 'ledger digests (S3 Object Lock, compliance mode): GET /ledger/verify?digests=true checks the ledger against them',
    });
    for (const def of TABLES) new CfnOutput(this, `${def.id}Table`, { value: this.tables.tables[def.id].tableName });
    new CfnOutput(this, 'DashboardName', { value: this.monitoring.dashboard.dashboardName });

    acknowledgeFindings(this);
  }
}
