/**
 * zod schemas of everything the API accepts: path parameters, query strings and JSON bodies.
 * Objects are strict: an unknown field is a 400, never silently ignored.
 */
import { z } from 'zod';
import { AgentNameSchema } from '../../shared/core/bundle/identity';
import { TopicSchema } from '../../shared/core/envelope';
import { COMPONENT_NAMES } from '../../shared/definitions/routing';
import { AGENT_ACTIONS, COMPONENT_ACTIONS } from '../../shared/definitions/api';

export { AgentNameSchema };

export const AgentActionSchema = z.enum(AGENT_ACTIONS);

export const ComponentNameSchema = z.enum(COMPONENT_NAMES);
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
