/**
 * The trusted side of one run, the same for every local runtime: what the agent side (the kernel,
 * agent-kernel.ts) sends is validated here again, because it comes from untrusted code (a worker
 * thread or an agent process), and capped: envelopes per run and their size, the state's total
 * size, log lines and their bytes (an agent flooding its log costs it lines, never the host's
 * memory). The run's result is assembled here; the runtime decides only when it ends (done,
 * timeout, crash).
 */
import { z } from 'zod';
import type { RunOutcome } from '../../core/heartbeat';
import { MAX_STATE_BYTES, STATE_KEY_RE } from '../../core/heartbeat';
import { MAX_ENVELOPE_BYTES, TOPIC_RE, envelopeSize } from '../../core/envelope';
import { isReservedTopic, RESERVED_TOPIC_RE } from '../../core/events';
import type { PublishedByAgent, SandboxResult, SandboxRun } from '../../core/ports';
import type { Logger } from '../../core/logger';
import { RunLogBuffer } from '../../core/logs';

export interface SandboxLimits {
  /** envelopes one run may publish */
  maxPublishes: number;
  /** serialized envelope size (contract: 256 KB) */
  maxEnvelopeBytes: number;
  /** total persisted state of an agent (sum of key + JSON value lengths) */
  maxStateBytes: number;
  /** ctx.log lines per run; further lines are dropped (one warning says so) */
  maxLogLines: number;
  /** bytes of ctx.log output per run (messages and fields); further lines are dropped */
  maxLogBytes: number;
  /** bytes of one log line's fields; larger fields are replaced by a note */
  maxLogFieldBytes: number;
}

export const DEFAULT_SANDBOX_LIMITS: SandboxLimits = {
  maxPublishes: 100,
  maxEnvelopeBytes: MAX_ENVELOPE_BYTES,
  maxStateBytes: MAX_STATE_BYTES,
  maxLogLines: 200,
  maxLogBytes: 256 * 1024,
  maxLogFieldBytes: 8 * 1024,
};

/** The limits as the agent side needs them (regular expressions as source text). */
export function kernelLimits(l: SandboxLimits) {
  return { ...l, topicRe: TOPIC_RE.source, stateKeyRe: STATE_KEY_RE.source, reservedTopicRe: RESERVED_TOPIC_RE.source };
}

/** When the AbortSignal fires: shortly before the timeout (10 %, between 20 ms and 1 s). */
export function abortAfterMs(timeoutMs: number): number {
  const margin = Math.min(1000, Math.max(20, Math.round(timeoutMs * 0.1)));
  return Math.max(0, timeoutMs - margin);
}

/** What the agent side may send during a run; anything else fails the run. */
export const AgentMessageSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('integrity'), actual: z.string() }),
  z.object({ t: z.literal('started') }),
  z.object({
    t: z.literal('log'),
    level: z.enum(['debug', 'info', 'warn', 'error']),
    msg: z.string().max(4096),
    fields: z.record(z.string(), z.unknown()).nullable(),
  }),
  z.object({
    t: z.literal('publish'),
    topic: z.string().regex(TOPIC_RE),
    payload: z.record(z.string(), z.unknown()),
    recipient: z.string().min(1).max(128).optional(),
  }),
  z.object({ t: z.literal('state'), key: z.string().regex(STATE_KEY_RE), value: z.string().nullable(), del: z.boolean() }),
  z.object({
    t: z.literal('done'),
    ok: z.boolean(),
    error: z.string().nullable(),
    stack: z.string().nullable().optional(),
    aborted: z.boolean(),
  }),
]);
export type AgentMessage = z.infer<typeof AgentMessageSchema>;

/** How a message ends the run, if it does. */
export type Verdict =
  | { end: false }
  | { end: true; outcome: RunOutcome; error: string | null; stack?: string | null }
  | { end: true; integrity: true };

export class RunCollector {
  private readonly published: PublishedByAgent[] = [];
  private readonly stateChanges: Record<string, unknown> = {};
  private readonly sizes = new Map<string, number>();
  private stateBytes = 0;
  private logLines = 0;
  private logBytes = 0;
  private logCapped = false;
  /** the lines kept for `agentctl logs` (bounded per run) */
  private readonly kept = new RunLogBuffer();
  /** performance.now() when the agent's handler started (the timeout counts from there) */
  startedAt: number | null = null;

  constructor(
    private readonly run: Pick<SandboxRun, 'agent' | 'state'>,
    private readonly limits: SandboxLimits,
    private readonly agentLog: Logger,
  ) {
    for (const [k, v] of Object.entries(run.state)) {
      const n = k.length + (JSON.stringify(v)?.length ?? 0);
      this.sizes.set(k, n);
      this.stateBytes += n;
    }
  }

  /** One raw message from the agent side. */
  accept(raw: unknown): Verdict {
    const m = AgentMessageSchema.safeParse(raw);
    if (!m.success) return this.fail('agent sent a malformed message to the sandbox');
    const msg = m.data;
    switch (msg.t) {
      case 'integrity':
        return { end: true, integrity: true };
      case 'started':
        if (this.startedAt !== null) return this.fail('agent sent a second start message');
        this.startedAt = performance.now();
        return { end: false };
      case 'log':
        this.log(msg.level, msg.msg, msg.fields);
        return { end: false };
      case 'publish':
        return this.publish(msg);
      case 'state':
        return this.state(msg);
      case 'done':
        if (msg.ok) return { end: true, outcome: 'ok', error: null };
        return msg.aborted
          ? { end: true, outcome: 'timeout', error: `${msg.error ?? 'failed'} (after the timeout signal)`, stack: msg.stack ?? null }
          : { end: true, outcome: 'error', error: msg.error, stack: msg.stack ?? null };
    }
  }

  /**
   * A line the agent printed on stdout/stderr: never written to the host's output as it is, but
   * logged as the agent's (its text the record's `msg`, with `agent` and `stream` fields), under
   * the same caps as ctx.log. A line that looks like an orchestrator log line stays a string
   * inside the agent's record.
   */
  printed(stream: 'stdout' | 'stderr', line: string): void {
    this.log(stream === 'stderr' ? 'warn' : 'info', line.slice(0, 4096), null, { stream });
  }

  /** The run's result, once it ended with `outcome`. */
  result(outcome: RunOutcome, error: string | null, t0: number, stack?: string | null): SandboxResult {
    const durationMs = Math.max(0, Math.round(performance.now() - (this.startedAt ?? t0)));
    return {
      outcome,
      error,
      durationMs,
      published: this.published,
      stateChanges: this.stateChanges,
      ...(stack ? { stack } : {}),
      ...(this.kept.lines.length ? { logs: this.kept.lines } : {}),
    };
  }

  private fail(error: string): Verdict {
    return { end: true, outcome: 'error', error };
  }

  private log(
    level: 'debug' | 'info' | 'warn' | 'error',
    msg: string,
    fields: Record<string, unknown> | null,
    tags?: { stream: 'stdout' | 'stderr' },
  ): void {
    if (this.logCapped) return;
    let f = fields;
    let bytes = msg.length;
    if (f) {
      const text = JSON.stringify(f);
      if (text.length > this.limits.maxLogFieldBytes)
        f = { truncated: `fields of ${text.length} bytes, over the limit of ${this.limits.maxLogFieldBytes}` };
      else bytes += text.length;
    }
    if (++this.logLines > this.limits.maxLogLines || this.logBytes + bytes > this.limits.maxLogBytes) {
      this.logCapped = true;
      this.agentLog.warn('log limit of this run reached; further lines dropped', {
        maxLines: this.limits.maxLogLines,
        maxBytes: this.limits.maxLogBytes,
      });
      return;
    }
    this.logBytes += bytes;
    this.agentLog[level](msg, f || tags ? { ...tags, ...(f ? { fields: f } : {}) } : undefined);
    this.kept.add(level, msg, tags ? { ...tags, ...f } : f, Date.now());
  }

  private publish(m: Extract<AgentMessage, { t: 'publish' }>): Verdict {
    // the kernel's ctx.publish refuses these; a message that gets here went around it
    if (isReservedTopic(m.topic)) return this.fail(`agent published the reserved topic ${m.topic} (agent.*, bundle.*)`);
    if (this.published.length >= this.limits.maxPublishes)
      return this.fail(`agent published more than ${this.limits.maxPublishes} envelopes`);
    const size = envelopeSize({
      id: '00000000-0000-0000-0000-000000000000',
      topic: m.topic,
      sender: this.run.agent,
      recipient: m.recipient,
      ts: '2026-01-01T00:00:00.000Z',
      payload: m.payload,
    });
    if (size > this.limits.maxEnvelopeBytes) return this.fail(`agent published an envelope of ${size} bytes, over the limit`);
    this.published.push({ topic: m.topic, payload: m.payload, ...(m.recipient !== undefined ? { recipient: m.recipient } : {}) });
    return { end: false };
  }

  private state(m: Extract<AgentMessage, { t: 'state' }>): Verdict {
    let value: unknown;
    if (!m.del) {
      try {
        value = JSON.parse(m.value ?? '');
      } catch {
        return this.fail('agent sent a state value that is not JSON');
      }
    }
    const n = m.del ? 0 : m.key.length + (m.value ?? '').length;
    this.stateBytes += n - (this.sizes.get(m.key) ?? 0);
    if (m.del) this.sizes.delete(m.key);
    else this.sizes.set(m.key, n);
    if (this.stateBytes > this.limits.maxStateBytes)
      return this.fail(`agent state is over the limit of ${this.limits.maxStateBytes} bytes`);
    this.stateChanges[m.key] = value;
    return { end: false };
  }
}

/**
 * Splits what an agent prints into lines for `onLine` (a line longer than `maxLine` is cut into
 * pieces of that length), so that only whole, bounded lines are ever logged.
 */
export function lineSplitter(onLine: (line: string) => void, maxLine = 16_384): (chunk: string) => void {
  let buf = '';
  return (chunk) => {
    buf += chunk;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      onLine(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
    while (buf.length > maxLine) {
      onLine(buf.slice(0, maxLine));
      buf = buf.slice(maxLine);
    }
  };
}
