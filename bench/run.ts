/**
 * `npm run bench`: runs every benchmark module in bench/ (each exports `run()`), prints the
 * figures and writes bench/results.md with the machine description. Figures are measured in this
 * one run; ratios compare alternatives measured side by side.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, platform, release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchResult } from './types';

const here = dirname(fileURLToPath(import.meta.url));
const SKIP = new Set(['run.ts', 'types.ts']);
const only = process.argv.slice(2);

const modules = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && !SKIP.has(f))
  .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
  .sort();

const sections: { module: string; results: BenchResult[]; seconds: number; error?: string }[] = [];
for (const f of modules) {
  const t0 = performance.now();
  process.stdout.write(`# ${f}\n`);
  try {
    const mod = (await import(pathToFileURL(join(here, f)).href)) as { run?: () => Promise<BenchResult[]> };
    if (!mod.run) continue;
    const results = await mod.run();
    for (const r of results) console.log(`  ${r.name}: ${r.value} ${r.unit}${r.note ? ` (${r.note})` : ''}`);
    sections.push({ module: f, results, seconds: (performance.now() - t0) / 1000 });
  } catch (e) {
    console.error(`  failed: ${(e as Error).stack ?? e}`);
    sections.push({ module: f, results: [], seconds: (performance.now() - t0) / 1000, error: String((e as Error).message ?? e) });
  }
}

const cpu = cpus()[0]?.model ?? 'unknown';
const lines = [
  '# Benchmark results',
  '',
  `Run on ${new Date().toISOString()} — ${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${platform()} ${release()}, node ${process.version}.`,
  'Every figure below was measured in this one run (`npm run bench`); ratios compare alternatives measured side by side in it.',
  '',
];
for (const s of sections) {
  lines.push(`## ${s.module.replace(/\.ts$/, '')} (${s.seconds.toFixed(1)} s)`, '');
  if (s.error) lines.push(`failed: ${s.error}`, '');
  if (s.results.length) {
    lines.push('| figure | value | unit | note |', '|---|---:|---|---|');
    for (const r of s.results) lines.push(`| ${r.name} | ${r.value} | ${r.unit} | ${r.note ?? ''} |`);
    lines.push('');
  }
}
if (only.length === 0) writeFileSync(join(here, 'results.md'), lines.join('\n'));
process.exit(sections.some((s) => s.error) ? 1 : 0);
