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
 *   });
 *   // or: createDynamoLedger(ddb, table, publisher, { retentionDays }) from the same adapter module
 *
 * It is the API's LedgerReader (list, verify, head) plus `replay`, and the ledger writer's
 * `append`.
 *
 * - append: gap-free sequence numbers and the hash chain; each group of entries is committed in
 *   one atomic write together with one marker per event id and the new head, conditioned on the
 *   head it was computed from. Ids are checked against the markers after that head was taken,
 *   so an id recorded meanwhile either shows in the check or makes the commit fail (head
 *   moved), after which the service re-reads the head and starts over. So a sequence number is
 *   never skipped or reused, and an event id is recorded at most once (while its marker is
 *   retained), even with concurrent writers.
 * - verify: recomputes every hash and link, checks the head and the checkpoints, and tells
 *   expired gaps (retention) from deletions; reports the first bad seq.
 * - replay: re-publishes a range (filtered by topic/agent) in sequence order as NEW envelopes
 *   (new id, `replayOf` = the original's seq), which the ledger records as new entries.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { parseEnvelope, TopicSchema, type Envelope } from '../envelope';
import type { EventPublisher, LedgerEntry, LedgerPage, LedgerQuery, LedgerReader, LedgerVerifyReport, ReplayRequest } from '../ports';
import { systemClock, type Clock } from '../clock';
import { silentLogger, type Logger } from '../logger';
import { canonicalJson } from './canonical';
import { LedgerConflictError, LedgerCorruptError, LedgerRequestError } from './errors';
import { GENESIS_HASH, hashEntry } from './hash';
import { LEDGER_CHECKPOINT_EVERY, verifyChain } from './verify';
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

export class LedgerService implements LedgerReader {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly retentionDays: number;
  /** last head this process committed or read; stale heads only cost a failed commit */
  private cachedHead: LedgerHead | null | undefined;

  constructor(private readonly deps: LedgerServiceDeps) {
    this.clock = deps.clock ?? systemClock;
    this.log = deps.logger ?? silentLogger;
    this.retentionDays = deps.retentionDays ?? 0;
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
      // Order matters: take the head first, then check the ids. A commit that recorded one of
      // these ids after that head either shows up in the id check or has moved the head, and
      // then our commit (conditioned on the head) fails and we start over.
      const expect = this.cachedHead === undefined ? await this.deps.store.readHead() : this.cachedHead;
      const group = this.takeGroup(pending);
      const existing = await this.deps.store.findIds(group.map((e) => e.id));
      if (existing.size > 0) {
        for (const id of existing.keys()) duplicates.push(id);
        pending = pending.filter((e) => !existing.has(e.id));
        this.cachedHead = expect;
        continue;
      }
      const commit = this.build(expect, group);
      const res = await this.deps.store.commit(commit);
      if (res.ok) {
        this.cachedHead = commit.head;
        appended.push(...commit.entries);
        pending = pending.slice(group.length);
        failures = 0;
        continue;
      }
      // lost a race with another writer, or our cached head was stale: re-read and retry
      this.cachedHead = undefined;
      if (++failures >= MAX_COMMIT_ATTEMPTS)
        throw new LedgerConflictError(`append failed ${failures} times in a row against concurrent writers`);
      // back off (random, growing) so that writers that keep colliding spread out instead of
      // losing to each other in lockstep: on a slow host a tight loop can starve one writer
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(COMMIT_BACKOFF_MAX_MS, 5 * 2 ** failures)));
    }
    if (duplicates.length) this.log.info('duplicate deliveries not recorded again', { ids: duplicates });
    return { appended, duplicates };
  }

  private takeGroup(pending: Envelope[]): Envelope[] {
    const { maxEntriesPerCommit, maxBytesPerCommit } = this.deps.store;
    let bytes = 0;
    let n = 0;
    for (const e of pending) {
      const size = Buffer.byteLength(JSON.stringify(e), 'utf8') + 1024;
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
    return { expect, entries, head, checkpoints };
  }

  // ------------------------------------------------------------------------------------------
  // read side (LedgerReader)

  async head(): Promise<{ seq: number; hash: string }> {
    const h = await this.deps.store.readHead();
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
    const head = await this.deps.store.readHead();
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
        (query.agent === undefined || involves(e, query.agent))
      ) {
        entries.push(e);
      }
      if (entries.length >= query.limit || scanned >= LIST_MAX_SCAN) break;
    }
    const more = (entries.length >= query.limit || scanned >= LIST_MAX_SCAN) && last < head.seq;
    return { entries, next: more ? last : null };
  }

  /** Verifies the whole retained ledger (docs/ledger.md, "Verification"). */
  async verify(): Promise<LedgerVerifyReport> {
    return verifyChain(this.deps.store, { nowS: this.clock.now() / 1000, logger: this.log });
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
    const head = await this.deps.store.readHead();
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
