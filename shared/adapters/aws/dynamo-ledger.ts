/**
 * DynamoDB adapter of the ledger (LedgerStore; table LEDGER_TABLE of shared/definitions/tables.ts,
 * key `pk` (S) + `seq` (N), TTL attribute `expiresAt`). Items:
 *
 *   blocks       pk `B#<chunk>` (chunk = floor(first / LEDGER_CHUNK_SIZE)), seq = first (the seq
 *                of its first entry), last, hash (of the last entry), lastExp?, at (append time,
 *                ms), v, body (the entries: deflate-compressed JSON), expiresAt? (TTL)
 *   head hint    pk `HEAD`, seq 0, lastSeq, hash, lastExpiresAt?, appendedAt, blocksFrom (no TTL)
 *   checkpoints  pk `CP`, seq, hash, entryExpiresAt?, retentionStart             (no TTL)
 *   (before blocks: entries pk `C#<chunk>` one item per entry, markers pk `ID#<event id>`; read,
 *   never written: a ledger written in that layout goes on in blocks from `blocksFrom`)
 *
 * One block = one commit = one conditional PutItem (`attribute_not_exists(pk)` on the key of its
 * first seq): a block lands only on the seq after the last committed entry, because a writer
 * computes it from the last block it knows, and whichever writer puts a block at that seq first
 * wins. No two blocks start at the same seq and each starts right after a committed one, so the
 * sequence is gap-free without a head item in the write (which, in a transaction, doubled the
 * cost of every commit). Each entry keeps its own seq, hash and prevHash inside the block.
 *
 * The head hint is where readers start looking for the last block (readTail: the hint, then one
 * Query per chunk forward). It is moved with the first block, with every block that carries a
 * checkpoint (in one transaction: checkpoints must never disagree with the blocks), and by the
 * writer at least once a minute and, with retention, after every block (so that TTL can never
 * delete blocks the hint does not know of). It never moves backwards (`lastSeq < :new`).
 *
 * Blocks expire (TTL) when their last entry does, and only if every entry in them expires
 * (expiry never decreases along the chain, so the last entry expires last). The payload of an
 * entry is stored as its JSON value inside the block's JSON: it was canonicalized before it was
 * hashed, and JSON text round-trips those values exactly (DynamoDB numbers would not).
 *
 * `createDynamoLedger(ddb, tableName, publisher, opts)` builds the LedgerService on top of it.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { EnvelopeSchema } from '../../core/envelope';
import type { EventPublisher, LedgerDigestStore, LedgerEntry } from '../../core/ports';
import type { Clock } from '../../core/clock';
import type { Logger } from '../../core/logger';
import { LedgerService } from '../../core/ledger/service';
import type { CommitResult, LedgerCheckpoint, LedgerCommit, LedgerHead, LedgerStore, ScannedEntry, StoredBlock } from '../../core/ports';
import { StoreError } from './errors';

export const LEDGER_CHUNK_SIZE = 1000;
export const HEAD_PK = 'HEAD';
export const CHECKPOINT_PK = 'CP';
/** the partition of a block whose first entry is `seq` */
export const blockPk = (seq: number): string => `B#${Math.floor(seq / LEDGER_CHUNK_SIZE)}`;
/** the partition of an entry of the per-entry layout (before blocks) */
export const chunkPk = (seq: number): string => `C#${Math.floor(seq / LEDGER_CHUNK_SIZE)}`;
export const idPk = (id: string): string => `ID#${id}`;
const chunkOf = (seq: number): number => Math.floor(seq / LEDGER_CHUNK_SIZE);

/** entries per block at most (a block is one DynamoDB item) */
export const MAX_BLOCK_ENTRIES = 100;
/** JSON bytes of a block's entries at most, before compression (an item holds 400 KB) */
export const MAX_BLOCK_BYTES = 350_000;
/** the block format */
const BLOCK_VERSION = 1;

const HASH = z.string().regex(/^[0-9a-f]{64}$/, 'a hex SHA-256');
const SEC = z.number().int().nonnegative();
const SEQ = z.number().int().positive();

/** An entry as stored inside a block (strict: an unexpected or missing field is damage). */
const StoredEntrySchema = z
  .object({
    seq: SEQ,
    id: EnvelopeSchema.shape.id,
    ts: EnvelopeSchema.shape.ts,
    topic: EnvelopeSchema.shape.topic,
    sender: EnvelopeSchema.shape.sender,
    recipient: EnvelopeSchema.shape.recipient,
    payload: z.record(z.string(), z.unknown()),
    replayOf: EnvelopeSchema.shape.replayOf,
    hash: HASH,
    prevHash: HASH,
    expiresAt: SEC.optional(),
    prevExpiresAt: SEC.optional(),
  })
  .strict();

const BlockItemSchema = z
  .object({
    pk: z.string(),
    seq: SEQ,
    last: SEQ,
    hash: HASH,
    lastExp: SEC.optional(),
    at: z.number(),
    v: z.literal(BLOCK_VERSION),
    body: z.instanceof(Uint8Array),
    expiresAt: SEC.optional(),
  })
  .strict();

/** An entry item of the per-entry layout (the payload is its canonical JSON text). */
const LegacyEntryItemSchema = z
  .object({
    pk: z.string(),
    seq: SEQ,
    id: EnvelopeSchema.shape.id,
    ts: EnvelopeSchema.shape.ts,
    topic: EnvelopeSchema.shape.topic,
    sender: EnvelopeSchema.shape.sender,
    recipient: EnvelopeSchema.shape.recipient,
    payload: z.string(),
    replayOf: EnvelopeSchema.shape.replayOf,
    hash: HASH,
    prevHash: HASH,
    expiresAt: SEC.optional(),
    prevExpiresAt: SEC.optional(),
  })
  .strict();

const HeadItemSchema = z.object({
  lastSeq: SEQ,
  hash: HASH,
  lastExpiresAt: SEC.optional(),
  appendedAt: z.number(),
  /** seq of the first block (entries before it are in the per-entry layout) */
  blocksFrom: SEQ.optional(),
});
const CheckpointItemSchema = z.object({
  seq: SEQ,
  hash: HASH,
  entryExpiresAt: SEC.optional(),
  retentionStart: z.boolean(),
});

const prettify = (e: z.ZodError) => z.prettifyError(e).replace(/\n/g, '; ');

/** The stored form of an entry (what its hash covers, absent optional fields left out). */
function storedEntry(e: LedgerEntry): Record<string, unknown> {
  return {
    seq: e.seq,
    id: e.id,
    ts: e.ts,
    topic: e.topic,
    sender: e.sender,
    ...(e.recipient !== undefined ? { recipient: e.recipient } : {}),
    payload: e.payload,
    ...(e.replayOf !== undefined ? { replayOf: e.replayOf } : {}),
    hash: e.hash,
    prevHash: e.prevHash,
    ...(e.expiresAt !== undefined ? { expiresAt: e.expiresAt } : {}),
    ...(e.prevExpiresAt !== undefined ? { prevExpiresAt: e.prevExpiresAt } : {}),
  };
}

function entryOf(it: z.infer<typeof StoredEntrySchema>): LedgerEntry {
  return {
    seq: it.seq,
    id: it.id,
    ts: it.ts,
    topic: it.topic,
    sender: it.sender,
    ...(it.recipient !== undefined ? { recipient: it.recipient } : {}),
    payload: it.payload,
    ...(it.replayOf !== undefined ? { replayOf: it.replayOf } : {}),
    hash: it.hash,
    prevHash: it.prevHash,
    ...(it.expiresAt !== undefined ? { expiresAt: it.expiresAt } : {}),
    ...(it.prevExpiresAt !== undefined ? { prevExpiresAt: it.prevExpiresAt } : {}),
  };
}

/** The block item of consecutive entries (the head is the last entry's). */
export function encodeBlock(entries: LedgerEntry[], head: LedgerHead): Record<string, unknown> {
  const first = entries[0];
  const last = entries[entries.length - 1];
  if (!first || !last) throw new StoreError('a ledger block holds at least one entry');
  const body = deflateRawSync(Buffer.from(JSON.stringify(entries.map(storedEntry)), 'utf8'));
  // TTL only if every entry expires: the last one expires last (expiry never decreases), except
  // that an entry written with retention off (never expires) may follow expiring ones
  const ttl = first.expiresAt !== undefined && last.expiresAt !== undefined ? last.expiresAt : undefined;
  return {
    pk: blockPk(first.seq),
    seq: first.seq,
    last: last.seq,
    hash: last.hash,
    ...(last.expiresAt !== undefined ? { lastExp: last.expiresAt } : {}),
    at: head.appendedAt,
    v: BLOCK_VERSION,
    body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength),
    ...(ttl !== undefined ? { expiresAt: ttl } : {}),
  };
}

export interface DecodedBlock {
  first: number;
  last: number;
  appendedAt: number;
  /** the block's entries and what is wrong with it, in seq order */
  entries: ScannedEntry[];
}

/** Decodes a block item. Whatever does not fit is reported at the seq it concerns (see ScannedEntry). */
export function decodeBlock(item: Record<string, unknown>): DecodedBlock {
  const key = typeof item.seq === 'number' ? item.seq : NaN;
  const bad = (error: string): DecodedBlock => ({
    first: key,
    last: typeof item.last === 'number' ? item.last : key,
    appendedAt: typeof item.at === 'number' ? item.at : 0,
    entries: [{ seq: key, error }],
  });
  const r = BlockItemSchema.safeParse(item);
  if (!r.success) return bad(`malformed ledger block: ${prettify(r.error)}`);
  const b = r.data;
  if (b.pk !== blockPk(b.seq)) return bad(`block stored under ${b.pk}, expected ${blockPk(b.seq)}`);
  let raw: unknown;
  try {
    raw = JSON.parse(inflateRawSync(b.body).toString('utf8'));
  } catch {
    return bad('block body is not compressed JSON');
  }
  if (!Array.isArray(raw) || raw.length === 0) return bad('block body is not a list of entries');
  const entries: ScannedEntry[] = [];
  let prev = b.seq - 1;
  for (const [i, x] of raw.entries()) {
    const seq = typeof (x as { seq?: unknown })?.seq === 'number' ? (x as { seq: number }).seq : NaN;
    if (!(seq > prev) || seq > b.last)
      return bad(`entry ${i} of the block (seq ${seq}) is out of order or out of the block's range ${b.seq}..${b.last}`);
    prev = seq;
    const e = StoredEntrySchema.safeParse(x);
    entries.push(e.success ? { seq, entry: entryOf(e.data) } : { seq, error: `malformed ledger entry: ${prettify(e.error)}` });
  }
  const lastOne = entries[entries.length - 1]!;
  if (lastOne.seq < b.last) entries.push({ seq: b.last, error: `entry ${b.last} is missing from its block` });
  else if (lastOne.entry && (lastOne.entry.hash !== b.hash || (lastOne.entry.expiresAt ?? null) !== (b.lastExp ?? null)))
    entries[entries.length - 1] = { ...lastOne, damage: "the block's head (hash, expiry) does not match its last entry" };
  return { first: b.seq, last: b.last, appendedAt: b.at, entries };
}

function decodeLegacyEntry(item: Record<string, unknown>): ScannedEntry {
  const seq = typeof item.seq === 'number' ? item.seq : NaN;
  const r = LegacyEntryItemSchema.safeParse(item);
  if (!r.success) return { seq, error: `malformed entry item: ${prettify(r.error)}` };
  const it = r.data;
  if (it.pk !== chunkPk(it.seq)) return { seq, error: `entry stored under ${it.pk}, expected ${chunkPk(it.seq)}` };
  let payload: unknown;
  try {
    payload = JSON.parse(it.payload);
  } catch {
    return { seq, error: 'payload is not JSON' };
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return { seq, error: 'payload is not a JSON object' };
  return { seq, entry: entryOf({ ...it, payload: payload as Record<string, unknown> }) };
}

function headOfBlockItem(item: Record<string, unknown>): LedgerHead | null {
  const { last, hash, lastExp, at } = item;
  if (typeof last !== 'number' || typeof hash !== 'string' || typeof at !== 'number') return null;
  return { seq: last, hash, expiresAt: typeof lastExp === 'number' ? lastExp : null, appendedAt: at };
}

function storedBlockOf(item: Record<string, unknown>): StoredBlock | null {
  const head = headOfBlockItem(item);
  const d = decodeBlock(item);
  if (!head) return null;
  return { first: d.first, head, ids: d.entries.flatMap((e) => (e.entry ? [e.entry.id] : [])) };
}

export class DynamoLedgerStore implements LedgerStore {
  readonly maxEntriesPerCommit = MAX_BLOCK_ENTRIES;
  readonly maxBytesPerCommit = MAX_BLOCK_BYTES;
  /** seq of the first block, once known (it never changes after the first block) */
  private blocksFrom: number | null = null;

  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    readonly tableName: string,
    /** items per Query page when scanning (tests use small pages to exercise paging) */
    private readonly pageSize = 1000,
  ) {}

  async readHint(): Promise<LedgerHead | null> {
    const out = await this.ddb.send(new GetCommand({ TableName: this.tableName, Key: { pk: HEAD_PK, seq: 0 }, ConsistentRead: true }));
    if (!out.Item) return null;
    const r = HeadItemSchema.safeParse(out.Item);
    if (!r.success) throw new StoreError(`ledger head item is malformed: ${z.prettifyError(r.error)}`);
    if (r.data.blocksFrom !== undefined) this.blocksFrom = r.data.blocksFrom;
    return { seq: r.data.lastSeq, hash: r.data.hash, expiresAt: r.data.lastExpiresAt ?? null, appendedAt: r.data.appendedAt };
  }

  /** Where blocks begin: entries before it are in the per-entry layout. */
  private async firstBlockSeq(hint?: LedgerHead | null): Promise<number> {
    if (this.blocksFrom !== null) return this.blocksFrom;
    const h = hint === undefined ? await this.readHint() : hint;
    // readHint caches blocksFrom when the head has it; a head without it predates blocks
    return this.blocksFrom ?? (h ? h.seq + 1 : 1);
  }

  private async query(
    pk: string,
    cond: { from?: number; to?: number },
    opts: { desc?: boolean; limit?: number; start?: Record<string, unknown> },
  ) {
    const range =
      cond.from !== undefined && cond.to !== undefined
        ? ' AND seq BETWEEN :from AND :to'
        : cond.from !== undefined
          ? ' AND seq >= :from'
          : cond.to !== undefined
            ? ' AND seq <= :to'
            : '';
    return this.ddb.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: `pk = :pk${range}`,
        ExpressionAttributeValues: {
          ':pk': pk,
          ...(cond.from !== undefined ? { ':from': cond.from } : {}),
          ...(cond.to !== undefined ? { ':to': cond.to } : {}),
        },
        ConsistentRead: true,
        ScanIndexForward: !opts.desc,
        Limit: opts.limit ?? this.pageSize,
        ExclusiveStartKey: opts.start,
      }),
    );
  }

  async readTail(): Promise<LedgerHead | null> {
    const hint = await this.readHint();
    let tail = hint;
    let from = Math.max(hint ? hint.seq + 1 : 1, await this.firstBlockSeq(hint));
    // the last block of a chunk is its newest; the next one, if any, starts in a later chunk
    for (let c = chunkOf(from); ; ) {
      const out = await this.query(`B#${c}`, { from }, { desc: true, limit: 1 });
      const item = out.Items?.[0];
      const head = item ? headOfBlockItem(item) : null;
      if (!head) return tail;
      tail = head;
      from = head.seq + 1;
      if (chunkOf(from) === c) return tail;
      c = chunkOf(from);
    }
  }

  async commit(c: LedgerCommit): Promise<CommitResult> {
    const first = c.entries[0];
    if (!first) return { ok: true };
    if (c.entries.length > this.maxEntriesPerCommit)
      throw new StoreError(`a ledger block holds at most ${this.maxEntriesPerCommit} entries`);
    if (first.seq !== (c.expect?.seq ?? 0) + 1)
      throw new StoreError(`a block after ${c.expect?.seq ?? 0} must start at ${(c.expect?.seq ?? 0) + 1}`);
    const T = this.tableName;
    const block = encodeBlock(c.entries, c.head);
    const blockPut = { TableName: T, Item: block, ConditionExpression: 'attribute_not_exists(pk)' };
    const knownFrom = this.blocksFrom !== null;
    if (c.checkpoints.length === 0 && knownFrom) {
      try {
        await this.ddb.send(new PutCommand(blockPut));
      } catch (e) {
        if (e instanceof ConditionalCheckFailedException) return { ok: false, reason: 'conflict' };
        throw e;
      }
      if (c.hint) await this.moveHint(c.head);
      return { ok: true };
    }
    // the first block (it records where blocks begin) and blocks with checkpoints: one transaction
    try {
      await this.ddb.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: blockPut },
            ...c.checkpoints.map((cp) => ({
              Put: {
                TableName: T,
                Item: {
                  pk: CHECKPOINT_PK,
                  seq: cp.seq,
                  hash: cp.hash,
                  retentionStart: cp.retentionStart,
                  ...(cp.expiresAt !== null ? { entryExpiresAt: cp.expiresAt } : {}),
                },
              },
            })),
            { Update: { TableName: T, Key: { pk: HEAD_PK, seq: 0 }, ...this.hintUpdate(c.head, first.seq) } },
          ],
        }),
      );
    } catch (e) {
      // the block's seq is taken (ConditionalCheckFailed), or another transaction touched the
      // same items at the same time (TransactionConflict): either way, read on and try again
      if (
        e instanceof TransactionCanceledException &&
        (e.CancellationReasons ?? []).some((r) => r.Code === 'ConditionalCheckFailed' || r.Code === 'TransactionConflict')
      ) {
        return { ok: false, reason: 'conflict' };
      }
      throw e;
    }
    if (!knownFrom) await this.readHint();
    return { ok: true };
  }

  /** SET the hint to `head` (never backwards), recording where blocks begin if not yet recorded. */
  private hintUpdate(head: LedgerHead, firstBlock?: number) {
    const values: Record<string, unknown> = { ':s': head.seq, ':h': head.hash, ':a': head.appendedAt };
    let set = 'SET lastSeq = :s, #hash = :h, appendedAt = :a';
    if (firstBlock !== undefined) {
      set += ', blocksFrom = if_not_exists(blocksFrom, :bf)';
      values[':bf'] = firstBlock;
    }
    let expr: string;
    if (head.expiresAt !== null) {
      values[':e'] = head.expiresAt;
      expr = `${set}, lastExpiresAt = :e`;
    } else expr = `${set} REMOVE lastExpiresAt`;
    return {
      UpdateExpression: expr,
      ConditionExpression: 'attribute_not_exists(lastSeq) OR lastSeq < :s',
      ExpressionAttributeNames: { '#hash': 'hash' },
      ExpressionAttributeValues: values,
    };
  }

  private async moveHint(head: LedgerHead): Promise<void> {
    try {
      await this.ddb.send(new UpdateCommand({ TableName: this.tableName, Key: { pk: HEAD_PK, seq: 0 }, ...this.hintUpdate(head) }));
    } catch (e) {
      // a newer hint is there already (another writer): it only ever moves forwards
      if (!(e instanceof ConditionalCheckFailedException)) throw e;
    }
  }

  async *scan(fromSeq: number, toSeq: number): AsyncIterable<ScannedEntry> {
    if (toSeq < fromSeq) return;
    const open = toSeq === Number.POSITIVE_INFINITY;
    const hint = open ? await this.readHint() : undefined;
    const blocksFrom = await this.firstBlockSeq(hint);
    if (fromSeq < blocksFrom) {
      yield* this.scanLegacy(fromSeq, Math.min(toSeq, blocksFrom - 1));
      if (toSeq < blocksFrom) return;
    }
    const from = Math.max(fromSeq, blocksFrom);
    // the block holding `from` starts at most MAX_BLOCK_ENTRIES - 1 before it
    const startKey = Math.max(blocksFrom, from - MAX_BLOCK_ENTRIES + 1);
    let lastSeen = Math.max(hint?.seq ?? 0, from - 1);
    for (let c = chunkOf(startKey); open || c <= chunkOf(toSeq); c++) {
      let found = false;
      let start: Record<string, unknown> | undefined;
      do {
        const out = await this.query(
          `B#${c}`,
          { from: c === chunkOf(startKey) ? startKey : c * LEDGER_CHUNK_SIZE, ...(open ? {} : { to: toSeq }) },
          { start },
        );
        for (const item of out.Items ?? []) {
          found = true;
          const b = decodeBlock(item);
          if (Number.isFinite(b.last)) lastSeen = Math.max(lastSeen, b.last);
          for (const e of b.entries) if (e.seq >= from && e.seq <= toSeq) yield e;
        }
        start = out.LastEvaluatedKey;
      } while (start);
      // past the hint and the last block seen, an empty chunk is the end (blocks are much
      // smaller than a chunk, so no chunk of a live ledger is empty)
      if (open && !found && c >= chunkOf(lastSeen + 1)) return;
    }
  }

  private async *scanLegacy(fromSeq: number, toSeq: number): AsyncIterable<ScannedEntry> {
    for (let chunk = chunkOf(fromSeq); chunk <= chunkOf(toSeq); chunk++) {
      let start: Record<string, unknown> | undefined;
      do {
        const out = await this.query(`C#${chunk}`, { from: fromSeq, to: toSeq }, { start });
        for (const it of out.Items ?? []) yield decodeLegacyEntry(it);
        start = out.LastEvaluatedKey;
      } while (start);
    }
  }

  async *blocksAfter(seq: number): AsyncIterable<StoredBlock> {
    let from = Math.max(seq + 1, await this.firstBlockSeq());
    for (let c = chunkOf(from); ; c++) {
      let found = false;
      let start: Record<string, unknown> | undefined;
      do {
        const out = await this.query(`B#${c}`, { from }, { start });
        for (const item of out.Items ?? []) {
          const b = storedBlockOf(item);
          if (!b) continue;
          found = true;
          from = b.head.seq + 1;
          yield b;
        }
        start = out.LastEvaluatedKey;
      } while (start);
      if (!found && c >= chunkOf(from)) return;
    }
  }

  async *blocksBefore(seq: number): AsyncIterable<StoredBlock> {
    const blocksFrom = await this.firstBlockSeq();
    for (let c = chunkOf(seq); c >= chunkOf(blocksFrom); c--) {
      let found = false;
      let start: Record<string, unknown> | undefined;
      do {
        const out = await this.query(`B#${c}`, { to: seq }, { desc: true, start });
        for (const item of out.Items ?? []) {
          const b = storedBlockOf(item);
          if (!b || b.head.seq > seq) continue;
          found = true;
          yield b;
        }
        start = out.LastEvaluatedKey;
      } while (start);
      // an empty chunk below the last block: everything before it has expired
      if (!found && c < chunkOf(seq)) return;
    }
  }

  async legacyIds(ids: string[]): Promise<Map<string, number>> {
    const found = new Map<string, number>();
    if ((await this.firstBlockSeq()) === 1) return found;
    const unique = [...new Set(ids)];
    for (let i = 0; i < unique.length; i += 100) {
      let keys: Record<string, unknown>[] | undefined = unique.slice(i, i + 100).map((id) => ({ pk: idPk(id), seq: 0 }));
      for (let round = 0; keys && keys.length > 0; round++) {
        if (round > 10) throw new StoreError('BatchGetItem kept returning unprocessed keys');
        const out = await this.ddb.send(new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: keys, ConsistentRead: true } } }));
        for (const it of out.Responses?.[this.tableName] ?? []) found.set(String(it.pk).slice(3), Number(it.entrySeq));
        keys = out.UnprocessedKeys?.[this.tableName]?.Keys as Record<string, unknown>[] | undefined;
      }
    }
    return found;
  }

  async checkpoints(): Promise<LedgerCheckpoint[]> {
    const list: LedgerCheckpoint[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.query(CHECKPOINT_PK, {}, { start });
      for (const it of out.Items ?? []) {
        const r = CheckpointItemSchema.safeParse(it);
        // a damaged checkpoint is ignored (it only adds checks); verification still covers the chain
        if (r.success)
          list.push({
            seq: r.data.seq,
            hash: r.data.hash,
            expiresAt: r.data.entryExpiresAt ?? null,
            retentionStart: r.data.retentionStart,
          });
      }
      start = out.LastEvaluatedKey;
    } while (start);
    return list;
  }
}

export interface DynamoLedgerOptions {
  retentionDays?: number;
  clock?: Clock;
  logger?: Logger;
  digests?: LedgerDigestStore;
}

/** The LedgerService on the DynamoDB table (API: reads and replay; ledger writer: append). */
export function createDynamoLedger(
  ddb: DynamoDBDocumentClient,
  tableName: string,
  publisher?: EventPublisher,
  opts: DynamoLedgerOptions = {},
): LedgerService {
  return new LedgerService({ store: new DynamoLedgerStore(ddb, tableName), ...(publisher ? { publisher } : {}), ...opts });
}
