/**
 * agent-manager Lambda: S3 "Object Created"/"Object Deleted" events for the hot bucket (rule
 * HotDirectory on the default bus) and `{"action":"rescan"}` (schedule Rescan). Thin: validates
 * the event and calls the core. `createManagerHandler(deps)` is the very handler local mode runs;
 * `handler` builds its deps from the env once per container (module scope, reused).
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClients } from '../../shared/adapters/aws/clients';
import { DynamoRegistry } from '../../shared/adapters/aws/dynamo-registry';
import { S3BundleStore } from '../../shared/adapters/aws/s3-bundle-store';
import { EventBridgePublisher } from '../../shared/adapters/aws/eventbridge-publisher';
import { WorkerSandbox } from '../../shared/adapters/node/sandbox';
import { loadFunctionConfig } from '../../shared/core/config';
import { verifierFromName } from '../../shared/core/bundle/signing';
import { createLogger, silentLogger, type Logger } from '../../shared/core/logger';
import { AgentManager, type ManagerOutcome } from '../../shared/core/manager/service';
import { handleManagerEvent } from './core';

export interface ManagerHandlerDeps {
  manager: AgentManager;
  /** the hot-directory bucket: events for other buckets are ignored */
  bucket: string;
  logger?: Logger;
}

export function createManagerHandler(deps: ManagerHandlerDeps): (event: unknown) => Promise<{ outcomes: ManagerOutcome[] }> {
  const log = deps.logger ?? silentLogger;
  return async (event: unknown) => {
    const outcomes = await handleManagerEvent(deps.manager, event, deps.bucket);
    for (const o of outcomes) if (o.kind !== 'ignored' && o.kind !== 'unchanged') log.info('manager outcome', { ...o });
    return { outcomes };
  };
}

function fromEnv(env: Record<string, string | undefined> = process.env) {
  const config = loadFunctionConfig('agent-manager', ['REGISTRY_TABLE', 'HOT_BUCKET', 'EVENT_BUS_NAME'], env);
  const logger = createLogger({ service: 'agent-manager', level: config.LOG_LEVEL });
  const clients = createClients();
  const manager = new AgentManager({
    registry: new DynamoRegistry(clients.ddb, config.REGISTRY_TABLE, { shards: config.AGENT_SCHEDULE_SHARDS }),
    bundles: new S3BundleStore(clients.s3, config.HOT_BUCKET),
    events: new EventBridgePublisher(clients.eventBridge, config.EVENT_BUS_NAME),
    inspector: new WorkerSandbox({ cacheDir: join(tmpdir(), 'agent-bundles'), memoryMb: config.AGENT_RUN_MEMORY_MB, logger }),
    trustedKeys: config.trustedKeys,
    maxBytes: config.AGENT_MAX_BUNDLE_BYTES,
    verifier: verifierFromName(config.AGENT_VERIFIER),
    logger,
  });
  return createManagerHandler({ manager, bucket: config.HOT_BUCKET, logger });
}

let cached: ReturnType<typeof fromEnv> | undefined;

export const handler = (event: unknown): Promise<{ outcomes: ManagerOutcome[] }> => (cached ??= fromEnv())(event);
