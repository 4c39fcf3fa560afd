/**
 * runner Lambda: SQS dispatch queue, batch size 1, one run per message (each in its own worker
 * thread). Agent failures are results (agent.failed), never Lambda errors: only infrastructure
 * errors (DynamoDB, S3 unreachable) are reported as batch item failures, so SQS redelivers just
 * that message. A body that is not a dispatch message is logged and dropped (a retry cannot fix it).
 *
 * `createRunnerCore(deps)` is the same core local mode's runner pool calls.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { createClients } from '../../shared/adapters/aws/clients';
import { DynamoRegistry } from '../../shared/adapters/aws/dynamo-registry';
import { DynamoHeartbeats } from '../../shared/adapters/aws/dynamo-heartbeats';
import { S3BundleStore } from '../../shared/adapters/aws/s3-bundle-store';
import { EventBridgePublisher } from '../../shared/adapters/aws/eventbridge-publisher';
import { WorkerSandbox } from '../../shared/adapters/node/sandbox';
import { loadFunctionConfig, type Config } from '../../shared/core/config';
import { ValidationError } from '../../shared/core/errors';
import { verifierFromName, type Verifier } from '../../shared/core/bundle/signing';
import type { DispatchMessage } from '../../shared/core/dispatch';
import type { AgentSandbox, BundleStore, EventPublisher, RegistryStore } from '../../shared/core/ports';
import type { Clock } from '../../shared/core/clock';
import { createLogger, silentLogger, type Logger } from '../../shared/core/logger';
import { healthPolicyFrom } from '../../shared/core/health/policy';
import { RunnerService, type RunReport, type RunnerDeps } from '../../shared/core/runner/service';
import { InvalidDispatchMessageError } from '../../shared/core/runner/errors';

export interface RunnerCoreDeps {
  registry: RegistryStore;
  heartbeats: RunnerDeps['heartbeats'];
  bundles: BundleStore;
  events: EventPublisher;
  sandbox: AgentSandbox;
  config: Pick<
    Config,
    | 'trustedKeys'
    | 'AGENT_MAX_BUNDLE_BYTES'
    | 'AGENT_ERR_THRESHOLD'
    | 'AGENT_MAX_RESTARTS'
    | 'AGENT_RESTART_WINDOW_SECONDS'
    | 'AGENT_RESTART_BACKOFF_BASE_SECONDS'
    | 'AGENT_RESTART_BACKOFF_MAX_SECONDS'
    | 'AGENT_STUCK_GRACE_SECONDS'
  > & { AGENT_VERIFIER?: Config['AGENT_VERIFIER'] };
  verifier?: Verifier;
  clock?: Clock;
  logger?: Logger;
}

/** The runner core: one dispatch message in, one run report out (throws only for infrastructure errors). */
export function createRunnerCore(deps: RunnerCoreDeps): (msg: DispatchMessage) => Promise<RunReport> {
  const service = new RunnerService({
    registry: deps.registry,
    heartbeats: deps.heartbeats,
    bundles: deps.bundles,
    events: deps.events,
    sandbox: deps.sandbox,
    policy: healthPolicyFrom(deps.config),
    trustedKeys: deps.config.trustedKeys,
    maxBundleBytes: deps.config.AGENT_MAX_BUNDLE_BYTES,
    verifier: deps.verifier ?? verifierFromName(deps.config.AGENT_VERIFIER),
    ...(deps.clock ? { clock: deps.clock } : {}),
    logger: deps.logger ?? silentLogger,
  });
  return (msg) => service.handle(msg);
}

export const SqsEventSchema = z.object({
  Records: z.array(z.object({ messageId: z.string().min(1), body: z.string() }).loose()),
});

export interface SqsBatchResponse {
  batchItemFailures: { itemIdentifier: string }[];
}

/** The SQS-facing handler around a runner core. */
export function createRunnerHandler(core: (msg: DispatchMessage) => Promise<RunReport>, logger: Logger = silentLogger) {
  return async (event: unknown): Promise<SqsBatchResponse> => {
    const parsed = SqsEventSchema.safeParse(event);
    if (!parsed.success) throw new ValidationError(`unsupported runner event: ${z.prettifyError(parsed.error)}`);
    const batchItemFailures: SqsBatchResponse['batchItemFailures'] = [];
    for (const rec of parsed.data.Records) {
      let msg: DispatchMessage;
      try {
        msg = RunnerService.parse(JSON.parse(rec.body));
      } catch (e) {
        const why = e instanceof InvalidDispatchMessageError ? e.message : `body is not JSON: ${(e as Error).message}`;
        logger.error('dropped an invalid dispatch message', { messageId: rec.messageId, error: why });
        continue;
      }
      try {
        const report = await core(msg);
        logger.info('run', { ...report });
      } catch (e) {
        logger.error('run failed on an infrastructure error; SQS will redeliver', { messageId: rec.messageId, agent: msg.agent, runId: msg.runId, error: e });
        batchItemFailures.push({ itemIdentifier: rec.messageId });
      }
    }
    return { batchItemFailures };
  };
}

function fromEnv(env: Record<string, string | undefined> = process.env) {
  const config = loadFunctionConfig('runner', ['REGISTRY_TABLE', 'HEARTBEAT_TABLE', 'HOT_BUCKET', 'EVENT_BUS_NAME'], env);
  const logger = createLogger({ service: 'runner', level: config.LOG_LEVEL });
  const clients = createClients();
  const core = createRunnerCore({
    registry: new DynamoRegistry(clients.ddb, config.REGISTRY_TABLE, { shards: config.AGENT_SCHEDULE_SHARDS }),
    heartbeats: new DynamoHeartbeats(clients.ddb, config.HEARTBEAT_TABLE, { shards: config.AGENT_SCHEDULE_SHARDS }),
    bundles: new S3BundleStore(clients.s3, config.HOT_BUCKET),
    events: new EventBridgePublisher(clients.eventBridge, config.EVENT_BUS_NAME, { logger }),
    sandbox: new WorkerSandbox({ cacheDir: join(tmpdir(), 'agent-bundles'), memoryMb: config.AGENT_RUN_MEMORY_MB, logger: logger.child({ source: 'agent' }) }),
    config,
    logger,
  });
  return createRunnerHandler(core, logger);
}

let cached: ReturnType<typeof fromEnv> | undefined;
export const handler = (event: unknown): Promise<SqsBatchResponse> => (cached ??= fromEnv())(event);
