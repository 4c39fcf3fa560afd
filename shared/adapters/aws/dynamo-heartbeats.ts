/**
 * DynamoDB adapter of the HeartbeatStore port (table Heartbeats, see shared/definitions/tables.ts).
 *
 * Item `name = <agent>`: last heartbeat, counters, the duration histogram as top-level number
 * attributes `h:<le ms>` / `h:+Inf` (so one UpdateItem can ADD to them), the at-most-once slot
 * guard `lastSlot`, the expected heartbeat `expectBy` + `hbShard` (sparse GSI `expect`), and the
 * agent's persisted state as attributes `s:<key>` holding JSON text. A completion writes only the
 * state keys its run changed, so concurrent runs (a trigger next to a cycle) do not clobber each
 * other's keys.
 *
 * `errShard` (sparse GSI `erroring`, keys only) is set while consecutiveErrors > 0: a failed run
 * sets it, a successful cycle or a health reset removes it, in the same write that changes the
 * count. The summary counts the erroring agents from that index alone.
 *
 * Items `name = <agent>#run#<runId>` are claims of trigger and envelope runs (written done by
 * their completion; as a lease first only by `claim`), deleted by the table's TTL (`expiresAt`,
 * epoch seconds).
 *
 * Claims are leases (see RunClaim): a slot's lease is `running` on the agent's item, a trigger's or
 * envelope run's lease is its claim item. A redelivery takes over a lease of the same run whose
 * deadline passed without a completion. A completion given its lease is conditional on it: the
 * slot's completion on `running` still being that lease (it removes `running` and adds the lease's
 * receipt to `doneLeases`), the claim item's completion in one transaction with marking the claim
 * item done. So a completion is applied at most once, and never after its lease was taken over.
 *
 * Lean slots: a scheduled slot's claim in the steady state reads the agent's item (GetItem) and
 * writes nothing. The queue is the run's lease meanwhile: SQS does not deliver a message again
 * while it is in flight, and the dispatch queue's visibility timeout (6 × the runner function's
 * timeout) ends only after Lambda has stopped the attempt (docs/scheduling.md, lean cycles);
 * local mode's pool never runs two copies of one run id at once. The completion is then the
 * at-most-once write: conditional on `lastSlot < slot` (it sets `lastSlot`) and on no restart
 * (`resets`, which resetHealth counts) since the read. One write per slot instead of two.
 * The lease is still written before the run (the eager claim: `lastSlot` and `running`, as every
 * claim did before) when the runner asks for it (`RunClaim.exclusive`: copies of one slot may be
 * delivered at the same time, around a pause or resume), for a takeover of an expired lease, and
 * whenever the previous slot on the grid is not the last one completed (`RunClaim.previousSlot`:
 * a first run, a gap, and above all a run whose host died without a trace: the next one, if its
 * host dies too, leaves its lease for the health monitor, which then restarts the agent as
 * before, at the same stuck deadline since the heartbeat has not moved). A completion accepts its
 * own lease, or none and the slot still unclaimed.
 * What is left to the queue: two copies of one steady-state slot delivered at the same time in the
 * cloud (an SQS duplicate delivery, rare; a scheduler advance whose answer was lost, dispatched
 * anyway) both run the agent's code; one completion is recorded, the other is `superseded` and
 * neither its state nor its events are kept.
 *
 * Lean runs: a trigger's or envelope run's claim (claimAndRead) is likewise a read — the agent's
 * item and the run's claim item in one BatchGetItem — and its completion creates the claim item,
 * done, in its one transaction (conditional on the item not existing). A claim item found done
 * refuses the run (`duplicate`); one holding a lease (written by `claim`, or an older version)
 * is honoured and taken over after its deadline as before. Same guarantee and the same residue
 * as lean slots: copies delivered at the same time may both run, one is recorded. One write per
 * run instead of two; a successful cycle's completion reads nothing back (its count is 0).
 *
 * Expected heartbeats: `stuckAt` is the exact deadline (the record's expectBy), `expectBy` + `hbShard`
 * the sparse `expect` index (KEYS_ONLY): a lower bound of `stuckAt`, moved only when less than a
 * third of the stuck window is left before it (every few cycles instead of every
 * cycle; each move is a delete and a put in the index, and with KEYS_ONLY a heartbeat that does
 * not move it writes nothing there). The sweep reads the candidates it finds (expectBy < now)
 * back and keeps those whose `stuckAt` has passed, so detection is as exact as before.
 *
 * Receipts: a completion whose answer was lost (the write was applied, the connection died) is
 * retried by the runner; by then the agent's next slot may have been claimed and completed too.
 * `doneLeases` (a string set of `<startedAt>.<completedAt>` in base 36) remembers every slot lease
 * completed within the runner's retry window (`RunCompletion.retryWindowMs` plus a minute), so the
 * retry reports `already` (applied once) rather than `superseded`. The set is rewritten whole by
 * each completion from what the claim read (only the lease holder can complete, so nothing else
 * writes it meanwhile): about one entry per run in the window, e.g. 2 entries (~40 bytes) for a
 * 60 s agent with the default 60 s window, 120 (~2 KB) for a 1 s agent.
 */
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import type { AgentLogEntry, CompletionStatus, HeartbeatStore, RunClaim, RunCompletion, RunLog } from '../../core/ports';
import { LOG_RETENTION_DAYS, LOG_RING_RUNS, RunLogSchema } from '../../core/logs';
import type { ClaimOutcome, HeartbeatClaimReader, StubCounter } from '../../core/ports';
import { DURATION_BUCKETS_MS, HeartbeatRecordSchema, type HeartbeatRecord } from '../../core/heartbeat';
import { DEFAULT_SCHEDULE_SHARDS, ERRORING_INDEX, EXPECT_INDEX, shardOf } from '../../definitions/tables';
import { StoreError } from './errors';
import { queryShard } from './sparse-index';
import { batchGetByName } from './batch-get';
import { UpdateExpr } from './update-expression';

const numberOr0 = (v: unknown): number => (typeof v === 'number' ? v : 0);

/** A claim refused: held by a live lease of the same run (until when), or claimed before. */
const refused = (r: { heldUntil?: number; claimedBefore?: boolean }): ClaimOutcome => ({
  claimed: false,
  record: null,
  state: {},
  ...(r.heldUntil !== undefined ? { heldUntil: r.heldUntil } : {}),
  ...(r.claimedBefore ? { claimedBefore: true } : {}),
});

export interface HeartbeatOptions {
  /** number of `hbShard` values (AGENT_SCHEDULE_SHARDS); must match the health monitor's */
  shards?: number;
  /** how long run-claim items live after their deadline (TTL), default 1 day */
  claimTtlSeconds?: number;
}

const STATE_PREFIX = 's:';
/** receipts are kept this much longer than a completion's retry window */
const RECEIPT_MARGIN_MS = 60_000;
/** the retry window assumed when a completion does not say (the runner's default) */
const DEFAULT_RETRY_WINDOW_MS = 60_000;
/** receipts kept at most, newest first (bounds the item size whatever the window) */
const MAX_RECEIPTS = 256;
/** claim-time reads remembered for their completion (bounded; a miss costs one GetItem) */
const MAX_CLAIMED = 10_000;

/** What a slot claim read and did, kept for its completion. */
interface ClaimedSlot {
  /** receipts (`doneLeases`) as read */
  receipts: string[];
  /** restarts (`resets`) as read: a restart since ends the run's claim */
  resets: number;
  /** the index bound (`expectBy`) as read */
  expectBy: number | null;
  /** the lease is written (an eager claim or a takeover) */
  leased: boolean;
}

const receiptOf = (startedAt: number, at: number): string => `${startedAt.toString(36)}.${at.toString(36)}`;
const receiptStartedAt = (r: string): number => parseInt(r.slice(0, r.indexOf('.')), 36);
const receiptAt = (r: string): number => parseInt(r.slice(r.indexOf('.') + 1), 36);
const claimedKey = (name: string, runId: string, startedAt: number): string => `${name}\u0000${runId}\u0000${startedAt}`;

function receiptsOf(item: Record<string, unknown> | undefined): string[] {
  const v = item?.doneLeases;
  return v instanceof Set ? [...v].filter((r): r is string => typeof r === 'string') : [];
}

/** The receipts still inside the window (completed at or after `since`), newest first, bounded. */
function keepReceipts(receipts: string[], since: number): string[] {
  return receipts
    .filter((r) => receiptAt(r) >= since)
    .sort((a, b) => receiptAt(b) - receiptAt(a))
    .slice(0, MAX_RECEIPTS - 1);
}
const HIST_PREFIX = 'h:';
const INF = '+Inf';
export const claimItemKey = (agent: string, runId: string): string => `${agent}#run#${runId}`;
/** the ring slots of an agent's kept log lines (shared/core/logs.ts): cycles `c0..`, envelope runs `e0..` */
export const logItemKey = (agent: string, slot: string): string => `${agent}#log#${slot}`;
const logSlots = (agent: string): string[] =>
  ['c', 'e'].flatMap((ring) => Array.from({ length: LOG_RING_RUNS }, (_, i) => logItemKey(agent, `${ring}${i}`)));

/** A stable ring slot for a run id (envelope runs have no cycle number of their own). */
function slotOfRunId(runId: string): number {
  let h = 2166136261;
  for (let i = 0; i < runId.length; i++) h = Math.imul(h ^ runId.charCodeAt(i), 16777619);
  return (h >>> 0) % LOG_RING_RUNS;
}

export class DynamoHeartbeats implements HeartbeatStore, HeartbeatClaimReader, StubCounter {
  private readonly shards: number;
  private readonly claimTtlSeconds: number;
  /** what each slot claim read (and whether its lease is written), by lease, until its completion */
  private readonly claimed = new Map<string, ClaimedSlot>();
  /** lean claims of trigger and envelope runs awaiting their completion: the claim item's expiresAt */
  private readonly leanItems = new Map<string, number>();

  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly tableName: string,
    opts: HeartbeatOptions = {},
  ) {
    this.shards = opts.shards ?? DEFAULT_SCHEDULE_SHARDS;
    this.claimTtlSeconds = opts.claimTtlSeconds ?? 86_400;
  }

  private parse(item: Record<string, unknown>): HeartbeatRecord {
    const buckets: Record<string, number> = {};
    for (const [k, v] of Object.entries(item))
      if (k.startsWith(HIST_PREFIX) && typeof v === 'number') buckets[k.slice(HIST_PREFIX.length)] = v;
    // expectBy of the record is the exact deadline (stuckAt); the item's expectBy is the index's bound
    const expectBy = typeof item.stuckAt === 'number' ? item.stuckAt : item.expectBy;
    const r = HeartbeatRecordSchema.safeParse({ ...item, expectBy, durationBuckets: buckets });
    if (!r.success) throw new StoreError(`heartbeat item ${String(item.name)} is malformed: ${r.error.message}`);
    return r.data;
  }

  async get(name: string): Promise<HeartbeatRecord | null> {
    const out = await this.ddb.send(new GetCommand({ TableName: this.tableName, Key: { name }, ConsistentRead: true }));
    return out.Item ? this.parse(out.Item) : null;
  }

  async getMany(names: string[]): Promise<Map<string, HeartbeatRecord>> {
    const result = new Map<string, HeartbeatRecord>();
    for (const it of (await this.batchGetItems(names)).values()) {
      const rec = this.parse(it);
      result.set(rec.name, rec);
    }
    return result;
  }

  async getState(name: string): Promise<Record<string, unknown>> {
    const out = await this.ddb.send(new GetCommand({ TableName: this.tableName, Key: { name }, ConsistentRead: true }));
    return this.stateOf(name, out.Item);
  }

  private stateOf(name: string, item: Record<string, unknown> | undefined): Record<string, unknown> {
    const state: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(item ?? {})) {
      if (!k.startsWith(STATE_PREFIX) || typeof v !== 'string') continue;
      try {
        state[k.slice(STATE_PREFIX.length)] = JSON.parse(v);
      } catch {
        throw new StoreError(`state key ${k} of ${name} is not JSON`);
      }
    }
    return state;
  }

  /**
   * The runner's claim plus the read it needs (cycle count, state). A scheduled slot: one GetItem
   * and, in the lean case, no write (see the header); an exclusive claim or a takeover is one
   * UpdateItem returning ALL_NEW. Trigger/envelope claims are a PutItem and a GetItem.
   */
  async claimAndRead(name: string, claim: RunClaim): Promise<ClaimOutcome> {
    if (claim.slot === undefined) return this.claimItemLean(name, claim);
    if (claim.exclusive) return this.claimSlotEagerly(name, claim);
    const item = (await this.ddb.send(new GetCommand({ TableName: this.tableName, Key: { name }, ConsistentRead: true }))).Item ?? {};
    const running = item.running as { runId?: unknown; deadline?: unknown } | undefined;
    if (running?.runId === claim.runId && typeof running.deadline === 'number') {
      // a lease of this run: live → wait for it; expired (its attempt died) → take it over
      if (running.deadline >= claim.startedAt) return refused({ heldUntil: running.deadline });
      return this.claimSlotEagerly(name, { ...claim, takeoverOnly: true });
    }
    if (typeof item.lastSlot === 'number' && item.lastSlot >= claim.slot) return refused({ claimedBefore: true });
    if (claim.takeoverOnly) return refused({});
    // only in the steady state (the previous slot completed); after a gap the lease goes first
    if (claim.previousSlot !== undefined && item.lastSlot !== claim.previousSlot) return this.claimSlotEagerly(name, claim);
    const entry: ClaimedSlot = {
      receipts: receiptsOf(item),
      resets: numberOr0(item.resets),
      expectBy: typeof item.expectBy === 'number' ? item.expectBy : null,
      leased: false,
    };
    this.remember(claimedKey(name, claim.runId, claim.startedAt), entry);
    return { claimed: true, record: this.parse({ name, ...item }), state: this.stateOf(name, item) };
  }

  private remember(key: string, entry: ClaimedSlot): void {
    if (this.claimed.size >= MAX_CLAIMED) {
      this.claimed.delete(this.claimed.keys().next().value as string);
    }
    this.claimed.set(key, entry);
  }

  /** The slot's lease written before the run (or taken over), remembered for the completion. */
  private async claimSlotEagerly(name: string, claim: RunClaim): Promise<ClaimOutcome> {
    const r = await this.claimSlot(name, claim, 'ALL_NEW');
    if (!r.item) return refused(r);
    this.remember(claimedKey(name, claim.runId, claim.startedAt), {
      receipts: receiptsOf(r.item),
      resets: numberOr0(r.item.resets),
      expectBy: typeof r.item.expectBy === 'number' ? r.item.expectBy : null,
      leased: true,
    });
    return { claimed: true, record: this.parse(r.item), state: this.stateOf(name, r.item) };
  }

  private lease(claim: RunClaim) {
    return {
      runId: claim.runId,
      startedAt: claim.startedAt,
      deadline: claim.deadline,
      ...(claim.slot !== undefined ? { slot: claim.slot } : {}),
    };
  }

  /**
   * The slot's lease: new if the slot is newer than the last claimed one, else a takeover of an
   * expired lease of this run. Refused: `heldUntil` when a live lease of this run holds it.
   */
  private async claimSlot(
    name: string,
    claim: RunClaim,
    returnValues: 'ALL_NEW' | 'NONE',
  ): Promise<{ item: Record<string, unknown> | null; heldUntil?: number; claimedBefore?: boolean }> {
    const names = { '#lastSlot': 'lastSlot', '#running': 'running' };
    // a new lease: the slot is newer than the last one claimed
    if (!claim.takeoverOnly)
      try {
        const out = await this.ddb.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: { name },
            ConditionExpression: 'attribute_not_exists(#lastSlot) OR #lastSlot < :slot',
            UpdateExpression: 'SET #lastSlot = :slot, #running = :running',
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: { ':slot': claim.slot, ':running': this.lease(claim) },
            ReturnValues: returnValues,
          }),
        );
        return { item: out.Attributes ?? {} };
      } catch (e) {
        if (!(e instanceof ConditionalCheckFailedException)) throw e;
      }
    try {
      const out = await this.ddb.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { name },
          ConditionExpression: '#lastSlot = :slot AND #running.#rid = :rid AND #running.#dl < :now',
          UpdateExpression: 'SET #running = :running',
          ExpressionAttributeNames: { ...names, '#rid': 'runId', '#dl': 'deadline' },
          ExpressionAttributeValues: { ':slot': claim.slot, ':rid': claim.runId, ':now': claim.startedAt, ':running': this.lease(claim) },
          ReturnValues: returnValues,
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { item: out.Attributes ?? {} };
    } catch (e) {
      if (!(e instanceof ConditionalCheckFailedException)) throw e;
      const old = e.Item ? unmarshall(e.Item) : {};
      const running = old.running as { runId?: unknown; deadline?: unknown } | undefined;
      const live = running?.runId === claim.runId && typeof running.deadline === 'number' && running.deadline >= claim.startedAt;
      if (live) return { item: null, heldUntil: running.deadline as number };
      return { item: null, claimedBefore: typeof old.lastSlot === 'number' && old.lastSlot >= claim.slot! };
    }
  }

  /** A trigger's or envelope run's lease: its claim item, new, or taken over after its deadline. */
  private async claimItem(name: string, claim: RunClaim): Promise<{ claimed: boolean; heldUntil?: number; claimedBefore?: boolean }> {
    const key = claimItemKey(name, claim.runId);
    const expiresAt = Math.ceil(claim.deadline / 1000) + this.claimTtlSeconds;
    if (!claim.takeoverOnly)
      try {
        await this.ddb.send(
          new PutCommand({
            TableName: this.tableName,
            Item: { name: key, runId: claim.runId, startedAt: claim.startedAt, deadline: claim.deadline, expiresAt },
            ConditionExpression: 'attribute_not_exists(#name)',
            ExpressionAttributeNames: { '#name': 'name' },
          }),
        );
        return { claimed: true };
      } catch (e) {
        if (!(e instanceof ConditionalCheckFailedException)) throw e;
      }
    try {
      await this.ddb.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { name: key },
          ConditionExpression: 'attribute_exists(#name) AND attribute_not_exists(#doneAt) AND #dl < :now',
          UpdateExpression: 'SET #st = :st, #dl = :dl, #exp = :exp',
          ExpressionAttributeNames: { '#name': 'name', '#doneAt': 'doneAt', '#st': 'startedAt', '#dl': 'deadline', '#exp': 'expiresAt' },
          ExpressionAttributeValues: { ':now': claim.startedAt, ':st': claim.startedAt, ':dl': claim.deadline, ':exp': expiresAt },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { claimed: true };
    } catch (e) {
      if (!(e instanceof ConditionalCheckFailedException)) throw e;
      const old = e.Item ? unmarshall(e.Item) : {};
      const live = old.doneAt === undefined && typeof old.deadline === 'number' && old.deadline >= claim.startedAt;
      if (live) return { claimed: false, heldUntil: old.deadline as number };
      return { claimed: false, claimedBefore: e.Item !== undefined };
    }
  }

  /**
   * A trigger's or envelope run's claim as a read (see "Lean runs" in the header): the agent's
   * item and the run's claim item in one BatchGetItem. No claim item: claimed, and the completion
   * creates it (done). A claim item of an earlier attempt: done → refused; a live lease → held;
   * an expired lease → taken over (written) as before.
   */
  private async claimItemLean(name: string, claim: RunClaim): Promise<ClaimOutcome> {
    const key = claimItemKey(name, claim.runId);
    const items = await this.batchGetItems([name, key]);
    const claimItem = items.get(key);
    if (claimItem) {
      if (claimItem.doneAt !== undefined) return refused({ claimedBefore: true });
      const deadline = claimItem.deadline;
      if (typeof deadline === 'number' && deadline >= claim.startedAt) return refused({ heldUntil: deadline });
      const r = await this.claimItem(name, { ...claim, takeoverOnly: true });
      if (!r.claimed) return refused(r);
      const out = await this.ddb.send(new GetCommand({ TableName: this.tableName, Key: { name }, ConsistentRead: true }));
      return { claimed: true, record: out.Item ? this.parse(out.Item) : null, state: this.stateOf(name, out.Item) };
    }
    if (claim.takeoverOnly) return refused({});
    this.rememberLean(claimedKey(name, claim.runId, claim.startedAt), Math.ceil(claim.deadline / 1000) + this.claimTtlSeconds);
    const item = items.get(name);
    return { claimed: true, record: item ? this.parse(item) : null, state: this.stateOf(name, item) };
  }

  private batchGetItems(names: string[]): Promise<Map<string, Record<string, unknown>>> {
    return batchGetByName(this.ddb, this.tableName, names, 'heartbeats');
  }

  private rememberLean(key: string, expiresAt: number): void {
    if (this.leanItems.size >= MAX_CLAIMED) this.leanItems.delete(this.leanItems.keys().next().value as string);
    this.leanItems.set(key, expiresAt);
  }

  /** The quarantine stub consumed an envelope for this agent: counted, not run. */
  async recordDropped(name: string, at: number): Promise<void> {
    await this.ddb.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { name },
        UpdateExpression: 'SET #at = :at ADD #n :one',
        ExpressionAttributeNames: { '#at': 'lastDroppedAt', '#n': 'stubDropped' },
        ExpressionAttributeValues: { ':at': at, ':one': 1 },
      }),
    );
  }

  /** Envelopes the quarantine stub consumed for this agent so far. */
  async droppedCount(name: string): Promise<number> {
    const out = await this.ddb.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { name },
        ProjectionExpression: '#n',
        ExpressionAttributeNames: { '#n': 'stubDropped' },
        ConsistentRead: true,
      }),
    );
    const n = out.Item?.stubDropped;
    return typeof n === 'number' ? n : 0;
  }

  async claim(name: string, claim: RunClaim): Promise<boolean> {
    if (claim.slot !== undefined) return (await this.claimSlot(name, claim, 'NONE')).item !== null;
    return (await this.claimItem(name, claim)).claimed;
  }

  /** The receipts before this slot completion: as its claim read them, else read now. */
  private async priorReceipts(name: string, done: RunCompletion): Promise<string[]> {
    const known = this.claimed.get(claimedKey(name, done.runId, done.lease!.startedAt));
    if (known) return known.receipts;
    const out = await this.ddb.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { name },
        ProjectionExpression: '#done',
        ExpressionAttributeNames: { '#done': 'doneLeases' },
        ConsistentRead: true,
      }),
    );
    return receiptsOf(out.Item);
  }

  /**
   * The expected heartbeat: SET stuckAt (exact) and the index bound expectBy/hbShard, or REMOVE all
   * three (the item leaves the sparse `expect` index). With `bound` (the index bound as read, at
   * time `at`) the bound is kept while it is no later than the deadline and at least a third of
   * the window is left before it: moving it is a delete and a put in the index.
   */
  private expectation(u: UpdateExpr, name: string, expectBy: number | null, bound?: { expectBy: number | null; at: number }): UpdateExpr {
    if (expectBy === null) return u.remove('expectBy', 'hbShard', 'stuckAt');
    u.set('stuckAt', expectBy);
    const kept = bound?.expectBy;
    const shard = shardOf(name, this.shards);
    // kept: written only if it is gone meanwhile (the monitor cleared it), so the index is not touched
    if (typeof kept === 'number' && kept <= expectBy && kept - bound!.at >= (expectBy - bound!.at) / 3)
      return u
        .setExpr('expectBy', `if_not_exists(${u.name('expectBy')}, ${u.value(expectBy)})`)
        .setExpr('hbShard', `if_not_exists(${u.name('hbShard')}, ${u.value(shard)})`);
    return u.set('expectBy', expectBy).set('hbShard', shard);
  }

  /**
   * A run's completion: one conditional write (see the header). Built once, written on one of
   * three paths by what the run held: a slot lease (the agent's item, conditional on `running`),
   * a claim item (a transaction with marking it done), or no lease (tools and tests).
   */
  async complete(name: string, done: RunCompletion): Promise<{ consecutiveErrors: number; status: CompletionStatus }> {
    const claimed = done.lease?.slot !== undefined ? this.claimed.get(claimedKey(name, done.runId, done.lease.startedAt)) : undefined;
    const update = await this.completionUpdate(name, done, claimed);
    if (!done.lease) return this.completeUnleased(name, update);
    if (done.lease.slot !== undefined) return this.completeSlot(name, done, done.lease.startedAt, update);
    return this.completeClaimItem(name, done, done.lease.startedAt, update);
  }

  /** The completion's UpdateExpression: counters, heartbeat, histogram, expectation, lease, receipt, state keys. */
  private async completionUpdate(name: string, done: RunCompletion, claimed?: ClaimedSlot): Promise<UpdateExpr> {
    const u = new UpdateExpr().set('generation', done.generation);
    const ce = u.name('consecutiveErrors');
    const failed = done.outcome !== 'ok';
    if (failed) {
      u.setExpr('consecutiveErrors', `if_not_exists(${ce}, ${u.value(0)}) + ${u.value(1)}`)
        .set('lastError', (done.error ?? done.outcome).slice(0, 1000))
        .set('errShard', shardOf(name, this.shards))
        .set('lastErrorAt', done.at)
        .add('failures', 1);
      if (done.stack) u.set('lastErrorStack', done.stack);
      else u.remove('lastErrorStack');
      if (done.version) u.set('lastErrorVersion', done.version);
      else u.remove('lastErrorVersion');
    } else if (done.countsAsCycle) u.set('consecutiveErrors', 0).remove('errShard');
    else u.setExpr('consecutiveErrors', `if_not_exists(${ce}, ${u.value(0)})`);
    if (done.countsAsCycle) {
      // a cycle or trigger: the heartbeat, its outcome and duration, the histogram, the next expectation
      u.set('lastHeartbeat', done.at)
        .set('lastOutcome', done.outcome)
        .set('lastDurationMs', done.durationMs)
        .add('cycles', 1)
        .add('durationSumMs', done.durationMs);
      for (const le of [...DURATION_BUCKETS_MS.filter((b) => done.durationMs <= b).map(String), INF]) u.add(`${HIST_PREFIX}${le}`, 1);
      this.expectation(u, name, done.expectBy, claimed ? { expectBy: claimed.expectBy, at: done.at } : undefined);
    }
    const slotLease = done.lease?.slot !== undefined;
    // `running` is the slot's lease: only a slot's completion ends it (a trigger's never does)
    if (slotLease || (!done.lease && done.countsAsCycle)) u.remove('running');
    if (slotLease) {
      // the slot's at-most-once guard (already set if its lease was written)
      u.set('lastSlot', done.lease!.slot);
      // the receipt of this lease: kept while a retry of this write may come (see the header)
      const prior = await this.priorReceipts(name, done);
      const since = done.at - (done.retryWindowMs ?? DEFAULT_RETRY_WINDOW_MS) - RECEIPT_MARGIN_MS;
      u.set('doneLeases', new Set([...keepReceipts(prior, since), receiptOf(done.lease!.startedAt, done.at)]));
    }
    for (const [key, value] of Object.entries(done.stateChanges)) {
      if (value === undefined) u.remove(`${STATE_PREFIX}${key}`);
      else u.set(`${STATE_PREFIX}${key}`, JSON.stringify(value));
    }
    return u;
  }

  private async completeUnleased(name: string, u: UpdateExpr): Promise<{ consecutiveErrors: number; status: CompletionStatus }> {
    const out = await this.ddb.send(
      new UpdateCommand({ TableName: this.tableName, Key: { name }, ...u.request(), ReturnValues: 'UPDATED_NEW' }),
    );
    return { consecutiveErrors: numberOr0(out.Attributes?.consecutiveErrors), status: 'applied' };
  }

  /** A slot's completion: applied only while `running` is still its lease. */
  private async completeSlot(
    name: string,
    done: RunCompletion,
    startedAt: number,
    u: UpdateExpr,
  ): Promise<{ consecutiveErrors: number; status: CompletionStatus }> {
    const claimed = this.claimed.get(claimedKey(name, done.runId, startedAt));
    const own = '#running.#rid = :rid AND #running.#st = :lst';
    // claim-free: the slot is still unclaimed, no newer slot's lease is held, no restart since the read
    const free =
      '(attribute_not_exists(#lastSlot) OR #lastSlot < :slot) AND (attribute_not_exists(#running) OR attribute_not_exists(#running.#slot) OR #running.#slot < :slot)' +
      (claimed ? ' AND (attribute_not_exists(#resets) OR #resets = :resets)' : '');
    const condition = {
      expression: claimed?.leased ? own : `(${own}) OR (${free})`,
      names: {
        '#running': 'running',
        '#rid': 'runId',
        '#st': 'startedAt',
        ...(claimed?.leased ? {} : { '#lastSlot': 'lastSlot', '#slot': 'slot', ...(claimed ? { '#resets': 'resets' } : {}) }),
      },
      values: {
        ':rid': done.runId,
        ':lst': startedAt,
        ...(claimed?.leased ? {} : { ':slot': done.lease!.slot, ...(claimed ? { ':resets': claimed.resets } : {}) }),
      },
    };
    try {
      const out = await this.ddb.send(
        new UpdateCommand({ TableName: this.tableName, Key: { name }, ...u.request(condition), ReturnValues: 'UPDATED_NEW' }),
      );
      this.claimed.delete(claimedKey(name, done.runId, startedAt));
      return { consecutiveErrors: numberOr0(out.Attributes?.consecutiveErrors), status: 'applied' };
    } catch (e) {
      if (!(e instanceof ConditionalCheckFailedException)) throw e;
      // the lease is no longer current: either this completion was applied by an earlier attempt
      // whose answer was lost (its receipt is there, whatever ran since), or the lease was taken
      // over (a redelivery after its deadline, a newer slot, a restart) and nothing was written
      this.claimed.delete(claimedKey(name, done.runId, startedAt));
      const item = (await this.ddb.send(new GetCommand({ TableName: this.tableName, Key: { name }, ConsistentRead: true }))).Item;
      const ours = receiptsOf(item).some((r) => receiptStartedAt(r) === startedAt);
      return { consecutiveErrors: numberOr0(item?.consecutiveErrors), status: ours ? 'already' : 'superseded' };
    }
  }

  /** A trigger's or envelope run's completion: in one transaction with marking its claim item done. */
  private async completeClaimItem(
    name: string,
    done: RunCompletion,
    startedAt: number,
    u: UpdateExpr,
  ): Promise<{ consecutiveErrors: number; status: CompletionStatus }> {
    const key = claimItemKey(name, done.runId);
    const leanKey = claimedKey(name, done.runId, startedAt);
    const lean = this.leanItems.get(leanKey);
    // a lean claim: the claim item is created by this completion, done (no other attempt wrote one)
    const claimStep =
      lean !== undefined
        ? {
            Put: {
              TableName: this.tableName,
              Item: { name: key, runId: done.runId, startedAt, doneAt: done.at, expiresAt: lean },
              ConditionExpression: 'attribute_not_exists(#name)',
              ExpressionAttributeNames: { '#name': 'name' },
            },
          }
        : null;
    try {
      await this.ddb.send(
        new TransactWriteCommand({
          TransactItems: [
            { Update: { TableName: this.tableName, Key: { name }, ...u.request() } },
            claimStep ?? {
              Update: {
                TableName: this.tableName,
                Key: { name: key },
                ConditionExpression: 'attribute_exists(#name) AND attribute_not_exists(#doneAt) AND #st = :lst',
                UpdateExpression: 'SET #doneAt = :at',
                ExpressionAttributeNames: { '#name': 'name', '#doneAt': 'doneAt', '#st': 'startedAt' },
                ExpressionAttributeValues: { ':lst': startedAt, ':at': done.at },
              },
            },
          ],
        }),
      );
    } catch (e) {
      if (!(e instanceof TransactionCanceledException) || e.CancellationReasons?.[1]?.Code !== 'ConditionalCheckFailed') throw e;
      this.leanItems.delete(leanKey);
      const claimItem = (await this.ddb.send(new GetCommand({ TableName: this.tableName, Key: { name: key }, ConsistentRead: true }))).Item;
      const ours = claimItem?.doneAt !== undefined && claimItem.startedAt === startedAt;
      return { consecutiveErrors: await this.consecutiveErrors(name), status: ours ? 'already' : 'superseded' };
    }
    this.leanItems.delete(leanKey);
    // a successful cycle set the count to 0 (completionUpdate): nothing to read back
    if (done.outcome === 'ok' && done.countsAsCycle) return { consecutiveErrors: 0, status: 'applied' };
    return { consecutiveErrors: await this.consecutiveErrors(name), status: 'applied' };
  }

  private async consecutiveErrors(name: string): Promise<number> {
    const out = await this.ddb.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { name },
        ProjectionExpression: '#ce',
        ExpressionAttributeNames: { '#ce': 'consecutiveErrors' },
        ConsistentRead: true,
      }),
    );
    return numberOr0(out.Item?.consecutiveErrors);
  }

  /** Restart/release: consecutive errors reset, the run marker cleared (a fresh start), expectation set. */
  async resetHealth(name: string, opts: { expectBy: number | null }): Promise<void> {
    // `resets` ends the claims of runs in progress that wrote no lease (their completion checks it)
    await this.write(
      name,
      this.expectation(new UpdateExpr().set('consecutiveErrors', 0).remove('running', 'errShard').add('resets', 1), name, opts.expectBy),
    );
  }

  async setExpectedBy(name: string, expectBy: number | null): Promise<void> {
    await this.write(name, this.expectation(new UpdateExpr(), name, expectBy));
  }

  private async write(name: string, u: UpdateExpr): Promise<void> {
    await this.ddb.send(new UpdateCommand({ TableName: this.tableName, Key: { name }, ...u.request() }));
  }

  /**
   * Overdue agents of a shard: the index's candidates (bound < now), read back (BatchGetItem,
   * consistent) and kept when their exact deadline (stuckAt) has passed.
   */
  async queryOverdue(
    shard: string,
    now: number,
    limit: number,
  ): Promise<{ name: string; expectBy: number; lastHeartbeat: number | null }[]> {
    const candidates = await queryShard(
      this.ddb,
      { table: this.tableName, index: EXPECT_INDEX, shardAttr: 'hbShard', shard, sortAttr: 'expectBy', cmp: '<', bound: now, limit },
      (it) => (typeof it.name === 'string' ? it.name : null),
    );
    if (candidates.length === 0) return [];
    const found = await this.getMany(candidates);
    const out: { name: string; expectBy: number; lastHeartbeat: number | null }[] = [];
    for (const name of candidates) {
      const rec = found.get(name);
      if (rec && rec.expectBy !== null && rec.expectBy < now) out.push({ name, expectBy: rec.expectBy, lastHeartbeat: rec.lastHeartbeat });
    }
    return out.sort((a, b) => a.expectBy - b.expectBy);
  }

  /** One COUNT Query per shard of the sparse `erroring` index: reads the erroring agents' keys only. */
  async erroringCount(): Promise<number> {
    const perShard = await Promise.all(
      Array.from({ length: this.shards }, async (_, i) => {
        let n = 0;
        let start: Record<string, unknown> | undefined;
        do {
          const out = await this.ddb.send(
            new QueryCommand({
              TableName: this.tableName,
              IndexName: ERRORING_INDEX,
              KeyConditionExpression: '#s = :s',
              ExpressionAttributeNames: { '#s': 'errShard' },
              ExpressionAttributeValues: { ':s': String(i) },
              Select: 'COUNT',
              ExclusiveStartKey: start,
            }),
          );
          n += out.Count ?? 0;
          start = out.LastEvaluatedKey;
        } while (start);
        return n;
      }),
    );
    return perShard.reduce((a, b) => a + b, 0);
  }

  /**
   * The head of each shard of the `expect` index (one key per shard), read back in one
   * BatchGetItem (the index is keys-only and its key a lower bound): the earliest of them.
   */
  async earliestExpected(): Promise<{ name: string; expectBy: number; lastHeartbeat: number | null } | null> {
    const heads = await Promise.all(
      Array.from({ length: this.shards }, (_, i) =>
        queryShard(
          this.ddb,
          {
            table: this.tableName,
            index: EXPECT_INDEX,
            shardAttr: 'hbShard',
            shard: String(i),
            sortAttr: 'expectBy',
            cmp: '<',
            bound: Number.MAX_SAFE_INTEGER,
            limit: 1,
          },
          (it) => (typeof it.name === 'string' ? it.name : null),
        ),
      ),
    );
    const names = heads.flat();
    if (names.length === 0) return null;
    const found = await this.getMany(names);
    let best: { name: string; expectBy: number; lastHeartbeat: number | null } | null = null;
    for (const name of names) {
      const rec = found.get(name);
      if (rec && rec.expectBy !== null && (!best || rec.expectBy < best.expectBy))
        best = { name, expectBy: rec.expectBy, lastHeartbeat: rec.lastHeartbeat };
    }
    return best;
  }

  /**
   * One run's kept lines into its ring slot (PutItem; the slot's previous run is replaced), with
   * a TTL of LOG_RETENTION_DAYS. Lines travel as one JSON string attribute (bounded: 8 KB).
   */
  async putRunLog(name: string, log: RunLog, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const slot = log.kind === 'envelope' ? `e${slotOfRunId(log.runId)}` : `c${log.cycle % LOG_RING_RUNS}`;
    await this.ddb.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          name: logItemKey(name, slot),
          run: JSON.stringify(log),
          expiresAt: Math.floor(log.at / 1000) + LOG_RETENTION_DAYS * 86_400,
        },
      }),
      opts.signal ? { abortSignal: opts.signal } : {},
    );
  }

  /** The ring's runs, oldest first, and their lines: the last `limit` lines. */
  async recentLogs(name: string, limit: number): Promise<AgentLogEntry[]> {
    const items = (await this.batchGetItems(logSlots(name))).values();
    const runs: RunLog[] = [];
    for (const it of items) {
      try {
        const r = RunLogSchema.safeParse(JSON.parse(String(it.run)));
        if (r.success) runs.push(r.data);
      } catch {
        // an unreadable item is skipped: logs are best effort
      }
    }
    runs.sort((a, b) => a.at - b.at || a.cycle - b.cycle);
    const lines = runs.flatMap((r) => r.lines.map((l) => ({ ...l, runId: r.runId, kind: r.kind, cycle: r.cycle, version: r.version })));
    return lines.slice(-limit);
  }

  async remove(name: string): Promise<void> {
    await this.ddb.send(new DeleteCommand({ TableName: this.tableName, Key: { name } }));
  }
}
