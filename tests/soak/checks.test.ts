/**
 * The soak's checks (soak/checks.ts) and fleet (soak/fleet.ts) on their own: a consistent set of
 * observations passes every check, and each kind of fault the soak is there to catch, planted
 * into otherwise consistent observations, fails exactly the check meant for it. A check that
 * cannot fail would prove nothing in the real soak (tests/soak/soak.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { evaluate, type SoakObservations } from '../../soak/checks';
import { bundleSource, planFleet, type FleetPlan } from '../../soak/fleet';
import type { ObservedEvent, ObservedRun } from '../../soak/protocol';
import type { Envelope } from '../../shared/core/envelope';

const T0 = Date.UTC(2030, 0, 1);
const THRESHOLD = 3;
const MAX_RESTARTS = 3;

let idn = 0;
const nextId = () => `00000000-0000-4000-8000-${String(++idn).padStart(12, '0')}`;

function env(at: number, topic: string, sender: string, payload: Record<string, unknown>, recipient?: string): ObservedEvent {
  const e: Envelope = { id: nextId(), topic, sender, ts: new Date(at).toISOString(), payload };
  if (recipient) e.recipient = recipient;
  return { at, envelope: e };
}

/** A consistent soak: healthy agents run two slots each and message a peer, faulty ones go through 3 restarts to quarantine. */
function baseline(): { obs: SoakObservations; plan: FleetPlan } {
  const plan = planFleet({ agents: 20, healthyCycleSeconds: [10, 12], faultyCycleSeconds: [2, 2] });
  const events: ObservedEvent[] = [];
  const runs: ObservedRun[] = [];
  for (const a of plan.agents) events.push(env(T0, 'agent.registered', 'orchestrator', { name: a.name, version: '1.0.0' }));
  let lastSlot = T0;
  for (const a of plan.healthy) {
    const p = a.cycleSeconds * 1000;
    const first = Math.ceil((T0 + 1000) / p) * p;
    for (let k = 0; k < 2; k++) {
      const slot = first + k * p;
      lastSlot = Math.max(lastSlot, slot);
      const end = slot + 150;
      const cycle = k + 1;
      const ping = env(end, 'soak.ping', a.name, { cycle, startedAt: slot + 100, n: cycle }, a.peers[0]);
      events.push(
        ping,
        env(end, 'agent.cycle', 'orchestrator', {
          name: a.name,
          kind: 'cycle',
          slot,
          cycle,
          generation: 1,
          outcome: 'ok',
          runId: `${a.name}@${slot}`,
        }),
      );
      runs.push({
        at: end,
        status: 'ran',
        agent: a.name,
        runId: `${a.name}@${slot}`,
        kind: 'cycle',
        cycle,
        outcome: 'ok',
        durationMs: 50,
        published: 1,
      });
      runs.push({
        at: end + 100,
        status: 'ran',
        agent: a.peers[0]!,
        runId: `${a.peers[0]}<${ping.envelope.id}`,
        kind: 'envelope',
        cycle: 1,
        outcome: 'ok',
        durationMs: 40,
        published: 0,
      });
    }
  }
  for (const a of plan.faulty) {
    const outcome = a.kind === 'throw' ? 'error' : a.kind === 'crash' ? 'crashed' : 'timeout';
    let t = T0 + 2000;
    for (let gen = 1; gen <= MAX_RESTARTS + 1; gen++) {
      for (let k = 0; k < THRESHOLD; k++) {
        t += 2000;
        events.push(
          env(t, 'agent.failed', 'orchestrator', { name: a.name, kind: 'cycle', slot: t - 100, cycle: 1, generation: gen, outcome }),
        );
        runs.push({
          at: t,
          status: 'ran',
          agent: a.name,
          runId: `${a.name}@${t - 100}`,
          kind: 'cycle',
          cycle: 1,
          outcome,
          durationMs: 10,
          published: 0,
        });
      }
      if (gen <= MAX_RESTARTS)
        events.push(
          env(t + 10, 'agent.restarted', 'orchestrator', {
            name: a.name,
            by: 'health-monitor',
            generation: gen + 1,
            restartsInWindow: gen,
          }),
        );
      else
        events.push(
          env(t + 10, 'agent.quarantined', 'orchestrator', { name: a.name, by: 'health-monitor', restartsInWindow: MAX_RESTARTS }),
        );
    }
  }
  // one duplicate delivery of a healthy cycle that already ran, refused by the runner
  const dup = runs.find((r) => r.kind === 'cycle' && plan.byName.get(r.agent)?.kind === 'healthy')!;
  runs.push({ at: dup.at + 1000, status: 'skipped', agent: dup.agent, runId: dup.runId, kind: 'cycle', reason: 'duplicate' });

  const unique = [...new Map(events.map((e) => [e.envelope.id, e.envelope])).values()];
  const ledger = unique.map((e, i) => ({
    seq: i + 1,
    id: e.id,
    ts: e.ts,
    topic: e.topic,
    sender: e.sender,
    ...(e.recipient ? { recipient: e.recipient } : {}),
    payload: e.payload,
    hash: `h${i + 1}`,
    prevHash: i === 0 ? '0'.repeat(64) : `h${i}`,
  }));
  const obs: SoakObservations = {
    plan,
    policy: { errThreshold: THRESHOLD, maxRestarts: MAX_RESTARTS },
    runs,
    events,
    injected: { redispatchedCycles: [dup.runId], redispatchedEnvelopeRuns: [], pendingCopies: [], republished: [] },
    faults: [],
    schedulerStoppedAt: lastSlot + 2500,
    process: { exitedEarly: null, finalExit: { code: 0, signal: null }, healthz: { ok: 30, failed: 0 } },
    final: {
      agents: plan.agents.map((a) => ({
        name: a.name,
        version: '1.0.0',
        status: a.kind === 'healthy' ? ('active' as const) : ('quarantined' as const),
        cycleSeconds: a.cycleSeconds,
        consecutiveErrors: 0,
        restarts: a.kind === 'healthy' ? 0 : MAX_RESTARTS,
        lastError: null,
      })),
      ledger,
      verify: { ok: true, entries: ledger.length, head: `h${ledger.length}`, firstBad: null },
      stats: {
        bus: { published: events.length, delivered: {}, failed: {}, retried: {}, dropped: {}, queued: {} },
        busDeadLetters: [],
        pool: { pending: 0, inFlight: 0, started: runs.length, ran: runs.length - 1, skipped: 1, errors: 0, deadLetters: 0 },
        poolDeadLetters: [],
        timers: [],
        memory: { rssMb: 100, heapUsedMb: 50 },
      },
    },
  };
  return { obs, plan };
}

function failing(obs: SoakObservations): string[] {
  return evaluate(obs)
    .checks.filter((c) => !c.ok)
    .map((c) => c.id);
}

describe('soak checks', () => {
  it('a consistent soak passes every check, and its figures add up', () => {
    const { obs, plan } = baseline();
    const { checks, figures } = evaluate(obs);
    expect(checks.filter((c) => !c.ok)).toEqual([]);
    expect(checks.map((c) => c.id)).toEqual([
      'process-alive',
      'ledger-count',
      'ledger-verify',
      'faulty-quarantined',
      'healthy-undisturbed',
      'no-double-runs',
      'nothing-lost',
      'duplicates-refused',
      'healthy-slots',
    ]);
    expect(figures.ledgerEntries).toBe(obs.final!.ledger.length);
    expect(figures.envelopesPublished + figures.orchestratorEvents).toBe(figures.ledgerEntries);
    expect(figures.healthySlots).toEqual({
      expected: plan.healthy.length * 2,
      ran: plan.healthy.length * 2,
      missed: 0,
      missedInFaultWindows: 0,
    });
    // every healthy run started 100 ms after its slot (startedAt joined to the slot through ts + cycle)
    expect(figures.jitterMs).toMatchObject({ samples: plan.healthy.length * 2, p50: 100, p99: 100, max: 100 });
    expect(figures.faultyEpochs).toEqual({
      epochs: plan.faulty.length * (MAX_RESTARTS + 1),
      maxFailuresInAnEpoch: THRESHOLD,
      recoveryEpochs: 0,
      maxFailuresInRecovery: 0,
    });
  });

  it('process-alive: the orchestrator exiting during the soak, or not exiting 0 at the end, fails', () => {
    const a = baseline().obs;
    a.process.exitedEarly = { code: 1, signal: null, at: T0 + 5000 };
    expect(failing(a)).toEqual(['process-alive']);
    const b = baseline().obs;
    b.process.finalExit = { code: null, signal: 'SIGKILL' };
    expect(failing(b)).toEqual(['process-alive']);
  });

  it('ledger-count: an envelope missing from the ledger, or an id recorded twice, fails', () => {
    const a = baseline().obs;
    a.final!.ledger.splice(5, 1);
    a.final!.ledger.forEach((e, i) => {
      e.seq = i + 1;
      e.hash = `h${i + 1}`;
      e.prevHash = i === 0 ? '0'.repeat(64) : `h${i}`;
    });
    a.final!.verify = { ok: true, entries: a.final!.ledger.length, head: `h${a.final!.ledger.length}`, firstBad: null };
    expect(failing(a)).toEqual(['ledger-count']);
    const b = baseline().obs;
    const l = b.final!.ledger;
    l.push({ ...l[3]!, seq: l.length + 1, hash: `h${l.length + 1}`, prevHash: `h${l.length}` });
    b.final!.verify = { ok: true, entries: l.length, head: `h${l.length}`, firstBad: null };
    expect(failing(b)).toEqual(['ledger-count']);
  });

  it('ledger-verify: a seq gap, a broken link or verify not ok fails', () => {
    const a = baseline().obs;
    a.final!.ledger[7]!.seq = 100;
    expect(failing(a)).toEqual(['ledger-verify']);
    const b = baseline().obs;
    b.final!.ledger[7]!.prevHash = 'tampered';
    expect(failing(b)).toEqual(['ledger-verify']);
    const c = baseline().obs;
    c.final!.verify = { ...c.final!.verify, ok: false, firstBad: 3 };
    expect(failing(c)).toEqual(['ledger-verify']);
  });

  it('faulty-quarantined: more than threshold+1 failures in an epoch, a restart before the threshold, or no quarantine fails', () => {
    const a = baseline();
    const f = a.plan.faulty[0]!;
    const extra = env(T0 + 3100, 'agent.failed', 'orchestrator', { name: f.name, kind: 'cycle', generation: 1, outcome: 'error' });
    const extra2 = env(T0 + 3200, 'agent.failed', 'orchestrator', { name: f.name, kind: 'cycle', generation: 1, outcome: 'error' });
    a.obs.events.push(extra, extra2); // 5 failures in generation 1
    a.obs.final!.ledger.push(
      ...[extra, extra2].map((e, i) => ({
        seq: a.obs.final!.ledger.length + 1 + i,
        id: e.envelope.id,
        ts: e.envelope.ts,
        topic: e.envelope.topic,
        sender: e.envelope.sender,
        payload: e.envelope.payload,
        hash: 'x',
        prevHash: 'y',
      })),
    );
    expect(failing(a.obs)).toContain('faulty-quarantined');
    // the same epoch, its threshold-th failure reported 20 s after a DynamoDB outage: the monitor
    // worked through the backlog meanwhile, so no upper bound; reported apart, and it still acted
    const third = a.obs.events.filter(
      (e) => e.envelope.topic === 'agent.failed' && e.envelope.payload.name === f.name && e.envelope.payload.generation === 1,
    )[2]!;
    a.obs.faults.push({ kind: 'dynamodb', from: third.at - 25_000, to: third.at - 20_000 });
    const excused = evaluate(a.obs);
    expect(excused.checks.filter((c) => !c.ok).map((c) => c.id)).not.toContain('faulty-quarantined');
    // (the synthetic fleet's failures are close together: the window covers other epochs too)
    expect(excused.figures.faultyEpochs.recoveryEpochs).toBeGreaterThanOrEqual(1);
    expect(excused.figures.faultyEpochs.maxFailuresInRecovery).toBe(5);
    expect(excused.figures.faultyEpochs.maxFailuresInAnEpoch).toBeLessThanOrEqual(4);
    // an s3rver outage does not stop the monitor: no exemption
    a.obs.faults[a.obs.faults.length - 1] = { kind: 's3', from: third.at - 25_000, to: third.at - 20_000 };
    expect(failing(a.obs)).toContain('faulty-quarantined');

    const b = baseline();
    const g = b.plan.faulty[0]!;
    // generation 2 acted on after 1 failure
    const isGen2 = (e: ObservedEvent) =>
      e.envelope.payload.name === g.name && e.envelope.topic === 'agent.failed' && e.envelope.payload.generation === 2;
    const gen2 = b.obs.events.filter(isGen2);
    b.obs.events = b.obs.events.filter((e) => e !== gen2[0] && e !== gen2[1]);
    expect(b.obs.events.filter(isGen2)).toHaveLength(1);
    expect(evaluate(b.obs).checks.find((c) => c.id === 'faulty-quarantined')).toMatchObject({
      ok: false,
      detail: expect.stringContaining('acted on after'),
    });

    const c = baseline();
    const h = c.plan.faulty[0]!;
    c.obs.events = c.obs.events.filter((e) => !(e.envelope.topic === 'agent.quarantined' && e.envelope.payload.name === h.name));
    c.obs.final!.agents.find((x) => x.name === h.name)!.status = 'restarting';
    expect(evaluate(c.obs).checks.find((x) => x.id === 'faulty-quarantined')).toMatchObject({
      ok: false,
      detail: expect.stringContaining('no agent.quarantined event'),
    });

    // an outcome other than the fault's (a throwing agent reported as timing out) fails too
    const d = baseline();
    const thrower = d.plan.faulty.find((x) => x.kind === 'throw')!;
    const ev = d.obs.events.find((e) => e.envelope.topic === 'agent.failed' && e.envelope.payload.name === thrower.name)!;
    ev.envelope.payload.outcome = 'timeout';
    expect(evaluate(d.obs).checks.find((x) => x.id === 'faulty-quarantined')).toMatchObject({
      ok: false,
      detail: expect.stringContaining('expected error'),
    });
  });

  it('faulty-quarantined: a late failure of the previous epoch is credited to the next one (the consecutive count is not per generation)', () => {
    const { obs, plan } = baseline();
    const f = plan.faulty[0]!;
    // generation 1 had a 4th failure in flight; generation 2 then needs only 2 of its own
    const gen1 = obs.events.filter(
      (e) => e.envelope.topic === 'agent.failed' && e.envelope.payload.name === f.name && e.envelope.payload.generation === 1,
    );
    const late = env(gen1[gen1.length - 1]!.at + 50, 'agent.failed', 'orchestrator', {
      name: f.name,
      kind: 'cycle',
      generation: 1,
      outcome: gen1[0]!.envelope.payload.outcome,
    });
    const gen2 = obs.events.filter(
      (e) => e.envelope.topic === 'agent.failed' && e.envelope.payload.name === f.name && e.envelope.payload.generation === 2,
    );
    obs.events = obs.events.filter((e) => e !== gen2[0]);
    obs.events.push(late);
    const ledger = [...new Map(obs.events.map((e) => [e.envelope.id, e.envelope])).values()].map((e, i) => ({
      seq: i + 1,
      id: e.id,
      ts: e.ts,
      topic: e.topic,
      sender: e.sender,
      payload: e.payload,
      hash: `h${i + 1}`,
      prevHash: i === 0 ? '0'.repeat(64) : `h${i}`,
    }));
    obs.final!.ledger = ledger;
    obs.final!.verify = { ok: true, entries: ledger.length, head: `h${ledger.length}`, firstBad: null };
    expect(failing(obs)).toEqual([]);
  });

  it('healthy-undisturbed: a failed run or a restart of a healthy agent fails', () => {
    const a = baseline();
    const r = a.obs.runs.find((x) => x.kind === 'cycle' && a.plan.byName.get(x.agent)?.kind === 'healthy')!;
    r.outcome = 'error';
    expect(failing(a.obs)).toEqual(['healthy-undisturbed']);
    const b = baseline();
    b.obs.final!.agents.find((x) => x.name === b.plan.healthy[3]!.name)!.restarts = 1;
    expect(failing(b.obs)).toEqual(['healthy-undisturbed']);
  });

  it('no-double-runs: a slot or an envelope run that ran twice fails (and the duplicate check with it)', () => {
    const { obs } = baseline();
    const r = obs.runs.find((x) => x.kind === 'envelope')!;
    obs.runs.push({ ...r, at: r.at + 5000 });
    expect(failing(obs)).toEqual(['no-double-runs']);
    const b = baseline().obs;
    const dup = b.injected.redispatchedCycles[0]!;
    const ranOnce = b.runs.find((x) => x.runId === dup && x.status === 'ran')!;
    b.runs.push({ ...ranOnce, at: ranOnce.at + 9000 });
    expect(failing(b)).toEqual(['no-double-runs', 'duplicates-refused']);
  });

  it('nothing-lost: an undelivered envelope or a dead letter fails; an envelope sent before its recipient existed is not counted', () => {
    const a = baseline().obs;
    const i = a.runs.findIndex((x) => x.kind === 'envelope');
    a.runs.splice(i, 1);
    expect(evaluate(a).checks.find((c) => c.id === 'nothing-lost')).toMatchObject({
      ok: false,
      detail: expect.stringContaining('no run was reported for it'),
    });
    const b = baseline().obs;
    b.final!.stats.busDeadLetters.push({ rule: 'Ledger', target: 'ledger-writer', eventId: 'e1', error: 'connect ECONNREFUSED' });
    expect(failing(b)).toEqual(['nothing-lost']);
    const c = baseline().obs;
    c.final!.stats.poolDeadLetters.push({ agent: 'soak-ok-0001', runId: 'soak-ok-0001@1', kind: 'cycle', error: 'connect ECONNREFUSED' });
    expect(failing(c)).toEqual(['nothing-lost']);

    // the recipient registered only after the envelope was sent: not delivered, and not a loss
    const d = baseline();
    const ping = d.obs.events.find((e) => e.envelope.topic === 'soak.ping')!;
    const reg = d.obs.events.findIndex(
      (e) => e.envelope.topic === 'agent.registered' && e.envelope.payload.name === ping.envelope.recipient,
    );
    const [regEv] = d.obs.events.splice(reg, 1);
    d.obs.events.splice(d.obs.events.indexOf(ping) + 1, 0, regEv!);
    d.obs.runs = d.obs.runs.filter((r) => r.runId !== `${ping.envelope.recipient}<${ping.envelope.id}`);
    const r = evaluate(d.obs).checks.find((c) => c.id === 'nothing-lost')!;
    expect(r).toMatchObject({ ok: true, detail: expect.stringContaining('1 more were sent before their recipient was registered') });
  });

  it('duplicates-refused: an injected duplicate the runner never refused fails, and so does injecting none', () => {
    const a = baseline().obs;
    a.runs = a.runs.filter((r) => r.reason !== 'duplicate');
    expect(failing(a)).toEqual(['duplicates-refused']);
    const b = baseline().obs;
    b.injected.redispatchedCycles = [];
    expect(failing(b)).toEqual(['duplicates-refused']);
  });

  it('healthy-slots: a slot that never ran fails, unless DynamoDB was down for longer than the period around it (overdue slots collapse)', () => {
    const a = baseline();
    const agent = a.plan.healthy[2]!;
    const run = a.obs.runs.filter((r) => r.agent === agent.name && r.kind === 'cycle')[1]!;
    a.obs.runs = a.obs.runs.filter((r) => r !== run);
    expect(failing(a.obs)).toEqual(['healthy-slots']);
    const slot = Number(run.runId.split('@')[1]);
    // an outage of a few seconds over the slot does not excuse it: the slot runs late, not never
    a.obs.faults.push({ kind: 'dynamodb', from: slot - 500, to: slot + 3000 });
    expect(failing(a.obs)).toEqual(['healthy-slots']);
    // an outage longer than the period, covering the slot, does
    const p = agent.cycleSeconds * 1000;
    a.obs.faults[0] = { kind: 'dynamodb', from: slot - 1000, to: slot + p };
    expect(failing(a.obs)).toEqual([]);
    expect(evaluate(a.obs).figures.healthySlots).toMatchObject({ missed: 1, missedInFaultWindows: 1 });
    // an s3rver outage never does: the runner has the bundle cached, slots need only DynamoDB
    a.obs.faults[0]!.kind = 's3';
    expect(failing(a.obs)).toEqual(['healthy-slots']);
  });

  it('a soak that ended early (no final state) fails', () => {
    const { obs } = baseline();
    obs.final = null;
    expect(failing(obs)).toContain('final-state');
  });
});

describe('soak fleet', () => {
  it('has the issue’s mix, deterministic names, periods in range and peers that are other healthy agents', () => {
    const opts = { agents: 500, healthyCycleSeconds: [60, 119] as [number, number], faultyCycleSeconds: [8, 15] as [number, number] };
    const plan = planFleet(opts);
    expect(plan.counts).toEqual({ healthy: 420, throw: 50, hang: 20, spin: 5, crash: 5 });
    expect(new Set(plan.agents.map((a) => a.name)).size).toBe(500);
    expect(planFleet(opts).agents.map((a) => a.source)).toEqual(plan.agents.map((a) => a.source));
    const healthy = new Set(plan.healthy.map((a) => a.name));
    for (const a of plan.healthy) {
      expect(a.cycleSeconds).toBeGreaterThanOrEqual(60);
      expect(a.cycleSeconds).toBeLessThanOrEqual(119);
      expect(a.peers.length).toBe(3);
      expect(a.peers).not.toContain(a.name);
      for (const p of a.peers) expect(healthy.has(p)).toBe(true);
    }
    for (const a of plan.faulty) expect([a.cycleSeconds >= 8, a.cycleSeconds <= 15, a.timeoutSeconds]).toEqual([true, true, 1]);
    // periods are spread: no single period holds more than a few percent of the healthy fleet
    const perPeriod = new Map<number, number>();
    for (const a of plan.healthy) perPeriod.set(a.cycleSeconds, (perPeriod.get(a.cycleSeconds) ?? 0) + 1);
    expect(Math.max(...perPeriod.values())).toBeLessThanOrEqual(Math.ceil(420 / 60));
  });

  it('rejects a fleet that is mostly faulty or has an inverted period range', () => {
    expect(() => planFleet({ agents: 100, throwFraction: 0.6, healthyCycleSeconds: [10, 20], faultyCycleSeconds: [2, 3] })).toThrow(
      /most of the fleet healthy/,
    );
    expect(() => planFleet({ agents: 100, healthyCycleSeconds: [20, 10], faultyCycleSeconds: [2, 3] })).toThrow(/\[min, max\]/);
  });

  it('generates bundles that are ES modules with the declared manifest; a healthy one publishes to a peer and counts what it receives', async () => {
    const plan = planFleet({ agents: 100, healthyCycleSeconds: [20, 39], faultyCycleSeconds: [4, 7] });
    const load = async (src: string) =>
      ((await import(`data:text/javascript,${encodeURIComponent(src)}`)) as { default: Record<string, unknown> }).default;
    const h = plan.healthy[5]!;
    const mod = await load(h.source);
    expect(mod).toMatchObject({ cycleSeconds: h.cycleSeconds, timeoutSeconds: 5 });
    const state = new Map<string, unknown>();
    const sent: unknown[][] = [];
    const ctx = {
      cycle: 4,
      state: { get: (k: string) => state.get(k), set: (k: string, v: unknown) => void state.set(k, v) },
      publish: async (...a: unknown[]) => void sent.push(a),
    };
    await (mod.runCycle as (c: unknown) => Promise<void>)(ctx);
    await (mod.runCycle as (c: unknown) => Promise<void>)(ctx);
    expect(sent.map((s) => s[0])).toEqual(['soak.ping', 'soak.ping']);
    expect(sent.map((s) => s[2])).toEqual([h.peers[1], h.peers[2]]);
    expect(sent[0]![1]).toMatchObject({ cycle: 4, n: 1, startedAt: expect.any(Number) });
    await (mod.onEnvelope as (e: unknown, c: unknown) => Promise<void>)({}, ctx);
    expect(state.get('received')).toBe(1);
    const thrower = await load(plan.faulty.find((a) => a.kind === 'throw')!.source);
    await expect((thrower.runCycle as () => Promise<void>)()).rejects.toThrow('soak: deliberate failure');
    // the hanging, spinning and crashing bundles are only loaded (running them is the real soak's job)
    for (const kind of ['hang', 'spin', 'crash'] as const) {
      const a = plan.faulty.find((x) => x.kind === kind)!;
      expect(await load(a.source)).toMatchObject({ cycleSeconds: a.cycleSeconds, timeoutSeconds: 1, runCycle: expect.any(Function) });
    }
    expect(bundleSource({ name: 'x-y', kind: 'crash', cycleSeconds: 5, timeoutSeconds: 1, peers: [] })).toContain('process.exit(3)');
  });
});
