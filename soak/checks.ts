/**
 * The soak's verdict: pure functions from what the driver observed to a list of checks. Kept
 * apart from the driver so that each check is tested on its own against observations that must
 * fail it (tests/soak/checks.test.ts): a check that cannot fail proves nothing.
 *
 * Sources, and why each is trusted for what it decides:
 * - `runs`: every run report of the runner pool (`onRun`): which run ids ran, which were skipped
 *   and why. A run id is `<agent>@<slot>` for a cycle and `<agent><<envelope id>` for an envelope.
 * - `events`: every envelope put on the bus (LocalBus.subscribe), duplicates included: what was
 *   published, including the orchestrator's own events (agent.cycle, agent.failed,
 *   agent.restarted, agent.quarantined, agent.registered, ...).
 * - `final`: what the orchestrator's API answers at the end over loopback (GET /agents,
 *   GET /ledger pages, GET /ledger/verify) and its counters (dead letters).
 */
import { z } from 'zod';
import { EXPECTED_OUTCOME, type FaultKind, type FleetPlan } from './fleet';
import type { ChildStats, ObservedEvent, ObservedRun } from './protocol';

export const ApiAgentSchema = z
  .object({
    name: z.string(),
    version: z.string(),
    status: z.enum(['active', 'paused', 'restarting', 'quarantined']),
    cycleSeconds: z.number(),
    consecutiveErrors: z.number(),
    restarts: z.number(),
    lastError: z.string().nullable(),
  })
  .loose();
export type ApiAgent = z.infer<typeof ApiAgentSchema>;

export const ApiLedgerEntrySchema = z
  .object({
    seq: z.number().int(),
    id: z.string(),
    ts: z.string(),
    topic: z.string(),
    sender: z.string(),
    recipient: z.string().optional(),
    payload: z.record(z.string(), z.unknown()),
    hash: z.string(),
    prevHash: z.string(),
  })
  .loose();
export type ApiLedgerEntry = z.infer<typeof ApiLedgerEntrySchema>;

export const ApiVerifySchema = z.object({ ok: z.boolean(), entries: z.number(), head: z.string(), firstBad: z.number().nullable() });
export type ApiVerify = z.infer<typeof ApiVerifySchema>;

export interface FaultWindow {
  kind: 'dynamodb' | 's3';
  from: number;
  to: number;
}

export interface Injected {
  /** cycle runs that had already run, handed to the runner pool again */
  redispatchedCycles: string[];
  /** envelope runs that had already run, handed to the runner pool again */
  redispatchedEnvelopeRuns: string[];
  /** copies of cycle items still waiting in the pool (both copies race) */
  pendingCopies: string[];
  /** envelopes published again with the same id: `recipient<id` is the run that must happen once */
  republished: { id: string; recipient: string }[];
}

export interface SoakObservations {
  plan: FleetPlan;
  policy: { errThreshold: number; maxRestarts: number };
  runs: ObservedRun[];
  events: ObservedEvent[];
  injected: Injected;
  faults: FaultWindow[];
  /** the scheduler was stopped (POST /components/scheduler/stop) at this time before the final drain */
  schedulerStoppedAt: number;
  process: {
    /** the orchestrator process exited before the driver asked it to stop */
    exitedEarly: { code: number | null; signal: string | null; at: number } | null;
    /** its exit after the final `stop` */
    finalExit: { code: number | null; signal: string | null } | null;
    healthz: { ok: number; failed: number };
  };
  final: { agents: ApiAgent[]; ledger: ApiLedgerEntry[]; verify: ApiVerify; stats: ChildStats } | null;
}

export interface CheckResult {
  id: string;
  title: string;
  ok: boolean;
  detail: string;
}

export interface SoakFigures {
  runs: number;
  cycleRuns: number;
  envelopeRuns: number;
  skipped: Record<string, number>;
  envelopesPublished: number;
  orchestratorEvents: number;
  ledgerEntries: number;
  healthySlots: { expected: number; ran: number; missed: number; missedInFaultWindows: number };
  jitterMs: { samples: number; p50: number; p90: number; p99: number; max: number };
  /** the same, leaving out slots in or up to 30 s after an emulator outage */
  jitterQuietMs: { samples: number; p50: number; p90: number; p99: number; max: number };
  /** epochs: all of them; the most failed cycles in one, apart from those that reached the threshold in an outage's recovery */
  faultyEpochs: { maxFailuresInAnEpoch: number; epochs: number; recoveryEpochs: number; maxFailuresInRecovery: number };
  duplicatesInjected: number;
  faults: { dynamodb: number; s3: number; unreachableMs: number };
}

const SLOT_RUN_ID = /^(.+)@(\d+)$/;

export function slotOf(runId: string): number | null {
  const m = SLOT_RUN_ID.exec(runId);
  return m ? Number(m[2]) : null;
}

export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

function summary(sorted: number[]): SoakFigures['jitterMs'] {
  return {
    samples: sorted.length,
    p50: quantile(sorted, 0.5),
    p90: quantile(sorted, 0.9),
    p99: quantile(sorted, 0.99),
    max: sorted[sorted.length - 1] ?? 0,
  };
}

const list = (xs: string[], n = 5) => (xs.length <= n ? xs.join(', ') : `${xs.slice(0, n).join(', ')} … (${xs.length} in all)`);

function check(id: string, title: string, problems: string[], okDetail: string): CheckResult {
  return { id, title, ok: problems.length === 0, detail: problems.length === 0 ? okDetail : list(problems, 8) };
}

/** `ran` reports per run id. */
function ranCounts(runs: ObservedRun[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of runs) if (r.status === 'ran') m.set(r.runId, (m.get(r.runId) ?? 0) + 1);
  return m;
}

function payloadOf(e: ObservedEvent): Record<string, unknown> {
  return e.envelope.payload;
}

export function evaluate(obs: SoakObservations): { checks: CheckResult[]; figures: SoakFigures } {
  const { plan } = obs;
  const checks: CheckResult[] = [];
  const healthy = new Set(plan.healthy.map((a) => a.name));
  const ran = ranCounts(obs.runs);

  // ---------------------------------------------------------------------------------------------
  // 1. the orchestrator process never exited (and shut down cleanly when asked)
  {
    const p: string[] = [];
    if (obs.process.exitedEarly)
      p.push(
        `exited during the soak (code ${obs.process.exitedEarly.code}, signal ${obs.process.exitedEarly.signal}) at ${new Date(obs.process.exitedEarly.at).toISOString()}`,
      );
    if (!obs.process.exitedEarly && obs.process.finalExit?.code !== 0)
      p.push(`final stop did not exit 0: ${JSON.stringify(obs.process.finalExit)}`);
    if (obs.process.healthz.ok === 0) p.push('GET /healthz never answered');
    checks.push(
      check(
        'process-alive',
        'orchestrator process never exited',
        p,
        `one process from start to the final stop (exit 0); GET /healthz answered ${obs.process.healthz.ok} of ${obs.process.healthz.ok + obs.process.healthz.failed} probes`,
      ),
    );
  }

  // ---------------------------------------------------------------------------------------------
  // 2. ledger: count = unique envelopes published (agents' + orchestrator events), each id once,
  //    seq gap-free, verify ok
  const publishedIds = new Set(obs.events.map((e) => e.envelope.id));
  const orchestratorEvents = new Set(obs.events.filter((e) => e.envelope.sender === 'orchestrator').map((e) => e.envelope.id)).size;
  const final = obs.final;
  if (!final) {
    checks.push({
      id: 'final-state',
      title: 'final state collected',
      ok: false,
      detail: 'the soak ended before the final state could be read (see the earlier failure)',
    });
  } else {
    const ledgerIds = new Map<string, number>();
    for (const e of final.ledger) ledgerIds.set(e.id, (ledgerIds.get(e.id) ?? 0) + 1);
    const p: string[] = [];
    if (final.ledger.length !== publishedIds.size)
      p.push(`ledger has ${final.ledger.length} entries, ${publishedIds.size} unique envelope ids were published`);
    const twice = [...ledgerIds].filter(([, n]) => n > 1).map(([id, n]) => `${id} ×${n}`);
    if (twice.length) p.push(`ids recorded more than once: ${list(twice)}`);
    const missing = [...publishedIds].filter((id) => !ledgerIds.has(id));
    if (missing.length) p.push(`published but not in the ledger: ${list(missing)}`);
    const extra = [...ledgerIds.keys()].filter((id) => !publishedIds.has(id));
    if (extra.length) p.push(`in the ledger but never published: ${list(extra)}`);
    checks.push(
      check(
        'ledger-count',
        'ledger count = envelopes published + orchestrator events, each id once',
        p,
        `${final.ledger.length} entries = ${publishedIds.size - orchestratorEvents} agent envelopes + ${orchestratorEvents} orchestrator events (${obs.events.length - publishedIds.size} re-publications of an existing id recorded once)`,
      ),
    );

    const g: string[] = [];
    final.ledger.forEach((e, i) => {
      if (e.seq !== i + 1) g.push(`position ${i + 1} holds seq ${e.seq}`);
      if (i > 0 && e.prevHash !== final.ledger[i - 1]!.hash) g.push(`seq ${e.seq}: prevHash is not the hash of seq ${e.seq - 1}`);
    });
    if (!final.verify.ok) g.push(`GET /ledger/verify: ok=false, firstBad=${final.verify.firstBad}`);
    if (final.verify.entries !== final.ledger.length)
      g.push(`verify read ${final.verify.entries} entries, the listing has ${final.ledger.length}`);
    const last = final.ledger[final.ledger.length - 1];
    if (last && final.verify.head !== last.hash) g.push('verify head is not the last entry hash');
    checks.push(
      check(
        'ledger-verify',
        'ledger sequence gap-free, hash chain linked, verify ok',
        g,
        `seq 1..${final.ledger.length} contiguous, each prevHash = previous hash, verify ok (head ${final.verify.head.slice(0, 12)}…)`,
      ),
    );
  }

  // ---------------------------------------------------------------------------------------------
  // 3. faulty agents: per restart epoch (generation), restarted or quarantined no later than the
  //    (threshold+1)-th failed cycle and not before the threshold-th; all end quarantined. An
  //    epoch whose threshold-th failure came in or up to 30 s after a DynamoDB outage is exempt
  //    from the upper bound (reported apart): the monitor cannot act while the table is down, and
  //    afterwards it works through every faulty agent's backlog while the missed slots run back
  //    to back, so more failed cycles can finish before it acts; it must still act.
  const { errThreshold, maxRestarts } = obs.policy;
  let maxFailuresInAnEpoch = 0;
  let epochs = 0;
  let recoveryEpochs = 0;
  let maxFailuresInRecovery = 0;
  const inRecovery = (at: number) => obs.faults.some((f) => f.kind === 'dynamodb' && at >= f.from - 1000 && at <= f.to + 30_000);
  {
    const failedByAgent = new Map<string, Map<number, { outcome: string; at: number }[]>>();
    const restarts = new Map<string, number>();
    const quarantined = new Set<string>();
    for (const e of obs.events) {
      const pl = payloadOf(e);
      const name = typeof pl.name === 'string' ? pl.name : null;
      if (!name || e.envelope.sender !== 'orchestrator') continue;
      if (e.envelope.topic === 'agent.failed' && pl.kind === 'cycle' && typeof pl.generation === 'number') {
        const byGen = failedByAgent.get(name) ?? new Map<number, { outcome: string; at: number }[]>();
        const outs = byGen.get(pl.generation) ?? [];
        outs.push({ outcome: String(pl.outcome), at: e.at });
        byGen.set(pl.generation, outs);
        failedByAgent.set(name, byGen);
      } else if (e.envelope.topic === 'agent.restarted' && pl.by === 'health-monitor') restarts.set(name, (restarts.get(name) ?? 0) + 1);
      else if (e.envelope.topic === 'agent.quarantined') quarantined.add(name);
    }
    const status = new Map(final?.agents.map((a) => [a.name, a.status]) ?? []);
    const p: string[] = [];
    for (const a of plan.faulty) {
      const byGen = failedByAgent.get(a.name) ?? new Map<number, { outcome: string; at: number }[]>();
      const gens = [...byGen.keys()].sort((x, y) => x - y);
      epochs += gens.length;
      gens.forEach((gen, i) => {
        const outs = byGen.get(gen)!;
        const due = outs[errThreshold - 1];
        if (due && inRecovery(due.at)) {
          recoveryEpochs++;
          maxFailuresInRecovery = Math.max(maxFailuresInRecovery, outs.length);
        } else maxFailuresInAnEpoch = Math.max(maxFailuresInAnEpoch, outs.length);
        if (outs.length > errThreshold + 1 && !(due && inRecovery(due.at)))
          p.push(`${a.name} generation ${gen}: ${outs.length} failed cycles (bound ${errThreshold + 1})`);
        // every epoch that ended in a restart or the quarantine had reached the threshold. The
        // heartbeat's consecutive count is not per generation: a run of the previous epoch still in
        // flight at its restart (its failures beyond the threshold) can finish after the reset and
        // count toward this epoch, so those are credited here
        const carried = i > 0 ? Math.max(0, (byGen.get(gens[i - 1]!)?.length ?? 0) - errThreshold) : 0;
        if (outs.length + carried < errThreshold && (i < gens.length - 1 || quarantined.has(a.name)))
          p.push(
            `${a.name} generation ${gen}: acted on after ${outs.length} failed cycles (+${carried} of the previous epoch; threshold ${errThreshold})`,
          );
        const wrong = outs.map((o) => o.outcome).filter((o) => o !== EXPECTED_OUTCOME[a.kind as FaultKind]);
        if (wrong.length)
          p.push(`${a.name} (${a.kind}): outcomes ${[...new Set(wrong)].join(',')}, expected ${EXPECTED_OUTCOME[a.kind as FaultKind]}`);
      });
      const r = restarts.get(a.name) ?? 0;
      if (!quarantined.has(a.name))
        p.push(`${a.name} (${a.kind}): no agent.quarantined event (${r} restarts, ${gens.length} epochs with failures)`);
      else if (r !== maxRestarts) p.push(`${a.name}: quarantined after ${r} restarts, the policy allows ${maxRestarts}`);
      if (final && status.get(a.name) !== 'quarantined')
        p.push(`${a.name}: GET /agents status ${status.get(a.name) ?? 'missing'}, expected quarantined`);
      if (gens.length !== r + 1 && quarantined.has(a.name)) p.push(`${a.name}: failures in ${gens.length} generations but ${r} restarts`);
    }
    checks.push(
      check(
        'faulty-quarantined',
        `every faulty agent quarantined: per restart epoch, acted on at its ${errThreshold}th..${errThreshold + 1}th failed cycle; ${maxRestarts} restarts, then quarantine`,
        p,
        `${plan.faulty.length} faulty agents (${plan.counts.throw} throw, ${plan.counts.hang} hang, ${plan.counts.spin} spin, ${plan.counts.crash} crash) all quarantined after ${maxRestarts} restarts; ${epochs} epochs, at most ${maxFailuresInAnEpoch} failed cycles in one (bound ${errThreshold + 1})${recoveryEpochs ? `; ${recoveryEpochs} more reached the threshold in a DynamoDB outage's recovery (at most ${maxFailuresInRecovery} failed cycles, no bound)` : ''}`,
      ),
    );
  }

  // ---------------------------------------------------------------------------------------------
  // 4. healthy agents undisturbed: no failed run, no restart, no quarantine, active at the end
  {
    const p: string[] = [];
    for (const r of obs.runs) if (r.status === 'ran' && healthy.has(r.agent) && r.outcome !== 'ok') p.push(`${r.runId}: ${r.outcome}`);
    for (const e of obs.events) {
      const pl = payloadOf(e);
      if (
        e.envelope.sender === 'orchestrator' &&
        ['agent.restarted', 'agent.quarantined', 'agent.failed'].includes(e.envelope.topic) &&
        typeof pl.name === 'string' &&
        healthy.has(pl.name)
      )
        p.push(`${e.envelope.topic} for healthy ${pl.name}`);
    }
    if (final)
      for (const a of final.agents)
        if (healthy.has(a.name) && (a.status !== 'active' || a.restarts !== 0)) p.push(`${a.name}: ${a.status}, ${a.restarts} restarts`);
    if (final) {
      const listed = new Set(final.agents.map((a) => a.name));
      const absent = plan.agents.filter((a) => !listed.has(a.name)).map((a) => a.name);
      if (absent.length) p.push(`not in GET /agents: ${list(absent)}`);
    }
    checks.push(
      check(
        'healthy-undisturbed',
        'healthy agents: every run ok, never restarted or quarantined',
        p,
        `${plan.healthy.length} healthy agents active, no failed run`,
      ),
    );
  }

  // ---------------------------------------------------------------------------------------------
  // 5. nothing doubled: no run id ran twice (cycles: one run per agent and slot; envelopes: one per
  //    recipient and envelope id), injected duplicates included
  {
    const p = [...ran].filter(([, n]) => n > 1).map(([id, n]) => `${id} ran ${n}×`);
    checks.push(
      check(
        'no-double-runs',
        'nothing ran twice (per agent and slot, per recipient and envelope)',
        p,
        `${ran.size} run ids, each ran once`,
      ),
    );
  }

  // ---------------------------------------------------------------------------------------------
  // 6. nothing lost: every envelope a healthy agent addressed to a healthy agent ran its onEnvelope
  //    exactly once; nothing was dead-lettered by the bus or the runner pool
  {
    const p: string[] = [];
    const deadRunIds = new Set(final?.stats.poolDeadLetters.map((d) => d.runId) ?? []);
    const skippedAs = new Map<string, string>();
    for (const r of obs.runs) if (r.status === 'skipped') skippedAs.set(r.runId, r.reason ?? '?');
    let addressed = 0;
    let beforeRecipient = 0;
    const seen = new Set<string>();
    // an envelope sent before its recipient existed (its agent.registered not yet published) has no
    // one to go to: the router drops it, by the routing rules; those are counted, not checked
    const registered = new Set<string>();
    for (const e of obs.events) {
      const env = e.envelope;
      if (env.topic === 'agent.registered' && env.sender === 'orchestrator' && typeof env.payload.name === 'string')
        registered.add(env.payload.name);
      if (env.topic !== 'soak.ping' || !env.recipient || !healthy.has(env.sender) || !healthy.has(env.recipient) || seen.has(env.id))
        continue;
      seen.add(env.id);
      if (!registered.has(env.recipient)) {
        beforeRecipient++;
        continue;
      }
      addressed++;
      const runId = `${env.recipient}<${env.id}`;
      if (!ran.has(runId)) {
        const why = deadRunIds.has(runId)
          ? 'dead-lettered by the runner pool'
          : skippedAs.has(runId)
            ? `its run was skipped as ${skippedAs.get(runId)}`
            : 'no run was reported for it';
        p.push(`${env.sender} → ${env.recipient} envelope ${env.id} (published ${new Date(e.at).toISOString()}) never delivered: ${why}`);
      }
    }
    if (final) {
      for (const d of final.stats.busDeadLetters) p.push(`bus dead letter: rule ${d.rule} → ${d.target}, event ${d.eventId}: ${d.error}`);
      for (const d of final.stats.poolDeadLetters) p.push(`runner pool dead letter: ${d.runId}: ${d.error}`);
    }
    checks.push(
      check(
        'nothing-lost',
        'nothing lost: every addressed envelope delivered once, no dead letters',
        p,
        `${addressed} envelopes between healthy agents, each delivered once${beforeRecipient ? ` (${beforeRecipient} more were sent before their recipient was registered)` : ''}; bus and runner pool dead letters: 0`,
      ),
    );
  }

  // ---------------------------------------------------------------------------------------------
  // 7. duplicate deliveries were injected, reached the runner and were refused there
  const dupIds = [
    ...obs.injected.redispatchedCycles,
    ...obs.injected.redispatchedEnvelopeRuns,
    ...obs.injected.pendingCopies,
    ...obs.injected.republished.map((r) => `${r.recipient}<${r.id}`),
  ];
  {
    const duplicateSkips = new Map<string, number>();
    for (const r of obs.runs)
      if (r.status === 'skipped' && r.reason === 'duplicate') duplicateSkips.set(r.runId, (duplicateSkips.get(r.runId) ?? 0) + 1);
    const p: string[] = [];
    for (const id of dupIds) {
      if ((ran.get(id) ?? 0) !== 1) p.push(`${id}: ran ${ran.get(id) ?? 0}× (expected once)`);
      if (!duplicateSkips.has(id)) p.push(`${id}: its duplicate was never refused by the runner (no 'duplicate' skip)`);
    }
    if (dupIds.length === 0) p.push('no duplicate delivery was injected');
    const kinds = obs.injected;
    checks.push(
      check(
        'duplicates-refused',
        'duplicate deliveries ran once (the runner refused the copy)',
        p,
        `${dupIds.length} duplicates (${kinds.redispatchedCycles.length} cycles and ${kinds.redispatchedEnvelopeRuns.length} envelope runs re-dispatched after they ran, ${kinds.pendingCopies.length} copies of waiting slots, ${kinds.republished.length} envelopes re-published with their id): each ran once, each copy refused as 'duplicate'`,
      ),
    );
  }

  // ---------------------------------------------------------------------------------------------
  // figures: slots of healthy agents (missed ones, in or out of fault windows) and slot jitter
  const ranSlots = new Map<string, Set<number>>();
  // a run's envelopes and its agent.cycle record are made with the same timestamp (the end of the
  // run) and carry the same cycle number: (agent, ts, cycle) joins the agent's startedAt to its slot
  const slotOfRun = new Map<string, number>();
  for (const e of obs.events) {
    const env = e.envelope;
    const pl = env.payload;
    if (
      env.topic === 'agent.cycle' &&
      env.sender === 'orchestrator' &&
      pl.kind === 'cycle' &&
      typeof pl.name === 'string' &&
      typeof pl.slot === 'number' &&
      healthy.has(pl.name)
    )
      slotOfRun.set(`${pl.name}|${env.ts}|${String(pl.cycle)}`, pl.slot);
  }
  for (const r of obs.runs) {
    if (r.status !== 'ran' || r.kind !== 'cycle' || !healthy.has(r.agent)) continue;
    const s = slotOf(r.runId);
    if (s === null) continue;
    const set = ranSlots.get(r.agent) ?? new Set<number>();
    set.add(s);
    ranSlots.set(r.agent, set);
  }
  let expected = 0;
  let ranInWindow = 0;
  let missed = 0;
  let missedInFaultWindows = 0;
  const missedOutside: string[] = [];
  const lastSlotDue = obs.schedulerStoppedAt - 2000;
  for (const a of plan.healthy) {
    const set = ranSlots.get(a.name);
    if (!set || set.size === 0) continue;
    const p = a.cycleSeconds * 1000;
    const first = Math.min(...set);
    for (let s = first; s <= lastSlotDue; s += p) {
      expected++;
      if (set.has(s)) {
        ranInWindow++;
        continue;
      }
      missed++;
      // By design a slot is skipped only when the scheduler could not tick for longer than the
      // agent's period (overdue slots collapse into the latest one) or when its run arrives
      // later than max(2 periods, timeout + 15 s) (expired). Only a DynamoDB outage longer than the period
      // that covers the slot excuses it; the soak's outages (seconds) are far shorter than its
      // periods, so every slot must run.
      if (obs.faults.some((f) => f.kind === 'dynamodb' && f.to - f.from > p && f.from <= s && s <= f.to)) missedInFaultWindows++;
      else missedOutside.push(`${a.name}@${s}`);
    }
  }
  const jitter: number[] = [];
  const jitterQuiet: number[] = [];
  for (const e of obs.events) {
    const env = e.envelope;
    if (env.topic !== 'soak.ping' || !healthy.has(env.sender)) continue;
    const { cycle, startedAt } = env.payload;
    if (typeof cycle !== 'number' || typeof startedAt !== 'number') continue;
    const slot = slotOfRun.get(`${env.sender}|${env.ts}|${cycle}`);
    if (slot === undefined) continue;
    jitter.push(startedAt - slot);
    // runs whose slot was not within 30 s after an emulator outage (retries back off meanwhile)
    if (!obs.faults.some((f) => slot >= f.from - 1000 && slot <= f.to + 30_000)) jitterQuiet.push(startedAt - slot);
  }
  jitter.sort((x, y) => x - y);
  jitterQuiet.sort((x, y) => x - y);
  {
    const skippedAs = new Map<string, string>();
    for (const r of obs.runs) if (r.status === 'skipped') skippedAs.set(r.runId, r.reason ?? '?');
    const p = missedOutside.map(
      (s) =>
        `slot ${s} (${new Date(Number(s.split('@')[1])).toISOString()}) never ran${skippedAs.has(s) ? `: skipped as ${skippedAs.get(s)}` : ': never dispatched or its run was lost'}`,
    );
    checks.push(
      check(
        'healthy-slots',
        'healthy agents: every slot ran (none lost to the outages, which are shorter than every period)',
        p,
        missed === 0
          ? `${ranInWindow} of ${expected} slots ran`
          : `${ranInWindow} of ${expected} slots ran; ${missed} skipped within DynamoDB outages longer than the agent's period (overdue slots collapse by design)`,
      ),
    );
  }

  const skipped: Record<string, number> = {};
  for (const r of obs.runs) if (r.status === 'skipped') skipped[r.reason ?? '?'] = (skipped[r.reason ?? '?'] ?? 0) + 1;
  const figures: SoakFigures = {
    runs: obs.runs.filter((r) => r.status === 'ran').length,
    cycleRuns: obs.runs.filter((r) => r.status === 'ran' && r.kind === 'cycle').length,
    envelopeRuns: obs.runs.filter((r) => r.status === 'ran' && r.kind === 'envelope').length,
    skipped,
    envelopesPublished: publishedIds.size - orchestratorEvents,
    orchestratorEvents,
    ledgerEntries: final?.ledger.length ?? 0,
    healthySlots: { expected, ran: ranInWindow, missed, missedInFaultWindows },
    jitterMs: summary(jitter),
    jitterQuietMs: summary(jitterQuiet),
    faultyEpochs: { maxFailuresInAnEpoch, epochs, recoveryEpochs, maxFailuresInRecovery },
    duplicatesInjected: dupIds.length,
    faults: {
      dynamodb: obs.faults.filter((f) => f.kind === 'dynamodb').length,
      s3: obs.faults.filter((f) => f.kind === 's3').length,
      unreachableMs: obs.faults.reduce((n, f) => n + (f.to - f.from), 0),
    },
  };
  return { checks, figures };
}
