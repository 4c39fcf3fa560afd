/**
 * The agent's own log lines (ctx.log, and what it prints), kept for `agentctl logs NAME` and
 * `GET /agents/{name}/logs`, bounded in both local mode and the cloud:
 *
 * - per run, at most `RUN_LOG_MAX_LINES` lines and `RUN_LOG_MAX_BYTES` bytes are kept (a message is
 *   cut at `LINE_MAX_CHARS`, fields over `FIELDS_MAX_CHARS` of JSON are replaced by a note); the
 *   lines past that are not kept; a failed run that logged ends with a line of its error;
 * - per agent, a ring of `LOG_RING_RUNS` runs in the Heartbeats table (one item per ring slot, written
 *   only by runs that logged something; cycles and triggers by their cycle number, envelope runs
 *   in a ring of their own), each item expiring `LOG_RETENTION_DAYS` after its run (TTL);
 * - so an agent keeps at most 2 × 10 runs × 8 KB of lines, the last ones it logged.
 *
 * The full output still goes to the orchestrator's own log (local mode's stdout, CloudWatch).
 */
import { z } from 'zod';
import type { AgentLogLine } from './ports';

/** One kept line, as stored and as the API answers it (AgentLogLine in ports). */
export const AgentLogLineSchema = z.object({
  ts: z.string(),
  level: z.enum(['debug', 'info', 'warn', 'error']),
  msg: z.string(),
  fields: z.record(z.string(), z.unknown()).optional(),
});

export const RunKindSchema = z.enum(['cycle', 'trigger', 'envelope']);

/** One run's kept lines as the Heartbeats table stores them (RunLog in ports). */
export const RunLogSchema = z.object({
  runId: z.string(),
  kind: RunKindSchema,
  cycle: z.number(),
  version: z.string(),
  at: z.number(),
  lines: z.array(AgentLogLineSchema),
});

export const RUN_LOG_MAX_LINES = 50;
export const RUN_LOG_MAX_BYTES = 8 * 1024;
export const LINE_MAX_CHARS = 1000;
export const FIELDS_MAX_CHARS = 1000;
export const LOG_RING_RUNS = 10;
export const LOG_RETENTION_DAYS = 7;
/** lines one GET /agents/{name}/logs answers at most (and its default) */
export const LOGS_MAX_LIMIT = 1000;
export const LOGS_DEFAULT_LIMIT = 100;

/** Collects one run's kept lines under the per-run bounds. */
export class RunLogBuffer {
  readonly lines: AgentLogLine[] = [];
  private bytes = 0;

  add(level: AgentLogLine['level'], msg: string, fields: Record<string, unknown> | null | undefined, at: number): void {
    const m = msg.length > LINE_MAX_CHARS ? `${msg.slice(0, LINE_MAX_CHARS)}…` : msg;
    let f: Record<string, unknown> | undefined;
    let n = m.length;
    if (fields) {
      const text = JSON.stringify(fields) ?? '';
      f = text.length > FIELDS_MAX_CHARS ? { truncated: `fields of ${text.length} characters` } : fields;
      n += Math.min(text.length, FIELDS_MAX_CHARS);
    }
    if (this.lines.length >= RUN_LOG_MAX_LINES || this.bytes + n > RUN_LOG_MAX_BYTES) return;
    this.bytes += n;
    this.lines.push({ ts: new Date(at).toISOString(), level, msg: m, ...(f ? { fields: f } : {}) });
  }
}
