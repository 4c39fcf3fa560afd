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

export interface MetricsSources {
  registry: Pick<RegistryStore, 'list'>;
  heartbeats: Pick<HeartbeatStore, 'getMany'>;
  ledger: Pick<LedgerReader, 'head'>;
  busCounters?: (() => BusCounters | Promise<BusCounters>) | undefined;
  clock: Clock;
}

/** The metrics' sources from the API's dependencies. */
export function metricsSourcesOf(
  deps: Pick<MetricsSources, 'registry' | 'heartbeats' | 'ledger' | 'busCounters'>,
  clock: Clock,
): MetricsSources {
  return { registry: deps.registry, heartbeats: deps.heartbeats, ledger: deps.ledger, busCounters: deps.busCounters, clock };
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
function buckets(hb: HeartbeatRecord | undefined): { counts: number[]; count: number } {
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
  return out.toString();
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
