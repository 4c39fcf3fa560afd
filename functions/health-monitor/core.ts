/**
 * The health-monitor handler (its Lambda and local mode run it; built by functions/compose.ts):
 * EventBridge events of the Health rule (DetailType `agent.failed`, Detail = the envelope) and
 * the `{"action":"sweep"}` schedule. Thin: validates the event and calls the HealthMonitor core.
 * Replayed failures (envelope.replayOf) are ignored by the core.
 */
import { z } from 'zod';
import type { Config } from '../../shared/core/config';
import { EnvelopeSchema } from '../../shared/core/envelope';
import { ValidationError } from '../../shared/core/errors';
import type { Clock } from '../../shared/core/clock';
import { silentLogger, type Logger } from '../../shared/core/logger';
import type { EventPublisher, HeartbeatStore, RegistryStore } from '../../shared/core/ports';
import { healthPolicyFrom, type HealthConfig } from '../../shared/core/health/policy';
import { HealthMonitor, type HealthDecision, type SweepReport } from '../../shared/core/health/service';
import { BUS_SOURCE } from '../../shared/definitions/routing';

export const HealthEventSchema = z.union([
  z.object({ action: z.literal('sweep') }).strict(),
  z.object({ source: z.literal(BUS_SOURCE), 'detail-type': z.literal('agent.failed'), detail: EnvelopeSchema }).loose(),
]);

export interface HealthMonitorHandlerDeps {
  registry: RegistryStore;
  heartbeats: HeartbeatStore;
  events: EventPublisher;
  config: HealthConfig & Pick<Config, 'AGENT_SCHEDULE_SHARDS'>;
  clock?: Clock;
  logger?: Logger;
}

export type HealthHandlerResult = { kind: 'sweep'; report: SweepReport } | { kind: 'failed'; decision: HealthDecision };

export function createHealthMonitorHandler(deps: HealthMonitorHandlerDeps): (event: unknown) => Promise<HealthHandlerResult> {
  const log = deps.logger ?? silentLogger;
  const monitor = new HealthMonitor({
    registry: deps.registry,
    heartbeats: deps.heartbeats,
    events: deps.events,
    policy: healthPolicyFrom(deps.config),
    shards: deps.config.AGENT_SCHEDULE_SHARDS,
    ...(deps.clock ? { clock: deps.clock } : {}),
    logger: log,
  });
  return async (event: unknown) => {
    const parsed = HealthEventSchema.safeParse(event);
    if (!parsed.success) throw new ValidationError(`unsupported health-monitor event: ${z.prettifyError(parsed.error)}`);
    if ('action' in parsed.data) {
      const report = await monitor.sweep();
      const acted = report.decisions.filter((d) => d.action !== 'none');
      if (acted.length) log.info('sweep', { overdue: report.overdue, acted });
      return { kind: 'sweep', report };
    }
    const decision = await monitor.onFailed(parsed.data.detail);
    if (decision.action !== 'none') log.info('health decision', { ...decision });
    return { kind: 'failed', decision };
  };
}
