/**
 * Agent A publishing to agent B in local mode, wired as local mode wires it: signed bundles in
 * s3rver registered by the real AgentManager, the LocalBus with the shared RULES, the very
 * ledger-writer and router handlers, the local runner pool running the runner core, each run in
 * a real worker thread; DynamoDB Local behind every table.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestTables, startTestS3 } from '../support/env';
import { createTestInspector } from '../support/inspector';
import { LocalBus } from '../../local/bus';
import { LocalRunnerPool } from '../../local/runner';
import { RULES } from '../../shared/definitions/routing';
import { createLedgerWriterHandler } from '../../functions/ledger-writer/core';
import { createRouterHandler } from '../../functions/router/core';
import { createRunnerCore } from '../../functions/runner/core';
import { DynamoRegistry } from '../../shared/adapters/aws/dynamo-registry';
import { DynamoHeartbeats } from '../../shared/adapters/aws/dynamo-heartbeats';
import { S3BundleStore } from '../../shared/adapters/aws/s3-bundle-store';
import { generateKeyPair, publicKeyOf, signBundle } from '../../shared/core/bundle/signing';
import { bundleKey } from '../../shared/core/bundle/identity';
import { loadConfig } from '../../shared/core/config';
import type { RunReport } from '../../shared/core/runner/service';
import type { LedgerService } from '../../shared/core/ledger/service';
import { allEntries, ledgerOn } from './helpers';
import { managerOn } from '../support/manager';

const SENDER = `
export default {
  cycleSeconds: 3600,
  timeoutSeconds: 5,
  async runCycle(ctx) {
    await ctx.publish('greeting', { text: 'hello B', cycle: ctx.cycle }, 'agent-b');
  },
};
`;
const RECEIVER = `
export default {
  cycleSeconds: 3600,
  timeoutSeconds: 5,
  subscriptions: ['greeting.*'],
  async onEnvelope(envelope, ctx) {
    ctx.state.set('last', { from: envelope.sender, topic: envelope.topic, payload: envelope.payload, id: envelope.id });
    await ctx.publish('greeting.ack', { ack: envelope.id }, envelope.sender);
  },
  async runCycle() {},
};
`;

let s3: Awaited<ReturnType<typeof startTestS3>>;
let bus: LocalBus;
let pool: LocalRunnerPool;
let ledger: LedgerService;
let heartbeats: DynamoHeartbeats;
const reports: RunReport[] = [];

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) {
    await pool.idle();
    await bus.idle();
    const s = pool.stats();
    if (s.inFlight === 0 && s.pending === 0) return;
  }
}

beforeAll(async () => {
  s3 = await startTestS3();
  const t = await createTestTables(s3.endpoint);
  const keys = generateKeyPair();
  const config = loadConfig({ AGENT_BUNDLE_PUBKEYS: keys.publicKey });
  const registry = new DynamoRegistry(t.clients.ddb, t.names.Registry);
  heartbeats = new DynamoHeartbeats(t.clients.ddb, t.names.Heartbeats);
  const bundles = new S3BundleStore(t.clients.s3, s3.bucket);
  const sandbox = createTestInspector();
  let writer: ReturnType<typeof createLedgerWriterHandler> | undefined;
  let router: ReturnType<typeof createRouterHandler> | undefined;
  bus = new LocalBus({
    rules: RULES,
    vars: { HOT_BUCKET: s3.bucket },
    targets: { 'ledger-writer': (e: unknown) => writer!(e), router: (e: unknown) => router!(e) },
  });
  ledger = ledgerOn(t.clients.ddb, t.names.Ledger);
  writer = createLedgerWriterHandler({ ledger });
  const core = createRunnerCore({ registry, heartbeats, bundles, events: bus, sandbox, config });
  pool = new LocalRunnerPool({ core, concurrency: 2, onReport: (r) => reports.push(r) });
  router = createRouterHandler({ registry, dispatcher: pool, cacheTtlMs: 0 });
  const manager = managerOn({ registry, bundles, events: bus, inspector: sandbox, config });
  for (const [name, src] of [
    ['agent-a', SENDER],
    ['agent-b', RECEIVER],
  ] as const) {
    const bytes = new TextEncoder().encode(src);
    const key = bundleKey(name, '1.0.0');
    await bundles.put(key, bytes, { signature: signBundle(keys.privateKey, name, '1.0.0', bytes), signer: publicKeyOf(keys.privateKey) });
    expect(await manager.onObjectCreated(key, bytes.byteLength)).toMatchObject({ kind: 'registered' });
  }
  await settle();
}, 120_000);

afterAll(async () => {
  await pool?.stop();
  await bus?.idle();
  await s3?.stop();
});

describe('agent A publishes to agent B (local mode)', () => {
  it("B's onEnvelope sees A's envelope, and the ledger holds it", async () => {
    await pool.dispatch([{ message: { kind: 'trigger', agent: 'agent-a', runId: 'trigger-1' }, notBefore: 0 }]);
    await settle();

    const entries = await allEntries(ledger);
    const greeting = entries.find((e) => e.topic === 'greeting');
    expect(greeting).toMatchObject({ sender: 'agent-a', recipient: 'agent-b', payload: { text: 'hello B', cycle: expect.any(Number) } });

    // B ran its onEnvelope with exactly that envelope (and persisted what it saw)
    const bRun = reports.find((r) => r.agent === 'agent-b' && r.kind === 'envelope');
    expect(bRun).toMatchObject({ status: 'ran', outcome: 'ok', runId: `agent-b<${greeting!.id}` });
    const state = await heartbeats.getState('agent-b');
    expect(state.last).toEqual({ from: 'agent-a', topic: 'greeting', payload: greeting!.payload, id: greeting!.id });

    // B's answer went back over the bus and into the ledger, after the greeting
    const ack = entries.find((e) => e.topic === 'greeting.ack');
    expect(ack).toMatchObject({ sender: 'agent-b', recipient: 'agent-a', payload: { ack: greeting!.id } });
    expect(ack!.seq).toBeGreaterThan(greeting!.seq);
    // A has no onEnvelope: the addressed ack is ledgered, not dispatched to A
    expect(reports.filter((r) => r.agent === 'agent-a' && r.kind === 'envelope')).toEqual([]);
    // the orchestrator's own events are on the same ledger (registration, cycles)
    expect(entries.filter((e) => e.topic === 'agent.registered').map((e) => e.payload.name)).toEqual(['agent-a', 'agent-b']);
    expect(entries.some((e) => e.topic === 'agent.cycle' && e.payload.name === 'agent-a')).toBe(true);
    expect(await ledger.verify()).toMatchObject({ ok: true, entries: entries.length, firstBad: null });
    expect(bus.stats().failed).toEqual({ HotDirectory: 0, Ledger: 0, Delivery: 0, Health: 0 });
  });
});
