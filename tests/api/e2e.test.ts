/**
 * The API on the whole local mode (LocalOrchestrator: DynamoDB Local, s3rver, local bus, timers,
 * runner pool with worker threads — everything real): Prometheus counters move as the agent
 * runs, and the component switch really stops the scheduler — no more cycles while the API and
 * the bus keep working (a published event reaches the ledger, a trigger still runs) — and
 * starting it resumes the cycles.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalOrchestrator } from '../../local/host';
import { bundleKey } from '../../shared/core/bundle/identity';
import { publicKeyOf, signBundle } from '../../shared/core/bundle/signing';
import { silentLogger } from '../../shared/core/logger';
import { tempDir } from '../support/env';
import { waitFor } from '../support/local-process';
import { parsePrometheus } from './prometheus';

const data = tempDir('orch-api-e2e-');
let host: LocalOrchestrator;

const api = (path: string, init: RequestInit = {}) =>
  fetch(host.apiUrl.replace(/\/$/, '') + path, {
    ...init,
    headers: { authorization: `Bearer ${host.dev.token}`, 'content-type': 'application/json', ...(init.headers ?? {}) },
  });

async function metric(name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const fams = parsePrometheus(await (await api('/metrics')).text());
  const s = [...fams.values()]
    .flatMap((f) => f.samples)
    .find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return s?.value;
}

const cycles = async () => (await host.heartbeats.get('fast'))?.cycles ?? 0;

beforeAll(async () => {
  host = await LocalOrchestrator.start({ dataDir: data.path, port: 0, logger: silentLogger, env: { ...process.env, LOG_LEVEL: 'silent' } });
  // a 1-second agent, signed with local mode's dev key and dropped into the hot directory
  const bytes = new TextEncoder().encode(
    'export default { cycleSeconds: 1, timeoutSeconds: 2, async runCycle(ctx) { ctx.state.set("n", (ctx.state.get("n") ?? 0) + 1); } };\n',
  );
  await host.bundles.put(bundleKey('fast', '1.0.0'), bytes, {
    signature: signBundle(host.dev.privateKey, 'fast', '1.0.0', bytes),
    signer: publicKeyOf(host.dev.privateKey),
  });
  await waitFor('fast registered', async () => ((await api('/agents/fast')).status === 200 ? true : undefined));
});

afterAll(async () => {
  await host?.stop();
  data.cleanup();
});

describe('API over the full local mode', () => {
  it('Prometheus counters move as cycles run', async () => {
    const first = await waitFor('two cycles in /metrics', async () => {
      const v = await metric('agent_cycles_total', { agent: 'fast' });
      return v !== undefined && v >= 2 ? v : undefined;
    });
    const later = await waitFor('more cycles', async () => {
      const v = await metric('agent_cycles_total', { agent: 'fast' });
      return v !== undefined && v >= first + 2 ? v : undefined;
    });
    expect(later).toBeGreaterThanOrEqual(first + 2);
    expect(await metric('agent_cycle_duration_seconds_count', { agent: 'fast' })).toBeGreaterThanOrEqual(later);
    expect(await metric('agent_up', { agent: 'fast' })).toBe(1);
    expect(await metric('ledger_head_seq')).toBeGreaterThan(0);
    expect(await metric('bus_published_total')).toBeGreaterThan(0);
    expect(await metric('bus_delivered_total', { rule: 'Ledger' })).toBeGreaterThan(0);
  });

  it('stopping the scheduler stops cycles while the API and the bus keep working; starting resumes', async () => {
    const stop = await api('/components/scheduler/stop', { method: 'POST' });
    expect(stop.status).toBe(200);
    expect(await stop.json()).toEqual({ component: { name: 'scheduler', running: false } });
    const comps = (await (await api('/components')).json()) as { components: { name: string; running: boolean }[] };
    expect(comps.components.filter((c) => !c.running).map((c) => c.name)).toEqual(['scheduler']);

    // a tick under way when the switch turned off still dispatches what it won, and slots
    // dispatched before the stop (up to the scheduler's horizon ahead) still run: wait until the
    // tick has ended and none of them is waiting or running; after that, nothing more
    await host.timers.settled('SchedulerTick');
    await waitFor('the slots dispatched before the stop to be done', async () => {
      await host.pool.idle();
      return host.pool.waiting().some((w) => w.message.agent === 'fast') ? undefined : true;
    });
    await host.pool.idle();
    const frozen = await cycles();
    // an absence over 3.5 periods of the 1-second agent (a slower machine cannot make a cycle appear)
    await new Promise((r) => setTimeout(r, 3500));
    expect(await cycles()).toBe(frozen);

    // the API answers and the bus delivers: a published envelope reaches the ledger
    expect((await api('/agents')).status).toBe(200);
    const pub = await api('/events', { method: 'POST', body: JSON.stringify({ topic: 'while.stopped', payload: { ok: true } }) });
    expect(pub.status).toBe(202);
    const { id } = (await pub.json()) as { id: string };
    await waitFor('the event in the ledger', async () => {
      const page = (await (await api('/ledger?topic=while.stopped&limit=10')).json()) as { entries: { id: string }[] };
      return page.entries.some((e) => e.id === id) ? true : undefined;
    });
    // the runner is not the scheduler: a trigger still runs one cycle
    expect((await api('/agents/fast/trigger', { method: 'POST' })).status).toBe(202);
    await waitFor('the triggered cycle', async () => ((await cycles()) === frozen + 1 ? true : undefined));
    await new Promise((r) => setTimeout(r, 1500)); // an absence again: no scheduled cycle follows it
    expect(await cycles()).toBe(frozen + 1);

    const start = await api('/components/scheduler/start', { method: 'POST' });
    expect(await start.json()).toEqual({ component: { name: 'scheduler', running: true } });
    await waitFor('cycles again', async () => ((await cycles()) >= frozen + 3 ? true : undefined));
    expect(await metric('agent_cycles_total', { agent: 'fast' })).toBeGreaterThanOrEqual(frozen + 3);
  });
});
