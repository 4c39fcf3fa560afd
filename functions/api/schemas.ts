/**
 * zod schemas of everything the API accepts: path parameters, query strings and JSON bodies.
 * Objects are strict: an unknown field is a 400, never silently ignored.
 */
import { z } from 'zod';
import { AGENT_NAME_RE, AgentNameSchema } from '../../shared/core/bundle/identity';
import { TopicSchema } from '../../shared/core/envelope';
import { ALL_COMPONENT_NAMES } from '../../shared/definitions/routing';
import { AGENT_ACTIONS, COMPONENT_ACTIONS, type RestRouteId } from '../../shared/definitions/api';
import { AgentStatusSchema, DEFAULT_AGENT_PAGE, MAX_AGENT_PAGE } from '../../shared/core/registry';
import { AgentLogLineSchema, LOGS_DEFAULT_LIMIT, LOGS_MAX_LIMIT, RunKindSchema } from '../../shared/core/logs';

export { AgentNameSchema };

export const AgentActionSchema = z.enum(AGENT_ACTIONS);

export const ComponentNameSchema = z.enum(ALL_COMPONENT_NAMES);
export const ComponentActionSchema = z.enum(COMPONENT_ACTIONS);

/** Body of the action routes (`POST /agents/...`, `POST /components/...`): none, or `{}`. */
export const EmptyBodySchema = z.object({}).strict();

/** `POST /events`: an envelope published by the operator (sender `api`). */
export const PublishBodySchema = z
  .object({
    topic: TopicSchema,
    payload: z.record(z.string(), z.unknown()),
    recipient: AgentNameSchema.optional(),
  })
  .strict();
export type PublishBody = z.infer<typeof PublishBodySchema>;

/** the most entries one replay request may span (the ledger service's REPLAY_MAX_RANGE) */
export const MAX_REPLAY_SPAN = 10_000;

const seq = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** `POST /ledger/replay` */
export const ReplayBodySchema = z
  .object({
    fromSeq: seq,
    toSeq: seq,
    topic: TopicSchema.optional(),
    agent: z.string().min(1).max(128).optional(),
  })
  .strict()
  .refine((b) => b.fromSeq <= b.toSeq, { message: 'fromSeq must be <= toSeq', path: ['toSeq'] })
  .refine((b) => b.toSeq - b.fromSeq < MAX_REPLAY_SPAN, { message: `a replay spans at most ${MAX_REPLAY_SPAN} entries`, path: ['toSeq'] });
export type ReplayBody = z.infer<typeof ReplayBodySchema>;

/** Query-string integers: digits only (no signs, exponents, blanks), coerced after the check. */
const qInt = (min: number, max: number) =>
  z
    .string()
    .regex(/^[0-9]{1,16}$/, 'must be a non-negative integer')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

export const MAX_LEDGER_PAGE = 1000;

/** `GET /ledger?after=SEQ&limit=N&topic=&agent=` */
export const LedgerQuerySchema = z
  .object({
    after: qInt(0, Number.MAX_SAFE_INTEGER).optional(),
    limit: qInt(1, MAX_LEDGER_PAGE).default(100),
    topic: TopicSchema.optional(),
    agent: z.string().min(1).max(128).optional(),
  })
  .strict();

/** The same page request with numbers (gRPC/Connect `ListLedgerEntries`). */
export const LedgerPageSchema = z
  .object({
    after: seq.optional(),
    limit: z.number().int().min(1).max(MAX_LEDGER_PAGE).default(100),
    topic: TopicSchema.optional(),
    agent: z.string().min(1).max(128).optional(),
  })
  .strict();
export type LedgerPageQuery = z.infer<typeof LedgerPageSchema>;

/**
 * The cursor of `GET /agents`: opaque to clients (base64url of the last name a page covered);
 * anything that does not decode to an agent name is a 400.
 */
export const encodeAgentCursor = (lastName: string): string => Buffer.from(lastName, 'utf8').toString('base64url');
export const AgentCursorSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,100}$/, 'must be a cursor returned by GET /agents')
  .transform((c) => Buffer.from(c, 'base64url').toString('utf8'))
  .pipe(z.string().regex(AGENT_NAME_RE, 'must be a cursor returned by GET /agents'));
/** a name prefix: the characters of agent names */
export const AgentPrefixSchema = z.string().regex(/^[a-z0-9-]{1,63}$/, 'must be the start of an agent name ([a-z0-9-])');

/** `GET /agents?limit=N&cursor=C&status=S&prefix=P` */
export const AgentsQuerySchema = z
  .object({
    limit: qInt(1, MAX_AGENT_PAGE).default(DEFAULT_AGENT_PAGE),
    cursor: AgentCursorSchema.optional(),
    status: AgentStatusSchema.optional(),
    prefix: AgentPrefixSchema.optional(),
  })
  .strict();

/** The same page request decoded from gRPC/Connect `ListAgents` (empty strings and 0: not given). */
export const AgentPageSchema = z
  .object({
    limit: z.number().int().min(1).max(MAX_AGENT_PAGE).default(DEFAULT_AGENT_PAGE),
    cursor: AgentCursorSchema.optional(),
    status: AgentStatusSchema.optional(),
    prefix: AgentPrefixSchema.optional(),
  })
  .strict();
export type AgentPageRequest = z.infer<typeof AgentPageSchema>;

/** gRPC/Connect `BusService.Subscribe`: where to start and which envelopes. */
export const SubscribeSchema = z
  .object({
    afterSeq: seq.optional(),
    topic: TopicSchema.optional(),
    agent: z.string().min(1).max(128).optional(),
  })
  .strict();

/** gRPC/Connect `MetricsService.StreamMetrics`: seconds between snapshots. */
export const MetricsStreamSchema = z.object({ intervalSeconds: z.number().int().min(1).max(3600).default(5) }).strict();

/** `GET /ledger/verify?digests=true`: also check the chain against every anchored digest */
export const VerifyQuerySchema = z
  .object({
    digests: z
      .enum(['true', 'false'])
      .transform((v) => v === 'true')
      .optional(),
  })
  .strict();

/** `GET /events/stream?after=SEQ&backlog=N` (`Last-Event-ID` wins over `after`) */
export const StreamQuerySchema = z
  .object({
    after: qInt(0, Number.MAX_SAFE_INTEGER).optional(),
    backlog: qInt(0, 500).optional(),
  })
  .strict();

export const LastEventIdSchema = z
  .string()
  .regex(/^[0-9]{1,16}$/, 'Last-Event-ID must be a ledger sequence number')
  .transform(Number);

/** Routes without query parameters accept none. */
export const EmptyQuerySchema = z.object({}).strict();

// ---------------------------------------------------------------------------------------------
// Responses. The handlers build them from the core's types; these schemas describe them for the
// OpenAPI document (openapi.ts), and tests/api/openapi.test.ts checks real responses against them.

const isoOrNull = z.iso.datetime({ offset: true }).nullable();

export const AgentViewSchema = z.object({
  name: AgentNameSchema,
  version: z.string(),
  status: AgentStatusSchema,
  cycleSeconds: z.number().int(),
  lastHeartbeat: isoOrNull.describe('end of the last finished cycle (any outcome)'),
  nextRunAt: isoOrNull.describe('start of the next scheduled slot; null when not scheduled'),
  consecutiveErrors: z.number().int(),
  restarts: z.number().int().describe('restarts by the health monitor'),
  lastError: z
    .string()
    .nullable()
    .describe("the current failure streak's error; null once a cycle succeeded or a new version was registered (see lastFailure)"),
});

const countsByStatus = z.object(
  Object.fromEntries(AgentStatusSchema.options.map((s) => [s, z.number().int()])) as Record<
    (typeof AgentStatusSchema.options)[number],
    z.ZodNumber
  >,
);

export const AgentSummarySchema = z.object({
  total: z.number().int().describe('registered agents'),
  byStatus: countsByStatus,
  quarantined: z.number().int(),
  erroring: z.number().int().describe('agents whose last run failed (consecutive errors > 0)'),
  oldestHeartbeat: z
    .object({ agent: AgentNameSchema, lastHeartbeat: isoOrNull, stuckAt: z.iso.datetime({ offset: true }) })
    .nullable()
    .describe('the scheduled agent whose heartbeat is due earliest (the most overdue first); null: none expected'),
});

export const AgentDetailSchema = AgentViewSchema.extend({
  timeoutSeconds: z.number().int(),
  subscriptions: z.array(z.string()),
  hasOnEnvelope: z.boolean(),
  statusReason: z.string().nullable(),
  statusChangedAt: isoOrNull,
  generation: z.number().int(),
  sha256: z.string(),
  signer: z.string().nullable(),
  registeredAt: z.iso.datetime({ offset: true }),
  updatedAt: z.iso.datetime({ offset: true }),
  cycles: z.number().int(),
  failures: z.number().int(),
  lastOutcome: z.string().nullable(),
  lastDurationMs: z.number().nullable(),
  stuckAt: isoOrNull,
  lastErrorAt: isoOrNull.describe('when lastError happened'),
  lastErrorStack: z
    .string()
    .nullable()
    .describe("lastError's stack: frames name agents/<name>/<version>.mjs:LINE:COL; at most 20 frames, 4 KB"),
  lastFailure: z
    .object({
      error: z.string(),
      stack: z.string().nullable(),
      at: isoOrNull,
      version: z.string().nullable(),
      current: z.boolean().describe('it is lastError (the failure streak is not over)'),
    })
    .nullable()
    .describe('the most recent failed run, kept after the agent recovered or was upgraded'),
});

export const LedgerEntrySchema = z.object({
  seq: seq,
  id: z.string(),
  ts: z.string().describe('ISO 8601, as hashed'),
  topic: z.string(),
  sender: z.string(),
  recipient: z.string().optional(),
  payload: z.record(z.string(), z.unknown()),
  replayOf: seq.optional(),
  hash: z.string(),
  prevHash: z.string(),
  expiresAt: z.number().int().optional(),
  prevExpiresAt: z.number().int().optional(),
});

export const ComponentStateSchema = z.object({ name: ComponentNameSchema, running: z.boolean() });

export const ErrorBodySchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

/** What each REST route of the route table validates and answers; `params` name the path's `{param}`s. */
export interface RouteSchemas {
  summary: string;
  params?: Record<string, z.ZodType>;
  query?: z.ZodType;
  body?: { schema: z.ZodType; required: boolean };
  /** success: status, content type and (JSON) schema */
  ok: { status: number; type: string; schema?: z.ZodType };
  /** the error statuses a client can cause on this route (besides 401, 500, 503) */
  errors: number[];
}

const JSON_TYPE = 'application/json';
const okJson = (status: number, schema: z.ZodType) => ({ status, type: JSON_TYPE, schema });
const agentParams = { name: AgentNameSchema };
const actionBody = { schema: EmptyBodySchema, required: false };

export const ROUTE_SCHEMAS = {
  dashboard: { summary: 'The web dashboard', ok: { status: 200, type: 'text/html' }, errors: [] },
  dashboardScript: { summary: "The dashboard's script", ok: { status: 200, type: 'text/javascript' }, errors: [] },
  dashboardStyle: { summary: "The dashboard's style", ok: { status: 200, type: 'text/css' }, errors: [] },
  health: { summary: 'Liveness (no authentication)', ok: okJson(200, z.object({ ok: z.literal(true) })), errors: [] },
  openapi: { summary: 'This document', ok: okJson(200, z.record(z.string(), z.unknown())), errors: [] },
  listAgents: {
    summary: `One page of agents in name order (default ${DEFAULT_AGENT_PAGE}, at most ${MAX_AGENT_PAGE}); cursor: the next page, null at the end`,
    query: AgentsQuerySchema,
    ok: okJson(200, z.object({ agents: z.array(AgentViewSchema), cursor: z.string().nullable() })),
    errors: [400],
  },
  agentSummary: {
    summary: 'Counts by status, erroring and quarantined agents, the oldest expected heartbeat (from aggregates, not a scan)',
    query: EmptyQuerySchema,
    ok: okJson(200, AgentSummarySchema),
    errors: [400],
  },
  getAgent: {
    summary: 'One agent with its details',
    params: agentParams,
    query: EmptyQuerySchema,
    ok: okJson(200, AgentDetailSchema),
    errors: [400, 404],
  },
  agentLogs: {
    summary: "The agent's own most recent log lines (ctx.log and what it printed), oldest first",
    params: agentParams,
    query: z.object({ limit: qInt(1, LOGS_MAX_LIMIT).optional().describe(`lines, default ${LOGS_DEFAULT_LIMIT}`) }).strict(),
    ok: okJson(
      200,
      z.object({
        agent: AgentNameSchema,
        lines: z.array(
          AgentLogLineSchema.extend({
            runId: z.string(),
            kind: RunKindSchema,
            cycle: z.number().int(),
            version: z.string(),
          }),
        ),
      }),
    ),
    errors: [400, 404],
  },
  agentAction: {
    summary: 'An operator action: pause, resume, trigger (202), restart, quarantine, release',
    params: { ...agentParams, action: AgentActionSchema },
    query: EmptyQuerySchema,
    body: actionBody,
    ok: okJson(200, z.object({ agent: AgentViewSchema, runId: z.string().optional().describe('trigger only') })),
    errors: [400, 404, 409, 413, 415],
  },
  metrics: {
    summary: 'Prometheus text exposition 0.0.4',
    query: EmptyQuerySchema,
    ok: { status: 200, type: 'text/plain' },
    errors: [400],
  },
  eventStream: {
    summary: 'Server-sent events: ledger entries (event envelope) and metrics snapshots (event metrics)',
    query: StreamQuerySchema,
    ok: { status: 200, type: 'text/event-stream' },
    errors: [400],
  },
  publish: {
    summary: 'Publishes an envelope with sender api',
    query: EmptyQuerySchema,
    body: { schema: PublishBodySchema, required: true },
    ok: okJson(202, z.object({ id: z.string() })),
    errors: [400, 413, 415],
  },
  ledger: {
    summary: 'One page of ledger entries',
    query: LedgerQuerySchema,
    ok: okJson(200, z.object({ entries: z.array(LedgerEntrySchema), next: seq.nullable(), head: seq })),
    errors: [400],
  },
  verifyLedger: {
    summary: 'Recomputes the hash chain (with digests=true, also against every anchored digest)',
    query: VerifyQuerySchema,
    ok: okJson(
      200,
      z.object({
        ok: z.boolean(),
        entries: z.number().int(),
        head: z.string(),
        firstBad: seq.nullable(),
        digests: z
          .object({
            ok: z.boolean(),
            total: z.number().int(),
            checked: z.number().int(),
            expired: z.number().int(),
            mismatched: z.array(z.object({ ref: z.string(), seq, at: z.string(), anchored: z.string(), found: z.string().nullable() })),
            lastMatching: z.object({ seq, at: z.string(), ref: z.string() }).nullable(),
          })
          .optional(),
      }),
    ),
    errors: [400, 501],
  },
  replay: {
    summary: 'Publishes a range of the ledger again (each envelope with replayOf)',
    query: EmptyQuerySchema,
    body: { schema: ReplayBodySchema, required: true },
    ok: okJson(202, z.object({ count: z.number().int() })),
    errors: [400, 413, 415],
  },
  listComponents: {
    summary: 'The component switches',
    query: EmptyQuerySchema,
    ok: okJson(200, z.object({ components: z.array(ComponentStateSchema) })),
    errors: [400],
  },
  componentAction: {
    summary: 'Stops or starts a component',
    params: { name: ComponentNameSchema, action: ComponentActionSchema },
    query: EmptyQuerySchema,
    body: actionBody,
    ok: okJson(200, z.object({ component: ComponentStateSchema })),
    errors: [400, 413, 415],
  },
} satisfies Record<RestRouteId, RouteSchemas>;
