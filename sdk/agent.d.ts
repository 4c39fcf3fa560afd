/**
 * Types for agent authors: `import { defineAgent, type AgentContext } from 'agent-orchestrator/agent'`.
 *
 * They describe exactly what the runtimes hand an agent (shared/adapters/node/agent-kernel.ts):
 * the default export of a bundle is an `Agent`; each run gets a fresh, frozen `AgentContext`.
 * The contract behind them: docs/contract.md#agent-bundles, limits in docs/scheduling.md.
 */

/** A JSON object: what payloads, log fields and state values are (anything JSON.stringify keeps). */
export type JsonObject = Record<string, unknown>;

/** A bus message as an agent receives it in `onEnvelope` (at most 256 KB serialized). */
export interface Envelope<Payload extends JsonObject = JsonObject> {
  /** unique id (a redelivery keeps it) */
  readonly id: string;
  /** `[A-Za-z0-9][A-Za-z0-9._:-]{0,127}` */
  readonly topic: string;
  /** the publishing agent's name, or `api`, `kafka`, `orchestrator` */
  readonly sender: string;
  /** set when the envelope was addressed to one agent */
  readonly recipient?: string;
  /** ISO 8601 */
  readonly ts: string;
  readonly payload: Payload;
  /** the ledger sequence number this envelope replays (`POST /ledger/replay`) */
  readonly replayOf?: number;
}

/** `ctx.log(msg, fields?)` logs at info; `ctx.log.debug|info|warn|error` at that level. */
export interface AgentLog {
  (msg: string, fields?: JsonObject): void;
  debug(msg: string, fields?: JsonObject): void;
  info(msg: string, fields?: JsonObject): void;
  warn(msg: string, fields?: JsonObject): void;
  error(msg: string, fields?: JsonObject): void;
}

/**
 * The agent's persisted state: JSON values under keys, kept between runs (written when the run
 * ends successfully). `get` returns a copy; `set` of `undefined` deletes. Throws a TypeError for a
 * key that does not match the contract's key rule or a value that is not JSON, a RangeError past
 * the state size limit.
 */
export interface AgentState {
  get<T = unknown>(key: string): T | undefined;
  set(key: string, value: unknown): void;
  delete(key: string): boolean;
  has(key: string): boolean;
  keys(): string[];
}

/** The part of an AbortSignal an agent needs, for projects compiled without DOM or Node types. */
export interface MinimalAbortSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  throwIfAborted(): void;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** The global AbortSignal type where the project has one (DOM or Node types), else the minimal one. */
export type AgentAbortSignal = typeof globalThis extends { AbortSignal: { prototype: infer S } } ? S : MinimalAbortSignal;

/** What one run of an agent gets (a new, frozen object per run). */
export interface AgentContext {
  /** the agent's name */
  readonly agent: string;
  /** the running bundle's version */
  readonly version: string;
  /** the run's number (1-based, counts every run of the agent) */
  readonly cycle: number;
  /** fires shortly before the run's timeout: stop work and return */
  readonly signal: AgentAbortSignal;
  readonly log: AgentLog;
  /**
   * Publishes an envelope (sender: this agent) to `recipient`, or to the topic's subscribers.
   * Throws a TypeError for a bad topic or a payload that is not a JSON object, a RangeError past
   * the size or count limits, and a `ReservedTopicError` (`e.code === 'reserved_topic'`) for the
   * orchestrator's topics (`agent.*`, `bundle.*`).
   */
  publish(topic: string, payload: JsonObject, recipient?: string): Promise<void>;
  readonly state: AgentState;
}

/** Where agent code runs: `process` (local default), `thread` (trusted code), `lambda` (cloud). */
export type RuntimeName = 'process' | 'thread' | 'lambda';

/** The default export of an agent bundle. */
export interface Agent {
  /** one cycle, every `cycleSeconds`; a thrown error or rejected promise fails the run */
  runCycle(ctx: AgentContext): void | Promise<void>;
  /** an envelope addressed to the agent, or on a topic it subscribes to */
  onEnvelope?(envelope: Envelope, ctx: AgentContext): void | Promise<void>;
  /** seconds between cycles, 1-86400; default 60 */
  cycleSeconds?: number;
  /** a run's timeout, 0.1-900 s; default 30 */
  timeoutSeconds?: number;
  /** topics whose envelopes reach `onEnvelope` (at most 100) */
  subscriptions?: string[];
  /** the runtime this agent asks for; default: the deployment's */
  runtime?: RuntimeName;
}

/** The error `ctx.publish` throws for a reserved topic (the agent can catch it). */
export interface ReservedTopicError extends Error {
  readonly name: 'ReservedTopicError';
  readonly code: 'reserved_topic';
}

/** Fields an agent object has that `Agent` does not declare: each must be `never` (a typo). */
export type NoExtraFields<A> = { [K in Exclude<keyof A, keyof Agent>]: never };

/**
 * Returns `agent` unchanged: it only types it, so `ctx` and `envelope` need no annotations and a
 * misspelt field (`cycleSecond`) is a compile error.
 * `export default defineAgent({ async runCycle(ctx) { … } })`.
 */
export declare function defineAgent<const A extends Agent>(agent: A & NoExtraFields<A>): A;
