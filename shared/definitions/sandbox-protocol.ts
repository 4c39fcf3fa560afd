/**
 * What the runner (and the manager) send the sandbox function of the cloud's `lambda` runtime,
 * and what it answers: one inspection or one run. The bundle travels as its verified bytes
 * (base64) or, when that would not fit an invocation's 6 MB payload, as a short-lived presigned
 * GET URL; the sandbox checks the bytes against the sha256 either way before importing them.
 */
import { z } from 'zod';
import { EnvelopeSchema } from '../core/envelope';
import { RUNTIME_NAMES } from '../core/registry';
import type { SandboxResult } from '../core/ports';
import { RUN_LOG_MAX_LINES } from '../core/logs';

/**
 * Bundles up to this size travel in the payload; larger ones by presigned URL. A synchronous
 * invocation's request is at most 6 MB (Lambda quotas): 3 MB of bytes are 4 MB of base64, which
 * leaves room for the state (64 KB), an envelope (256 KB) and the rest of the request.
 */
export const INLINE_BUNDLE_MAX_BYTES = 3 * 1024 * 1024;

export const SandboxBundleSchema = z
  .object({
    key: z.string().min(1).max(1024),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    bytesBase64: z.string().optional(),
    url: z.string().url().optional(),
  })
  .refine((b) => (b.bytesBase64 === undefined) !== (b.url === undefined), 'exactly one of bytesBase64 and url');

export const SandboxRequestSchema = z.discriminatedUnion('mode', [
  z.object({ mode: z.literal('inspect'), bundle: SandboxBundleSchema }),
  z.object({
    mode: z.literal('run'),
    bundle: SandboxBundleSchema,
    run: z.object({
      agent: z.string().min(1).max(128),
      version: z.string().min(1).max(128),
      generation: z.number().int().nonnegative().optional(),
      runtime: z.enum(RUNTIME_NAMES).optional(),
      kind: z.enum(['cycle', 'envelope']),
      cycle: z.number().int().nonnegative(),
      envelope: EnvelopeSchema.optional(),
      state: z.record(z.string(), z.unknown()),
      timeoutMs: z.number().positive().max(900_000),
    }),
  }),
]);
export type SandboxRequest = z.infer<typeof SandboxRequestSchema>;

export const SandboxResultSchema = z.object({
  outcome: z.enum(['ok', 'error', 'timeout', 'crashed', 'oom']),
  error: z.string().nullable(),
  stack: z.string().nullable().optional(),
  durationMs: z.number().nonnegative(),
  published: z.array(z.object({ topic: z.string(), payload: z.record(z.string(), z.unknown()), recipient: z.string().optional() })),
  /** JSON has no `undefined`: deleted keys travel as a list */
  stateSet: z.record(z.string(), z.unknown()),
  stateDeleted: z.array(z.string()),
  logs: z
    .array(
      z.object({
        ts: z.string(),
        level: z.enum(['debug', 'info', 'warn', 'error']),
        msg: z.string(),
        fields: z.record(z.string(), z.unknown()).optional(),
      }),
    )
    .max(RUN_LOG_MAX_LINES)
    .optional(),
});
export type WireSandboxResult = z.infer<typeof SandboxResultSchema>;

export const SandboxResponseSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('manifest'), manifest: z.record(z.string(), z.unknown()) }),
  /** the bundle is not an agent (bad_manifest) */
  z.object({ kind: z.literal('invalid'), error: z.string() }),
  /** the sandbox could not do it (bytes not matching, a fetch that failed, the host): try again */
  z.object({ kind: z.literal('unavailable'), error: z.string() }),
  z.object({ kind: z.literal('result'), result: SandboxResultSchema }),
]);
export type SandboxResponse = z.infer<typeof SandboxResponseSchema>;

/** A runtime's result as it travels (deleted state keys listed, not `undefined`). */
export function toWire(r: SandboxResult): WireSandboxResult {
  const stateSet: Record<string, unknown> = {};
  const stateDeleted: string[] = [];
  for (const [k, v] of Object.entries(r.stateChanges)) {
    if (v === undefined) stateDeleted.push(k);
    else stateSet[k] = v;
  }
  return {
    outcome: r.outcome,
    error: r.error,
    stack: r.stack ?? null,
    durationMs: r.durationMs,
    published: r.published,
    stateSet,
    stateDeleted,
    ...(r.logs?.length ? { logs: r.logs.slice(0, RUN_LOG_MAX_LINES) } : {}),
  };
}

/** The result back from the wire. */
export function fromWire(w: WireSandboxResult): SandboxResult {
  const stateChanges: Record<string, unknown> = { ...w.stateSet };
  for (const k of w.stateDeleted) stateChanges[k] = undefined;
  return {
    outcome: w.outcome,
    error: w.error,
    stack: w.stack ?? null,
    durationMs: w.durationMs,
    published: w.published,
    stateChanges,
    ...(w.logs?.length ? { logs: w.logs } : {}),
  };
}
