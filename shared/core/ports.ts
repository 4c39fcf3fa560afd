/**
 * Ports of the domain core. Adapters live in shared/adapters/aws (AWS SDK: the same code in the
 * cloud and, pointed at DynamoDB Local / s3rver, in local mode), shared/adapters/node (worker
 * threads) and local/ (local-only replacements for EventBridge, SQS and Scheduler).
 * The core never imports @aws-sdk or aws-lambda.
 */
import type {
  AgentPageQuery,
  AgentRecord,
  AgentRecordPage,
  AgentStatus,
  StatusCounts,
  BundleManifest,
  RuntimeName,
  DueAgent,
  NewRegistration,
  RegisterOutcome,
  Transition,
} from './registry';
import type { HeartbeatRecord, RunOutcome } from './heartbeat';
import type { Envelope } from './envelope';
import type { DispatchItem } from './dispatch';
import type { ComponentName } from '../definitions/routing';

// ---------------------------------------------------------------------------------------------
// Registry (DynamoDB table Registry)

export interface RegistryStore {
  get(name: string): Promise<AgentRecord | null>;
  /** Every agent, by name (a read of the whole registry: the manager's rescan, the router, metrics). */
  list(): Promise<AgentRecord[]>;
  /** One page in name order, optionally one status and a name prefix; its cost is bounded by `limit`, not by the fleet. */
  page(q: AgentPageQuery): Promise<AgentRecordPage>;
  /** Agents per status, from a small aggregate (never a read of every agent). */
  counts(): Promise<StatusCounts>;
  /**
   * Atomically makes `reg` the active version if it is newer than the stored one (conditional
   * write on the sortable version key). Bundle fields are replaced together, never mixed. A new
   * agent is active and scheduled at `reg.firstRunAt`; an upgrade keeps status and schedule.
   */
  register(reg: NewRegistration): Promise<RegisterOutcome>;
  /** Removes the agent if `version` is still its active version. Returns whether it removed it. */
  deregister(name: string, version: string): Promise<boolean>;
  /**
   * Applies a status transition atomically (see Transition). Throws NotFoundError if the agent
   * does not exist, ConflictError if `from`/`expectGeneration` do not match. Returns the new record.
   */
  transition(name: string, t: Transition): Promise<AgentRecord>;
}

/** The scheduler's view of the registry: the sparse `due` index and the conditional advance. */
export interface ScheduleStore {
  /** Scheduled agents of one shard with nextRunAt <= before, oldest first (paged internally up to `limit`). */
  queryDue(shard: string, before: number, limit: number): Promise<DueAgent[]>;
  /**
   * Moves an agent's schedule from `expectNextRunAt` to `nextRunAt` (and `restarting` → `active`
   * when `activate`), only if nextRunAt still equals `expectNextRunAt` and the agent is still
   * scheduled: two schedulers racing for the same slots never both win. Returns whether it won.
   */
  advance(name: string, expectNextRunAt: number, nextRunAt: number, opts: { activate: boolean; at: number }): Promise<boolean>;
}

/**
 * Starts one scheduler tick per shard, each on its own (the cloud: one asynchronous invocation of
 * the scheduler function per shard, `{"action":"tick","shard":n}`). Resolves once every start was
 * attempted, with the shards whose start failed.
 */
export interface ShardFanOut {
  tickShards(shards: number[]): Promise<{ failed: number[] }>;
}

// ---------------------------------------------------------------------------------------------
// Heartbeats (DynamoDB table Heartbeats)

/**
 * A run's claim: a lease. Scheduled cycles claim their slot on the heartbeat item (at most once per
 * agent and slot); triggers and envelope runs claim a claim item per runId. A claim whose run
 * neither completed nor finished by its `deadline` (the run was cut at its timeout by then) may be
 * taken over by a redelivery of the same run: a run is never lost to an attempt that died after
 * claiming, and never runs twice while an attempt may still be running.
 */
export interface RunClaim {
  runId: string;
  /** scheduled cycles: the slot (at most once per agent and slot); triggers and envelopes: undefined */
  slot?: number;
  startedAt: number;
  deadline: number;
  /**
   * Only take over an expired lease of this run, never start it anew (a slot delivered after its
   * expiry: not started any more, but one that an earlier attempt claimed in time and left is
   * still run).
   */
  takeoverOnly?: boolean;
  /**
   * Write the slot's lease before the run starts, whatever it costs. Without it a store may leave
   * the lease to the queue (a message is not delivered again while it is in flight) and make the
   * completion itself the at-most-once write. The runner asks for it where copies of one slot may
   * be delivered at the same time (a slot dispatched around a status change: pause/resume
   * re-dispatch).
   */
  exclusive?: boolean;
  /**
   * The slot before this one on the agent's grid. A store that leaves the lease to the queue does
   * so only in the steady state, when that slot is the last one completed: after a gap (a first
   * run, a run that never completed because its host died, slots not dispatched) the lease is
   * written before the run, so that a run whose host dies leaves its lease for the health monitor.
   */
  previousSlot?: number;
}

export interface RunCompletion {
  runId: string;
  /** epoch ms the run ended: the heartbeat */
  at: number;
  outcome: RunOutcome;
  error: string | null;
  /** a failure's stack, as agentStack (shared/core/stack.ts) keeps it */
  stack?: string | null;
  /** the agent version that ran (kept with a failure: lastErrorVersion) */
  version?: string;
  durationMs: number;
  generation: number;
  /** only keys the run changed; `undefined` deletes a key */
  stateChanges: Record<string, unknown>;
  /** next heartbeat expected by (epoch ms); null: none expected */
  expectBy: number | null;
  /** does this run count toward cycles/failures (cycles and triggers: yes; envelope handling: failures only) */
  countsAsCycle: boolean;
  /**
   * The claim this completion belongs to (its slot, if a cycle, and its `startedAt`). With it the
   * completion is applied only while that lease is current, at most once: a retried write whose
   * first attempt was applied reports `already`; a lease taken over by a redelivery reports
   * `superseded` (nothing written). Without it (tools, tests) the write is unconditional.
   */
  lease?: { slot?: number; startedAt: number };
  /**
   * How long a retry of this completion may still come after its first attempt (the runner's
   * completion retry window): the store keeps what it needs to answer such a retry with
   * `already` at least that long. Default 60 s.
   */
  retryWindowMs?: number;
}

export type CompletionStatus = 'applied' | 'already' | 'superseded';

/** What a claim attempt found: `heldUntil` is the deadline of a live lease of the same run, if that is why it was refused. */
export interface ClaimOutcome {
  claimed: boolean;
  record: HeartbeatRecord | null;
  state: Record<string, unknown>;
  heldUntil?: number;
  /** refused because the run was claimed before (it is done, or a later slot was claimed) */
  claimedBefore?: boolean;
}

/** Optional capability of a HeartbeatStore: claim and read heartbeat + state in one request. */
export interface HeartbeatClaimReader {
  claimAndRead(name: string, claim: RunClaim): Promise<ClaimOutcome>;
}

/** Optional capability of a HeartbeatStore: count envelopes the quarantine stub consumed. */
export interface StubCounter {
  recordDropped(name: string, at: number): Promise<void>;
}

export interface HeartbeatStore {
  get(name: string): Promise<HeartbeatRecord | null>;
  /** Heartbeats of many agents (missing ones omitted). */
  getMany(names: string[]): Promise<Map<string, HeartbeatRecord>>;
  /** Persisted `ctx.state` of an agent. */
  getState(name: string): Promise<Record<string, unknown>>;
  /**
   * Claims a run; false if it is claimed and that claim is still live or done (duplicate
   * delivery, racing dispatch). Takes over a claim of the same run that passed its deadline
   * without completing.
   */
  claim(name: string, claim: RunClaim): Promise<boolean>;
  /** Heartbeat + outcome + counters + state in one write; returns the consecutive-error count after it. */
  complete(name: string, done: RunCompletion): Promise<{ consecutiveErrors: number; status: CompletionStatus }>;
  /** Health bookkeeping: reset the consecutive-error count and set/clear the expected heartbeat. */
  resetHealth(name: string, opts: { expectBy: number | null }): Promise<void>;
  /** Sets/clears when the next heartbeat is expected (pause, quarantine, resume, registration). */
  setExpectedBy(name: string, expectBy: number | null): Promise<void>;
  /** Agents of one shard whose expected heartbeat is overdue (expectBy < now), oldest first. */
  queryOverdue(shard: string, now: number, limit: number): Promise<{ name: string; expectBy: number; lastHeartbeat: number | null }[]>;
  /** Keeps one run's log lines (a ring per agent, shared/core/logs.ts); best effort. */
  putRunLog(name: string, log: RunLog, opts?: { signal?: AbortSignal }): Promise<void>;
  /** The agent's most recent kept log lines, oldest first, at most `limit`. */
  recentLogs(name: string, limit: number): Promise<AgentLogEntry[]>;
  /** Removes an agent's heartbeat item (deregistration). */
  remove(name: string): Promise<void>;
  /** Agents whose last run failed (consecutive errors > 0): read from a sparse index of them only. */
  erroringCount(): Promise<number>;
  /** The agent whose expected heartbeat is earliest (the most overdue, or the next to be), from the `expect` index; null: none expected. */
  earliestExpected(): Promise<{ name: string; expectBy: number; lastHeartbeat: number | null } | null>;
}

// ---------------------------------------------------------------------------------------------
// Hot directory (S3)

export interface StoredObject {
  key: string;
  size: number;
}

export interface BundleObject {
  key: string;
  bytes: Uint8Array;
  /** `signature` user metadata, else the `<key>.sig` sidecar's text */
  signature?: string | undefined;
  signer?: string | undefined;
}

export interface BundleStore {
  /** Size without downloading (HEAD); null if the object does not exist. Never a size check before a get. */
  head(key: string): Promise<StoredObject | null>;
  /**
   * The object and its signature in one bounded read: null if it does not exist; rejects with a
   * BundleRejectedError `too_large` when it is over `maxBytes` (read no further than that), or
   * `malformed_signature` when its `.sig` sidecar is over SIDECAR_MAX_BYTES. `bytes` are exactly
   * the bytes read, the ones to verify.
   */
  get(key: string, maxBytes: number): Promise<BundleObject | null>;
  list(prefix: string): Promise<StoredObject[]>;
  put(key: string, bytes: Uint8Array, metadata: Record<string, string>): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Bus, dispatch, sandbox

/** Publishes envelopes onto the bus (EventBridge in the cloud, the local router locally). */
export interface EventPublisher {
  publish(envelopes: Envelope[]): Promise<void>;
}

/** Hands runs to the runner (SQS dispatch queue with per-message delay; local runner pool). */
export interface Dispatcher {
  dispatch(items: DispatchItem[]): Promise<void>;
}

/** A verified bundle handed to the sandbox. The sandbox re-checks sha256 before importing it. */
export interface VerifiedBundleRef {
  key: string;
  sha256: string;
  bytes: Uint8Array;
}

/** Reads what a verified bundle declares, in isolation (worker thread). */
export interface BundleInspector {
  /**
   * Reads the manifest the verified bundle's default export declares. Rejects with a
   * BundleRejectedError (reason `bad_manifest`) when the bundle itself is not an agent; any other
   * rejection means the inspection could not be done (an infrastructure error, retried).
   */
  inspect(bundle: VerifiedBundleRef): Promise<BundleManifest>;
}

export interface SandboxRun {
  agent: string;
  version: string;
  /** the agent's generation (bumped by restarts and releases): a runtime that keeps agent code warm starts it afresh for a new one */
  generation?: number;
  /** the runtime the agent asked for (its manifest); absent: the deployment's default */
  runtime?: RuntimeName;
  bundle: VerifiedBundleRef;
  kind: 'cycle' | 'envelope';
  /** cycle number shown to the agent as ctx.cycle (1-based) */
  cycle: number;
  envelope?: Envelope;
  state: Record<string, unknown>;
  timeoutMs: number;
}

export interface PublishedByAgent {
  topic: string;
  payload: Record<string, unknown>;
  recipient?: string;
}

/** One line an agent logged (ctx.log, or printed on stdout/stderr), as kept for `agentctl logs`. */
export interface AgentLogLine {
  /** ISO time the trusted side received it */
  ts: string;
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  fields?: Record<string, unknown>;
}

/** The kept lines of one run (shared/core/logs.ts bounds them). */
export interface RunLog {
  runId: string;
  kind: 'cycle' | 'trigger' | 'envelope';
  cycle: number;
  version: string;
  /** epoch ms the run ended */
  at: number;
  lines: AgentLogLine[];
}

/** A kept line with the run it belongs to (GET /agents/{name}/logs). */
export interface AgentLogEntry extends AgentLogLine {
  runId: string;
  kind: RunLog['kind'];
  cycle: number;
  version: string;
}

export interface SandboxResult {
  outcome: RunOutcome;
  error: string | null;
  durationMs: number;
  published: PublishedByAgent[];
  /** keys set (or deleted: undefined) through ctx.state during the run */
  stateChanges: Record<string, unknown>;
  /** the failure's stack, bounded, its frames naming the bundle (`agents/<name>/<version>.mjs:LINE:COL`) */
  stack?: string | null;
  /** what the agent logged during the run, bounded (shared/core/logs.ts) */
  logs?: AgentLogLine[];
}

/** Runs agent code in isolation: its exception, hang, exit or memory blow-up only fails this run. */
export interface AgentSandbox extends BundleInspector {
  run(run: SandboxRun): Promise<SandboxResult>;
}

// ---------------------------------------------------------------------------------------------
// Ledger (read side; the writer is the ledger-writer handler)

export interface LedgerEntry {
  seq: number;
  id: string;
  ts: string;
  topic: string;
  sender: string;
  recipient?: string;
  payload: Record<string, unknown>;
  replayOf?: number;
  hash: string;
  prevHash: string;
  /** retention (AGENT_LEDGER_RETENTION_DAYS > 0): TTL of this entry, epoch seconds (hashed; see docs/ledger.md) */
  expiresAt?: number;
  /** retention: the previous entry's expiresAt (hashed; lets verify tell expired gaps from deletions) */
  prevExpiresAt?: number;
}

export interface LedgerQuery {
  after?: number;
  limit: number;
  topic?: string;
  /** sender or recipient */
  agent?: string;
}

export interface LedgerPage {
  entries: LedgerEntry[];
  /** `after` value for the next page; null at the end */
  next: number | null;
}

export interface LedgerVerifyReport {
  ok: boolean;
  /** entries read (the verified prefix: entries appended while verify ran are in it or not, never half) */
  entries: number;
  /** hash of the last verified entry (the head of the verified prefix) */
  head: string;
  firstBad: number | null;
  /** with `digests: true`: the chain checked against every anchored digest */
  digests?: DigestCheckReport;
}

/** A digest: the ledger's head at a moment (seq, hash of that entry), anchored outside the table. */
export interface LedgerDigest {
  seq: number;
  hash: string;
  /** when it was taken (epoch ms) */
  at: number;
}

/** A digest as stored: `ref` names it in its store (S3 key and version, file line). */
export interface StoredDigest extends LedgerDigest {
  ref: string;
}

export interface DigestMismatch {
  ref: string;
  seq: number;
  at: string;
  /** the hash the digest anchored */
  anchored: string;
  /** the hash the ledger has at that seq now; null: the entry is missing (deleted, or the ledger was cut short) */
  found: string | null;
}

export interface DigestCheckReport {
  ok: boolean;
  /** digests read from the store */
  total: number;
  /** digests whose entry was compared (or its checkpoint, for an expired entry) */
  checked: number;
  /** digests of entries that expired (retention) with no checkpoint left to compare */
  expired: number;
  /** every digest that no longer matches, oldest seq first */
  mismatched: DigestMismatch[];
  /** the newest digest that still matches: history up to it is as it was anchored */
  lastMatching: { seq: number; at: string; ref: string } | null;
}

export interface ReplayRequest {
  fromSeq: number;
  toSeq: number;
  topic?: string;
  agent?: string;
}

export interface LedgerVerifyOptions {
  /** also check the chain against every digest of the digest store */
  digests?: boolean;
}

export interface LedgerReader {
  list(q: LedgerQuery): Promise<LedgerPage>;
  verify(opts?: LedgerVerifyOptions): Promise<LedgerVerifyReport>;
  head(): Promise<{ seq: number; hash: string }>;
}

// ---------------------------------------------------------------------------------------------
// Kafka (the bridge: shared/core/kafka; adapter shared/adapters/kafka)

/** A record read from Kafka, as the bridge needs it (local consumer and the cloud's Lambda event alike). */
export interface KafkaRecordIn {
  topic: string;
  partition: number;
  /** the offset, a decimal string (int64) */
  offset: string;
  /** epoch ms of the record (CreateTime or LogAppendTime); null if the record has none */
  timestamp: number | null;
  key: Uint8Array | null;
  /** null: a tombstone */
  value: Uint8Array | null;
  /** header values as text (UTF-8); a header given twice keeps the last */
  headers: Record<string, string>;
}

/** A record to produce. */
export interface KafkaRecordOut {
  topic: string;
  key: string;
  value: string;
  headers: Record<string, string>;
}

/** Produces to Kafka (an idempotent producer: a retried send does not duplicate within its session). */
export interface KafkaProducer {
  /** resolves once every record is acknowledged by all in-sync replicas; rejects otherwise (nothing is known to be lost then) */
  send(records: KafkaRecordOut[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * A consumer-group member that hands batches of records to the bridge and commits their offsets
 * only after the batch was handed over (local mode; in the cloud the Lambda event source mapping
 * is the consumer).
 */
export interface KafkaConsumer {
  start(): Promise<void>;
  /** leaves the group after committing what was handed over; records not handed over are read again after start */
  stop(): Promise<void>;
  isRunning(): boolean;
}

// ---------------------------------------------------------------------------------------------
// Components

export interface ComponentState {
  name: ComponentName;
  running: boolean;
}

/** Stops/starts a component: locally the component itself; in the cloud its rule/schedule/ESM. */
export interface ComponentControl {
  list(): Promise<ComponentState[]>;
  set(name: ComponentName, running: boolean): Promise<ComponentState>;
}

// ---------------------------------------------------------------------------------------------
// Ledger storage (the writer side: DynamoDB adapter shared/adapters/aws/dynamo-ledger.ts). The
// store knows nothing about hashing; LedgerService computes the entries and the store commits
// each group of them as one block, conditionally on its first seq being free.

export interface LedgerHead {
  /** seq of the last entry (0: none yet, not stored) */
  seq: number;
  hash: string;
  /** expiresAt of the last entry (epoch s), null: it never expires */
  expiresAt: number | null;
  /** append time of the last commit (epoch ms); appends never go back in time */
  appendedAt: number;
}

/**
 * A checkpoint: the hash and expiry of one entry, kept without TTL, so verification still has
 * anchors when old entries have expired. Written every LEDGER_CHECKPOINT_EVERY entries and at
 * each entry where retention was switched on (the previous entry never expires).
 */
export interface LedgerCheckpoint {
  seq: number;
  hash: string;
  expiresAt: number | null;
  /** the previous entry (seq - 1) never expires: a gap containing it cannot be expiry */
  retentionStart: boolean;
}

export interface LedgerCommit {
  /** head the commit builds on; null: the ledger is empty */
  expect: LedgerHead | null;
  /** consecutive entries, seq = expect.seq + 1, ... (one block) */
  entries: LedgerEntry[];
  head: LedgerHead;
  checkpoints: LedgerCheckpoint[];
  /** also move the head hint to `head` (atomically with the block when there are checkpoints) */
  hint: boolean;
}

/** A commit either lands entirely or not at all (its first seq is taken: a concurrent append). */
export type CommitResult = { ok: true } | { ok: false; reason: 'conflict' };

/**
 * One stored entry read back: decoded, or why it cannot be (tampered / damaged). `damage`: the
 * entry decodes, but what is stored around it (its block's key or metadata) does not match it.
 */
export type ScannedEntry =
  | { seq: number; entry: LedgerEntry; error?: undefined; damage?: string }
  | { seq: number; entry?: undefined; error: string; damage?: undefined };

/** A committed block as the writer needs it back: its ids (de-duplication) and its head. */
export interface StoredBlock {
  first: number;
  head: LedgerHead;
  ids: string[];
}

export interface LedgerStore {
  /** limits of one block */
  readonly maxEntriesPerCommit: number;
  readonly maxBytesPerCommit: number;
  /** the head hint: a committed head, possibly older than the last block (null: none) */
  readHint(): Promise<LedgerHead | null>;
  /** the head of the last committed block (from the hint, reading forward) */
  readTail(): Promise<LedgerHead | null>;
  /** One block, only if no block holds seq `expect.seq + 1` yet (nothing is written otherwise). */
  commit(c: LedgerCommit): Promise<CommitResult>;
  /** stored entries with fromSeq <= seq <= toSeq, ascending (toSeq Infinity: to the last block); stop iterating to stop reading */
  scan(fromSeq: number, toSeq: number): AsyncIterable<ScannedEntry>;
  /** committed blocks after `seq`, oldest first (a writer catching up with another) */
  blocksAfter(seq: number): AsyncIterable<StoredBlock>;
  /** committed blocks ending at or before `seq`, newest first (the de-duplication window, backwards) */
  blocksBefore(seq: number): AsyncIterable<StoredBlock>;
  /** ids recorded by the per-entry layout this store replaced (markers), → their seq */
  legacyIds(ids: string[]): Promise<Map<string, number>>;
  checkpoints(): Promise<LedgerCheckpoint[]>;
}

/** Where digests are anchored: append-only, out of reach of the ledger writer. */
export interface LedgerDigestStore {
  /** a short description for logs and reports (bucket, file) */
  readonly where: string;
  put(d: LedgerDigest): Promise<StoredDigest>;
  /** every digest, oldest seq first (including any an attacker added: they only add checks) */
  list(): Promise<StoredDigest[]>;
  /** whether a digest of exactly this seq exists (the writer skips a digest of an unchanged ledger) */
  has(seq: number): Promise<boolean>;
}

export type { AgentStatus };
