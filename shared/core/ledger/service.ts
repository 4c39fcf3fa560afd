/**
 * LedgerService: the tamper-evident, gap-free ledger of every envelope on the bus
 * (docs/ledger.md has the full argument).
 *
 * Construct it from a DynamoDB document client + table name + EventPublisher:
 *
 *   import { DynamoLedgerStore } from 'shared/adapters/aws/dynamo-ledger';
 *   const ledger = new LedgerService({
 *     store: new DynamoLedgerStore(clients.ddb, config.LEDGER_TABLE),
 *     publisher,                                  // EventPublisher (replay re-publishes through it)
 *     retentionDays: config.AGENT_LEDGER_RETENTION_DAYS,
 *     digests,                                    // LedgerDigestStore (digest anchoring), optional
 *   });
 *   // or: createDynamoLedger(ddb, table, publisher, { retentionDays }) from the same adapter module
 *
 * It is the API's LedgerReader (list, verify, head) plus `replay`, the ledger writer's `append`
 * and the digest writer's `writeDigest`.
 *
 * - append: gap-free sequence numbers and the hash chain; each group of entries is one block,
 *   committed by one conditional write that lands only on the seq after the last committed
 *   entry. Event ids are checked against the ids of the recent blocks, held in memory (IdWindow):
 *   a writer must have caught up with every block before its own can land, so the check is
 *   exact within the window even with concurrent writers. So a sequence number is never skipped
 *   or reused, and an event id is recorded at most once within the de-duplication window.
 * - verify: recomputes every hash and link, checks the head hint, the checkpoints and (on
 *   request) the digests, and tells expired gaps (retention) from deletions; reports the first
 *   bad seq. Entries appended while it runs are verified if it reaches them, never half.
 * - replay: re-publishes a range (filtered by topic/agent) in sequence order as NEW envelopes
 *   (new id, `replayOf` = the original's seq), which the ledger records as new entries.
 * - writeDigest: anchors the current head (seq, hash, time) in the digest store.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { ORCHESTRATOR_SENDER, parseEnvelope, TopicSchema, type Envelope } from '../envelope';
import { BUNDLE_PREFIX } from '../bundle/identity';
import type {
  EventPublisher,
  LedgerDigestStore,
  LedgerEntry,
  LedgerPage,
  LedgerQuery,
  LedgerReader,
  LedgerVerifyOptions,
  LedgerVerifyReport,
  ReplayRequest,
  StoredDigest,
} from '../ports';
import { systemClock, type Clock } from '../clock';
import { silentLogger, type Logger } from '../logger';
import { canonicalJson } from './canonical';
import { LedgerConflictError, LedgerCorruptError, LedgerDigestsUnavailableError, LedgerRequestError } from './errors';
import { GENESIS_HASH, hashEntry } from './hash';
import { LEDGER_CHECKPOINT_EVERY, verifyChain } from './verify';
import { IdWindow } from './window';
import type { LedgerCheckpoint, LedgerHead, LedgerStore } from '../ports';

export { LEDGER_CHECKPOINT_EVERY };
/** entries one `list` call examines at most (with filters, `next` continues from there) */
export const LIST_MAX_SCAN = 5000;
export const LIST_MAX_LIMIT = 1000;
/** entries one replay request may span */
export const REPLAY_MAX_RANGE = 10_000;
const REPLAY_PUBLISH_BATCH = 50;
const MAX_COMMIT_ATTEMPTS = 20;
/** longest pause between two commit attempts that lost to another writer */
const COMMIT_BACKOFF_MAX_MS = 250;

const AgentFilter = z.string().min(1).max(128);

export const LedgerQuerySchema = z
  .object({
    after: z.number().int().nonnegative().optional(),
    limit: z.number().int().min(1).max(LIST_MAX_LIMIT),
    topic: TopicSchema.optional(),
    agent: AgentFilter.optional(),
  })
  .strict();

export const ReplayRequestSchema = z
  .object({
    fromSeq: z.number().int().min(1),
    toSeq: z.number().int().min(1),
    topic: TopicSchema.optional(),
    agent: AgentFilter.optional(),
  })
  .strict()
  .refine((r) => r.toSeq >= r.fromSeq, { message: 'toSeq must be >= fromSeq', path: ['toSeq'] })
  .refine((r) => r.toSeq - r.fromSeq < REPLAY_MAX_RANGE, {
    message: `a replay spans at most ${REPLAY_MAX_RANGE} entries`,
    path: ['toSeq'],
  });

export interface LedgerServiceDeps {
  store: LedgerStore;
  /** where replays are published (not needed by the ledger writer) */
  publisher?: EventPublisher;
  /** AGENT_LEDGER_RETENTION_DAYS; 0 keeps entries forever */
  retentionDays?: number;
  clock?: Clock;
  logger?: Logger;
  /** where digests are anchored (digest writer, `verify({ digests: true })`) */
  digests?: LedgerDigestStore;
  /** de-duplication window (defaults: DEDUP_WINDOW) */
  dedup?: Partial<typeof DEDUP_WINDOW>;
}

/**
 * How far back event ids are de-duplicated. A duplicate of an envelope is appended after the
 * envelope was made (`ts`), so the window reaches back to the oldest `ts` of a batch less
 * `skewMs`, and at least `minAgeMs`; at most `maxAgeMs` (the ledger queue redelivers a batch for
 * up to 10 receives × 6 min visibility = 1 h) and `maxIds` ids.
 */
export const DEDUP_WINDOW = { minAgeMs: 10 * 60_000, maxAgeMs: 65 * 60_000, skewMs: 5 * 60_000, maxIds: 200_000 };

/** the head hint is moved at least this often while appending (without retention) */
export const HINT_EVERY_MS = 60_000;

export interface DigestResult {
  /** the digest written, or null: the ledger is empty, or its head was anchored already */
  written: StoredDigest | null;
  head: { seq: number; hash: string };
}

export interface AppendResult {
  /** entries written by this call, in seq order */
  appended: LedgerEntry[];
  /** event ids that were already recorded (or repeated within the batch): not written again */
  duplicates: string[];
}

const DAY_S = 86_400;

function parseOrThrow<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
  const r = schema.safeParse(input);
  if (!r.success) throw new LedgerRequestError(`invalid ${what}: ${z.prettifyError(r.error)}`);
  return r.data;
}

const involves = (e: { sender: string; recipient?: string | undefined }, agent: string) => e.sender === agent || e.recipient === agent;

/**
 * What `GET /ledger?agent=` lists: the agent's envelopes (sender or recipient) and the
 * orchestrator's events about it (agent.failed, agent.restarted, agent.quarantined, ... name it in
 * the payload; bundle.rejected names its key). Replay keeps to `involves`: the orchestrator's own
 * events are never re-published.
 */
export function concernsAgent(e: Pick<LedgerEntry, 'sender' | 'recipient' | 'payload'>, agent: string): boolean {
  if (involves(e, agent)) return true;
  if (e.sender !== ORCHESTRATOR_SENDER) return false;
  const p = e.payload;
  return p.name === agent || (typeof p.key === 'string' && p.key.startsWith(`${BUNDLE_PREFIX}${agent}/`));
}

export class LedgerService implements LedgerReader {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly retentionDays: number;
  private readonly dedup: typeof DEDUP_WINDOW;
  /** the last block this process committed or found (undefined: not read yet); stale only costs a failed commit */
  private tail: LedgerHead | null | undefined;
  /** ids of the recent blocks, up to `head` */
  private window: IdWindow | undefined;
  /** when this process last moved the head hint */
  private hintAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly deps: LedgerServiceDeps) {
    this.clock = deps.clock ?? systemClock;
    this.log = deps.logger ?? silentLogger;
    this.retentionDays = deps.retentionDays ?? 0;
    this.dedup = { ...DEDUP_WINDOW, ...deps.dedup };
    if (!Number.isInteger(this.retentionDays) || this.retentionDays < 0)
      throw new LedgerRequestError('retentionDays must be a non-negative integer');
  }

  // ------------------------------------------------------------------------------------------
  // write side

  /** Appends envelopes in the given order; ids already recorded are skipped (returned as duplicates). */
  async append(input: Envelope[]): Promise<AppendResult> {
    const envelopes = input.map((e) => parseEnvelope(e));
    const duplicates: string[] = [];
    const seen = new Set<string>();
    let pending: Envelope[] = [];
    for (const e of envelopes) {
      if (seen.has(e.id)) duplicates.push(e.id);
      else {
        seen.add(e.id);
        pending.push(e);
      }
    }
    const appended: LedgerEntry[] = [];
    let failures = 0;
    while (pending.length > 0) {
      const window = await this.windowFor(pending);
      // Every block up to `head` is in the window (ours, or read while catching up), and our
      // block lands only right after `head`: a commit that recorded one of these ids either is
      // in the window or makes ours fail, after which we catch up and check again.
      const recorded = new Set<string>();
      for (const e of pending) if (window.has(e.id) !== undefined) recorded.add(e.id);
      if (window.reachedStart) for (const id of (await this.deps.store.legacyIds(pending.map((e) => e.id))).keys()) recorded.add(id);
      if (recorded.size > 0) {
        duplicates.push(...recorded);
        pending = pending.filter((e) => !recorded.has(e.id));
        continue;
      }
      const expect = this.tail ?? null;
      const group = this.takeGroup(pending);
      const commit = this.build(expect, group);
      const res = await this.deps.store.commit(commit);
      if (res.ok) {
        if (commit.hint) this.hintAt = commit.head.appendedAt;
        this.tail = commit.head;
        window.push({ first: commit.entries[0]!.seq, head: commit.head, ids: commit.entries.map((e) => e.id) });
        appended.push(...commit.entries);
        pending = pending.slice(group.length);
        failures = 0;
        continue;
      }
      // lost a race with another writer, or our head was stale: catch up with its blocks
      await this.catchUp(window);
      if (++failures >= MAX_COMMIT_ATTEMPTS)
        throw new LedgerConflictError(`append failed ${failures} times in a row against concurrent writers`);
      // back off (random, growing) so that writers that keep colliding spread out instead of
      // losing to each other in lockstep: on a slow host a tight loop can starve one writer
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(COMMIT_BACKOFF_MAX_MS, 5 * 2 ** failures)));
    }
    if (duplicates.length) this.log.info('duplicate deliveries not recorded again', { ids: duplicates });
    return { appended, duplicates };
  }

  /** The head and the window, reaching back as far as these envelopes need. */
  private async windowFor(pending: Envelope[]): Promise<IdWindow> {
    const now = this.clock.now();
    if (this.tail === undefined || !this.window) {
      this.tail = await this.deps.store.readTail();
      this.window = new IdWindow(this.tail?.seq ?? 0, this.dedup.maxIds);
    }
    const window = this.window;
    window.evictBefore(now - this.dedup.maxAgeMs);
    const oldest = Math.min(...pending.map((e) => Date.parse(e.ts)).filter((t) => Number.isFinite(t)), now);
    const since = Math.max(now - this.dedup.maxAgeMs, Math.min(now - this.dedup.minAgeMs, oldest - this.dedup.skewMs));
    if (since < window.coveredSince && !window.reachedStart) {
      let reached = true;
      for await (const b of this.deps.store.blocksBefore(window.start - 1)) {
        window.unshift(b);
        if (b.head.appendedAt < since) {
          reached = false;
          break;
        }
      }
      if (reached) {
        window.reachedStart = true;
        window.coveredSince = Number.NEGATIVE_INFINITY;
      }
    }
    return window;
  }

  /** After a lost commit: the blocks other writers committed after our head. */
  private async catchUp(window: IdWindow): Promise<void> {
    const from = this.tail?.seq ?? 0;
    let n = 0;
    for await (const b of this.deps.store.blocksAfter(from)) {
      if (b.first !== (this.tail?.seq ?? 0) + 1) break;
      window.push(b);
      this.tail = b.head;
      n++;
    }
    if (n === 0) {
      // nothing after our head (a transaction conflict): re-read the tail to be sure
      const tail = await this.deps.store.readTail();
      if (tail && tail.seq !== (this.tail?.seq ?? 0)) this.tail = undefined; // start over from the tail
    }
  }

  private takeGroup(pending: Envelope[]): Envelope[] {
    const { maxEntriesPerCommit, maxBytesPerCommit } = this.deps.store;
    let bytes = 0;
    let n = 0;
    for (const e of pending) {
      // the stored entry: the envelope plus seq, hashes and expiry (about 200 bytes)
      const size = Buffer.byteLength(JSON.stringify(e), 'utf8') + 256;
      if (n > 0 && (n === maxEntriesPerCommit || bytes + size > maxBytesPerCommit)) break;
      bytes += size;
      n++;
    }
    return pending.slice(0, n);
  }

  private build(expect: LedgerHead | null, group: Envelope[]) {
    const appendedAt = Math.max(this.clock.now(), expect?.appendedAt ?? 0);
    const ttl = this.retentionDays > 0 ? Math.ceil(appendedAt / 1000) + this.retentionDays * DAY_S : null;
    let prevHash = expect?.hash ?? GENESIS_HASH;
    let prevExp: number | null = expect?.expiresAt ?? null;
    let seq = expect?.seq ?? 0;
    const entries: LedgerEntry[] = [];
    const checkpoints: LedgerCheckpoint[] = [];
    for (const e of group) {
      seq++;
      // expiry never decreases along the chain (so a gap can be proven expired from its last
      // entry), except where retention is switched on after entries that never expire
      const expiresAt = ttl === null ? null : prevExp === null ? ttl : Math.max(prevExp, ttl);
      const entry: LedgerEntry = {
        seq,
        id: e.id,
        ts: e.ts,
        topic: e.topic,
        sender: e.sender,
        ...(e.recipient !== undefined ? { recipient: e.recipient } : {}),
        // the stored form: what JSON (and therefore the hash) sees
        payload: JSON.parse(canonicalJson(e.payload)) as Record<string, unknown>,
        ...(e.replayOf !== undefined ? { replayOf: e.replayOf } : {}),
        ...(expiresAt !== null ? { expiresAt } : {}),
        ...(prevExp !== null ? { prevExpiresAt: prevExp } : {}),
        hash: '',
        prevHash,
      };
      entry.hash = hashEntry(entry, prevHash);
      const retentionStart = expiresAt !== null && prevExp === null && seq > 1;
      if (seq % LEDGER_CHECKPOINT_EVERY === 0 || retentionStart) checkpoints.push({ seq, hash: entry.hash, expiresAt, retentionStart });
      entries.push(entry);
      prevHash = entry.hash;
      prevExp = expiresAt;
    }
    const head: LedgerHead = { seq, hash: prevHash, expiresAt: prevExp, appendedAt };
    // the hint: with retention after every block (TTL must never delete blocks the hint does not
    // know of: readers find the last block from it), else at least once a minute
    const hint = expect === null || this.retentionDays > 0 || checkpoints.length > 0 || appendedAt - this.hintAt >= HINT_EVERY_MS;
    return { expect, entries, head, checkpoints, hint };
  }

  // ------------------------------------------------------------------------------------------
  // read side (LedgerReader)

  async head(): Promise<{ seq: number; hash: string }> {
    const h = await this.deps.store.readTail();
    return h ? { seq: h.seq, hash: h.hash } : { seq: 0, hash: GENESIS_HASH };
  }

  private expired(e: LedgerEntry, nowS: number): boolean {
    return e.expiresAt !== undefined && e.expiresAt <= nowS;
  }

  /**
   * Entries after `after`, oldest first, optionally only those of a topic or involving an agent
   * (sender or recipient). Expired entries that TTL has not deleted yet are left out. One call
   * examines at most LIST_MAX_SCAN entries; `next` continues after the last one examined.
   */
  async list(q: LedgerQuery): Promise<LedgerPage> {
    const query = parseOrThrow(LedgerQuerySchema, q, 'ledger query');
    const head = await this.deps.store.readTail();
    const from = (query.after ?? 0) + 1;
    if (!head || from > head.seq) return { entries: [], next: null };
    const nowS = this.clock.now() / 1000;
    const entries: LedgerEntry[] = [];
    let last = from - 1;
    let scanned = 0;
    for await (const it of this.deps.store.scan(from, head.seq)) {
      if (it.error !== undefined) throw new LedgerCorruptError(it.seq, it.error);
      last = it.seq;
      scanned++;
      const e = it.entry;
      if (
        !this.expired(e, nowS) &&
        (query.topic === undefined || e.topic === query.topic) &&
        (query.agent === undefined || concernsAgent(e, query.agent))
      ) {
        entries.push(e);
      }
      if (entries.length >= query.limit || scanned >= LIST_MAX_SCAN) break;
    }
    const more = (entries.length >= query.limit || scanned >= LIST_MAX_SCAN) && last < head.seq;
    return { entries, next: more ? last : null };
  }

  /** Verifies the whole retained ledger, optionally against every digest (docs/ledger.md, "Verification"). */
  async verify(opts: LedgerVerifyOptions = {}): Promise<LedgerVerifyReport> {
    let digests: StoredDigest[] | null = null;
    if (opts.digests) {
      if (!this.deps.digests) throw new LedgerDigestsUnavailableError('this orchestrator has no ledger digest store configured');
      digests = await this.deps.digests.list();
    }
    return verifyChain(this.deps.store, { nowS: this.clock.now() / 1000, logger: this.log, digests });
  }

  // ------------------------------------------------------------------------------------------
  // digests

  /**
   * Anchors the ledger's current head in the digest store (the digest schedule calls it): a
   * later rewrite of any entry up to it, even with every hash after it recomputed, no longer
   * matches the digest. Nothing is written for an empty ledger or a head anchored already.
   */
  async writeDigest(): Promise<DigestResult> {
    const store = this.deps.digests;
    if (!store) throw new LedgerDigestsUnavailableError('this orchestrator has no ledger digest store configured');
    const tail = await this.deps.store.readTail();
    const head = tail ? { seq: tail.seq, hash: tail.hash } : { seq: 0, hash: GENESIS_HASH };
    if (!tail || (await store.has(tail.seq))) return { written: null, head };
    const written = await store.put({ seq: tail.seq, hash: tail.hash, at: this.clock.now() });
    this.log.info('ledger digest written', { seq: written.seq, hash: written.hash, ref: written.ref, store: store.where });
    return { written, head };
  }

  // ------------------------------------------------------------------------------------------
  // replay

  /**
   * Re-publishes the retained entries fromSeq..toSeq (optionally of one topic / involving one
   * agent) in sequence order, each as a new envelope: new id, same topic, sender, recipient, ts
   * and payload, `replayOf` = the original's seq (for a replayed entry: its own replayOf, so it
   * always names the original). Returns how many were published.
   */
  async replay(req: ReplayRequest): Promise<{ count: number }> {
    const r = parseOrThrow(ReplayRequestSchema, req, 'replay request');
    const publisher = this.deps.publisher;
    if (!publisher) throw new LedgerRequestError('this ledger service has no publisher to replay through');
    const head = await this.deps.store.readTail();
    const to = Math.min(r.toSeq, head?.seq ?? 0);
    if (r.fromSeq > to) return { count: 0 };
    const nowS = this.clock.now() / 1000;
    let batch: Envelope[] = [];
    let count = 0;
    for await (const it of this.deps.store.scan(r.fromSeq, to)) {
      if (it.error !== undefined) throw new LedgerCorruptError(it.seq, it.error);
      const e = it.entry;
      if (this.expired(e, nowS)) continue;
      if (r.topic !== undefined && e.topic !== r.topic) continue;
      if (r.agent !== undefined && !involves(e, r.agent)) continue;
      batch.push({
        id: randomUUID(),
        topic: e.topic,
        sender: e.sender,
        ...(e.recipient !== undefined ? { recipient: e.recipient } : {}),
        ts: e.ts,
        payload: e.payload,
        replayOf: e.replayOf ?? e.seq,
      });
      if (batch.length >= REPLAY_PUBLISH_BATCH) {
        await publisher.publish(batch);
        count += batch.length;
        batch = [];
      }
    }
    if (batch.length) {
      await publisher.publish(batch);
      count += batch.length;
    }
    this.log.info('ledger replayed', { fromSeq: r.fromSeq, toSeq: to, topic: r.topic, agent: r.agent, count });
    return { count };
  }
}
