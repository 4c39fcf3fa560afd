/**
 * The composition root: the one place where adapters, services and handlers are built. The
 * Lambda entry points (functions/* /handler.ts through functions/lambda.ts) and local mode
 * (local/host.ts) both call `compose(config, platform)`; the platform (functions/platform.ts,
 * local/platform.ts) is the only thing that differs.
 *
 * Stores, services and handlers are plain objects, built once per container (or local mode
 * process); what needs settings only some functions have (the component switches of the API)
 * is built on first use, so a missing setting fails only the function that needs it.
 *
 *   S3 upload ─▶ [HotDirectory rule] ─▶ agentManager ─▶ registry (DynamoDB) ─▶ agent.registered ─┐
 *   scheduler tick ─▶ schedule (due index) ─▶ dispatcher ─▶ runner ─▶ sandbox (agent code)      │
 *                                                             └─▶ heartbeats, agent.cycle/failed ─┤
 *   POST /events, agents' envelopes ─▶ bus (events) ─┬─▶ router ─▶ dispatcher ─▶ runner         │
 *                                                    ├─▶ healthMonitor (agent.failed)           │
 *                                                    ├─▶ kafka-producer ─▶ Kafka (if configured) │
 *                                                    └─▶ ledgerWriter ─▶ ledger (DynamoDB) ◀────┘
 *   Kafka ─▶ consumer (local) / event source mapping (cloud) ─▶ kafka inbound ─▶ bus (events)
 *   digest schedule ─▶ ledgerDigest ─▶ ledger head ─▶ digests (S3 Object Lock / data-dir file)
 */
import { DynamoRegistry, DynamoSchedule } from '../shared/adapters/aws/dynamo-registry';
import { DynamoHeartbeats } from '../shared/adapters/aws/dynamo-heartbeats';
import { DynamoLedgerStore } from '../shared/adapters/aws/dynamo-ledger';
import { S3BundleStore } from '../shared/adapters/aws/s3-bundle-store';
import { KafkaJsConsumer, KafkaJsProducer, type KafkaConnection } from '../shared/adapters/kafka/kafkajs';
import type { Config } from '../shared/core/config';
import { ConfigError } from '../shared/core/errors';
import type { KafkaConfig } from '../shared/core/kafka/config';
import { KafkaInbound, KafkaOutbound } from '../shared/core/kafka/service';
import { verifierFromName } from '../shared/core/bundle/signing';
import { AgentManager } from '../shared/core/manager/service';
import { ControlService } from '../shared/core/control/service';
import { LedgerService } from '../shared/core/ledger/service';
import { healthPolicyFrom } from '../shared/core/health/policy';
import type { DispatchMessage } from '../shared/core/dispatch';
import type { RunReport } from '../shared/core/runner/service';
import type { Clock } from '../shared/core/clock';
import type { Logger } from '../shared/core/logger';
import { z } from 'zod';
import type { Platform } from './platform';
import type { HeartbeatClaimReader, HeartbeatStore, RegistryStore, ScheduleStore, StubCounter } from '../shared/core/ports';
import type { FleetMetrics } from './api/metrics';
import { createManagerHandler } from './agent-manager/core';
import { createSchedulerHandler, schedulerBudgetMs, schedulerHorizonMs, SCHEDULER_ADVANCES_PER_SECOND } from './scheduler/core';
import { createRunnerCore, createRunnerHandler } from './runner/core';
import { createHealthMonitorHandler } from './health-monitor/core';
import { createLedgerWriterHandler } from './ledger-writer/core';
import { createLedgerDigestHandler } from './ledger-digest/core';
import { createRouterHandler } from './router/core';
import { createApiHandler, type ApiHandler } from './api/app';
import { createStreamHandler, type StreamHandler } from './api/stream-core';
import type { ApiDeps, StreamSettings } from './api/deps';
import { createRpcServer, type RpcServer } from './api/rpc/server';
import { createSandboxHandler } from './sandbox/core';

import { NotConfiguredError } from './api/errors';
import { createKafkaInboundHandler } from './kafka-inbound/core';
import { createKafkaProducerHandler } from './kafka-producer/core';

/** The handlers of the Lambda functions, by function name (infra/ names them the same). */
export type HandlerName =
  | 'agent-manager'
  | 'scheduler'
  | 'runner'
  | 'health-monitor'
  | 'ledger-writer'
  | 'ledger-digest'
  | 'router'
  | 'api'
  | 'sandbox'
  | 'kafka-producer'
  | 'kafka-inbound';

/**
 * The Kafka bridge (docs/kafka.md), built when KAFKA_* configures it: both directions' services
 * and the KafkaJS adapters they run on. The producer connects on its first send. The consumer is
 * local mode's (local/platform.ts starts and stops it as the component `kafka`); in the cloud the
 * Lambda event source mapping consumes and invokes `handlers['kafka-inbound']` instead.
 */
export interface KafkaBridge {
  config: KafkaConfig;
  inbound: KafkaInbound;
  outbound: KafkaOutbound;
  producer: KafkaJsProducer;
  /** a new consumer-group member that hands what it reads to `inbound` */
  consumer(opts?: { sessionTimeoutMs?: number }): KafkaJsConsumer;
}

/** Username and password of a SASL secret (Secrets Manager, JSON). */
const SaslSecretSchema = z.object({ username: z.string().min(1), password: z.string() });

/** How the bridge reaches Kafka; a SASL secret (cloud) is read when the first client connects. */
function kafkaConnection(k: KafkaConfig, platform: Platform): () => Promise<KafkaConnection> {
  return async () => {
    if (k.brokers.length === 0) throw new ConfigError('KAFKA_BROKERS is not set: the Kafka bridge has no brokers to connect to');
    let sasl: KafkaConnection['sasl'] = null;
    if (k.sasl && 'secretArn' in k.sasl) {
      if (!platform.secret)
        throw new ConfigError('KAFKA_SECRET_ARN is only read in the cloud; locally set KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD');
      const parsed = SaslSecretSchema.safeParse(JSON.parse(await platform.secret(k.sasl.secretArn)));
      if (!parsed.success) throw new ConfigError(`the secret ${k.sasl.secretArn} must be JSON {"username": ..., "password": ...}`);
      sasl = { mechanism: k.sasl.mechanism, ...parsed.data };
    } else if (k.sasl) sasl = { mechanism: k.sasl.mechanism, username: k.sasl.username, password: k.sasl.password };
    return { brokers: k.brokers, clientId: KAFKA_CLIENT_ID, ssl: k.ssl, sasl };
  };
}

/** client id of the bridge's Kafka clients (broker logs and quotas) */
export const KAFKA_CLIENT_ID = 'agent-orchestrator';

/** A handler of a component this deployment does not have. */
const notConfigured = (what: string) => async (): Promise<never> => {
  throw new NotConfiguredError(what);
};

export class Composition {
  // stores: the AWS SDK adapters (local mode points the same clients at the emulators)
  readonly registry: RegistryStore;
  readonly schedule: ScheduleStore;
  readonly heartbeats: HeartbeatStore & HeartbeatClaimReader & StubCounter;
  /** loads what the platform's store decorators serve from (local mode's read model); resolves at once otherwise */
  readonly ready: () => Promise<void>;
  private readonly fleet: (() => FleetMetrics) | undefined;
  readonly bundles: S3BundleStore;
  /** the ledger: reads, verify and replay (which publishes on the bus), and the writer's append */
  readonly ledger: LedgerService;
  // services
  readonly manager: AgentManager;
  readonly control: ControlService;
  /** the Kafka bridge; null unless KAFKA_* configures it */
  readonly kafka: KafkaBridge | null;
  /** one run: what the runner Lambda's SQS handler and local mode's runner pool call */
  readonly runnerCore: (msg: DispatchMessage) => Promise<RunReport>;
  /** the handlers of the functions (local mode delivers the same events to the same handlers) */
  readonly handlers: Record<Exclude<HandlerName, 'api'>, (event: unknown) => Promise<unknown>> & { api: ApiHandler };
  private apiDepsBuilt: ApiDeps | undefined;
  private api: ApiHandler | undefined;
  private rpcServer: RpcServer | undefined;
  private sandboxHandler: ((event: unknown) => Promise<unknown>) | undefined;

  /**
   * Builds the stores, services and handlers (plain objects: no I/O happens here). What needs
   * settings only some functions have (the component switches, the API's dependencies) is
   * built on first use.
   */
  constructor(
    readonly config: Config,
    readonly platform: Platform,
    /** settings of the event stream (local mode polls faster than the cloud's defaults) */
    private readonly streamSettings: StreamSettings = {},
  ) {
    const { clients, events } = platform;
    const shards = config.AGENT_SCHEDULE_SHARDS;
    const clock = platform.clock ? { clock: platform.clock } : {};
    const logger = (component: string) => platform.logger.child({ component });

    const built = {
      registry: new DynamoRegistry(clients.ddb, config.REGISTRY_TABLE, { shards }),
      schedule: new DynamoSchedule(clients.ddb, config.REGISTRY_TABLE),
      heartbeats: new DynamoHeartbeats(clients.ddb, config.HEARTBEAT_TABLE, { shards }),
    };
    const decorated = platform.decorateStores?.(built);
    ({ registry: this.registry, schedule: this.schedule, heartbeats: this.heartbeats } = decorated ?? built);
    this.ready = decorated ? () => decorated.load() : async () => {};
    this.fleet = decorated?.fleet;
    this.bundles = new S3BundleStore(clients.s3, config.HOT_BUCKET);
    const baseLedgerStore = new DynamoLedgerStore(clients.ddb, config.LEDGER_TABLE);
    const ledgerStore = platform.decorateLedgerStore?.(baseLedgerStore) ?? baseLedgerStore;
    const digests = platform.digests();
    this.ledger = new LedgerService({
      store: ledgerStore,
      publisher: events,
      ...(digests ? { digests } : {}),
      retentionDays: config.AGENT_LEDGER_RETENTION_DAYS,
      logger: logger('ledger'),
      ...clock,
    });

    const stores = { registry: this.registry, heartbeats: this.heartbeats, events };
    this.manager = new AgentManager({
      ...stores,
      bundles: this.bundles,
      inspector: platform.sandbox(),
      trustedKeys: config.trustedKeys,
      maxBytes: config.AGENT_MAX_BUNDLE_BYTES,
      verifier: verifierFromName(config.AGENT_VERIFIER),
      logger: logger('manager'),
      ...clock,
    });
    const dispatcher = platform.dispatcher();
    this.control = new ControlService({ ...stores, dispatcher, policy: healthPolicyFrom(config), logger: logger('control'), ...clock });
    this.runnerCore = createRunnerCore({
      ...stores,
      bundles: this.bundles,
      sandbox: platform.sandbox(),
      config,
      logger: logger('runner'),
      ...clock,
    });

    this.kafka = config.kafka ? buildKafka(config.kafka, platform, logger('kafka'), clock) : null;

    const horizonMs = schedulerHorizonMs(platform.tickSeconds);
    const fanOut = platform.shardFanOut?.();
    this.handlers = {
      'agent-manager': createManagerHandler({ manager: this.manager, bucket: config.HOT_BUCKET, logger: logger('manager') }),
      scheduler: createSchedulerHandler({
        schedule: this.schedule,
        dispatcher,
        ...(fanOut ? { fanOut } : {}),
        config: {
          shards,
          horizonMs,
          ...(platform.schedulerFillAheadSeconds !== undefined ? { fillAheadMs: platform.schedulerFillAheadSeconds * 1000 } : {}),
          budgetMs: schedulerBudgetMs(platform.tickSeconds),
          maxAdvancesPerSecond: SCHEDULER_ADVANCES_PER_SECOND,
        },
        logger: logger('scheduler'),
        ...clock,
      }),
      runner: createRunnerHandler(this.runnerCore, logger('runner')),
      'health-monitor': createHealthMonitorHandler({ ...stores, config, logger: logger('monitor'), ...clock }),
      'ledger-writer': createLedgerWriterHandler({ ledger: this.ledger, logger: logger('ledger-writer') }),
      'ledger-digest': createLedgerDigestHandler({ ledger: this.ledger, logger: logger('ledger-digest') }),
      router: createRouterHandler({ registry: this.registry, dispatcher, logger: logger('router') }),
      // the sandbox function's: agent code in the process runtime (built when first used)
      sandbox: (event) => {
        this.sandboxHandler ??= createSandboxHandler({
          runtime: platform.isolatedRuntime(),
          maxBytes: config.AGENT_MAX_BUNDLE_BYTES,
          logger: logger('sandbox'),
        });
        return this.sandboxHandler(event);
      },
      'kafka-producer': this.kafka
        ? createKafkaProducerHandler({ outbound: this.kafka.outbound, logger: logger('kafka') })
        : notConfigured('the Kafka bridge (KAFKA_BROKERS, KAFKA_OUTBOUND)'),
      'kafka-inbound': this.kafka
        ? createKafkaInboundHandler({ inbound: this.kafka.inbound, logger: logger('kafka') })
        : notConfigured('the Kafka bridge (KAFKA_INBOUND)'),
      // the API's dependencies include the component switches: built on its first request
      api: (event) => {
        this.api ??= createApiHandler(this.apiDeps);
        return this.api(event);
      },
    };
  }

  /** what the API and its event stream read and act on (built once, on first use) */
  get apiDeps(): ApiDeps {
    this.apiDepsBuilt ??= {
      auth: this.platform.auth,
      control: this.control,
      registry: this.registry,
      heartbeats: this.heartbeats,
      ledger: this.ledger,
      replay: (r) => this.ledger.replay(r),
      events: this.platform.events,
      components: this.platform.components(),
      ...(this.platform.busCounters ? { busCounters: this.platform.busCounters } : {}),
      ...(this.fleet ? { fleet: this.fleet } : {}),
      perAgent: this.config.METRICS_PER_AGENT,
      stream: this.streamSettings,
      logger: this.platform.logger.child({ component: 'api' }),
      ...(this.platform.clock ? { clock: this.platform.clock } : {}),
    };
    return this.apiDepsBuilt;
  }

  /** the gRPC/Connect services on a node server (local mode's API port: gRPC over h2c, Connect, gRPC-Web) */
  rpc(): RpcServer {
    this.rpcServer ??= createRpcServer(this.apiDeps);
    return this.rpcServer;
  }

  /** the `GET /events/stream` handler of the streaming function URL and the local server */
  stream(settings: StreamSettings = {}): StreamHandler {
    return createStreamHandler({ ...this.apiDeps, stream: { ...this.apiDeps.stream, ...settings } });
  }
}

function buildKafka(k: KafkaConfig, platform: Platform, log: Logger, clock: { clock?: Clock }): KafkaBridge {
  const connection = kafkaConnection(k, platform);
  const producer = new KafkaJsProducer({ connection, logger: log });
  const inbound = new KafkaInbound({ events: platform.events, routes: k.inbound, logger: log, ...clock });
  return {
    config: k,
    inbound,
    outbound: new KafkaOutbound({ producer, routes: k.outbound, logger: log }),
    producer,
    consumer: (opts = {}) =>
      new KafkaJsConsumer({
        connection,
        group: k.group,
        topics: inbound.topics,
        onBatch: (records) => inbound.handle(records),
        logger: log,
        ...opts,
      }),
  };
}

/** The composition root: every adapter, service and handler of the orchestrator on `platform`. */
export function compose(config: Config, platform: Platform, opts: { stream?: StreamSettings } = {}): Composition {
  return new Composition(config, platform, opts.stream);
}
