/**
 * Publish → deliver latency in local mode: from the moment the bus accepts an envelope addressed
 * to an agent (LocalBus.publish, what the runner calls when an agent publishes and the API calls
 * for POST /events) to the moment the recipient's `onEnvelope` starts running in its agent
 * process (the agent reads Date.now() first thing and reports it back in an envelope). In between:
 * the local bus (Delivery rule) → router handler (registry cache) → runner pool → runner core
 * (registry read, bundle cache + re-verification, claim) → the agent's warm process (local mode's
 * default runtime, `process`; the host is started with the default AGENT_RUNTIME).
 *
 * The whole of local mode runs (LocalOrchestrator: DynamoDB Local, s3rver, every handler), so
 * the ledger appends of the same envelopes compete for the machine too. Two loads: one envelope
 * at a time (the next is sent when the previous was delivered), and a steady 20 envelopes/s.
 * Each figure is the median of several rounds, after a warm-up of WARM_UP envelopes (the
 * steady state of a running orchestrator, not its first seconds).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalOrchestrator } from '../local/host';
import { silentLogger } from '../shared/core/logger';
import { makeEnvelope } from '../shared/core/envelope';
import { bundleKey } from '../shared/core/bundle/identity';
import { publicKeyOf, signBundle } from '../shared/core/bundle/signing';
import type { BenchResult } from './types';
import { median, quantile } from './stats';

const ROUNDS = 3;
const SEQUENTIAL = 30;
const RATE_PER_SECOND = 20;
const LOADED_SECONDS = 8;
/** envelopes delivered before the first round (as an orchestrator that has been up for a minute) */
const WARM_UP = 600;

const SINK = `export default {
  cycleSeconds: 86400,
  timeoutSeconds: 5,
  async runCycle() {},
  async onEnvelope(envelope, ctx) {
    const at = Date.now();
    await ctx.publish('bench.delivered', { key: envelope.payload.key, sentAt: envelope.payload.sentAt, at });
  },
};
`;

/** one run: the figures are already medians over several rounds inside it (bench/run.ts) */
export const repeat = 1;

export async function run(): Promise<BenchResult[]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-latency-'));
  const host = await LocalOrchestrator.start({
    dataDir,
    port: 0,
    logger: silentLogger,
    env: { LOG_LEVEL: 'silent' },
    runnerConcurrency: 4,
  });
  try {
    const bytes = new TextEncoder().encode(SINK);
    await host.bundles.put(bundleKey('sink', '1.0.0'), bytes, {
      signature: signBundle(host.dev.privateKey, 'sink', '1.0.0', bytes),
      signer: publicKeyOf(host.dev.privateKey),
    });
    for (let i = 0; ; i++) {
      if ((await host.registry.get('sink'))?.hasOnEnvelope) break;
      if (i > 200) throw new Error('the sink agent was not registered within 20 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    const waiting = new Map<string, (ms: number) => void>();
    host.bus.subscribe((e) => {
      const p = e.detail.payload;
      if (e.detail.topic !== 'bench.delivered' || typeof p.key !== 'string' || typeof p.sentAt !== 'number' || typeof p.at !== 'number')
        return;
      waiting.get(p.key)?.(p.at - p.sentAt);
      waiting.delete(p.key);
    });
    let n = 0;
    const send = (): Promise<number> => {
      const key = `k${n++}`;
      const delivered = new Promise<number>((res) => waiting.set(key, res));
      const env = makeEnvelope({ topic: 'bench.ping', sender: 'bench', recipient: 'sink', payload: { key, sentAt: Date.now() } });
      void host.bus.publish([env]);
      return delivered;
    };
    // warm-up: router cache, bundle cache, V8's JIT and above all DynamoDB Local's JVM, fresh here,
    // whose requests cost several times their steady-state CPU until C2 has compiled its hot paths
    // (bench/cycles.ts shows the rounds): WARM_UP envelopes, 20 in flight at a time
    for (let i = 0; i < WARM_UP; i += 20) await Promise.all(Array.from({ length: 20 }, () => send()));

    const seqP50: number[] = [];
    const seqP99: number[] = [];
    const loadP50: number[] = [];
    const loadP99: number[] = [];
    let loadedCount = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const seq: number[] = [];
      for (let i = 0; i < SEQUENTIAL; i++) seq.push(await send());
      seq.sort((a, b) => a - b);
      seqP50.push(quantile(seq, 0.5));
      seqP99.push(quantile(seq, 0.99));

      const pending: Promise<number>[] = [];
      const t0 = Date.now();
      for (let i = 0; i < RATE_PER_SECOND * LOADED_SECONDS; i++) {
        const due = t0 + (i * 1000) / RATE_PER_SECOND;
        const wait = due - Date.now();
        if (wait > 0) await new Promise((res) => setTimeout(res, wait));
        pending.push(send());
      }
      const loaded = (await Promise.all(pending)).sort((a, b) => a - b);
      loadedCount = loaded.length;
      loadP50.push(quantile(loaded, 0.5));
      loadP99.push(quantile(loaded, 0.99));
      await host.idle();
    }
    const r0 = (x: number) => Math.round(x);
    const spread = (xs: number[]) => `median of ${ROUNDS} rounds (${xs.map(r0).join(', ')})`;
    return [
      {
        name: 'publish → deliver p50, one at a time',
        value: r0(median(seqP50)),
        unit: 'ms',
        note: `bus accepts → recipient's onEnvelope starts (process runtime, warm agent process); ${SEQUENTIAL} envelopes per round, after a warm-up of ${WARM_UP}; ${spread(seqP50)}`,
      },
      { name: 'publish → deliver p99, one at a time', value: r0(median(seqP99)), unit: 'ms', note: spread(seqP99) },
      {
        name: `publish → deliver p50, ${RATE_PER_SECOND} envelopes/s`,
        value: r0(median(loadP50)),
        unit: 'ms',
        note: `${loadedCount} envelopes per round over ${LOADED_SECONDS} s, runner concurrency 4, ledger appends included; ${spread(loadP50)}`,
      },
      { name: `publish → deliver p99, ${RATE_PER_SECOND} envelopes/s`, value: r0(median(loadP99)), unit: 'ms', note: spread(loadP99) },
    ];
  } finally {
    await host.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of await run()) console.log(`${r.name}: ${r.value} ${r.unit}${r.note ? ` (${r.note})` : ''}`);
  process.exit(0);
}
