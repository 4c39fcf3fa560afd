/**
 * The runner's handlers: the core (one dispatch message in, one run report out; agent failures
 * are results, `agent.failed`, never errors) and the SQS-facing handler around it (SQS dispatch
 * queue, batch size 1). Local mode's runner pool calls the same core (built by
 * functions/compose.ts); the Lambda entry (handler.ts) the SQS handler.
 */
import type { Config } from '../../shared/core/config';
import { verifierFromName, type Verifier } from '../../shared/core/bundle/signing';
import type { DispatchMessage } from '../../shared/core/dispatch';
import type { AgentSandbox, BundleStore, EventPublisher, RegistryStore } from '../../shared/core/ports';
import type { Clock } from '../../shared/core/clock';
import { silentLogger, type Logger } from '../../shared/core/logger';
import { healthPolicyFrom, type HealthConfig } from '../../shared/core/health/policy';
import { RunnerService, type RunReport, type RunnerDeps } from '../../shared/core/runner/service';
import { sqsBatchHandler } from '../sqs';

export interface RunnerCoreDeps {
  registry: RegistryStore;
  heartbeats: RunnerDeps['heartbeats'];
  bundles: BundleStore;
  events: EventPublisher;
  sandbox: AgentSandbox;
  config: HealthConfig & Pick<Config, 'trustedKeys' | 'AGENT_MAX_BUNDLE_BYTES'> & { AGENT_VERIFIER?: Config['AGENT_VERIFIER'] };
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

/**
 * The SQS-facing handler around a runner core: one run per record (the event source mapping's
 * batch size is 1). Each record's fate follows its error's retry semantics: an agent failure is
 * a result, not an error; a body that is not a dispatch message is dropped (a retry cannot fix
 * it); a retryable error (a store or the bus unreachable, the run held by another attempt) is a
 * batch item failure, so SQS redelivers just that message; any other error is logged and dropped.
 */
export function createRunnerHandler(core: (msg: DispatchMessage) => Promise<RunReport>, logger: Logger = silentLogger) {
  return sqsBatchHandler(
    'runner',
    async (body) => {
      const report = await core(RunnerService.parse(body));
      logger.info('run', { ...report });
    },
    logger,
  );
}
