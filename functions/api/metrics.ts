/**
 * Metrics: one snapshot read from the stores (registry, heartbeats, ledger head, bus counters),
 * rendered as Prometheus text exposition format 0.0.4 for `GET /metrics` and sent as JSON in the
 * `metrics` events of `/events/stream`.
 *
 * Per agent (label `agent`): agent_cycles_total, agent_failures_total,
 * agent_cycle_duration_seconds (histogram, buckets from DURATION_BUCKETS_MS), agent_up,
 * agent_restarts_total, agent_quarantined, agent_consecutive_errors,
 * agent_last_heartbeat_timestamp_seconds, agent_status (one-hot by `status`).
 * Ledger: ledger_entries_total, ledger_head_seq. Bus: bus_<counter>_total (local bus counters;
 * in the cloud the ledger head is the bus figure).
 *
 * Per-agent series cost ~28 lines (≈ 1.6 KB) per agent: 10 000 agents make a ≈ 16 MB exposition
 * and as many series in Prometheus. METRICS_PER_AGENT (`auto` by default) keeps them up to
 * METRICS_PER_AGENT_MAX agents; above that (or with `false`) `/metrics` is aggregate-only: the
 * fleet's sums (agents_*: by status, up, erroring, cycles, failures, restarts, one duration
 * histogram) whatever the fleet's size, plus the ledger and bus figures. Local mode answers the
 * aggregates from its read model (O(1)); elsewhere they are summed from one read of every agent.
 */
import type { AgentStatus } from '../../shared/core/registry';
import { DURATION_BUCKETS_MS, type HeartbeatRecord } from '../../shared/core/heartbeat';
import type { HeartbeatStore, LedgerReader, RegistryStore } from '../../shared/core/ports';
import type { Clock } from '../../shared/core/clock';
import { AgentStatusSchema } from '../../shared/core/registry';

/**
 * Bus figures as the local bus reports them (LocalBus.stats()): a number is a counter
 * (`bus_<key>_total`), a map is one per rule (`bus_<key>_total{rule="<k>"}`); `buffered` (per
 * rule) and `queued` (per target) are current levels, rendered as gauges `bus_buffered{rule}`
 * and `bus_queued{target}`.
 */
export type BusCounters = Record<string, number | Partial<Record<string, number>>>;

const BUS_GAUGES: Record<string, { label: string; help: string }> = {
  buffered: { label: 'rule', help: 'Events held by a disabled buffering rule (Delivery while the bus component is stopped).' },
  queued: { label: 'target', help: 'Events waiting for their target.' },
};

const BUS_HELP: Record<string, string> = {
  published: 'Envelopes accepted by the bus.',
  defaultBusEvents: 'Events put on the default bus (hot-directory notifications).',
  matched: 'Events matched, per rule.',
  delivered: 'Events delivered to the rule target, per rule.',
  failed: 'Deliveries that failed after retries, per rule.',
  retried: 'Delivery retries, per rule.',
  dropped: 'Events matched while the rule was disabled and not buffered, per rule.',
  undeliverable: 'Events matched by a rule without a local target, per rule.',
};

/** above this many agents, `METRICS_PER_AGENT=auto` leaves the per-agent series out of `/metrics` */
export const METRICS_PER_AGENT_MAX = 1000;
export type PerAgentMode = 'auto' | 'true' | 'false';

export interface MetricsSources {
  registry: Pick<RegistryStore, 'list'>;
  heartbeats: Pick<HeartbeatStore, 'getMany'>;
  ledger: Pick<LedgerReader, 'head'>;
  busCounters?: (() => BusCounters | Promise<BusCounters>) | undefined;
  /** the fleet's aggregates kept current elsewhere (local mode's read model); absent: summed from every agent */
  fleet?: (() => FleetMetrics) | undefined;
  perAgent?: PerAgentMode | undefined;
  clock: Clock;
}

/** The metrics' sources from the API's dependencies. */
export function metricsSourcesOf(
  deps: Pick<MetricsSources, 'registry' | 'heartbeats' | 'ledger' | 'busCounters' | 'fleet' | 'perAgent'>,
  clock: Clock,
): MetricsSources {
  return {
    registry: deps.registry,
    heartbeats: deps.heartbeats,
    ledger: deps.ledger,
    busCounters: deps.busCounters,
    fleet: deps.fleet,
    perAgent: deps.perAgent,
    clock,
  };
}

/** The fleet's sums: what aggregate-only `/metrics` shows. */
export interface FleetMetrics {
  agents: number;
  byStatus: Record<AgentStatus, number>;
  /** active with no consecutive error (agent_up summed) */
  up: number;
  /** consecutive errors > 0 */
  erroring: number;
  cycles: number;
  failures: number;
  restarts: number;
  /** cumulative counts per DURATION_BUCKETS_MS bound, summed over agents */
  durationBuckets: number[];
  durationCount: number;
  durationSumMs: number;
}

export const emptyFleet = (): FleetMetrics => ({
  agents: 0,
  byStatus: { active: 0, paused: 0, restarting: 0, quarantined: 0 },
  up: 0,
  erroring: 0,
  cycles: 0,
  failures: 0,
  restarts: 0,
  durationBuckets: DURATION_BUCKETS_MS.map(() => 0),
  durationCount: 0,
  durationSumMs: 0,
});

/** One agent's share of the fleet's sums (none when it is not registered). */
export function agentContribution(
  rec: { status: AgentStatus; restarts: number } | undefined,
  hb: HeartbeatRecord | undefined,
): FleetMetrics {
  const f = emptyFleet();
  if (!rec) return f;
  const b = buckets(hb);
  const errors = hb?.consecutiveErrors ?? 0;
  f.agents = 1;
  f.byStatus[rec.status] = 1;
  f.up = rec.status === 'active' && errors === 0 ? 1 : 0;
  f.erroring = errors > 0 ? 1 : 0;
  f.cycles = hb?.cycles ?? 0;
  f.failures = hb?.failures ?? 0;
  f.restarts = rec.restarts;
  f.durationBuckets = b.counts;
  f.durationCount = b.count;
  f.durationSumMs = hb?.durationSumMs ?? 0;
  return f;
}

/** The sums of a full snapshot (where no read model keeps them). */
export function fleetOf(s: MetricsSnapshot): FleetMetrics {
  const f = emptyFleet();
  for (const a of s.agents) {
    f.agents++;
    f.byStatus[a.status]++;
    if (a.status === 'active' && a.consecutiveErrors === 0) f.up++;
    if (a.consecutiveErrors > 0) f.erroring++;
    f.cycles += a.cycles;
    f.failures += a.failures;
    f.restarts += a.restarts;
    for (let i = 0; i < f.durationBuckets.length; i++) f.durationBuckets[i]! += a.durationBuckets[i] ?? 0;
    f.durationCount += a.durationCount;
    f.durationSumMs += a.durationSumMs;
  }
  return f;
}

/**
 * `GET /metrics`: per agent (and the aggregates) while the mode allows it, else aggregate-only:
 * with a read model's sums that reads nothing but the ledger head.
 */
export async function prometheusText(src: MetricsSources): Promise<string> {
  const mode = src.perAgent ?? 'auto';
  if (mode === 'true' || (mode === 'auto' && !src.fleet)) {
    const snap = await collectMetrics(src);
    if (mode === 'true' || snap.agents.length <= METRICS_PER_AGENT_MAX) return renderPrometheus(snap);
    return renderAggregate(fleetOf(snap), snap.ledger, snap.bus);
  }
  const fleet = src.fleet?.();
  if (fleet && mode === 'auto' && fleet.agents <= METRICS_PER_AGENT_MAX) return renderPrometheus(await collectMetrics(src));
  const [head, bus] = await Promise.all([src.ledger.head(), src.busCounters ? src.busCounters() : null]);
  return renderAggregate(fleet ?? fleetOf(await collectMetrics(src)), { headSeq: head.seq, headHash: head.hash }, bus);
}

export interface AgentMetrics {
  name: string;
  version: string;
  status: AgentStatus;
  cycles: number;
  failures: number;
  consecutiveErrors: number;
  restarts: number;
  /** epoch ms */
  lastHeartbeat: number | null;
  lastOutcome: string | null;
  lastDurationMs: number | null;
  /** cumulative counts per bucket upper bound (ms), in DURATION_BUCKETS_MS order */
  durationBuckets: number[];
  durationCount: number;
  durationSumMs: number;
}

export interface MetricsSnapshot {
  at: string;
  agents: AgentMetrics[];
  ledger: { headSeq: number; headHash: string };
  bus: BusCounters | null;
}

/** Cumulative bucket counts in bound order, repaired to be monotonic. */
export function buckets(hb: HeartbeatRecord | undefined): { counts: number[]; count: number } {
  const counts: number[] = [];
  let prev = 0;
  for (const le of DURATION_BUCKETS_MS) {
    const v = Math.max(prev, hb?.durationBuckets[String(le)] ?? 0);
    counts.push(v);
    prev = v;
  }
  // The store keeps the +Inf bucket too (every counted cycle, any outcome, is observed once);
  // without it, the number of counted cycles is the same figure.
  const count = Math.max(prev, hb?.durationBuckets['+Inf'] ?? hb?.cycles ?? 0);
  return { counts, count };
}

export async function collectMetrics(src: MetricsSources): Promise<MetricsSnapshot> {
  const [agents, head, bus] = await Promise.all([src.registry.list(), src.ledger.head(), src.busCounters ? src.busCounters() : null]);
  const hbs = agents.length ? await src.heartbeats.getMany(agents.map((a) => a.name)) : new Map<string, HeartbeatRecord>();
  return {
    at: new Date(src.clock.now()).toISOString(),
    agents: agents
      .map((a): AgentMetrics => {
        const hb = hbs.get(a.name);
        const b = buckets(hb);
        return {
          name: a.name,
          version: a.version,
          status: a.status,
          cycles: hb?.cycles ?? 0,
          failures: hb?.failures ?? 0,
          consecutiveErrors: hb?.consecutiveErrors ?? 0,
          restarts: a.restarts,
          lastHeartbeat: hb?.lastHeartbeat ?? null,
          lastOutcome: hb?.lastOutcome ?? null,
          lastDurationMs: hb?.lastDurationMs ?? null,
          durationBuckets: b.counts,
          durationCount: b.count,
          durationSumMs: hb?.durationSumMs ?? 0,
        };
      })
      .sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0)),
    ledger: { headSeq: head.seq, headHash: head.hash },
    bus,
  };
}

/** Label value escaping of the text format: backslash, double quote and line feed. */
export function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

const METRIC_NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
/** A metric name derived from a bus figure key (camelCase → snake_case, invalid chars dropped). */
function busMetricName(key: string, counter: boolean): string | null {
  const snake = key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^a-zA-Z0-9_]/g, '_')
    .toLowerCase()
    .replace(/_total$/, '');
  const name = counter ? `bus_${snake}_total` : `bus_${snake}`;
  return METRIC_NAME_RE.test(name) ? name : null;
}

class Exposition {
  private readonly lines: string[] = [];
  family(name: string, type: 'counter' | 'gauge' | 'histogram', help: string): void {
    this.lines.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${type}`);
  }
  sample(name: string, labels: Record<string, string>, value: number): void {
    const l = Object.entries(labels)
      .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
      .join(',');
    this.lines.push(`${name}${l ? `{${l}}` : ''} ${num(value)}`);
  }
  toString(): string {
    return this.lines.join('\n') + '\n';
  }
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export function renderPrometheus(s: MetricsSnapshot): string {
  const out = new Exposition();
  const per = (name: string, type: 'counter' | 'gauge', help: string, value: (a: AgentMetrics) => number) => {
    out.family(name, type, help);
    for (const a of s.agents) out.sample(name, { agent: a.name }, value(a));
  };
  per('agent_cycles_total', 'counter', 'Cycles run (scheduled and triggered), any outcome.', (a) => a.cycles);
  per('agent_failures_total', 'counter', 'Runs that failed (error, timeout, crash, out of memory).', (a) => a.failures);

  out.family('agent_cycle_duration_seconds', 'histogram', 'Duration of cycles.');
  for (const a of s.agents) {
    for (const [i, le] of DURATION_BUCKETS_MS.entries())
      out.sample('agent_cycle_duration_seconds_bucket', { agent: a.name, le: num(le / 1000) }, a.durationBuckets[i] ?? 0);
    out.sample('agent_cycle_duration_seconds_bucket', { agent: a.name, le: '+Inf' }, a.durationCount);
    out.sample('agent_cycle_duration_seconds_sum', { agent: a.name }, a.durationSumMs / 1000);
    out.sample('agent_cycle_duration_seconds_count', { agent: a.name }, a.durationCount);
  }

  per('agent_up', 'gauge', '1 when the agent is active and its last run (if any) succeeded, else 0.', (a) =>
    a.status === 'active' && a.consecutiveErrors === 0 ? 1 : 0,
  );
  per('agent_restarts_total', 'counter', 'Restarts by the health monitor or an operator.', (a) => a.restarts);
  per('agent_quarantined', 'gauge', '1 while the agent is quarantined.', (a) => (a.status === 'quarantined' ? 1 : 0));
  per('agent_consecutive_errors', 'gauge', 'Consecutive failed runs since the last success.', (a) => a.consecutiveErrors);
  out.family('agent_last_heartbeat_timestamp_seconds', 'gauge', 'Unix time of the last finished run.');
  for (const a of s.agents)
    if (a.lastHeartbeat !== null) out.sample('agent_last_heartbeat_timestamp_seconds', { agent: a.name }, a.lastHeartbeat / 1000);
  out.family('agent_status', 'gauge', 'Control status of the agent (1 for the current status).');
  for (const a of s.agents)
    for (const st of AgentStatusSchema.options) out.sample('agent_status', { agent: a.name, status: st }, a.status === st ? 1 : 0);
  out.family('agents_registered', 'gauge', 'Agents in the registry.');
  out.sample('agents_registered', {}, s.agents.length);
  ledgerAndBus(out, s.ledger, s.bus);
  return out.toString();
}

/** Aggregate-only exposition: the fleet's sums, no per-agent series (bounded whatever the fleet). */
export function renderAggregate(f: FleetMetrics, ledger: MetricsSnapshot['ledger'], bus: BusCounters | null): string {
  const out = new Exposition();
  out.family('agents_registered', 'gauge', 'Agents in the registry.');
  out.sample('agents_registered', {}, f.agents);
  out.family('agents_by_status', 'gauge', 'Agents per control status.');
  for (const st of AgentStatusSchema.options) out.sample('agents_by_status', { status: st }, f.byStatus[st]);
  out.family('agents_up', 'gauge', 'Agents active whose last run (if any) succeeded (agent_up summed).');
  out.sample('agents_up', {}, f.up);
  out.family('agents_erroring', 'gauge', 'Agents whose last run failed (consecutive errors > 0).');
  out.sample('agents_erroring', {}, f.erroring);
  out.family('agents_quarantined', 'gauge', 'Agents quarantined.');
  out.sample('agents_quarantined', {}, f.byStatus.quarantined);
  out.family('agents_cycles_total', 'counter', 'Cycles run by all agents (agent_cycles_total summed).');
  out.sample('agents_cycles_total', {}, f.cycles);
  out.family('agents_failures_total', 'counter', 'Failed runs of all agents (agent_failures_total summed).');
  out.sample('agents_failures_total', {}, f.failures);
  out.family('agents_restarts_total', 'counter', 'Restarts of all agents (agent_restarts_total summed).');
  out.sample('agents_restarts_total', {}, f.restarts);
  out.family('agents_cycle_duration_seconds', 'histogram', 'Duration of the cycles of all agents.');
  for (const [i, le] of DURATION_BUCKETS_MS.entries())
    out.sample('agents_cycle_duration_seconds_bucket', { le: num(le / 1000) }, f.durationBuckets[i] ?? 0);
  out.sample('agents_cycle_duration_seconds_bucket', { le: '+Inf' }, f.durationCount);
  out.sample('agents_cycle_duration_seconds_sum', {}, f.durationSumMs / 1000);
  out.sample('agents_cycle_duration_seconds_count', {}, f.durationCount);
  ledgerAndBus(out, ledger, bus);
  return out.toString();
}

function ledgerAndBus(out: Exposition, ledger: MetricsSnapshot['ledger'], bus: BusCounters | null): void {
  const s = { ledger, bus };
  out.family('ledger_entries_total', 'counter', 'Entries ever appended to the ledger (sequence numbers are gap-free).');
  out.sample('ledger_entries_total', {}, s.ledger.headSeq);
  out.family('ledger_head_seq', 'gauge', 'Sequence number of the newest ledger entry.');
  out.sample('ledger_head_seq', {}, s.ledger.headSeq);

  if (s.bus) {
    const byKey = (a: [string, unknown], b: [string, unknown]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
    for (const [key, v] of Object.entries(s.bus).sort(byKey)) {
      const gauge = BUS_GAUGES[key];
      const name = busMetricName(key, !gauge);
      if (!name) continue;
      out.family(name, gauge ? 'gauge' : 'counter', gauge?.help ?? BUS_HELP[key] ?? `Local bus counter "${key}".`);
      if (typeof v === 'number') out.sample(name, {}, v);
      else
        for (const [k, n] of Object.entries(v).sort(byKey)) {
          if (typeof n === 'number') out.sample(name, { [gauge?.label ?? 'rule']: k }, n);
        }
    }
  }
}

/** The `metrics` SSE event: the snapshot without the histogram buckets (kept small). */
export function snapshotEventData(s: MetricsSnapshot): unknown {
  return {
    at: s.at,
    ledger: s.ledger,
    bus: s.bus,
    agents: s.agents.map(({ durationBuckets: _b, ...rest }) => rest),
  };
}
