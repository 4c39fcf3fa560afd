/**
 * ControlService: what operators do to agents, used by the HTTP API (`GET /agents`,
 * `GET /agents/{name}`, `POST /agents/{name}/{action}`) and by local mode.
 *
 * Every action is one conditional registry transition (so racing operators, monitors and
 * schedulers never interleave), then the heartbeat bookkeeping it implies, then one ledger event:
 *
 * | action     | allowed from                     | result                                              | ledger event        |
 * |------------|----------------------------------|-----------------------------------------------------|---------------------|
 * | pause      | active, restarting               | paused, unscheduled, no heartbeat expected          | agent.paused        |
 * | resume     | paused                           | active, next slot on the grid                       | agent.resumed       |
 * | trigger    | active, paused                   | one extra cycle dispatched now (status unchanged)   | agent.triggered     |
 * | restart    | active, restarting               | active, fresh load (generation + 1), runs now,      | agent.restarted     |
 * |            |                                  | consecutive errors reset, no backoff                |                     |
 * | quarantine | active, restarting, paused       | quarantined: the stub takes its place               | agent.quarantined   |
 * | release    | quarantined                      | active, fresh load, restart window forgotten,       | agent.released      |
 * |            |                                  | consecutive errors reset, next slot on the grid     |                     |
 *
 * Errors: a malformed name → ValidationError (400); an unknown agent → NotFoundError (404); an
 * action not allowed in the current status → ConflictError (409; ActionNotAllowedError is one).
 * Operator restarts do not count toward the quarantine window (only the monitor's do).
 */
import { retryFollowUp } from '../retry';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { NotFoundError, ValidationError } from '../errors';
import { AgentNameSchema } from '../bundle/identity';
import { orchestratorEvent, type OrchestratorPayload, type OrchestratorTopic } from '../events';
import { nextSlotAtOrAfter, type AgentPageQuery, type AgentRecord, type AgentStatus, type StatusCounts } from '../registry';
import type { HeartbeatRecord } from '../heartbeat';
import type { AgentLogEntry, Dispatcher, EventPublisher, HeartbeatStore, RegistryStore } from '../ports';
import { iso, isoOrNull, systemClock, type Clock } from '../clock';
import { AGENT_ACTIONS, type AgentAction } from '../../definitions/api';
import { silentLogger, type Logger } from '../logger';
import { stuckDeadline, type HealthPolicy } from '../health/policy';
import { ActionNotAllowedError, UnknownActionError } from './errors';

/** One agent as `GET /agents` shows it (contract). */
/** how long an operator action's follow-up writes are retried (the API answers within its timeout) */
const FOLLOW_UP_MS = 10_000;

export interface AgentView {
  name: string;
  version: string;
  status: AgentStatus;
  cycleSeconds: number;
  /** ISO time of the last finished cycle (any outcome); null before the first */
  lastHeartbeat: string | null;
  /** ISO start of the next scheduled slot; null when not scheduled (paused, quarantined) */
  nextRunAt: string | null;
  consecutiveErrors: number;
  /** restarts by the health monitor (operator restarts are not counted) */
  restarts: number;
  /**
   * The error of the current failure streak: the last failure's message while it is current
   * (consecutive errors > 0, and of the version now registered); null once a cycle succeeded or a
   * new version was registered. The last failure itself stays in the detail's `lastFailure`.
   */
  lastError: string | null;
}

/** The most recent failed run, kept after the agent recovered or was upgraded. */
export interface FailureView {
  error: string;
  /** frames naming the bundle key (`agents/<name>/<version>.mjs:LINE:COL`), at most 20 frames / 4 KB */
  stack: string | null;
  at: string | null;
  version: string | null;
  /** it is the agent's current state (see AgentView.lastError) */
  current: boolean;
}

/** `GET /agents/{name}`: the view plus what an operator needs to understand it. */
export interface AgentDetail extends AgentView {
  timeoutSeconds: number;
  subscriptions: string[];
  hasOnEnvelope: boolean;
  statusReason: string | null;
  statusChangedAt: string | null;
  generation: number;
  sha256: string;
  signer: string | null;
  registeredAt: string;
  updatedAt: string;
  cycles: number;
  failures: number;
  lastOutcome: HeartbeatRecord['lastOutcome'];
  lastDurationMs: number | null;
  /** ISO time by which the next heartbeat is expected before the agent counts as stuck */
  stuckAt: string | null;
  /** when lastError happened (null when there is no current error) */
  lastErrorAt: string | null;
  /** lastError's stack (null when there is no current error, or no stack) */
  lastErrorStack: string | null;
  /** the most recent failure, current or not; null before the first */
  lastFailure: FailureView | null;
}

/** `GET /agents?limit&cursor&status&prefix`: one page; `last` is the next page's `after` (null: the end). */
export interface AgentViewPage {
  agents: AgentView[];
  last: string | null;
}

/** `GET /agents/summary`: the fleet at a glance, from small aggregates (never every agent). */
export interface AgentSummary {
  /** registered agents */
  total: number;
  byStatus: StatusCounts;
  quarantined: number;
  /** agents whose last run failed (consecutive errors > 0) */
  erroring: number;
  /**
   * The scheduled agent whose heartbeat is due earliest (the most overdue first): its last
   * heartbeat and when it counts as stuck. null: no heartbeat is expected (no scheduled agent).
   */
  oldestHeartbeat: { agent: string; lastHeartbeat: string | null; stuckAt: string } | null;
}

export interface ControlResult {
  agent: AgentView;
  /** the run dispatched by `trigger` */
  runId?: string;
}

export interface ControlDeps {
  registry: RegistryStore;
  heartbeats: HeartbeatStore;
  dispatcher: Dispatcher;
  events: EventPublisher;
  policy: HealthPolicy;
  clock?: Clock;
  logger?: Logger;
}

/**
 * Whether the heartbeat's last failure is the agent's current state: the failure streak is not
 * over (a successful cycle resets it) and the failing version is still the registered one.
 */
export function lastErrorIsCurrent(rec: Pick<AgentRecord, 'version'>, hb: HeartbeatRecord | null | undefined): boolean {
  if (!hb?.lastError || hb.consecutiveErrors === 0) return false;
  return hb.lastErrorVersion === null || hb.lastErrorVersion === rec.version;
}

export function toAgentView(rec: AgentRecord, hb: HeartbeatRecord | null | undefined): AgentView {
  return {
    name: rec.name,
    version: rec.version,
    status: rec.status,
    cycleSeconds: rec.cycleSeconds,
    lastHeartbeat: isoOrNull(hb?.lastHeartbeat),
    nextRunAt: isoOrNull(rec.nextRunAt),
    consecutiveErrors: hb?.consecutiveErrors ?? 0,
    restarts: rec.restarts,
    lastError: lastErrorIsCurrent(rec, hb) ? (hb?.lastError ?? null) : null,
  };
}

function failureFields(
  rec: AgentRecord,
  hb: HeartbeatRecord | null | undefined,
): Pick<AgentDetail, 'lastErrorAt' | 'lastErrorStack' | 'lastFailure'> {
  if (!hb?.lastError) return { lastErrorAt: null, lastErrorStack: null, lastFailure: null };
  const current = lastErrorIsCurrent(rec, hb);
  const lastFailure: FailureView = {
    error: hb.lastError,
    stack: hb.lastErrorStack,
    at: isoOrNull(hb.lastErrorAt),
    version: hb.lastErrorVersion,
    current,
  };
  return current
    ? { lastErrorAt: lastFailure.at, lastErrorStack: lastFailure.stack, lastFailure }
    : { lastErrorAt: null, lastErrorStack: null, lastFailure };
}

export class ControlService {
  private readonly clock: Clock;
  private readonly log: Logger;

  constructor(private readonly deps: ControlDeps) {
    this.clock = deps.clock ?? systemClock;
    this.log = deps.logger ?? silentLogger;
  }

  // ------------------------------------------------------------------------------------------
  // reads

  async list(): Promise<AgentView[]> {
    const recs = await this.deps.registry.list();
    const hbs = await this.deps.heartbeats.getMany(recs.map((r) => r.name));
    return recs.map((r) => toAgentView(r, hbs.get(r.name)));
  }

  /** One page in name order: its registry items and their heartbeats (one batch read each). */
  async page(q: AgentPageQuery): Promise<AgentViewPage> {
    const page = await this.deps.registry.page(q);
    const hbs = page.agents.length
      ? await this.deps.heartbeats.getMany(page.agents.map((r) => r.name))
      : new Map<string, HeartbeatRecord>();
    return { agents: page.agents.map((r) => toAgentView(r, hbs.get(r.name))), last: page.last };
  }

  async summary(): Promise<AgentSummary> {
    const [byStatus, erroring, earliest] = await Promise.all([
      this.deps.registry.counts(),
      this.deps.heartbeats.erroringCount(),
      this.deps.heartbeats.earliestExpected(),
    ]);
    return {
      total: Object.values(byStatus).reduce((a, b) => a + b, 0),
      byStatus,
      quarantined: byStatus.quarantined,
      erroring,
      oldestHeartbeat: earliest
        ? { agent: earliest.name, lastHeartbeat: isoOrNull(earliest.lastHeartbeat), stuckAt: iso(earliest.expectBy) }
        : null,
    };
  }

  async get(name: string): Promise<AgentView> {
    const rec = await this.record(name);
    return toAgentView(rec, await this.deps.heartbeats.get(rec.name));
  }

  /** The agent's most recent kept log lines, oldest first (shared/core/logs.ts). */
  async logs(name: string, limit: number): Promise<{ agent: string; lines: AgentLogEntry[] }> {
    const rec = await this.record(name);
    return { agent: rec.name, lines: await this.deps.heartbeats.recentLogs(rec.name, limit) };
  }

  async describe(name: string): Promise<AgentDetail> {
    const rec = await this.record(name);
    const hb = await this.deps.heartbeats.get(rec.name);
    return {
      ...toAgentView(rec, hb),
      timeoutSeconds: rec.timeoutSeconds,
      subscriptions: rec.subscriptions,
      hasOnEnvelope: rec.hasOnEnvelope,
      statusReason: rec.statusReason,
      statusChangedAt: rec.statusChangedAt,
      generation: rec.generation,
      sha256: rec.sha256,
      signer: rec.signer,
      registeredAt: rec.registeredAt,
      updatedAt: rec.updatedAt,
      cycles: hb?.cycles ?? 0,
      failures: hb?.failures ?? 0,
      lastOutcome: hb?.lastOutcome ?? null,
      lastDurationMs: hb?.lastDurationMs ?? null,
      stuckAt: isoOrNull(hb?.expectBy),
      ...failureFields(rec, hb),
    };
  }

  // ------------------------------------------------------------------------------------------
  // actions

  /** `POST /agents/{name}/{action}`: validates the action name, then runs it. */
  async act(name: string, action: string): Promise<ControlResult> {
    const a = z.enum(AGENT_ACTIONS).safeParse(action);
    if (!a.success) throw new UnknownActionError(action, AGENT_ACTIONS);
    switch (a.data) {
      case 'pause':
        return { agent: await this.pause(name) };
      case 'resume':
        return { agent: await this.resume(name) };
      case 'trigger':
        return this.trigger(name);
      case 'restart':
        return { agent: await this.restart(name) };
      case 'quarantine':
        return { agent: await this.quarantine(name) };
      case 'release':
        return { agent: await this.release(name) };
    }
  }

  async pause(name: string): Promise<AgentView> {
    const cur = await this.record(name);
    this.allow(cur, 'pause', ['active', 'restarting'], cur.status === 'paused' ? 'it is already paused' : undefined);
    const now = this.clock.now();
    const rec = await this.deps.registry.transition(cur.name, {
      to: 'paused',
      from: ['active', 'restarting'],
      at: now,
      reason: 'paused by operator',
      nextRunAt: null,
    });
    await this.followUp(
      rec.name,
      () => this.deps.heartbeats.setExpectedBy(rec.name, null),
      'agent.paused',
      { name: rec.name, version: rec.version, by: 'operator', previousStatus: cur.status },
      now,
    );
    return this.get(rec.name);
  }

  async resume(name: string): Promise<AgentView> {
    const cur = await this.record(name);
    this.allow(cur, 'resume', ['paused'], cur.status === 'quarantined' ? 'release it instead' : undefined);
    const now = this.clock.now();
    const next = nextSlotAtOrAfter(now, cur.cycleSeconds, cur.name);
    const rec = await this.deps.registry.transition(cur.name, {
      to: 'active',
      from: ['paused'],
      at: now,
      reason: 'resumed by operator',
      nextRunAt: next,
    });
    await this.followUp(
      rec.name,
      () => this.deps.heartbeats.setExpectedBy(rec.name, stuckDeadline(this.deps.policy, next, rec)),
      'agent.resumed',
      { name: rec.name, version: rec.version, by: 'operator', nextRunAt: iso(next) },
      now,
    );
    return this.get(rec.name);
  }

  /** Dispatches one extra cycle now (a `trigger` message: claimed once by its runId, status unchanged). */
  async trigger(name: string): Promise<ControlResult> {
    const cur = await this.record(name);
    this.allow(
      cur,
      'trigger',
      ['active', 'paused'],
      cur.status === 'quarantined' ? 'no agent code runs until it is released' : 'it is waiting to restart',
    );
    const now = this.clock.now();
    const runId = `${cur.name}!trigger!${randomUUID()}`;
    await this.deps.dispatcher.dispatch([{ message: { kind: 'trigger', agent: cur.name, runId }, notBefore: now }]);
    await this.ledger('agent.triggered', { name: cur.name, version: cur.version, by: 'operator', runId }, now);
    return { agent: await this.get(cur.name), runId };
  }

  /** Operator restart: immediate (no backoff), fresh load, health counters reset. */
  async restart(name: string): Promise<AgentView> {
    const cur = await this.record(name);
    this.allow(
      cur,
      'restart',
      ['active', 'restarting'],
      cur.status === 'paused' ? 'resume it instead' : cur.status === 'quarantined' ? 'release it instead' : undefined,
    );
    const now = this.clock.now();
    const rec = await this.deps.registry.transition(cur.name, {
      to: 'active',
      from: ['active', 'restarting'],
      at: now,
      reason: 'restarted by operator',
      nextRunAt: now,
      bumpGeneration: true,
    });
    await this.followUp(
      rec.name,
      () => this.deps.heartbeats.resetHealth(rec.name, { expectBy: stuckDeadline(this.deps.policy, now, rec) }),
      'agent.restarted',
      { name: rec.name, version: rec.version, by: 'operator', reason: 'operator', backoffMs: 0, generation: rec.generation },
      now,
    );
    return this.get(rec.name);
  }

  async quarantine(name: string): Promise<AgentView> {
    const cur = await this.record(name);
    this.allow(cur, 'quarantine', ['active', 'restarting', 'paused'], 'it is already quarantined');
    const now = this.clock.now();
    const rec = await this.deps.registry.transition(cur.name, {
      to: 'quarantined',
      from: ['active', 'restarting', 'paused'],
      at: now,
      reason: 'quarantined by operator',
      nextRunAt: null,
    });
    await this.followUp(
      rec.name,
      () => this.deps.heartbeats.setExpectedBy(rec.name, null),
      'agent.quarantined',
      { name: rec.name, version: rec.version, by: 'operator', reason: 'operator', previousStatus: cur.status },
      now,
    );
    return this.get(rec.name);
  }

  async release(name: string): Promise<AgentView> {
    const cur = await this.record(name);
    this.allow(cur, 'release', ['quarantined'], 'only quarantined agents can be released');
    const now = this.clock.now();
    const next = nextSlotAtOrAfter(now, cur.cycleSeconds, cur.name);
    const rec = await this.deps.registry.transition(cur.name, {
      to: 'active',
      from: ['quarantined'],
      at: now,
      reason: 'released by operator',
      nextRunAt: next,
      bumpGeneration: true,
      resetRestartWindow: true,
    });
    await this.followUp(
      rec.name,
      () => this.deps.heartbeats.resetHealth(rec.name, { expectBy: stuckDeadline(this.deps.policy, next, rec) }),
      'agent.released',
      { name: rec.name, version: rec.version, by: 'operator', nextRunAt: iso(next), generation: rec.generation },
      now,
    );
    return this.get(rec.name);
  }

  // ------------------------------------------------------------------------------------------

  private async record(name: string): Promise<AgentRecord> {
    const n = AgentNameSchema.safeParse(name);
    if (!n.success) throw new ValidationError(`invalid agent name "${String(name).slice(0, 80)}": must match [a-z0-9][a-z0-9-]{1,62}`);
    const rec = await this.deps.registry.get(n.data);
    if (!rec) throw new NotFoundError(`agent ${n.data}`);
    return rec;
  }

  private allow(rec: AgentRecord, action: AgentAction, from: AgentStatus[], hint?: string): void {
    if (!from.includes(rec.status)) throw new ActionNotAllowedError(rec.name, action, rec.status, hint);
  }

  private async ledger<T extends OrchestratorTopic>(topic: T, payload: OrchestratorPayload<T>, now: number): Promise<void> {
    this.log.info(topic, payload);
    const envelope = orchestratorEvent(topic, payload, now);
    await retryFollowUp(() => this.deps.events.publish([envelope]), {
      forMs: FOLLOW_UP_MS,
      log: this.log,
      what: `${topic}: ledger event`,
      fields: { agent: payload.name },
    });
  }

  /**
   * After a committed transition, its heartbeat bookkeeping and its ledger event: retried in place
   * for a few seconds (an operator's retry would find the transition made and be refused).
   */
  private async followUp<T extends OrchestratorTopic>(
    agent: string,
    heartbeatStep: () => Promise<void>,
    topic: T,
    payload: OrchestratorPayload<T>,
    now: number,
  ): Promise<void> {
    await retryFollowUp(heartbeatStep, { forMs: FOLLOW_UP_MS, log: this.log, what: `${topic}: heartbeat update`, fields: { agent } });
    await this.ledger(topic, payload, now);
  }
}
