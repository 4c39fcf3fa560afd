/**
 * HealthMonitor: restarts failing and stuck agents, quarantines the ones that keep failing.
 *
 * - `onFailed(agent.failed)`: reads the agent's consecutive-error count from its heartbeat; at
 *   AGENT_ERR_THRESHOLD it restarts the agent: status `restarting`, generation + 1 (slots already
 *   enqueued are skipped, caches keyed by it are fresh), consecutive errors reset, the restart
 *   counted in the window, next slot after an exponential backoff (base · 2^(n-1), capped).
 *   The scheduler flips `restarting` back to `active` when it dispatches that slot.
 * - More than AGENT_MAX_RESTARTS restarts inside AGENT_RESTART_WINDOW_SECONDS → `quarantined`
 *   instead: unscheduled, no heartbeat expected; the runner's stub consumes its deliveries and no
 *   agent code runs until an operator releases it.
 * - `sweep(now)`: queries the sparse `expect` index for agents whose expected heartbeat is overdue
 *   (expectBy < now; the expectation is the stuck limit, max(3 periods, period + timeout + grace)
 *   after the last heartbeat). An agent is stuck when runs of it were claimed since its last
 *   heartbeat and none has finished (its runner host dies mid-run, e.g. memory outside the V8 heap,
 *   or runs never return); it is restarted like a failing one. When no run was started at all,
 *   the dispatch pipeline (scheduler or runner) is stopped or behind: a restart would not help, so
 *   the expectation is only moved on and logged.
 * - Every transition is a ledger event (`agent.restarted`, `agent.quarantined`) with its reason.
 *   Transitions are conditional on the generation the decision was based on, so two monitors
 *   (or a monitor and an operator) racing on the same agent apply at most one of them.
 * - Replayed `agent.failed` events (replayOf) and failures of an older generation are ignored.
 */
import { z } from 'zod';
import { retryFollowUp } from '../retry';
import { ConflictError, errorMessage, isRetryable } from '../errors';
import { AgentNameSchema } from '../bundle/identity';
import { ORCHESTRATOR_SENDER, type Envelope } from '../envelope';
import { orchestratorEvent, type OrchestratorPayload, type OrchestratorTopic } from '../events';
import { SCHEDULED_STATUSES, type AgentRecord, type Transition } from '../registry';
import type { EventPublisher, HeartbeatStore, RegistryStore } from '../ports';
import { iso, isoOrNull, systemClock, type Clock } from '../clock';
import { silentLogger, type Logger } from '../logger';
import { restartBackoffMs, stuckDeadline, type HealthPolicy } from './policy';
import { InvalidFailureEventError } from './errors';

/** how long each follow-up step of a restart or quarantine is retried (both fit the monitor Lambda's 55 s) */
const FOLLOW_UP_MS = 20_000;

export interface HealthDeps {
  registry: RegistryStore;
  heartbeats: HeartbeatStore;
  events: EventPublisher;
  policy: HealthPolicy;
  /** number of `hbShard` values (AGENT_SCHEDULE_SHARDS) */
  shards: number;
  clock?: Clock;
  logger?: Logger;
  /** overdue agents examined per shard per sweep (default 1000) */
  sweepLimit?: number;
}

export type HealthDecision =
  | { action: 'none'; name: string; reason: string }
  | { action: 'cleared'; name: string; reason: string }
  | { action: 'restarted'; name: string; reason: string; backoffMs: number; restartsInWindow: number; generation: number }
  | { action: 'quarantined'; name: string; reason: string; restartsInWindow: number };

export interface SweepReport {
  at: number;
  overdue: number;
  decisions: HealthDecision[];
}

/** What the monitor needs from an `agent.failed` payload (the runner writes more). */
export const FailedPayloadSchema = z.object({
  name: AgentNameSchema,
  generation: z.number().int().nonnegative(),
  outcome: z.string().optional(),
  error: z.string().nullable().optional(),
});

export class HealthMonitor {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly sweepLimit: number;

  constructor(private readonly deps: HealthDeps) {
    this.clock = deps.clock ?? systemClock;
    this.log = deps.logger ?? silentLogger;
    this.sweepLimit = deps.sweepLimit ?? 1000;
  }

  async onFailed(envelope: Envelope): Promise<HealthDecision> {
    if (envelope.topic !== 'agent.failed') throw new InvalidFailureEventError(`topic is ${envelope.topic}`);
    const p = FailedPayloadSchema.safeParse(envelope.payload);
    if (!p.success) throw new InvalidFailureEventError(z.prettifyError(p.error));
    const name = p.data.name;
    // only the runner's own reports count: anyone may publish a topic, not as the orchestrator
    if (envelope.sender !== ORCHESTRATOR_SENDER) {
      this.log.warn('agent.failed not sent by the orchestrator; ignored', { agent: name, sender: envelope.sender, id: envelope.id });
      return { action: 'none', name, reason: `sent by ${envelope.sender}, not by the orchestrator` };
    }
    if (envelope.replayOf !== undefined) return { action: 'none', name, reason: `replay of ledger entry ${envelope.replayOf}` };
    const rec = await this.deps.registry.get(name);
    if (!rec) return { action: 'none', name, reason: 'unknown agent' };
    if (rec.status !== 'active') return { action: 'none', name, reason: `agent is ${rec.status}` };
    if (p.data.generation !== rec.generation)
      return { action: 'none', name, reason: `failure of generation ${p.data.generation}, agent is at ${rec.generation}` };
    const n = (await this.deps.heartbeats.get(name))?.consecutiveErrors ?? 0;
    if (n < this.deps.policy.errThreshold)
      return { action: 'none', name, reason: `${n} of ${this.deps.policy.errThreshold} consecutive failures` };
    const last = [p.data.outcome, p.data.error].filter(Boolean).join(': ');
    return this.restartOrQuarantine(rec, `${n} consecutive failures${last ? ` (last: ${last.slice(0, 300)})` : ''}`, 'failures');
  }

  async sweep(now: number = this.clock.now()): Promise<SweepReport> {
    const shards = Array.from({ length: this.deps.shards }, (_, i) => String(i));
    const overdue = (await Promise.all(shards.map((s) => this.deps.heartbeats.queryOverdue(s, now, this.sweepLimit)))).flat();
    const decisions: HealthDecision[] = [];
    for (const o of overdue) {
      try {
        decisions.push(await this.checkStuck(o.name, now));
      } catch (e) {
        this.log.error('stuck check failed', { agent: o.name, error: e });
      }
    }
    return { at: now, overdue: overdue.length, decisions };
  }

  private async checkStuck(name: string, now: number): Promise<HealthDecision> {
    const rec = await this.deps.registry.get(name);
    if (!rec || !SCHEDULED_STATUSES.includes(rec.status)) {
      await this.deps.heartbeats.setExpectedBy(name, null);
      return { action: 'cleared', name, reason: rec ? `agent is ${rec.status}: no heartbeat expected` : 'unknown agent' };
    }
    const hb = await this.deps.heartbeats.get(name);
    // `running` is set by each slot claim and cleared by each cycle completion: set means runs
    // were started since the last heartbeat and none finished. The expectation already allows a
    // run started right after the last heartbeat its full timeout plus the grace, so a run still
    // going now is a later one: the earlier ones never finished either.
    const running = hb?.running ?? null;
    if (!running) {
      const next = stuckDeadline(this.deps.policy, now, rec);
      await this.deps.heartbeats.setExpectedBy(name, next);
      this.log.warn('heartbeat overdue but no run was started: the scheduler or runner is stopped or behind', {
        agent: name,
        lastHeartbeat: hb?.lastHeartbeat ?? null,
      });
      return { action: 'none', name, reason: 'no run started since the last heartbeat (dispatch pipeline stopped or behind)' };
    }
    return this.restartOrQuarantine(
      rec,
      `stuck: no heartbeat since ${isoOrNull(hb?.lastHeartbeat) ?? 'never'}; run ${running.runId} started ${iso(running.startedAt)} never finished`,
      'stuck',
    );
  }

  private async restartOrQuarantine(rec: AgentRecord, reason: string, cause: 'failures' | 'stuck'): Promise<HealthDecision> {
    const { policy } = this.deps;
    const now = this.clock.now();
    const windowStart = now - policy.restartWindowMs;
    const recent = rec.restartTimes.filter((t) => t >= windowStart).length;
    try {
      if (recent >= policy.maxRestarts) {
        const qReason = `more than ${policy.maxRestarts} restarts within ${policy.restartWindowMs / 1000} s; ${reason}`;
        await this.transition(rec, {
          to: 'quarantined',
          from: ['active', 'restarting'],
          at: now,
          reason: qReason,
          nextRunAt: null,
          expectGeneration: rec.generation,
        });
        await this.followUp(rec.name, 'quarantine', () => this.deps.heartbeats.setExpectedBy(rec.name, null), {
          topic: 'agent.quarantined',
          payload: { name: rec.name, version: rec.version, by: 'health-monitor', cause, reason: qReason, restartsInWindow: recent },
          now,
        });
        this.log.warn('agent quarantined', { agent: rec.name, reason: qReason });
        return { action: 'quarantined', name: rec.name, reason: qReason, restartsInWindow: recent };
      }
      const n = recent + 1;
      const backoffMs = restartBackoffMs(policy, n);
      const next = now + backoffMs;
      const updated = await this.transition(rec, {
        to: 'restarting',
        from: ['active', 'restarting'],
        at: now,
        reason,
        nextRunAt: next,
        bumpGeneration: true,
        expectGeneration: rec.generation,
        recordRestart: { windowStart },
      });
      await this.followUp(
        rec.name,
        'restart',
        () => this.deps.heartbeats.resetHealth(rec.name, { expectBy: stuckDeadline(policy, next, rec) }),
        {
          topic: 'agent.restarted',
          payload: {
            name: rec.name,
            version: rec.version,
            by: 'health-monitor',
            cause,
            reason,
            backoffMs,
            restartsInWindow: n,
            nextRunAt: iso(next),
            generation: updated.generation,
          },
          now,
        },
      );
      this.log.warn('agent restarted', { agent: rec.name, reason, backoffMs, restartsInWindow: n });
      return { action: 'restarted', name: rec.name, reason, backoffMs, restartsInWindow: n, generation: updated.generation };
    } catch (e) {
      if (e instanceof ConflictError) return { action: 'none', name: rec.name, reason: `changed concurrently: ${e.message}` };
      throw e;
    }
  }

  /**
   * The registry transition of a decision. When it fails without an answer (the store went away
   * mid-request: the write may have been applied), the record is read back until the store
   * answers: applied (this decision's status and time, the generation it implies) → the decision
   * goes on to its follow-up steps; not applied → the error is thrown and the whole event is
   * retried. Without this, a retry would find the transition made, take it for someone else's
   * and stop: the restart's heartbeat reset and its ledger event would be lost.
   */
  private async transition(rec: AgentRecord, t: Transition): Promise<AgentRecord> {
    try {
      return await this.deps.registry.transition(rec.name, t);
    } catch (e) {
      if (e instanceof ConflictError || !isRetryable(e)) throw e;
      const generation = rec.generation + (t.bumpGeneration ? 1 : 0);
      const cur = await retryFollowUp(() => this.deps.registry.get(rec.name), {
        forMs: FOLLOW_UP_MS,
        log: this.log,
        what: `${t.to}: reading back a transition whose answer was lost`,
        fields: { agent: rec.name },
      });
      if (cur && cur.status === t.to && cur.generation === generation && cur.statusChangedAt === iso(t.at)) {
        this.log.warn('transition applied although its answer was lost; going on', { agent: rec.name, to: t.to, error: errorMessage(e) });
        return cur;
      }
      throw e;
    }
  }

  /**
   * The steps after a committed transition (heartbeat bookkeeping, then its ledger event): a
   * retry of the whole event would find the transition made and stop, so these are retried in
   * place. The event is built once, so a repeated publish is deduplicated by its id.
   */
  private async followUp<T extends OrchestratorTopic>(
    agent: string,
    what: string,
    heartbeatStep: () => Promise<void>,
    event: { topic: T; payload: OrchestratorPayload<T>; now: number },
  ): Promise<void> {
    await retryFollowUp(heartbeatStep, { forMs: FOLLOW_UP_MS, log: this.log, what: `${what}: heartbeat update`, fields: { agent } });
    const envelope = orchestratorEvent(event.topic, event.payload, event.now);
    await retryFollowUp(() => this.deps.events.publish([envelope]), {
      forMs: FOLLOW_UP_MS,
      log: this.log,
      what: `${what}: ledger event`,
      fields: { agent },
    });
  }
}
