/**
 * The operations of the control API, implemented once. The REST routes (routes.ts) and the
 * gRPC/Connect services (rpc/services.ts) differ only in how a request is decoded and a result
 * encoded: both validate their input with the same zod schemas (schemas.ts) and then call these,
 * which call the control core (the ControlService, the ledger, the bus, the component switches).
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { iso, type Clock } from '../../shared/core/clock';
import { API_SENDER, parseEnvelope } from '../../shared/core/envelope';
import { isReservedTopic } from '../../shared/core/events';
import { ReservedTopicError } from '../../shared/core/bus/errors';
import { ValidationError } from '../../shared/core/errors';
import { busEntrySize, PUT_EVENTS_MAX_BYTES, toBusEntry } from '../../shared/core/bus/events';
import type { Logger } from '../../shared/core/logger';
import type {
  AgentLogEntry,
  ComponentState,
  LedgerEntry,
  LedgerPage,
  LedgerVerifyOptions,
  LedgerVerifyReport,
} from '../../shared/core/ports';
import type { AgentDetail, AgentSummary, AgentView, ControlResult } from '../../shared/core/control/service';
import type { AgentAction, ComponentAction } from '../../shared/definitions/api';
import type { ComponentName } from '../../shared/definitions/routing';
import type { ApiDeps } from './deps';
import { EnvelopeTooLargeError, LedgerTailError } from './errors';
import { collectMetrics, metricsSourcesOf, prometheusText, type MetricsSnapshot } from './metrics';
import { encodeAgentCursor, type AgentPageRequest, type LedgerPageQuery, type PublishBody, type ReplayBody } from './schemas';
import { tailLedger, type TailEvent } from './tail';

/** sender of envelopes published through the API (`POST /events`, `BusService.Publish`) */
export { API_SENDER };

/** Validates a decoded request against a schema: ValidationError (400, INVALID_ARGUMENT) naming what was wrong. */
export function validate<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new ValidationError(`invalid ${what}: ${z.prettifyError(r.error)}`);
  return r.data;
}

export interface SubscribeOptions {
  afterSeq?: number | undefined;
  topic?: string | undefined;
  agent?: string | undefined;
  signal?: AbortSignal | undefined;
  maxDurationMs?: number | undefined;
}

export interface ApiOperations {
  /** one page in name order; `cursor` (opaque) fetches the next, null at the end */
  listAgents(q: AgentPageRequest): Promise<{ agents: AgentView[]; cursor: string | null }>;
  agentSummary(): Promise<AgentSummary>;
  getAgent(name: string): Promise<AgentDetail>;
  /** the agent's most recent kept log lines, oldest first */
  agentLogs(name: string, limit: number): Promise<{ agent: string; lines: AgentLogEntry[] }>;
  actOnAgent(name: string, action: AgentAction): Promise<ControlResult>;
  /** publishes one envelope with sender `api`; its id */
  publish(body: PublishBody): Promise<{ id: string }>;
  /** envelopes in ledger order from `afterSeq` (default: the head now), as they are appended */
  subscribe(o: SubscribeOptions): AsyncGenerator<LedgerEntry>;
  ledgerPage(q: LedgerPageQuery): Promise<LedgerPage & { head: number }>;
  verifyLedger(opts?: LedgerVerifyOptions): Promise<LedgerVerifyReport>;
  replay(b: ReplayBody): Promise<{ count: number }>;
  listComponents(): Promise<ComponentState[]>;
  switchComponent(name: ComponentName, action: ComponentAction): Promise<ComponentState>;
  metrics(): Promise<MetricsSnapshot>;
  /** `GET /metrics`: the exposition, per agent or aggregate-only (METRICS_PER_AGENT) */
  prometheus(): Promise<string>;
}

export function createOperations(deps: ApiDeps, ctx: { clock: Clock; log: Logger }): ApiOperations {
  const { clock, log } = ctx;
  const metricsSources = metricsSourcesOf(deps, clock);
  const stream = deps.stream ?? {};
  return {
    async listAgents(q) {
      const page = await deps.control.page({ limit: q.limit, after: q.cursor, status: q.status, prefix: q.prefix });
      return { agents: page.agents, cursor: page.last === null ? null : encodeAgentCursor(page.last) };
    },
    agentSummary: () => deps.control.summary(),
    getAgent: (name) => deps.control.describe(name),
    agentLogs: (name, limit) => deps.control.logs(name, limit),
    actOnAgent: (name, action) => deps.control.act(name, action),
    async publish(body) {
      // the orchestrator's own topics (agent.*, bundle.*) are not the API's to publish
      if (isReservedTopic(body.topic))
        throw new ReservedTopicError(
          `topic ${body.topic} is reserved: agent.*, bundle.* and kafka.rejected are published by the orchestrator only`,
          { topic: body.topic },
        );
      const draft = {
        id: randomUUID(),
        topic: body.topic,
        sender: API_SENDER,
        ts: iso(clock.now()),
        payload: body.payload,
        ...(body.recipient ? { recipient: body.recipient } : {}),
      };
      // The size the bus counts (PutEvents: Source + DetailType + Detail), checked here so that an
      // envelope the bus would refuse is the client's 413, never a failed publish. It is at least
      // the envelope's own size, so this also keeps the contract's 256 KB envelope limit.
      const size = busEntrySize(toBusEntry(draft));
      if (size > PUT_EVENTS_MAX_BYTES) throw new EnvelopeTooLargeError(size, PUT_EVENTS_MAX_BYTES);
      const envelope = parseEnvelope(draft);
      await deps.events.publish([envelope]);
      return { id: envelope.id };
    },
    async *subscribe(o) {
      const events: AsyncGenerator<TailEvent> = tailLedger({
        ledger: deps.ledger,
        after: o.afterSeq,
        backlog: 0,
        topic: o.topic,
        agent: o.agent,
        pollMs: stream.pollMs ?? 1000,
        pageSize: 200,
        maxDurationMs: o.maxDurationMs ?? stream.maxDurationMs,
        signal: o.signal,
        clock,
        logger: log,
      });
      for await (const ev of events) {
        if (ev.type === 'entry') yield ev.entry;
        else if (ev.type === 'failed') throw new LedgerTailError();
      }
    },
    async ledgerPage(q) {
      const [page, head] = await Promise.all([
        deps.ledger.list({
          limit: q.limit,
          ...(q.after !== undefined ? { after: q.after } : {}),
          ...(q.topic ? { topic: q.topic } : {}),
          ...(q.agent ? { agent: q.agent } : {}),
        }),
        deps.ledger.head(),
      ]);
      return { entries: page.entries, next: page.next, head: head.seq };
    },
    verifyLedger: (opts = {}) => deps.ledger.verify(opts),
    replay: (b) =>
      deps.replay({
        fromSeq: b.fromSeq,
        toSeq: b.toSeq,
        ...(b.topic ? { topic: b.topic } : {}),
        ...(b.agent ? { agent: b.agent } : {}),
      }),
    listComponents: () => deps.components.list(),
    async switchComponent(name, action) {
      const state = await deps.components.set(name, action === 'start');
      log.info('component switched', { component: name, running: state.running });
      return state;
    },
    metrics: () => collectMetrics(metricsSources),
    prometheus: () => prometheusText(metricsSources),
  };
}
