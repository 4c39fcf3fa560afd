/**
 * Structured JSON logger (one object per line), in the spirit of Powertools' Logger but with no
 * dependency so the core stays platform-free. Lambda ships stdout/stderr lines to CloudWatch,
 * where each line is queryable with Logs Insights.
 *
 * Invocation context (Powertools' `injectLambdaContext`): `withLogContext({ requestId }, fn)`
 * adds its fields to every line logged while `fn` runs, by any logger, however deep in the call
 * (AsyncLocalStorage), so a handler's core needs no logger of its own per invocation.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export type LogSink = (line: string, level: LogLevel) => void;

const defaultSink: LogSink = (line, level) => {
  (level === 'error' || level === 'warn' ? process.stderr : process.stdout).write(line + '\n');
};

const logContext = new AsyncLocalStorage<Record<string, unknown>>();

/** Runs `fn` with `fields` on every log line written meanwhile (nested contexts add up). */
export function withLogContext<T>(fields: Record<string, unknown>, fn: () => T): T {
  return logContext.run({ ...logContext.getStore(), ...fields }, fn);
}

function serializeError(v: unknown, depth = 0): unknown {
  if (!(v instanceof Error)) return v;
  const e = v as Error & { code?: unknown };
  return {
    name: e.name,
    message: e.message,
    ...(typeof e.code === 'string' ? { code: e.code } : {}),
    stack: e.stack,
    // the cause chain, bounded
    ...(e.cause !== undefined && depth < 3 ? { cause: serializeError(e.cause, depth + 1) } : {}),
  };
}

export function createLogger(opts: { level?: LogLevel; service?: string; sink?: LogSink; base?: Record<string, unknown> } = {}): Logger {
  const level: LogLevel = opts.level ?? (process.env.LOG_LEVEL as LogLevel | undefined) ?? 'info';
  const min = ORDER[level] ?? ORDER.info;
  const sink = opts.sink ?? defaultSink;
  const base = { service: opts.service ?? 'agent-orchestrator', ...opts.base };
  const emit = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[lvl] < min) return;
    const rec: Record<string, unknown> = { level: lvl, ts: new Date().toISOString(), msg, ...base, ...logContext.getStore() };
    if (fields) for (const [k, v] of Object.entries(fields)) rec[k] = serializeError(v);
    sink(JSON.stringify(rec), lvl);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger({ level, sink, service: base.service as string, base: { ...base, ...fields } }),
  };
}

export const silentLogger: Logger = createLogger({ level: 'silent' });
