/**
 * What the API handler needs, injected: the same handler runs behind API Gateway (AWS adapters)
 * and behind local/http.ts (the same adapters pointed at DynamoDB Local, plus the local bus and
 * local component switches).
 */
import type { ControlService } from '../../shared/core/control/service';
import type { ComponentControl, EventPublisher, HeartbeatStore, LedgerReader, RegistryStore, ReplayRequest } from '../../shared/core/ports';
import type { Clock } from '../../shared/core/clock';
import type { Logger } from '../../shared/core/logger';
import type { AuthConfig } from './auth';
import type { BusCounters, FleetMetrics, PerAgentMode } from './metrics';

/**
 * The operator actions on agents: the ControlService of shared/core/control (list, describe,
 * act), typed structurally so tests and other wirings can pass the real service directly.
 * `act` throws ValidationError (bad name/action), NotFoundError (unknown agent) or
 * ConflictError (not allowed from the current status).
 */
export type AgentControl = Pick<ControlService, 'list' | 'page' | 'summary' | 'describe' | 'act' | 'logs'>;

export interface StreamSettings {
  pollMs?: number;
  metricsEveryMs?: number;
  keepaliveMs?: number;
  /** streaming responses end after this long and the client reconnects (Lambda: below the timeout) */
  maxDurationMs?: number;
}

export interface ApiDeps {
  auth: AuthConfig;
  control: AgentControl;
  /** metrics read the registry and heartbeats directly (counters and histograms per agent) */
  registry: Pick<RegistryStore, 'list'>;
  heartbeats: Pick<HeartbeatStore, 'getMany'>;
  ledger: LedgerReader;
  replay: (req: ReplayRequest) => Promise<{ count: number }>;
  /** `POST /events` publishes through it (EventBridge in the cloud, the local bus locally) */
  events: EventPublisher;
  components: ComponentControl;
  /** `/metrics` per-agent series (METRICS_PER_AGENT; default auto) */
  perAgent?: PerAgentMode;
  /** the fleet's aggregates kept current in memory (local mode's read model); absent: summed from every agent */
  fleet?: () => FleetMetrics;
  /** local bus counters for /metrics; absent in the cloud */
  busCounters?: () => BusCounters | Promise<BusCounters>;
  clock?: Clock;
  logger?: Logger;
  /** request body limit in bytes (default 300 KB; larger bodies get 413) */
  maxBodyBytes?: number;
  stream?: StreamSettings;
}
