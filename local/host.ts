/**
 * Local mode host: starts DynamoDB Local and s3rver (data under the data dir, so it survives
 * restarts), creates tables and the bucket, and runs the same handler cores the Lambdas run,
 * through the same AWS SDK adapters pointed at the local endpoints.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { createLocalClients, type AwsClients } from '../shared/adapters/aws/clients';
import { ensureTables } from '../shared/adapters/aws/tables';
import { DynamoRegistry } from '../shared/adapters/aws/dynamo-registry';
import { S3BundleStore } from '../shared/adapters/aws/s3-bundle-store';
import { TABLES } from '../shared/definitions/tables';
import { loadConfig, type Config } from '../shared/core/config';
import { parsePublicKey } from '../shared/core/bundle/signing';
import { signBundle, publicKeyOf } from '../shared/core/bundle/signing';
import { bundleKey } from '../shared/core/bundle/identity';
import { AgentManager } from '../shared/core/manager/service';
import type { BundleInspector, EventPublisher } from '../shared/core/ports';
import { createLogger, type Logger } from '../shared/core/logger';
import { endpointsFile, type LocalEndpoints } from '../cli/local-endpoints';
import { startDynamoLocal, startS3Local, type DynamoLocal, type S3Local } from './emulators';
import { ensureDevMaterial, type DevMaterial } from './bootstrap';
import { LocalManagerComponent } from './manager';
import type { LocalComponent } from './component';

const here = dirname(fileURLToPath(import.meta.url));
export const EXAMPLES_DIR = join(here, '..', 'examples', 'agents');

const ExamplesSchema = z.array(z.object({ file: z.string(), name: z.string(), version: z.string() }));

export interface LocalOptions {
  dataDir: string;
  /** API port; 0 picks a free one */
  port: number;
  env?: Record<string, string | undefined>;
  logger?: Logger;
  publishExamples?: boolean;
  inspector: BundleInspector;
  events: EventPublisher;
}

export class LocalOrchestrator {
  readonly components: LocalComponent[] = [];

  private constructor(
    readonly options: LocalOptions,
    readonly config: Config,
    readonly dev: DevMaterial,
    readonly ddb: DynamoLocal,
    readonly s3: S3Local,
    readonly clients: AwsClients,
    readonly registry: DynamoRegistry,
    readonly bundles: S3BundleStore,
    readonly manager: AgentManager,
    readonly managerComponent: LocalManagerComponent,
    readonly log: Logger,
  ) {}

  static async start(opts: LocalOptions): Promise<LocalOrchestrator> {
    const log = opts.logger ?? createLogger({ service: 'local' });
    const dev = ensureDevMaterial(opts.dataDir);
    const env = { ...(opts.env ?? process.env) };
    const config = loadConfig(env);
    // local mode trusts its dev key in addition to any configured keys
    if (!config.trustedKeys.some((k) => k.id === dev.publicKey)) config.trustedKeys.push(parsePublicKey(dev.publicKey));
    const ddb = await startDynamoLocal({ dbPath: join(opts.dataDir, 'dynamodb') });
    let s3: S3Local | undefined;
    try {
      s3 = await startS3Local({ directory: join(opts.dataDir, 's3'), buckets: [config.HOT_BUCKET] });
      const clients = createLocalClients({ dynamodb: ddb.endpoint, s3: s3.endpoint });
      await ensureTables(clients.ddbRaw, TABLES, { Registry: config.REGISTRY_TABLE, Heartbeats: config.HEARTBEAT_TABLE, Ledger: config.LEDGER_TABLE });
      const registry = new DynamoRegistry(clients.ddb, config.REGISTRY_TABLE);
      const bundles = new S3BundleStore(clients.s3, config.HOT_BUCKET);
      const manager = new AgentManager({
        registry,
        bundles,
        events: opts.events,
        inspector: opts.inspector,
        trustedKeys: config.trustedKeys,
        maxBytes: config.AGENT_MAX_BUNDLE_BYTES,
        logger: log.child({ component: 'manager' }),
      });
      const managerComponent = new LocalManagerComponent(manager, s3.events, config.HOT_BUCKET, log.child({ component: 'manager' }));
      const host = new LocalOrchestrator(opts, config, dev, ddb, s3, clients, registry, bundles, manager, managerComponent, log);
      host.components.push(managerComponent);
      await managerComponent.start();
      return host;
    } catch (e) {
      await s3?.stop();
      await ddb.stop();
      throw e;
    }
  }

  /** Signs and uploads the example agents that are not registered yet (first start). */
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

  writeEndpoints(apiUrl: string): LocalEndpoints {
    const ep: LocalEndpoints = { api: apiUrl, s3: this.s3.endpoint, dynamodb: this.ddb.endpoint, bucket: this.config.HOT_BUCKET, pid: process.pid };
    writeFileSync(endpointsFile(this.options.dataDir), JSON.stringify(ep, null, 2) + '\n');
    return ep;
  }

  async stop(): Promise<void> {
    for (const c of [...this.components].reverse()) {
      try {
        await c.stop();
      } catch (e) {
        this.log.error('component stop failed', { component: c.name, error: e });
      }
    }
    await this.s3.stop();
    await this.ddb.stop();
    const ep = endpointsFile(this.options.dataDir);
    if (existsSync(ep)) rmSync(ep);
  }
}
