/**
 * Local mode host: one process that runs the whole orchestrator with no AWS account.
 *
 * It starts DynamoDB Local and s3rver (data under the data dir, so state survives restarts),
 * creates the tables and the bucket, and builds the orchestrator with the composition root
 * (functions/compose.ts) on the local platform (local/platform.ts): the very handlers the Lambdas
 * run, through the same AWS SDK adapters pointed at the local endpoints, with local stand-ins for
 * the AWS services that have no emulator. Besides:
 *
 *   S3 → EventBridge events   → s3rver notifications reshaped (local/s3-events.ts)
 *   API Gateway               → local/http.ts (same v2 event, same handler; the gRPC/Connect
 *                               services on the same port, HTTP/1.1 and h2c)
 *
 * With KAFKA_* set, the Kafka bridge (docs/kafka.md) runs too: its consumer joins its group in
 * the background once local mode has started (local mode does not wait for Kafka; a Kafka that
 * cannot be reached is logged, and the component `kafka` stays stopped until
 * `POST /components/kafka/start`), and stops before the bus drains.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { createLocalClients, type AwsClients } from '../shared/adapters/aws/clients';
import { ensureTables } from '../shared/adapters/aws/tables';
import type { S3BundleStore } from '../shared/adapters/aws/s3-bundle-store';
import { TABLES } from '../shared/definitions/tables';
import type { ScheduleDef } from '../shared/definitions/routing';
import { loadConfig, type Config } from '../shared/core/config';
import { parsePublicKey, publicKeyOf, signBundle } from '../shared/core/bundle/signing';
import { bundleKey } from '../shared/core/bundle/identity';
import type { ControlService } from '../shared/core/control/service';
import type { LedgerService } from '../shared/core/ledger/service';
import type { RunReport } from '../shared/core/runner/service';
import { createLogger, type Logger } from '../shared/core/logger';
import { endpointsFile, type LocalEndpoints } from '../shared/definitions/local-data';
import { compose, type Composition } from '../functions/compose';
import { startDynamoLocal, startS3Local, type DynamoLocal, type S3Local, type S3NotificationRecord } from './emulators';
import { ensureDevMaterial, lockDataDir, type DevMaterial } from './bootstrap';
import type { LocalBus } from './bus';
import type { LocalRunnerPool } from './runner';
import type { LocalTimers } from './timers';
import type { LocalComponentControl } from './components';
import { createLocalPlatform, type LocalPlatform } from './platform';
import { startHttpServer, type HttpServer } from './http';
import { toEventBridge } from './s3-events';

const here = dirname(fileURLToPath(import.meta.url));
export const EXAMPLES_DIR = join(here, '..', 'examples', 'agents');

const ExamplesSchema = z.array(z.object({ file: z.string(), name: z.string(), version: z.string() }));

export interface LocalOptions {
  dataDir: string;
  /** API port on 127.0.0.1; 0 picks a free one */
  port: number;
  env?: Record<string, string | undefined>;
  logger?: Logger;
  /** local timer periods in seconds, overriding the definitions' local periods (tests, soak) */
  periods?: Partial<Record<ScheduleDef['id'], number>>;
  /** runs at once in the local runner pool (default: DEFAULT_RUNNER_CONCURRENCY of local/runner.ts) */
  runnerConcurrency?: number;
  /** observes every run report (tests, soak) */
  onRun?: (report: RunReport) => void;
  /**
   * An emulator died under the running host (DynamoDB Local's JVM exited without stop()): local
   * mode cannot go on. Default: log it (the host is then unusable until restarted).
   */
  onEmulatorDied?: (info: { emulator: 'dynamodb'; code: number | null; signal: string | null; output: string }) => void;
}

export class LocalOrchestrator {
  readonly registry: Composition['registry'];
  readonly heartbeats: Composition['heartbeats'];
  readonly bundles: S3BundleStore;
  readonly ledger: LedgerService;
  readonly control: ControlService;
  readonly bus: LocalBus;
  readonly pool: LocalRunnerPool;
  readonly timers: LocalTimers;
  readonly components: LocalComponentControl;
  private readonly local: LocalPlatform;
  /** the Kafka bridge's start (background; never rejects) */
  kafkaStarted: Promise<void> = Promise.resolve();

  private constructor(
    readonly options: LocalOptions,
    readonly config: Config,
    readonly dev: DevMaterial,
    private ddbProc: DynamoLocal,
    private s3Proc: S3Local,
    readonly clients: AwsClients,
    /** every adapter, service and handler, built by the composition root */
    readonly composition: Composition,
    local: LocalPlatform,
    readonly http: HttpServer,
    readonly log: Logger,
    private readonly s3Listener: (ev: { Records?: S3NotificationRecord[] }) => void,
    private readonly dataDirLock: { release(): void },
  ) {
    ({
      registry: this.registry,
      heartbeats: this.heartbeats,
      bundles: this.bundles,
      ledger: this.ledger,
      control: this.control,
    } = composition);
    ({ bus: this.bus, pool: this.pool, timers: this.timers, components: this.components } = local);
    this.local = local;
  }

  get ddb(): DynamoLocal {
    return this.ddbProc;
  }

  get s3(): S3Local {
    return this.s3Proc;
  }

  get apiUrl(): string {
    return this.http.url;
  }

  /**
   * Starts local mode in phases: configuration and dev material → emulators → tables and bucket →
   * the composition on the local platform → the S3 notifications and the API listener → timers
   * and the catch-up rescan.
   */
  static async start(opts: LocalOptions): Promise<LocalOrchestrator> {
    const log = opts.logger ?? createLogger({ service: 'local' });
    const dev = ensureDevMaterial(opts.dataDir);
    const lock = lockDataDir(opts.dataDir);
    const config = LocalOrchestrator.configure(opts, dev);
    let ddb: DynamoLocal;
    try {
      ddb = await startDynamoLocal({
        dbPath: join(opts.dataDir, 'dynamodb'),
        namespaceKeyId: dev.dynamoKeyId,
        onUnexpectedExit: LocalOrchestrator.emulatorDied(opts, log),
      });
    } catch (e) {
      lock.release();
      throw e;
    }
    let s3: S3Local | undefined;
    try {
      s3 = await startS3Local({ directory: join(opts.dataDir, 's3'), buckets: [config.HOT_BUCKET] });
      const clients = createLocalClients({ dynamodb: ddb.endpoint, s3: s3.endpoint }, dev.dynamoKeyId);
      await ensureTables(clients.ddbRaw, TABLES, {
        Registry: config.REGISTRY_TABLE,
        Heartbeats: config.HEARTBEAT_TABLE,
        Ledger: config.LEDGER_TABLE,
      });

      const local = createLocalPlatform({
        config,
        dataDir: opts.dataDir,
        clients,
        token: dev.token,
        logger: log,
        periods: opts.periods,
        runnerConcurrency: opts.runnerConcurrency,
        onRun: opts.onRun,
      });
      const composition = compose(config, local.platform);
      local.connect(composition);
      // the read model (local/read-model.ts): loaded before anything reads or writes through it
      await composition.ready();

      // s3rver's notifications, reshaped into the EventBridge events S3 puts on the default bus
      const s3Listener = (ev: { Records?: S3NotificationRecord[] }) => {
        for (const rec of ev.Records ?? []) {
          const eb = toEventBridge(rec);
          if (eb) local.bus.putDefaultBusEvent(eb);
        }
      };
      s3.events.on('event', s3Listener);
      const http = await startHttpServer({
        handler: composition.handlers.api,
        streamHandler: composition.stream(),
        rpc: composition.rpc(),
        port: opts.port,
        host: '127.0.0.1',
        logger: log.child({ component: 'http' }),
      });

      const host = new LocalOrchestrator(opts, config, dev, ddb, s3, clients, composition, local, http, log, s3Listener, lock);
      local.timers.start();
      // catch up with whatever changed in the hot directory while local mode was not running
      await local.timers.fire('Rescan');
      host.kafkaStarted = host.startKafka();
      return host;
    } catch (e) {
      await s3?.stop();
      await ddb.stop();
      lock.release();
      throw e;
    }
  }

  /** Joins the Kafka bridge's consumer group (if configured); a Kafka that cannot be reached is logged, not fatal. */
  private async startKafka(): Promise<void> {
    if (!this.config.kafka) return;
    try {
      await this.components.set('kafka', true);
    } catch (e) {
      this.log.error('the Kafka bridge could not start; it stays stopped (POST /components/kafka/start retries)', { error: e });
    }
  }

  /** The configuration from the environment; local mode trusts its dev key in addition to any configured keys. */
  private static configure(opts: LocalOptions, dev: DevMaterial): Config {
    const config = loadConfig({ ...(opts.env ?? process.env) });
    if (!config.trustedKeys.some((k) => k.id === dev.publicKey)) config.trustedKeys.push(parsePublicKey(dev.publicKey));
    return config;
  }

  /** What a JVM exiting under the host (not through stop()) does: log, then the host's callback. */
  private static emulatorDied(opts: LocalOptions, log: Logger) {
    return (info: { code: number | null; signal: NodeJS.Signals | null; stderr: string }) => {
      log.error('DynamoDB Local exited unexpectedly; local mode cannot go on', {
        code: info.code,
        signal: info.signal,
        output: info.stderr.slice(-1000),
      });
      opts.onEmulatorDied?.({ emulator: 'dynamodb', code: info.code, signal: info.signal, output: info.stderr });
    };
  }

  /** Signs (dev key) and uploads the example agents that are not registered yet (first start). */
  async publishExamples(): Promise<string[]> {
    const list = ExamplesSchema.parse(JSON.parse(readFileSync(join(EXAMPLES_DIR, 'examples.json'), 'utf8')));
    const published: string[] = [];
    for (const ex of list) {
      if (await this.registry.get(ex.name)) continue;
      const bytes = new Uint8Array(readFileSync(join(EXAMPLES_DIR, ex.file)));
      const signature = signBundle(this.dev.privateKey, ex.name, ex.version, bytes);
      await this.bundles.put(bundleKey(ex.name, ex.version), bytes, { signature, signer: publicKeyOf(this.dev.privateKey) });
      published.push(`${ex.name}@${ex.version}`);
    }
    return published;
  }

  writeEndpoints(): LocalEndpoints {
    const ep: LocalEndpoints = {
      api: this.apiUrl,
      s3: this.s3.endpoint,
      dynamodb: this.ddb.endpoint,
      bucket: this.config.HOT_BUCKET,
      pid: process.pid,
      dynamodbPid: this.ddb.pid,
    };
    writeFileSync(endpointsFile(this.options.dataDir), JSON.stringify(ep, null, 2) + '\n');
    return ep;
  }

  /** Resolves when the bus has delivered everything published so far and no run is in progress or due now. */
  async idle(): Promise<void> {
    for (let i = 0; i < 5; i++) {
      await this.bus.idle();
      await this.pool.idle();
    }
    await this.bus.idle();
  }

  /**
   * Fault injection (soak): stops DynamoDB Local, waits `downMs`, starts it again on the same port
   * and data directory. Requests meanwhile fail like a network partition; the SDK's retries, the
   * bus's and the runner pool's bounded retries, and the conditional writes have to cope.
   */
  async restartDynamo(downMs: number): Promise<void> {
    const port = this.ddbProc.port;
    await this.ddbProc.stop();
    await new Promise((r) => setTimeout(r, downMs));
    this.ddbProc = await startDynamoLocal({
      port,
      dbPath: join(this.options.dataDir, 'dynamodb'),
      namespaceKeyId: this.dev.dynamoKeyId,
      onUnexpectedExit: LocalOrchestrator.emulatorDied(this.options, this.log),
    });
  }

  /** Fault injection (soak): the same for s3rver (same port and directory, events re-attached). */
  async restartS3(downMs: number): Promise<void> {
    const port = this.s3Proc.port;
    this.s3Proc.events.off('event', this.s3Listener);
    await this.s3Proc.stop();
    await new Promise((r) => setTimeout(r, downMs));
    this.s3Proc = await startS3Local({ port, directory: join(this.options.dataDir, 's3'), buckets: [this.config.HOT_BUCKET] });
    this.s3Proc.events.on('event', this.s3Listener);
  }

  /**
   * Clean shutdown: stop accepting requests and firing schedules, let runs in progress finish
   * (their heartbeats and events are written), deliver what is on the bus (the ledger gets every
   * event), then stop the emulators (DynamoDB Local flushes its files).
   */
  async stop(): Promise<void> {
    const step = async (what: string, fn: () => Promise<unknown> | unknown) => {
      try {
        await fn();
      } catch (e) {
        this.log.error('shutdown step failed', { step: what, error: e });
      }
    };
    await step('http', () => this.http.close());
    this.s3.events.off('event', this.s3Listener);
    await step('timers', () => this.timers.stop());
    await step('kafka consumer', async () => {
      await this.kafkaStarted;
      await this.local.kafkaConsumer()?.stop();
    });
    await step('runner', () => this.pool.stop());
    await step('agent processes', () => this.local.processes.close());
    await step('bus', () => this.bus.idle());
    await step('kafka producer', () => this.composition.kafka?.producer.close());
    await step('s3', () => this.s3.stop());
    await step('dynamodb', () => this.ddb.stop());
    const ep = endpointsFile(this.options.dataDir);
    if (existsSync(ep)) rmSync(ep);
    this.dataDirLock.release();
  }
}
