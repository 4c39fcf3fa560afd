/**
 * `npm run bench`: runs every benchmark module in bench/ (each exports `run()`), prints the
 * figures and writes bench/results.md: the machine description, a headline table (the figures the
 * README quotes), then every module's figures.
 *
 * Noise: a module runs `repeat` times (its own `export const repeat`, else the table below) and
 * each figure is the median of its values over those runs, with the range in the note. Modules
 * that already take medians over several rounds or processes inside one run (latency,
 * runner-bundle) run once; counts (requests per cycle, request units) are ratios of counts
 * measured in one run and do not vary. The total must stay under 10 minutes on the 2-core
 * machine; the time of each module and the total are in the report.
 *
 * `npm run bench -- verify api` runs only the modules whose file names start with those words
 * and does not write results.md.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, platform, release, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchResult } from './types';
import { median } from './stats';

const here = dirname(fileURLToPath(import.meta.url));
const SKIP = new Set(['run.ts', 'types.ts']);
const only = process.argv.slice(2);
const BUDGET_SECONDS = 600;

/**
 * Runs per module when the module does not say (`export const repeat`). cycles.ts takes about
 * two minutes per run on the 2-core machine; three runs keep the total near 8 minutes.
 */
const REPEAT: Record<string, number> = {};
const DEFAULT_REPEAT = 3;

const modules = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && !SKIP.has(f))
  .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
  .sort();

interface Section {
  module: string;
  results: BenchResult[];
  seconds: number;
  runs: number;
  /** runs that threw (their figures are left out; the module fails if no run succeeded) */
  failedRuns: string[];
  error?: string;
}

/** Same precision as the inputs (the modules round their figures). */
function decimals(xs: number[]): number {
  return Math.max(0, ...xs.map((x) => (String(x).split('.')[1] ?? '').length));
}

function aggregate(runs: BenchResult[][]): BenchResult[] {
  if (runs.length === 1) return runs[0]!;
  const order: string[] = [];
  const byName = new Map<string, BenchResult[]>();
  for (const run of runs)
    for (const r of run) {
      if (!byName.has(r.name)) {
        byName.set(r.name, []);
        order.push(r.name);
      }
      byName.get(r.name)!.push(r);
    }
  return order.map((name) => {
    const rs = byName.get(name)!;
    const values = rs.map((r) => r.value);
    const d = decimals(values);
    const med = Number(median(values).toFixed(d));
    const same = values.every((v) => v === values[0]);
    const spread = same
      ? `same in all ${values.length} runs`
      : `median of ${values.length} runs: ${values.map((v) => v.toFixed(d)).join(', ')}`;
    // the note (counts, details) of the run whose value is the median, or is closest to it
    const at = rs.reduce((best, r) => (Math.abs(r.value - med) < Math.abs(best.value - med) ? r : best), rs[0]!);
    return { name, value: med, unit: rs[0]!.unit, note: [at.note, spread].filter(Boolean).join('; ') };
  });
}

const t0 = performance.now();
const load = loadavg()
  .map((x) => x.toFixed(2))
  .join(', ');
const sections: Section[] = [];
for (const f of modules) {
  const s0 = performance.now();
  process.stdout.write(`# ${f}\n`);
  let runs = 0;
  const failedRuns: string[] = [];
  try {
    const mod = (await import(pathToFileURL(join(here, f)).href)) as { run?: () => Promise<BenchResult[]>; repeat?: number };
    if (!mod.run) continue;
    const repeat = Math.max(1, mod.repeat ?? REPEAT[f] ?? DEFAULT_REPEAT);
    const all: BenchResult[][] = [];
    for (let i = 0; i < repeat; i++) {
      runs++;
      try {
        all.push(await mod.run());
        process.stdout.write(`  (run ${i + 1} of ${repeat} done, ${((performance.now() - s0) / 1000).toFixed(1)} s)\n`);
      } catch (e) {
        // one failed run does not void the others; it is reported with the module's figures
        const msg = String((e as Error).message ?? e);
        failedRuns.push(msg);
        console.error(`  run ${i + 1} of ${repeat} failed: ${(e as Error).stack ?? e}`);
      }
    }
    if (all.length === 0) throw new Error(`every run failed: ${failedRuns.join(' | ')}`);
    const results = aggregate(all);
    for (const r of results) console.log(`  ${r.name}: ${r.value} ${r.unit}${r.note ? ` (${r.note})` : ''}`);
    sections.push({ module: f, results, seconds: (performance.now() - s0) / 1000, runs, failedRuns });
  } catch (e) {
    console.error(`  failed: ${(e as Error).stack ?? e}`);
    sections.push({
      module: f,
      results: [],
      seconds: (performance.now() - s0) / 1000,
      runs,
      failedRuns,
      error: String((e as Error).message ?? e),
    });
  }
}
const totalSeconds = (performance.now() - t0) / 1000;

// ------------------------------------------------------------------------------------------------
// headline: the figures the README quotes, found by name in the modules' results

interface Headline {
  label: string;
  module: string;
  /** the figure's name starts with this */
  name: string;
  transform?: (r: BenchResult) => { value: number; unit: string };
}

const perMillion = (r: BenchResult) => ({
  value: Number(r.value.toFixed(2)),
  unit: `million requests (${r.value} per cycle counted by SDK middleware, plus ≈ 2 million SQS receive/delete by the event source mapping, estimated)`,
});

const HEADLINES: Headline[] = [
  {
    label: 'cycles/s, local mode, process runtime (runner pool, DynamoDB Local + s3rver + ledger, warm agent processes)',
    module: 'cycles.ts',
    name: 'local: cycles/s through the runner pool, process runtime',
  },
  {
    label: 'cycles/s, local mode, thread runtime (same run; a fresh worker thread per run)',
    module: 'cycles.ts',
    name: 'local: cycles/s through the runner pool, thread runtime',
  },
  {
    label: 'peer: BullMQ + Redis, sandboxed processor in child processes, concurrency 2 (same run)',
    module: 'peer-bullmq.ts',
    name: 'BullMQ peer: jobs/s, sandboxed processor in child processes',
  },
  {
    label: 'peer: BullMQ + Redis, sandboxed processor in worker threads, concurrency 2 (same run)',
    module: 'peer-bullmq.ts',
    name: 'BullMQ peer: jobs/s, sandboxed processor in worker threads',
  },
  { label: 'publish → deliver p50 / p99, one at a time', module: 'latency.ts', name: 'publish → deliver p50, one at a time' },
  { label: '', module: 'latency.ts', name: 'publish → deliver p99, one at a time' },
  { label: 'publish → deliver p50 / p99 at 20 envelopes/s', module: 'latency.ts', name: 'publish → deliver p50, 20 envelopes/s' },
  { label: '', module: 'latency.ts', name: 'publish → deliver p99, 20 envelopes/s' },
  { label: 'API GET /agents p50 / p99 under load from a second process', module: 'api.ts', name: 'GET /agents p50' },
  { label: '', module: 'api.ts', name: 'GET /agents p99' },
  { label: 'API GET /metrics p50 / p99 under load from a second process', module: 'api.ts', name: 'GET /metrics p50' },
  { label: '', module: 'api.ts', name: 'GET /metrics p99' },
  {
    label: 'API GET /agents (page of 100) p50 / p99, 10 000 agents, 500 req/s open loop (local read model)',
    module: 'api.ts',
    name: 'GET /agents (page of 100) p50, 10000 agents, 500 req/s',
  },
  { label: '', module: 'api.ts', name: 'GET /agents (page of 100) p99, 10000 agents, 500 req/s' },
  {
    label: 'API GET /metrics (aggregate-only) p50 / p99, 10 000 agents, 500 req/s open loop (local read model)',
    module: 'api.ts',
    name: 'GET /metrics (aggregate-only) p50, 10000 agents, 500 req/s',
  },
  { label: '', module: 'api.ts', name: 'GET /metrics (aggregate-only) p99, 10000 agents, 500 req/s' },
  {
    label: 'unary gRPC ListAgents (grpc-js, h2c) p50 / p99, one at a time, from a second process',
    module: 'rpc.ts',
    name: 'gRPC ListAgents (grpc-js, h2c) p50, one at a time',
  },
  { label: '', module: 'rpc.ts', name: 'gRPC ListAgents (grpc-js, h2c) p99, one at a time' },
  {
    label: 'its REST equivalent GET /agents p50 / p99, same conditions',
    module: 'rpc.ts',
    name: 'REST GET /agents (HTTP/1.1) p50, one at a time',
  },
  { label: '', module: 'rpc.ts', name: 'REST GET /agents (HTTP/1.1) p99, one at a time' },
  { label: 'ledger append (local bus, SQS batch 10)', module: 'ledger.ts', name: 'append via local bus' },
  { label: 'ledger replay (read + re-publish)', module: 'ledger.ts', name: 'replay (read + re-publish)' },
  { label: 'Kafka bridge outbound: bus → Kafka, acknowledged', module: 'kafka.ts', name: 'outbound: bus → Kafka' },
  { label: 'Kafka bridge inbound: Kafka → bus', module: 'kafka.ts', name: 'inbound: Kafka → bus' },
  {
    label: 'bundle signature verify, node:crypto',
    module: 'verify.ts',
    name: 'ed25519 verify, node:crypto',
    transform: (r) => ({ value: Number((1e6 / r.value).toFixed(1)), unit: 'µs per verify' }),
  },
  {
    label: 'bundle signature verify, @noble/ed25519',
    module: 'verify.ts',
    name: 'ed25519 verify, @noble/ed25519',
    transform: (r) => ({ value: Number((1e6 / r.value).toFixed(1)), unit: 'µs per verify' }),
  },
  { label: 'node:crypto / noble speed ratio', module: 'verify.ts', name: 'node:crypto / noble speed ratio' },
  { label: 'runner bundle size (minified ESM, AWS SDK external)', module: 'runner-bundle.ts', name: 'runner bundle size' },
  { label: 'runner bundle module init (cold import)', module: 'runner-bundle.ts', name: 'runner bundle module init' },
  {
    label: 'AWS requests per million cycles (100 agents × 60 s)',
    module: 'cycles.ts',
    name: 'cloud (100 agents × cycleSeconds 60): AWS requests per steady-state cycle',
    transform: perMillion,
  },
  {
    label: 'AWS cost per million cycles (100 agents × 60 s)',
    module: 'cycles.ts',
    name: 'cloud (100 agents × cycleSeconds 60): cost per million cycles',
  },
  {
    label: 'AWS requests per million cycles (10 agents × 1 s)',
    module: 'cycles.ts',
    name: 'cloud (10 agents × cycleSeconds 1): AWS requests per steady-state cycle',
    transform: perMillion,
  },
  {
    label: 'AWS cost per million cycles (10 agents × 1 s)',
    module: 'cycles.ts',
    name: 'cloud (10 agents × cycleSeconds 1): cost per million cycles',
  },
];

const anchor = (module: string) => module.replace(/\.ts$/, '');

function headlineRows(): string[] {
  const rows: string[] = [];
  for (let i = 0; i < HEADLINES.length; i++) {
    const h = HEADLINES[i]!;
    if (!h.label) continue; // second half of a pair, printed with the first
    const find = (x: Headline) => {
      const rs = sections.find((s) => s.module === x.module)?.results ?? [];
      return rs.find((r) => r.name === x.name) ?? rs.find((r) => r.name.startsWith(x.name));
    };
    const show = (x: Headline) => {
      const r = find(x);
      if (!r) return 'not measured';
      const v = x.transform ? x.transform(r) : { value: r.value, unit: r.unit };
      return `${v.value} ${v.unit}`;
    };
    const pair = HEADLINES[i + 1] && !HEADLINES[i + 1]!.label ? HEADLINES[i + 1]! : null;
    const value = pair ? `${show(h)} / ${show(pair)}` : show(h);
    rows.push(`| ${h.label} | ${value} | [${anchor(h.module)}](#${anchor(h.module)}) |`);
  }
  return rows;
}

const cpu = cpus()[0]?.model ?? 'unknown';
const lines = [
  '# Benchmark results',
  '',
  `Run on ${new Date().toISOString()} by \`npm run bench\` in ${totalSeconds.toFixed(0)} s (budget ${BUDGET_SECONDS} s).`,
  '',
  `Machine: ${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, ${platform()} ${release()}, node ${process.version}; load average at the start ${load}. DynamoDB Local (Java) and s3rver run on the same cores as the code measured, so DynamoDB-bound figures are local-mode figures, far below what DynamoDB itself does.`,
  '',
  "Each figure is the median over the module's runs (the number of runs and every value are in its note), or a ratio/count measured in one run. Figures a module measures as medians of rounds or processes inside one run say so in their note.",
  '',
  '## Headline',
  '',
  '| figure | value | details |',
  '|---|---:|---|',
  ...headlineRows(),
  '',
];
for (const s of sections) {
  lines.push(
    `## ${anchor(s.module)}`,
    '',
    `\`bench/${s.module}\`: ${s.runs} run${s.runs === 1 ? '' : 's'}, ${s.seconds.toFixed(1)} s.`,
    '',
  );
  if (s.error) lines.push(`failed: ${s.error}`, '');
  else if (s.failedRuns.length)
    lines.push(
      `${s.failedRuns.length} of ${s.runs} runs failed and are left out of the medians: ${s.failedRuns.map((m) => m.replace(/\|/g, '\\|')).join('; ')}`,
      '',
    );
  if (s.results.length) {
    lines.push('| figure | value | unit | note |', '|---|---:|---|---|');
    for (const r of s.results) lines.push(`| ${r.name} | ${r.value} | ${r.unit} | ${(r.note ?? '').replace(/\|/g, '\\|')} |`);
    lines.push('');
  }
}
console.log(`total ${totalSeconds.toFixed(0)} s`);
if (only.length === 0) writeFileSync(join(here, 'results.md'), lines.join('\n'));
process.exit(sections.some((s) => s.error) || (only.length === 0 && totalSeconds > BUDGET_SECONDS) ? 1 : 0);
