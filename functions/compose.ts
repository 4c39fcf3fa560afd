/**
 * The composition root: the one place where adapters, services and handlers are built. The
 * Lambda entry points (functions/* /handler.ts through functions/lambda.ts) and local mode
 * (local/host.ts) both call `compose(config, platform)`; the platform (functions/platform.ts,
 * local/platform.ts) is the only thing that differs.
 *
 * Everything is built when first used and then kept (a Lambda container builds only what its
 * handler needs, once; a missing setting fails only the component that needs it).
 *
 *   S3 upload ─▶ [HotDirectory rule] ─▶ agentManager ─▶ registry (DynamoDB) ─▶ agent.registered ─┐
 *   scheduler tick ─▶ schedule (due index) ─▶ dispatcher ─▶ runner ─▶ sandbox (agent code)      │
 *                                                             └─▶ heartbeats, agent.cycle/failed ─┤
 *   POST /events, agents' envelopes ─▶ bus (events) ─┬─▶ router ─▶ dispatcher ─▶ runner         │
 *                                                    ├─▶ healthMonitor (agent.failed)           │
 *                                                    └─▶ ledgerWriter ─▶ ledger (DynamoDB) ◀────┘
 */
import { DynamoRegistry, DynamoSchedule } from '../shared/adapters/aws/dynamo-registry';
import { DynamoHeartbeats } from '../shared/adapters/aws/dynamo-heartbeats';
import { DynamoLedgerStore } from '../shared/adapters/aws/dynamo-ledger';
import { S3BundleStore } from '../shared/adapters/aws/s3-bundle-store';
import type { Config } from '../shared/core/config';
import { verifierFromName } from '../shared/core/bundle/signing';
import { AgentManager } from '../shared/core/manager/service';
import { ControlService } from '../shared/core/control/service';
import { LedgerService } from '../shared/core/ledger/service';
import { healthPolicyFrom } from '../shared/core/health/policy';
import type { DispatchMessage } from '../shared/core/dispatch';
import type { RunReport } from '../shared/core/runner/service';
import type { Platform } from './platform';
import { createManagerHandler } from './agent-manager/core';
import { createSchedulerHandler, schedulerHorizonMs } from './scheduler/core';
import { createRunnerCore, createRunnerHandler } from './runner/core';
import { createHealthMonitorHandler } from './health-monitor/core';
import { createLedgerWriterHandler } from './ledger-writer/core';
import { createRouterHandler } from './router/core';
import { createApiHandler, type ApiHandler } from './api/app';
import { createStreamHandler, type StreamHandler } from './api/stream-core';
import type { ApiDeps, StreamSettings } from './api/deps';

/** The handlers of the Lambda functions, by function name (infra/ names them the same). */
export type HandlerName = 'agent-manager' | 'scheduler' | 'runner' | 'health-monitor' | 'ledger-writer' | 'router' | 'api';

export class Composition {
  private readonly built = new Map<string, unknown>();

  constructor(
    readonly config: Config,
    readonly platform: Platform,
    /** settings of the event stream (local mode polls faster than the cloud's defaults) */
    private readonly streamSettings: StreamSettings = {},
  ) {}

  /** Builds `what` once, on first use. */
  private once<T>(what: string, build: () => T): T {
    if (!this.built.has(what)) this.built.set(what, build());
    return this.built.get(what) as T;
  }

  private logger(component: string) {
    return this.platform.logger.child({ component });
  }

  private get clock() {
    return this.platform.clock ? { clock: this.platform.clock } : {};
  }

  // --- stores (the AWS SDK adapters; local mode points the same clients at the emulators)

  get registry(): DynamoRegistry {
    return this.once(
      'registry',
      () => new DynamoRegistry(this.platform.clients.ddb, this.config.REGISTRY_TABLE, { shards: this.config.AGENT_SCHEDULE_SHARDS }),
    );
  }

  get schedule(): DynamoSchedule {
    return this.once('schedule', () => new DynamoSchedule(this.platform.clients.ddb, this.config.REGISTRY_TABLE));
  }

  get heartbeats(): DynamoHeartbeats {
    return this.once(
      'heartbeats',
      () => new DynamoHeartbeats(this.platform.clients.ddb, this.config.HEARTBEAT_TABLE, { shards: this.config.AGENT_SCHEDULE_SHARDS }),
    );
  }

  get bundles(): S3BundleStore {
    return this.once('bundles', () => new S3BundleStore(this.platform.clients.s3, this.config.HOT_BUCKET));
  }

  /** the ledger: reads, verify and replay (which publishes on the bus), and the writer's append */
  get ledger(): LedgerService {
    return this.once(
      'ledger',
      () =>
        new LedgerService({
          store: new DynamoLedgerStore(this.platform.clients.ddb, this.config.LEDGER_TABLE),
          publisher: this.platform.events,
          retentionDays: this.config.AGENT_LEDGER_RETENTION_DAYS,
          logger: this.logger('ledger'),
          ...this.clock,
        }),
    );
  }

  // --- services

  get manager(): AgentManager {
    return this.once(
      'manager',
      () =>
        new AgentManager({
          registry: this.registry,
          bundles: this.bundles,
          events: this.platform.events,
          inspector: this.platform.sandbox(),
          trustedKeys: this.config.trustedKeys,
          maxBytes: this.config.AGENT_MAX_BUNDLE_BYTES,
          verifier: verifierFromName(this.config.AGENT_VERIFIER),
          logger: this.logger('manager'),
          ...this.clock,
        }),
    );
  }

  get control(): ControlService {
    return this.once(
      'control',
      () =>
        new ControlService({
          registry: this.registry,
          heartbeats: this.heartbeats,
          dispatcher: this.platform.dispatcher(),
          events: this.platform.events,
          policy: healthPolicyFrom(this.config),
          logger: this.logger('control'),
          ...this.clock,
        }),
    );
  }

  /** one run: what the runner Lambda's SQS handler and local mode's runner pool call */
  get runnerCore(): (msg: DispatchMessage) => Promise<RunReport> {
    return this.once('runnerCore', () =>
      createRunnerCore({
        registry: this.registry,
        heartbeats: this.heartbeats,
        bundles: this.bundles,
        events: this.platform.events,
        sandbox: this.platform.sandbox(),
        config: this.config,
        logger: this.logger('runner'),
        ...this.clock,
      }),
    );
  }

  // --- the handlers of the functions (local mode delivers the same events to the same handlers)

  get handlers() {
    return {
      'agent-manager': this.once('h:agent-manager', () =>
        createManagerHandler({ manager: this.manager, bucket: this.config.HOT_BUCKET, logger: this.logger('manager') }),
      ),
      scheduler: this.once('h:scheduler', () =>
        createSchedulerHandler({
          schedule: this.schedule,
          dispatcher: this.platform.dispatcher(),
          config: { shards: this.config.AGENT_SCHEDULE_SHARDS, horizonMs: schedulerHorizonMs(this.platform.tickSeconds) },
          logger: this.logger('scheduler'),
          ...this.clock,
        }),
      ),
      runner: this.once('h:runner', () => createRunnerHandler(this.runnerCore, this.logger('runner'))),
      'health-monitor': this.once('h:health-monitor', () =>
        createHealthMonitorHandler({
          registry: this.registry,
          heartbeats: this.heartbeats,
          events: this.platform.events,
          config: this.config,
          logger: this.logger('monitor'),
          ...this.clock,
        }),
      ),
      'ledger-writer': this.once('h:ledger-writer', () =>
        createLedgerWriterHandler({ ledger: this.ledger, logger: this.logger('ledger-writer') }),
      ),
      router: this.once('h:router', () =>
        createRouterHandler({ registry: this.registry, dispatcher: this.platform.dispatcher(), logger: this.logger('router') }),
      ),
      api: this.once('h:api', (): ApiHandler => createApiHandler(this.apiDeps)),
    } satisfies Record<HandlerName, (event: never) => Promise<unknown>>;
  }

  /** what the API and its event stream read and act on */
  get apiDeps(): ApiDeps {
    return this.once('apiDeps', () => ({
      auth: this.platform.auth,
      control: this.control,
      registry: this.registry,
      heartbeats: this.heartbeats,
      ledger: this.ledger,
      replay: (r) => this.ledger.replay(r),
      events: this.platform.events,
      components: this.platform.components(),
      ...(this.platform.busCounters ? { busCounters: this.platform.busCounters } : {}),
      stream: this.streamSettings,
      logger: this.logger('api'),
      ...this.clock,
    }));
  }

  /** the `GET /events/stream` handler of the streaming function URL and the local server */
  stream(settings: StreamSettings = {}): StreamHandler {
    return createStreamHandler({ ...this.apiDeps, stream: { ...this.apiDeps.stream, ...settings } });
  }
}

/** The composition root: every adapter, service and handler of the orchestrator on `platform`. */
export function compose(config: Config, platform: Platform, opts: { stream?: StreamSettings } = {}): Composition {
  return new Composition(config, platform, opts.stream);
}
