/**
 * agent-manager Lambda: S3 "Object Created"/"Object Deleted" events for the hot bucket (via
 * EventBridge) and `{"action":"rescan"}`. Thin: validates the event and calls the core.
 * Clients and the manager are created once per container (module scope) and injectable.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClients } from '../../shared/adapters/aws/clients';
import { DynamoRegistry } from '../../shared/adapters/aws/dynamo-registry';
import { S3BundleStore } from '../../shared/adapters/aws/s3-bundle-store';
import { EventBridgePublisher } from '../../shared/adapters/aws/eventbridge-publisher';
import { WorkerSandbox } from '../../shared/adapters/node/sandbox';
import { loadConfig } from '../../shared/core/config';
import { verifierFromName } from '../../shared/core/bundle/signing';
import { createLogger } from '../../shared/core/logger';
import { AgentManager, type ManagerOutcome } from '../../shared/core/manager/service';
import { handleManagerEvent } from './core';

export function createManagerFromEnv(env: Record<string, string | undefined> = process.env) {
  const config = loadConfig(env);
  const logger = createLogger({ service: 'agent-manager', level: config.LOG_LEVEL });
  const clients = createClients();
  const manager = new AgentManager({
    registry: new DynamoRegistry(clients.ddb, config.REGISTRY_TABLE),
    bundles: new S3BundleStore(clients.s3, config.HOT_BUCKET),
    events: new EventBridgePublisher(clients.eventBridge, config.EVENT_BUS_NAME),
    inspector: new WorkerSandbox({ cacheDir: join(tmpdir(), 'agent-bundles') }),
    trustedKeys: config.trustedKeys,
    maxBytes: config.AGENT_MAX_BUNDLE_BYTES,
    verifier: verifierFromName(config.AGENT_VERIFIER),
    logger,
  });
  return { manager, config, logger };
}

let deps: ReturnType<typeof createManagerFromEnv> | undefined;

export function makeHandler(get: () => ReturnType<typeof createManagerFromEnv>) {
  return async (event: unknown): Promise<{ outcomes: ManagerOutcome[] }> => {
    const { manager, config, logger } = get();
    const outcomes = await handleManagerEvent(manager, event, config.HOT_BUCKET);
    for (const o of outcomes) logger.info('manager outcome', { ...o });
    return { outcomes };
  };
}

export const handler = makeHandler(() => (deps ??= createManagerFromEnv()));
