/**
 * The IPC protocol between the soak driver (soak/driver.ts) and the orchestrator child process
 * (soak/orchestrator.ts). Both directions are validated with zod on receipt.
 *
 * child → driver:
 *   {t:'ready', ...}          local mode is up (API URL, S3 endpoint, bucket, dev key, token)
 *   {t:'obs', runs, events}   observations since the last batch (every ~250 ms, and on `flush`)
 *   {t:'reply', id, ok, ...}  the answer to a command
 * driver → child:
 *   {t:'cmd', id, cmd: ...}   a command (fault injection, duplicate deliveries, drain, stats, flush, stop)
 */
import { z } from 'zod';
import { DispatchMessageSchema } from '../shared/core/dispatch';
import { EnvelopeSchema } from '../shared/core/envelope';

/** A run report (shared/core/runner/service.ts RunReport) as observed through `onRun`. */
export const ObservedRunSchema = z.object({
  /** epoch ms the report reached the observer (the end of the run) */
  at: z.number(),
  status: z.enum(['ran', 'skipped']),
  agent: z.string(),
  runId: z.string(),
  kind: z.enum(['cycle', 'trigger', 'envelope']),
  cycle: z.number().optional(),
  outcome: z.string().optional(),
  durationMs: z.number().optional(),
  reason: z.string().optional(),
  published: z.number().optional(),
  publishError: z.string().optional(),
});
export type ObservedRun = z.infer<typeof ObservedRunSchema>;

/** An envelope as published on the bus (LocalBus.subscribe), with the time it was observed. */
export const ObservedEventSchema = z.object({ at: z.number(), envelope: EnvelopeSchema });
export type ObservedEvent = z.infer<typeof ObservedEventSchema>;

const DispatchItemSchema = z.object({ message: DispatchMessageSchema, notBefore: z.number() });

export const CommandSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('restartDynamo'), downMs: z.number().int().min(0).max(60_000) }),
  z.object({ op: z.literal('restartS3'), downMs: z.number().int().min(0).max(60_000) }),
  /** hand these items to the runner pool (again): duplicate deliveries of runs already dispatched */
  z.object({ op: z.literal('dispatch'), items: z.array(DispatchItemSchema).max(1000) }),
  /** copy up to `max` cycle items still waiting in the runner pool (not run yet) and dispatch the copies */
  z.object({ op: z.literal('duplicatePending'), max: z.number().int().min(1).max(1000), agents: z.array(z.string()).max(10_000) }),
  /** publish these envelopes (again, same ids) on the bus */
  z.object({ op: z.literal('publish'), envelopes: z.array(EnvelopeSchema).max(1000) }),
  /** wait until the runner pool has nothing waiting or in flight and the bus has delivered everything */
  z.object({ op: z.literal('drain'), timeoutMs: z.number().int().min(1) }),
  z.object({ op: z.literal('stats') }),
  /** send the observations gathered so far now */
  z.object({ op: z.literal('flush') }),
  /** clean shutdown (LocalOrchestrator.stop) and exit 0 */
  z.object({ op: z.literal('stop') }),
]);
export type Command = z.infer<typeof CommandSchema>;

export const DriverMessageSchema = z.object({ t: z.literal('cmd'), id: z.number().int(), cmd: CommandSchema });
export type DriverMessage = z.infer<typeof DriverMessageSchema>;

export const ChildStatsSchema = z.object({
  bus: z.object({
    published: z.number(),
    delivered: z.record(z.string(), z.number()),
    failed: z.record(z.string(), z.number()),
    retried: z.record(z.string(), z.number()),
    dropped: z.record(z.string(), z.number()),
    queued: z.record(z.string(), z.number()),
  }),
  busDeadLetters: z.array(z.object({ rule: z.string(), target: z.string(), eventId: z.string(), error: z.string() })),
  pool: z.object({
    pending: z.number(),
    inFlight: z.number(),
    started: z.number(),
    ran: z.number(),
    skipped: z.number(),
    errors: z.number(),
    deadLetters: z.number(),
  }),
  poolDeadLetters: z.array(z.object({ agent: z.string(), runId: z.string(), kind: z.string(), error: z.string() })),
  timers: z.array(z.object({ id: z.string(), fired: z.number(), failed: z.number() })),
  memory: z.object({ rssMb: z.number(), heapUsedMb: z.number() }),
});
export type ChildStats = z.infer<typeof ChildStatsSchema>;

export const ChildMessageSchema = z.discriminatedUnion('t', [
  z.object({
    t: z.literal('ready'),
    pid: z.number().int(),
    apiUrl: z.string().url(),
    s3Endpoint: z.string().url(),
    bucket: z.string(),
    token: z.string(),
    privateKey: z.string(),
    publicKey: z.string(),
  }),
  z.object({ t: z.literal('obs'), runs: z.array(ObservedRunSchema), events: z.array(ObservedEventSchema) }),
  z.object({
    t: z.literal('reply'),
    id: z.number().int(),
    ok: z.boolean(),
    error: z.string().optional(),
    /** restart*: how long the emulator was unreachable (ms); duplicatePending: the copies; stats: ChildStats */
    result: z.unknown().optional(),
  }),
]);
export type ChildMessage = z.infer<typeof ChildMessageSchema>;
