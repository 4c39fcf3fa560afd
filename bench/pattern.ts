/**
 * The event-pattern matcher alone (shared/core/bus/pattern.ts), CPU only, no emulator: how many
 * events per second go through compiled patterns, the way the local bus applies them.
 *
 * - "4 rules per event": the shared RULES (shared/definitions/routing.ts) against envelope events,
 *   the local bus's real load (exact values, anything-but list, prefix). This figure used to be
 *   measured inside bench/ledger.ts; it moved here so it runs without DynamoDB Local.
 * - "8 mixed-operator rules per event": one rule per operator family (prefix/suffix with
 *   equals-ignore-case, wildcard, numeric range, cidr, exists, anything-but forms, `$or`) against
 *   the same events, so a slow path in any operator shows up.
 *
 * Each figure is the best of 3 rounds of 1 s (rounds, not one long loop, so a burst of load from
 * other processes on the machine does not decide the figure).
 * `npx tsx bench/run.ts pattern` runs only this module.
 */
import { RULES, resolvePattern } from '../shared/definitions/routing';
import { compilePattern, type CompiledPattern } from '../shared/core/bus/pattern';
import { makeEnvelope } from '../shared/core/envelope';
import { toBusEvent } from '../shared/core/bus/events';
import type { BenchResult } from './types';

const MIXED: Record<string, unknown>[] = [
  { source: [{ prefix: { 'equals-ignore-case': 'AGENT-' } }], 'detail-type': [{ suffix: '.failed' }] },
  { 'detail-type': [{ wildcard: 'agent.*ed' }] },
  { detail: { payload: { i: [{ numeric: ['>=', 10, '<', 500] }] } } },
  { detail: { payload: { ip: [{ cidr: '10.0.0.0/16' }] } } },
  { detail: { recipient: [{ exists: false }], sender: [{ exists: true }] } },
  {
    'detail-type': [{ 'anything-but': { prefix: 'agent.' } }],
    detail: { sender: [{ 'anything-but': { 'equals-ignore-case': ['B', 'C'] } }] },
  },
  { source: ['agent-orchestrator'], $or: [{ 'detail-type': ['agent.failed'] }, { detail: { payload: { i: [{ numeric: ['<', 100] }] } } }] },
  { detail: { payload: { tags: ['blue', { 'equals-ignore-case': 'GREEN' }] } } },
];

function events(): unknown[] {
  return Array.from({ length: 1000 }, (_, i) => {
    const topic = i % 3 === 0 ? 'agent.cycle' : i % 3 === 1 ? 'agent.failed' : 'orders.created';
    const e = makeEnvelope({
      topic,
      sender: i % 2 ? 'a' : 'b',
      payload: { i, ip: `10.0.${i % 4}.${i % 250}`, tags: i % 5 ? ['blue'] : ['Green', 'red'] },
    });
    return toBusEvent({ source: 'agent-orchestrator', detailType: e.topic, detail: e }, { now: Date.now(), account: '0', region: 'r' });
  });
}

function measure(rules: CompiledPattern[], evs: unknown[]): { perSecond: number; matches: number } {
  let best = 0;
  let matches = 0;
  for (let round = 0; round < 3; round++) {
    let evaluated = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < 1000) {
      for (const ev of evs) for (const r of rules) if (r.matches(ev)) matches++;
      evaluated += evs.length;
    }
    best = Math.max(best, evaluated / ((performance.now() - t0) / 1000));
  }
  return { perSecond: best, matches };
}

export async function run(): Promise<BenchResult[]> {
  const evs = events();
  const shared = measure(
    RULES.map((r) => compilePattern(resolvePattern(r.pattern, { HOT_BUCKET: 'hot' }))),
    evs,
  );
  const mixed = measure(
    MIXED.map((p) => compilePattern(p)),
    evs,
  );
  if (shared.matches === 0 || mixed.matches === 0) throw new Error('no matches');
  return [
    {
      name: 'pattern matcher, 4 rules per event',
      value: Math.round(shared.perSecond),
      unit: 'events/s',
      note: 'shared RULES, envelope events; best of 3 rounds of 1 s',
    },
    {
      name: 'pattern matcher, 8 mixed-operator rules per event',
      value: Math.round(mixed.perSecond),
      unit: 'events/s',
      note: 'one rule per operator family; best of 3 rounds of 1 s',
    },
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of await run()) console.log(`${r.name}: ${r.value} ${r.unit}${r.note ? ` (${r.note})` : ''}`);
}
