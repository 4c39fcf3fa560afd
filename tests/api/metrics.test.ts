/**
 * /metrics parsed with a real Prometheus text-format parser (parse-prometheus-text-format, a port
 * of the Prometheus Python client's parser): families, types, labels, histogram structure; and
 * the figures move when cycles are recorded (the runner's completion write on the real
 * heartbeat store), when status changes and when the ledger grows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { histogramSeries, parsePrometheus, type HistogramSeries, type PromFamily } from './prometheus';
import { registration } from '../runtime/helpers';
import { DURATION_BUCKETS_MS } from '../../shared/core/heartbeat';
import { renderPrometheus, type MetricsSnapshot } from '../../functions/api/metrics';
import { startApiHarness, type ApiHarness } from './harness';

let h: ApiHarness;
/** the shape LocalBus.stats() reports (a subset) */
const busCounters = {
  published: 0,
  delivered: { Ledger: 0, Delivery: 0 },
  failed: { Delivery: 0 },
  buffered: { Delivery: 0, Health: 0 },
  queued: { router: 1, 'ledger-writer': 0 },
};

beforeAll(async () => {
  h = await startApiHarness({ busCounters: () => busCounters });
  const now = Date.now();
  await h.registry.register(registration('alpha', { cycleSeconds: 10, firstRunAt: now + 10_000 }));
  await h.registry.register(registration('beta', { cycleSeconds: 60, firstRunAt: now + 60_000 }));
});

afterAll(async () => {
  await h?.close();
});

async function scrape(): Promise<Map<string, PromFamily>> {
  const res = await h.api('/metrics');
  expect(res.status).toBe(200);
  const text = await res.text();
  const families = parsePrometheus(text);
  crossCheck(text, families);
  return families;
}

/** The library parser must read every counter and gauge sample the same way. */
function crossCheck(text: string, ours: Map<string, PromFamily>) {
  for (const lib of parsePrometheusTextFormat(text)) {
    const mine = ours.get(lib.name);
    expect(mine?.type.toUpperCase(), lib.name).toBe(lib.type);
    if (lib.type !== 'COUNTER' && lib.type !== 'GAUGE') continue;
    expect(
      lib.metrics.map((m) => [m.labels ?? {}, Number(m.value)]),
      lib.name,
    ).toEqual(mine?.samples.map((x) => [x.labels, x.value]));
  }
}

function value(m: Map<string, PromFamily>, name: string, labels: Record<string, string> = {}): number {
  const fam = m.get(name);
  expect(fam, `family ${name}`).toBeDefined();
  const matching = fam?.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) ?? [];
  expect(matching.length, `${name}${JSON.stringify(labels)}`).toBe(1);
  return matching[0]?.value as number;
}

function histogram(m: Map<string, PromFamily>, agent: string) {
  const fam = m.get('agent_cycle_duration_seconds');
  expect(fam?.type).toBe('histogram');
  const series = histogramSeries(fam as PromFamily).find((x) => x.labels.agent === agent);
  expect(series, `histogram of ${agent}`).toBeDefined();
  const s = series as HistogramSeries;
  return {
    buckets: Object.fromEntries(s.buckets.map(([le, n]) => [le === Infinity ? '+Inf' : String(le), n])),
    count: s.count,
    sum: s.sum,
  };
}

const complete = (name: string, durationMs: number, outcome: 'ok' | 'error' = 'ok') =>
  h.heartbeats.complete(name, {
    runId: `r-${Math.random()}`,
    at: Date.now(),
    outcome,
    error: outcome === 'ok' ? null : 'boom',
    durationMs,
    generation: 0,
    stateChanges: {},
    expectBy: null,
    countsAsCycle: true,
  });

describe('GET /metrics', () => {
  it('parses, with the documented families, types and per-agent labels', async () => {
    const m = await scrape();
    const types: Record<string, string> = {
      agent_cycles_total: 'counter',
      agent_failures_total: 'counter',
      agent_cycle_duration_seconds: 'histogram',
      agent_up: 'gauge',
      agent_restarts_total: 'counter',
      agent_quarantined: 'gauge',
      agent_consecutive_errors: 'gauge',
      agent_status: 'gauge',
      ledger_entries_total: 'counter',
      ledger_head_seq: 'gauge',
      bus_published_total: 'counter',
      bus_delivered_total: 'counter',
      bus_failed_total: 'counter',
      bus_buffered: 'gauge',
      bus_queued: 'gauge',
    };
    for (const [name, type] of Object.entries(types)) {
      expect(m.get(name)?.type, name).toBe(type);
      expect(m.get(name)?.help?.length, `${name} has HELP`).toBeGreaterThan(0);
    }
    for (const name of ['agent_cycles_total', 'agent_failures_total', 'agent_up', 'agent_restarts_total', 'agent_quarantined'])
      expect(
        m
          .get(name)
          ?.samples.map((s) => s.labels.agent)
          .sort(),
        name,
      ).toEqual(['alpha', 'beta']);
    const hist = histogram(m, 'alpha');
    expect(Object.keys(hist.buckets).sort()).toEqual([...DURATION_BUCKETS_MS.map((b) => String(b / 1000)), '+Inf'].sort());
    expect(value(m, 'agent_up', { agent: 'alpha' })).toBe(1);
    expect(value(m, 'agent_status', { agent: 'alpha', status: 'active' })).toBe(1);
    expect(value(m, 'agent_status', { agent: 'alpha', status: 'paused' })).toBe(0);
    expect(value(m, 'bus_delivered_total', { rule: 'Ledger' })).toBe(0);
    expect(value(m, 'bus_buffered', { rule: 'Delivery' })).toBe(0);
    expect(value(m, 'bus_queued', { target: 'router' })).toBe(1);
  });

  it('counters and the histogram move after cycles; failures, up and consecutive errors follow outcomes', async () => {
    const before = await scrape();
    const c0 = value(before, 'agent_cycles_total', { agent: 'alpha' });
    const f0 = value(before, 'agent_failures_total', { agent: 'alpha' });
    const h0 = histogram(before, 'alpha');

    await complete('alpha', 3);
    await complete('alpha', 40);
    await complete('alpha', 70_000, 'error');
    await complete('beta', 7);

    const after = await scrape();
    expect(value(after, 'agent_cycles_total', { agent: 'alpha' })).toBe(c0 + 3);
    expect(value(after, 'agent_failures_total', { agent: 'alpha' })).toBe(f0 + 1);
    expect(value(after, 'agent_cycles_total', { agent: 'beta' })).toBe(1);
    expect(value(after, 'agent_consecutive_errors', { agent: 'alpha' })).toBe(1);
    expect(value(after, 'agent_up', { agent: 'alpha' })).toBe(0);
    expect(value(after, 'agent_up', { agent: 'beta' })).toBe(1);
    expect(value(after, 'agent_last_heartbeat_timestamp_seconds', { agent: 'alpha' })).toBeGreaterThan(Date.now() / 1000 - 60);

    const h1 = histogram(after, 'alpha');
    const delta = (le: string) => (h1.buckets[le] ?? NaN) - (h0.buckets[le] ?? 0);
    expect(delta('0.005')).toBe(1); // 3 ms
    expect(delta('0.025')).toBe(1);
    expect(delta('0.05')).toBe(2); // + 40 ms
    expect(delta('60')).toBe(2); // 70 s only in +Inf
    expect(delta('+Inf')).toBe(3);
    expect(h1.count - h0.count).toBe(3);
    expect(h1.sum - h0.sum).toBeCloseTo(70.043, 6);
    // (histogramSeries already checked: cumulative buckets, +Inf = count)
  });

  it('status gauges follow operator actions; ledger and bus counters move', async () => {
    await h.bus.idle();
    const before = await scrape();
    const head0 = value(before, 'ledger_head_seq');
    busCounters.published += 2;
    busCounters.delivered.Ledger += 2;
    expect((await h.api('/agents/beta/quarantine', { method: 'POST' })).status).toBe(200);
    expect(
      (await h.api('/events', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"topic":"m.t","payload":{}}' }))
        .status,
    ).toBe(202);
    await h.bus.idle(); // the ledger writer appends asynchronously
    const after = await scrape();
    expect(value(after, 'agent_quarantined', { agent: 'beta' })).toBe(1);
    expect(value(after, 'agent_up', { agent: 'beta' })).toBe(0);
    expect(value(after, 'agent_status', { agent: 'beta', status: 'quarantined' })).toBe(1);
    expect(value(after, 'ledger_head_seq')).toBe(head0 + 2); // agent.quarantined + m.t
    expect(value(after, 'ledger_entries_total')).toBe(head0 + 2);
    expect(value(after, 'bus_published_total')).toBe(2);
    expect(value(after, 'bus_delivered_total', { rule: 'Ledger' })).toBe(2);
  });
});

describe('renderPrometheus', () => {
  const snap = (bus: MetricsSnapshot['bus']): MetricsSnapshot => ({
    at: new Date(0).toISOString(),
    agents: [],
    ledger: { headSeq: 0, headHash: '0'.repeat(64) },
    bus,
  });

  it('escapes label values so a parser reads them back exactly', () => {
    const tricky = 'a"b\\c\nd}{,=';
    const text = renderPrometheus(snap({ delivered: { [tricky]: 4 }, 'weird key!': 1 }));
    const ours = parsePrometheus(text);
    expect(ours.get('bus_delivered_total')?.samples).toEqual([{ name: 'bus_delivered_total', labels: { rule: tricky }, value: 4 }]);
    expect(ours.get('bus_weird_key__total')?.samples).toEqual([{ name: 'bus_weird_key__total', labels: {}, value: 1 }]);
    const lib = parsePrometheusTextFormat(text);
    expect(lib.find((f) => f.name === 'bus_delivered_total')?.metrics).toEqual([{ value: '4', labels: { rule: tricky } }]);
  });

  it('the test parser rejects what Prometheus rejects', () => {
    const bad = [
      'x{a="1} 1\n', // unterminated label value
      'x{a="\\q"} 1\n', // invalid escape
      'x 1 abc\n', // bad timestamp
      'x one\n', // bad value
      '# TYPE x counter\nx -1\n', // negative counter
      '# TYPE x counter\nx 1\ny 1\nx 2\n', // family not contiguous (and duplicate)
      'x 1\n# TYPE x counter\n', // TYPE after samples
      '# TYPE h histogram\nh_bucket 1\n', // bucket without le
      'x 1\nx 1\n', // duplicate series
      'x 1', // no final line feed
    ];
    for (const t of bad) expect(() => parsePrometheus(t), JSON.stringify(t)).toThrow();
    const h = parsePrometheus('# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n').get('h');
    expect(() => histogramSeries(h as PromFamily)).toThrow(/cumulative/);
  });
});
