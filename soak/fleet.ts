/**
 * The soak's agent fleet: which agent is healthy or faulty, its period, and the bundle source
 * (one self-contained ES module per agent, as the contract's bundles are).
 *
 * - healthy: every cycle publishes one envelope `soak.ping` addressed to another healthy agent
 *   (a rotating choice among three peers), carrying `{cycle, startedAt}` (startedAt = Date.now()
 *   when its runCycle began: the run start the slot jitter is measured from); `onEnvelope`
 *   counts what it receives in its state.
 * - throw: runCycle throws (outcome `error`).
 * - hang: runCycle awaits a promise that never settles and ignores the abort signal (outcome
 *   `timeout`: the sandbox terminates the worker at the timeout).
 * - spin: a synchronous `for (;;) {}` (also `timeout`; a fifth of the hanging agents, since each
 *   burns a core until its timeout).
 * - crash: `process.exit(3)` in the worker (outcome `crashed`; only the worker ends).
 *
 * Periods are spread over a range rather than one value. Chosen when slots started at multiples
 * of the period (agents sharing a period all due at the same instant); phase offsets
 * (docs/scheduling.md) now spread same-period agents too, and the range keeps soak runs comparable
 * with earlier ones. Either way each instant's burst stays small on a 2-core machine, and the
 * jitter measures the scheduler and runner, not the time to drain one burst.
 */
import { z } from 'zod';

export const FAULT_KINDS = ['throw', 'hang', 'spin', 'crash'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
export type AgentKind = 'healthy' | FaultKind;

/** The outcome a failing run of each faulty kind must report. */
export const EXPECTED_OUTCOME: Record<FaultKind, string> = { throw: 'error', hang: 'timeout', spin: 'timeout', crash: 'crashed' };

export const FleetOptionsSchema = z
  .object({
    agents: z.number().int().min(20).max(5000),
    /** fractions of the fleet (the issue: 10 % throw, 5 % hang, 1 % crash) */
    throwFraction: z.number().min(0).max(1).default(0.1),
    hangFraction: z.number().min(0).max(1).default(0.05),
    crashFraction: z.number().min(0).max(1).default(0.01),
    /** of the hanging agents, every n-th spins synchronously instead of awaiting forever */
    spinEvery: z.number().int().min(1).default(5),
    healthyCycleSeconds: z.tuple([z.number().int().min(1), z.number().int().min(1)]),
    faultyCycleSeconds: z.tuple([z.number().int().min(1), z.number().int().min(1)]),
    healthyTimeoutSeconds: z.number().min(0.1).default(5),
    faultyTimeoutSeconds: z.number().min(0.1).default(1),
    /** name prefix; names are `<prefix>-<kind>-<nnnn>` */
    prefix: z
      .string()
      .regex(/^[a-z][a-z0-9]{0,9}$/)
      .default('soak'),
  })
  .refine(
    (o) => o.healthyCycleSeconds[0] <= o.healthyCycleSeconds[1] && o.faultyCycleSeconds[0] <= o.faultyCycleSeconds[1],
    'period ranges must be [min, max]',
  )
  .refine((o) => o.throwFraction + o.hangFraction + o.crashFraction < 0.5, 'the faulty fractions must leave most of the fleet healthy');
export type FleetOptions = z.input<typeof FleetOptionsSchema>;

export interface PlannedAgent {
  name: string;
  kind: AgentKind;
  cycleSeconds: number;
  timeoutSeconds: number;
  /** healthy agents: the healthy agents it sends to, in rotation */
  peers: string[];
  source: string;
}

export interface FleetPlan {
  agents: PlannedAgent[];
  byName: Map<string, PlannedAgent>;
  healthy: PlannedAgent[];
  faulty: PlannedAgent[];
  counts: Record<AgentKind, number>;
}

const pad = (i: number) => String(i).padStart(4, '0');

function spread(range: readonly [number, number], i: number): number {
  const [lo, hi] = range;
  return lo + (i % (hi - lo + 1));
}

export function bundleSource(a: Omit<PlannedAgent, 'source'>): string {
  const head = `// soak agent ${a.name} (${a.kind})\n`;
  const manifest = `cycleSeconds: ${a.cycleSeconds}, timeoutSeconds: ${a.timeoutSeconds},`;
  switch (a.kind) {
    case 'healthy':
      return (
        head +
        `const PEERS = ${JSON.stringify(a.peers)};\n` +
        `export default {\n` +
        `  ${manifest}\n` +
        `  async runCycle(ctx) {\n` +
        `    const startedAt = Date.now();\n` +
        `    const n = (ctx.state.get('n') ?? 0) + 1;\n` +
        `    ctx.state.set('n', n);\n` +
        `    await ctx.publish('soak.ping', { cycle: ctx.cycle, startedAt, n }, PEERS[n % PEERS.length]);\n` +
        `  },\n` +
        `  async onEnvelope(envelope, ctx) {\n` +
        `    ctx.state.set('received', (ctx.state.get('received') ?? 0) + 1);\n` +
        `  },\n` +
        `};\n`
      );
    case 'throw':
      return head + `export default {\n  ${manifest}\n  async runCycle() { throw new Error('soak: deliberate failure'); },\n};\n`;
    case 'hang':
      return head + `export default {\n  ${manifest}\n  async runCycle() { await new Promise(() => {}); },\n};\n`;
    case 'spin':
      return head + `export default {\n  ${manifest}\n  runCycle() { for (;;) {} },\n};\n`;
    case 'crash':
      return head + `export default {\n  ${manifest}\n  runCycle() { process.exit(3); },\n};\n`;
  }
}

/** A deterministic fleet: the same options give the same names, kinds, periods and peers. */
export function planFleet(input: FleetOptions): FleetPlan {
  const o = FleetOptionsSchema.parse(input);
  const nThrow = Math.round(o.agents * o.throwFraction);
  const nHang = Math.round(o.agents * o.hangFraction);
  const nCrash = Math.round(o.agents * o.crashFraction);
  const faultyKinds: FaultKind[] = [];
  for (let i = 0; i < nThrow; i++) faultyKinds.push('throw');
  for (let i = 0; i < nHang; i++) faultyKinds.push((i + 1) % o.spinEvery === 0 ? 'spin' : 'hang');
  for (let i = 0; i < nCrash; i++) faultyKinds.push('crash');
  const nHealthy = o.agents - faultyKinds.length;
  const healthyNames = Array.from({ length: nHealthy }, (_, i) => `${o.prefix}-ok-${pad(i)}`);
  const agents: PlannedAgent[] = [];
  healthyNames.forEach((name, i) => {
    // three distinct peers (never itself): i+1, i+7, i+31 modulo the healthy count
    const peers = [...new Set([1, 7, 31].map((d) => healthyNames[(i + d) % nHealthy]!))].filter((p) => p !== name);
    const base = {
      name,
      kind: 'healthy' as const,
      cycleSeconds: spread(o.healthyCycleSeconds, i),
      timeoutSeconds: o.healthyTimeoutSeconds,
      peers,
    };
    agents.push({ ...base, source: bundleSource(base) });
  });
  faultyKinds.forEach((kind, i) => {
    const base = {
      name: `${o.prefix}-${kind}-${pad(i)}`,
      kind,
      cycleSeconds: spread(o.faultyCycleSeconds, i),
      timeoutSeconds: o.faultyTimeoutSeconds,
      peers: [],
    };
    agents.push({ ...base, source: bundleSource(base) });
  });
  const counts: Record<AgentKind, number> = { healthy: 0, throw: 0, hang: 0, spin: 0, crash: 0 };
  for (const a of agents) counts[a.kind]++;
  return {
    agents,
    byName: new Map(agents.map((a) => [a.name, a])),
    healthy: agents.filter((a) => a.kind === 'healthy'),
    faulty: agents.filter((a) => a.kind !== 'healthy'),
    counts,
  };
}
