/**
 * The runner core and its SQS handler against DynamoDB Local, s3rver and real worker runs:
 * status/generation gating, claims, envelope runs, the all-or-nothing completion, bundle
 * re-verification on load, and the batch-item-failure contract of the Lambda handler.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createRunnerHandler } from '../../functions/runner/core';
import { leaseMs, slotExpiryMs } from '../../shared/core/runner/service';
import { CompletionAbandonedError, RunLeaseHeldError } from '../../shared/core/runner/errors';
import { DynamoRegistry } from '../../shared/adapters/aws/dynamo-registry';
import { bundleKey } from '../../shared/core/bundle/identity';
import { generateKeyPair, signBundle } from '../../shared/core/bundle/signing';
import { makeEnvelope } from '../../shared/core/envelope';
import { ValidationError } from '../../shared/core/errors';
import type { BundleStore } from '../../shared/core/ports';
import { tempDir } from '../support/env';
import { startRuntime, type Runtime } from './harness';
import { withFaults } from './helpers';
import { countingS3 } from '../support/counting-s3';
import { S3BundleStore } from '../../shared/adapters/aws/s3-bundle-store';

describe('runner core', () => {
  let rt: Runtime;
  let markers: ReturnType<typeof tempDir>;
  beforeAll(async () => {
    rt = await startRuntime();
    markers = tempDir('orch-runner-');
    await rt.publish('listener', 'listener.mjs');
    await rt.publish('worker', 'healthy.mjs');
  });
  afterAll(async () => {
    await rt?.stop();
    markers?.cleanup();
  });

  const cycleMsg = async (agent: string, slot = rt.clock.now()) => ({
    kind: 'cycle' as const,
    agent,
    runId: `${agent}@${slot}`,
    slot,
    generation: (await rt.registry.get(agent))!.generation,
  });

  it('survives store failures around a run: a failed completion write is retried in place; a claim whose answer was lost is taken over after its deadline', async () => {
    await rt.publish('sturdy', 'healthy.mjs');
    const faults = { complete: 0, claimAnswerLost: false };
    // the real store, with faults: a failing write, and a claim that is applied but whose answer never arrives
    const hb = withFaults(rt.heartbeats, {
      complete: async (...a: Parameters<typeof rt.heartbeats.complete>) => {
        if (faults.complete-- > 0) throw new Error('connect ECONNREFUSED (complete)');
        return rt.heartbeats.complete(...a);
      },
      claimAndRead: async (...a: Parameters<typeof rt.heartbeats.claimAndRead>) => {
        const out = await rt.heartbeats.claimAndRead(...a);
        if (faults.claimAnswerLost) {
          faults.claimAnswerLost = false;
          throw new Error('socket hang up (claim applied, answer lost)');
        }
        return out;
      },
    });
    const core = rt.coreWith({ heartbeats: hb });

    faults.complete = 2;
    const first = await cycleMsg('sturdy');
    expect(await core(first)).toMatchObject({ status: 'ran', outcome: 'ok' });
    expect(await rt.heartbeats.get('sturdy')).toMatchObject({ cycles: 1, running: null });
    expect(await rt.heartbeats.getState('sturdy')).toEqual({ n: 1 });

    rt.clock.advance(60_000);
    faults.claimAnswerLost = true;
    const second = await cycleMsg('sturdy');
    await expect(core(second)).rejects.toThrow(/answer lost/);
    // redelivered at once: the lease may still be live, so the run is not started twice; the
    // message goes back to the queue (RunLeaseHeldError) rather than being dropped as a duplicate
    await expect(core(second)).rejects.toBeInstanceOf(RunLeaseHeldError);
    // redelivered after the lease's deadline (timeout + grace): taken over and run, once
    rt.clock.advance(leaseMs(2) + 1);
    expect(await core(second)).toMatchObject({ status: 'ran', outcome: 'ok' });
    expect(await core(second)).toMatchObject({ status: 'skipped', reason: 'duplicate' });
    expect(await rt.heartbeats.get('sturdy')).toMatchObject({ cycles: 2, running: null });
    expect(await rt.heartbeats.getState('sturdy')).toEqual({ n: 2 });
  });

  it('a completion applied but unanswered, retried after the next slot ran, is reported as the run it was (counted once), not as superseded', async () => {
    await rt.publish('unanswered', 'thrower.mjs');
    let loseAnswerOf: string | null = null;
    let next: Awaited<ReturnType<typeof cycleMsg>> | null = null;
    const nextReports: unknown[] = [];
    const hb = withFaults(rt.heartbeats, {
      complete: async (...a: Parameters<typeof rt.heartbeats.complete>) => {
        const out = await rt.heartbeats.complete(...a);
        if (a[1].runId === loseAnswerOf) {
          loseAnswerOf = null;
          // before the runner retries, the agent's next slot runs to its end
          nextReports.push(await core(next!));
          throw new Error('read ECONNRESET (completion applied, answer lost)');
        }
        return out;
      },
    });
    const core = rt.coreWith({ heartbeats: hb });
    rt.clock.advance(1000);
    const first = await cycleMsg('unanswered');
    next = await cycleMsg('unanswered', first.slot + 1000);
    loseAnswerOf = first.runId;
    const report = await core(first);
    expect(report).toMatchObject({ status: 'ran', runId: first.runId, outcome: 'error', consecutiveErrors: 2 });
    expect(nextReports).toEqual([expect.objectContaining({ status: 'ran', runId: next.runId, outcome: 'error', consecutiveErrors: 2 })]);
    // two failed runs, each counted once
    expect(await rt.heartbeats.get('unanswered')).toMatchObject({ cycles: 2, failures: 2, consecutiveErrors: 2 });
    await rt.bus.idle();
    expect(rt.runsOf('unanswered').map((e) => [e.topic, e.payload.runId])).toEqual(
      expect.arrayContaining([
        ['agent.failed', first.runId],
        ['agent.failed', next.runId],
      ]),
    );
  });

  it('an attempt never outlives its lease: a completion failing until the deadline gives up, and the redelivery takes over', async () => {
    await rt.publish('outage', 'healthy.mjs');
    let failing = true;
    let calls = 0;
    const hb = withFaults(rt.heartbeats, {
      complete: async (...a: Parameters<typeof rt.heartbeats.complete>) => {
        calls++;
        if (failing) {
          rt.clock.advance(12_000); // the store stays unreachable while time passes
          throw new Error('connect ECONNREFUSED (store down)');
        }
        return rt.heartbeats.complete(...a);
      },
    });
    const core = rt.coreWith({ heartbeats: hb });
    rt.clock.advance(1000);
    const msg = await cycleMsg('outage');
    const started = rt.clock.now();
    const err = await core(msg).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CompletionAbandonedError);
    expect((err as CompletionAbandonedError).cause).toBeInstanceOf(Error);
    // tried while the lease lasted (2 s timeout + grace), then not once after its deadline
    expect(calls).toBe(Math.ceil(leaseMs(2) / 12_000));
    expect(rt.clock.now()).toBeGreaterThanOrEqual(started + leaseMs(2));
    expect(await rt.heartbeats.get('outage')).toMatchObject({ cycles: 0 });
    // the store is back; the queue redelivers (after the slot's expiry, as the lease outlasts it):
    // the expired lease is taken over, the run counts once
    expect(rt.clock.now()).toBeGreaterThan(started + slotExpiryMs(1, 2));
    failing = false;
    expect(await core(msg)).toMatchObject({ status: 'ran', outcome: 'ok' });
    expect(await core(msg)).toMatchObject({ status: 'skipped', reason: 'duplicate' });
    expect(await rt.heartbeats.get('outage')).toMatchObject({ cycles: 1, running: null });
  });

  it('runs onEnvelope for an envelope delivery once per runId; no heartbeat, state persisted', async () => {
    const env = makeEnvelope({ topic: 'healthy.tick', sender: 'worker', payload: { n: 1 } }, rt.clock.now());
    const msg = { kind: 'envelope' as const, agent: 'listener', runId: `listener<${env.id}`, envelope: env };
    expect(await rt.core(msg)).toMatchObject({ status: 'ran', outcome: 'ok', kind: 'envelope' });
    expect(await rt.core(msg)).toMatchObject({ status: 'skipped', reason: 'duplicate' });
    expect(await rt.heartbeats.getState('listener')).toEqual({ got: 1 });
    expect(await rt.heartbeats.get('listener')).toMatchObject({ lastHeartbeat: null, cycles: 0 });
    // an agent without onEnvelope is not run for envelopes
    expect(await rt.core({ ...msg, agent: 'worker', runId: `worker<${env.id}` })).toMatchObject({
      status: 'skipped',
      reason: 'no_onEnvelope',
    });
  });

  it('skips unknown agents, paused agents, restarting agents and slots of an older generation', async () => {
    expect(await rt.core({ kind: 'cycle', agent: 'ghost', runId: 'ghost@1', slot: 1, generation: 1 })).toMatchObject({
      status: 'skipped',
      reason: 'unknown_agent',
    });
    const stale = await cycleMsg('worker');
    await rt.control.restart('worker'); // generation + 1
    expect(await rt.core(stale)).toMatchObject({ status: 'skipped', reason: 'stale_generation' });
    await rt.control.pause('worker');
    expect(await rt.core(await cycleMsg('worker'))).toMatchObject({ status: 'skipped', reason: 'paused' });
    await rt.control.resume('worker');
    await rt.registry.transition('worker', {
      to: 'restarting',
      from: ['active'],
      at: rt.clock.now(),
      reason: 'test',
      nextRunAt: rt.clock.now() + 5000,
    });
    expect(await rt.core(await cycleMsg('worker'))).toMatchObject({ status: 'skipped', reason: 'restarting' });
    expect(await rt.core({ kind: 'trigger', agent: 'worker', runId: 'worker!t1' })).toMatchObject({
      status: 'skipped',
      reason: 'restarting',
    });
    await rt.registry.transition('worker', { to: 'active', from: ['restarting'], at: rt.clock.now(), reason: 'test' });
    // an envelope for a paused agent is dropped and counted, not run and not kept
    await rt.control.pause('listener');
    const env = makeEnvelope({ topic: 'healthy.tick', sender: 'worker', payload: { n: 2 } }, rt.clock.now());
    expect(await rt.core({ kind: 'envelope', agent: 'listener', runId: `listener<${env.id}`, envelope: env })).toMatchObject({
      status: 'skipped',
      reason: 'paused',
    });
    expect(await rt.heartbeats.droppedCount('listener')).toBe(1);
    expect(await rt.heartbeats.getState('listener')).toEqual({ got: 1 });
    await rt.control.resume('listener');
    // nothing of the above ran agent code or wrote a heartbeat
    expect(rt.runsOf('worker')).toEqual([]);
  });

  it('an upgrade does not drop slots already queued: they run with the new version', async () => {
    await rt.publish('upgrader', 'healthy.mjs', '1.0.0');
    rt.clock.advance(20 * 60_000); // the last status change (registration) is long past
    const queued = await cycleMsg('upgrader'); // dispatched under the old generation
    await rt.publish('upgrader', 'healthy.mjs', '1.1.0');
    expect((await rt.registry.get('upgrader'))!.generation).toBe(queued.generation + 1);
    expect(await rt.core(queued)).toMatchObject({ status: 'ran', outcome: 'ok' });
    await rt.bus.idle();
    expect(rt.runsOf('upgrader').at(-1)?.payload).toMatchObject({ version: '1.1.0', slot: queued.slot });
  });

  it('a run publishes the agent envelopes (sender = agent) then agent.cycle; the report matches the heartbeat', async () => {
    const r = await rt.core(await cycleMsg('worker'));
    expect(r).toMatchObject({ status: 'ran', outcome: 'ok', cycle: 1, published: 1, consecutiveErrors: 0 });
    await rt.bus.idle();
    const tick = rt.ledgerOf('healthy.tick').at(-1);
    expect(tick).toMatchObject({ sender: 'worker', payload: { n: 1, cycle: 1 } });
    expect(rt.runsOf('worker').at(-1)).toMatchObject({
      topic: 'agent.cycle',
      sender: 'orchestrator',
      payload: { name: 'worker', outcome: 'ok', published: 1, kind: 'cycle' },
    });
    expect(await rt.heartbeats.get('worker')).toMatchObject({ cycles: 1, lastOutcome: 'ok', running: null, lastHeartbeat: rt.clock.now() });
  });

  it('a slot delivered long after its start is skipped as expired', async () => {
    const old = await cycleMsg('worker', rt.clock.now() + 1000);
    rt.clock.advance(1000 + slotExpiryMs(1, 2) + 1);
    expect(await rt.core(old)).toMatchObject({ status: 'skipped', reason: 'expired' });
  });

  it('a slot claimed in time by an attempt that then lost the store is still run when its redelivery comes after the expiry', async () => {
    await rt.publish('late', 'healthy.mjs');
    let loseClaimAnswer = true;
    const hb = withFaults(rt.heartbeats, {
      claimAndRead: async (...a: Parameters<typeof rt.heartbeats.claimAndRead>) => {
        const out = await rt.heartbeats.claimAndRead(...a);
        if (loseClaimAnswer) {
          loseClaimAnswer = false;
          throw new Error('connect ECONNREFUSED (claim applied, answer lost)');
        }
        return out;
      },
    });
    const core = rt.coreWith({ heartbeats: hb });
    rt.clock.advance(1000);
    const msg = await cycleMsg('late');
    const copy = structuredClone(msg);
    await expect(core(msg)).rejects.toThrow(/answer lost/);
    // the redelivery (held until the lease's deadline) comes late, on a busy host: after the expiry
    rt.clock.advance(Math.max(leaseMs(2), slotExpiryMs(1, 2)) + 1000);
    expect(await core(msg)).toMatchObject({ status: 'ran', outcome: 'ok' });
    // a copy of it: refused as a duplicate (not 'expired': the slot ran)
    expect(await core(copy)).toMatchObject({ status: 'skipped', reason: 'duplicate' });
    expect(await rt.heartbeats.get('late')).toMatchObject({ cycles: 1, running: null });
    // an expired slot nobody claimed is still not started
    const never = await cycleMsg('late', msg.slot + 1000);
    rt.clock.advance(1000 + slotExpiryMs(1, 2));
    expect(await core(never)).toMatchObject({ status: 'skipped', reason: 'expired' });
    expect(await rt.heartbeats.get('late')).toMatchObject({ cycles: 1 });
  });

  it("a registry record pointing at another agent's bundle fails the run: that code never runs under this agent's name and state", async () => {
    const worker = (await rt.registry.get('worker'))!;
    // a record whose bundle key and sha256 are the worker's, well signed and well hashed
    await rt.registry.register({
      name: 'impostor',
      version: '1.0.0',
      versionKey: worker.versionKey,
      bundleKey: worker.bundleKey,
      sha256: worker.sha256,
      size: worker.size,
      signer: worker.signer,
      manifest: { cycleSeconds: 1, timeoutSeconds: 2, subscriptions: [], hasOnEnvelope: false },
      at: new Date(rt.clock.now()).toISOString(),
      firstRunAt: rt.clock.now() + 3_600_000,
    });
    const r = await rt.core(await cycleMsg('impostor'));
    expect(r).toMatchObject({ status: 'ran', outcome: 'error' });
    expect(r.status === 'ran' && r.error).toBe(
      `the registry record of impostor@1.0.0 points at ${bundleKey('worker', '1.0.0')}, not at its own bundle ${bundleKey('impostor', '1.0.0')}`,
    );
    // the worker's code did not run as the impostor: no state, nothing published in its name
    expect(await rt.heartbeats.getState('impostor')).toEqual({});
    expect(rt.ledgerOf('healthy.tick').filter((e) => e.sender === 'impostor')).toEqual([]);
  });

  it('re-verifies the bundle on every load: a replaced hot-directory object fails the run without running it', async () => {
    const marker = join(markers.path, 'tampered');
    const evil = new TextEncoder().encode(
      `import { writeFileSync } from 'node:fs'; export default { cycleSeconds: 1, runCycle() { writeFileSync(${JSON.stringify(marker)}, 'ran'); } };`,
    );
    // 1. replaced without a valid signature
    await rt.bundles.put(bundleKey('worker', '1.0.0'), evil, {
      signature: signBundle(generateKeyPair().privateKey, 'worker', '1.0.0', evil),
    });
    const fresh = rt.coreWith({});
    const r1 = await fresh(await cycleMsg('worker'));
    expect(r1).toMatchObject({ status: 'ran', outcome: 'error' });
    expect(r1.status === 'ran' && r1.error).toMatch(/failed re-verification \(bad_signature\)/);
    // 2. replaced with content validly signed by the trusted key, but not what was registered
    await rt.bundles.put(bundleKey('worker', '1.0.0'), evil, { signature: signBundle(rt.keys.privateKey, 'worker', '1.0.0', evil) });
    rt.clock.advance(1000);
    const r2 = await fresh(await cycleMsg('worker'));
    expect(r2.status === 'ran' && r2.error).toMatch(/no longer matches its registered sha256/);
    expect(existsSync(marker)).toBe(false);
    // the runner that had the verified bytes cached keeps running the registered code
    rt.clock.advance(1000);
    expect(await rt.core(await cycleMsg('worker'))).toMatchObject({ status: 'ran', outcome: 'ok' });
    expect(existsSync(marker)).toBe(false);
  });

  it('a registered bundle replaced by an object 64× the limit: the run fails (too_large) and the read stopped at the limit', async () => {
    const LIMIT = 64 * 1024;
    await rt.publish('swapped', 'healthy.mjs');
    const big = new TextEncoder().encode(`export default { runCycle() {} };\n/*${'x'.repeat(64 * LIMIT)}*/\n`);
    await rt.bundles.put(bundleKey('swapped', '1.0.0'), big, { signature: signBundle(rt.keys.privateKey, 'swapped', '1.0.0', big) });
    for (const stripLength of [false, true]) {
      const counting = countingS3(rt.s3.endpoint, { stripLength });
      const core = rt.coreWith({
        bundles: new S3BundleStore(counting.client, rt.s3.bucket),
        config: { ...rt.config, AGENT_MAX_BUNDLE_BYTES: LIMIT },
      });
      rt.clock.advance(1000);
      const r = await core(await cycleMsg('swapped'));
      expect(r).toMatchObject({ status: 'ran', outcome: 'error' });
      expect(r.status === 'ran' && r.error).toMatch(/failed re-verification \(too_large\)/);
      expect(counting.bytes()).toBeLessThan(16 * LIMIT);
    }
  });

  it('a failed run changes no state and publishes nothing of its own', async () => {
    await rt.publish(
      'halfway',
      `export default { cycleSeconds: 1, async runCycle(ctx) { ctx.state.set('partial', 1); await ctx.publish('half.way', {}); throw new Error('midway'); } };`,
    );
    const r = await rt.core(await cycleMsg('halfway'));
    expect(r).toMatchObject({ status: 'ran', outcome: 'error', error: 'midway', published: 0, consecutiveErrors: 1 });
    await rt.bus.idle();
    expect(await rt.heartbeats.getState('halfway')).toEqual({});
    expect(rt.ledgerOf('half.way')).toEqual([]);
    expect(rt.ledgerOf('agent.failed', 'halfway').at(-1)?.payload).toMatchObject({
      error: 'midway',
      consecutiveErrors: 1,
      outcome: 'error',
    });
  });

  it('loads a bundle from the hot directory once, then from its cache (re-verified each time)', async () => {
    let gets = 0;
    const counting: BundleStore = {
      ...rt.bundles,
      head: (k) => rt.bundles.head(k),
      list: (p) => rt.bundles.list(p),
      put: (k, b, m) => rt.bundles.put(k, b, m),
      get: (k, max) => {
        gets++;
        return rt.bundles.get(k, max);
      },
    };
    const core = rt.coreWith({ bundles: counting });
    for (let i = 0; i < 3; i++) {
      rt.clock.advance(1000);
      expect(await core(await cycleMsg('listener'))).toMatchObject({ status: 'ran', outcome: 'ok' });
    }
    expect(gets).toBe(1);
  });
});

describe('runner without trusted keys', () => {
  let rt: Runtime;
  beforeAll(async () => {
    rt = await startRuntime({ env: { AGENT_BUNDLE_PUBKEYS: '' } });
  });
  afterAll(async () => rt?.stop());

  it('loads bundles unverified and writes bundle.unverified for each load from the hot directory', async () => {
    await rt.publish('loose', 'healthy.mjs');
    const unverifiedAtRegistration = rt.ledgerOf('bundle.unverified').length;
    const gen = (await rt.registry.get('loose'))!.generation;
    for (let i = 0; i < 2; i++) {
      const slot = rt.clock.now();
      expect(await rt.core({ kind: 'cycle', agent: 'loose', runId: `loose@${slot}`, slot, generation: gen })).toMatchObject({
        outcome: 'ok',
      });
      rt.clock.advance(1000);
    }
    await rt.bus.idle();
    const ev = rt.ledgerOf('bundle.unverified').slice(unverifiedAtRegistration);
    expect(ev).toHaveLength(1);
    expect(ev[0]?.payload).toMatchObject({ name: 'loose', version: '1.0.0' });
  });
});

describe('runner SQS handler', () => {
  let rt: Runtime;
  beforeAll(async () => {
    rt = await startRuntime();
    await rt.publish('sqs-agent', 'thrower.mjs');
  });
  afterAll(async () => rt?.stop());

  const record = (id: string, body: unknown) => ({
    messageId: id,
    receiptHandle: 'r',
    body: typeof body === 'string' ? body : JSON.stringify(body),
    attributes: {},
    eventSource: 'aws:sqs',
  });

  it('agent failures are not batch failures; invalid bodies are dropped; infrastructure errors are', async () => {
    const h = createRunnerHandler(rt.core);
    const gen = (await rt.registry.get('sqs-agent'))!.generation;
    const slot = rt.clock.now();
    const out = await h({
      Records: [
        record('m1', { kind: 'cycle', agent: 'sqs-agent', runId: `sqs-agent@${slot}`, slot, generation: gen }),
        record('m2', 'not json'),
        record('m3', { kind: 'cycle', agent: 'Bad Name', runId: 'x', slot: 1, generation: 1 }),
      ],
    });
    expect(out).toEqual({ batchItemFailures: [] });
    expect((await rt.heartbeats.get('sqs-agent'))?.consecutiveErrors).toBe(1);

    // a registry table that does not exist: a real DynamoDB error, the message is retried
    const broken = rt.coreWith({ registry: new DynamoRegistry(rt.tables.clients.ddb, 'no-such-table') });
    const out2 = await createRunnerHandler(broken)({
      Records: [record('m4', { kind: 'trigger', agent: 'sqs-agent', runId: 'sqs-agent!t' })],
    });
    expect(out2).toEqual({ batchItemFailures: [{ itemIdentifier: 'm4' }] });
    await expect(h({ Records: 'nope' })).rejects.toBeInstanceOf(ValidationError);
  });
});
