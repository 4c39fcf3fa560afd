/**
 * DynamoDB adapter of the ledger (LedgerStore; table LEDGER_TABLE of shared/definitions/tables.ts,
 * key `pk` (S) + `seq` (N), TTL attribute `expiresAt`). Items:
 *
 *   entries      pk `C#<chunk>` (chunk = floor(seq / LEDGER_CHUNK_SIZE)), seq, id, ts, topic,
 *                sender, recipient?, payload (canonical JSON text), replayOf?, hash, prevHash,
 *                expiresAt? (TTL), prevExpiresAt?
 *   id markers   pk `ID#<event id>`, seq 0, entrySeq, expiresAt? (TTL, same as the entry's)
 *   head         pk `HEAD`, seq 0, lastSeq, hash, lastExpiresAt?, appendedAt   (no TTL)
 *   checkpoints  pk `CP`, seq, hash, entryExpiresAt?, retentionStart             (no TTL)
 *
 * Chunks keep every item collection small and let a range read be one Query per chunk. The
 * payload is stored as its canonical JSON text, not as a DynamoDB map: a map would not round-trip
 * every JSON number (DynamoDB's range and precision differ from JSON's) and the hash must be
 * recomputable from what is stored. Entries are only ever written by `commit`: one
 * TransactWriteItems with a Put per entry, a Put per id marker, the head (condition
 * `lastSeq = :expected`, or absent for the first commit) and the checkpoints. The head condition
 * alone serializes all writers: a commit lands only on the head it was computed from, so its
 * seqs are fresh, and the service checked the ids after taking that head (see LedgerService).
 * (Per-item attribute_not_exists conditions would be redundant, and they double the cost of a
 * commit on DynamoDB Local.) At most 45 entries per commit (2 items each + head + checkpoints
 * ≤ 100, the TransactWriteItems limit) and 3.5 MB (the request limit is 4 MB).
 *
 * `createDynamoLedger(ddb, tableName, publisher, opts)` builds the LedgerService on top of it.
 */
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, GetCommand, QueryCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { EnvelopeSchema } from '../../core/envelope';
import type { EventPublisher, LedgerEntry } from '../../core/ports';
import type { Clock } from '../../core/clock';
import type { Logger } from '../../core/logger';
import { canonicalJson } from '../../core/ledger/canonical';
import { LedgerService } from '../../core/ledger/service';
import type { CommitResult, LedgerCheckpoint, LedgerCommit, LedgerHead, LedgerStore, ScannedEntry } from '../../core/ports';
import { StoreError } from './errors';

export const LEDGER_CHUNK_SIZE = 1000;
export const HEAD_PK = 'HEAD';
export const CHECKPOINT_PK = 'CP';
export const chunkPk = (seq: number): string => `C#${Math.floor(seq / LEDGER_CHUNK_SIZE)}`;
export const idPk = (id: string): string => `ID#${id}`;

const HASH = z.string().regex(/^[0-9a-f]{64}$/, 'a hex SHA-256');
const SEC = z.number().int().nonnegative();

/** A stored entry item (the decoder is strict: an unexpected or missing attribute is damage). */
const EntryItemSchema = z
  .object({
    pk: z.string(),
    seq: z.number().int().positive(),
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
  lastSeq: z.number().int().positive(),
  hash: HASH,
  lastExpiresAt: SEC.optional(),
  appendedAt: z.number(),
});
const CheckpointItemSchema = z.object({
  seq: z.number().int().positive(),
  hash: HASH,
  entryExpiresAt: SEC.optional(),
  retentionStart: z.boolean(),
});

function decodeEntry(item: Record<string, unknown>): ScannedEntry {
  const seq = typeof item.seq === 'number' ? item.seq : NaN;
  const r = EntryItemSchema.safeParse(item);
  if (!r.success) return { seq, error: `malformed entry item: ${z.prettifyError(r.error).replace(/\n/g, '; ')}` };
  const it = r.data;
  if (it.pk !== chunkPk(it.seq)) return { seq, error: `entry stored under ${it.pk}, expected ${chunkPk(it.seq)}` };
  let payload: unknown;
  try {
    payload = JSON.parse(it.payload);
  } catch {
    return { seq, error: 'payload is not JSON' };
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return { seq, error: 'payload is not a JSON object' };
  const entry: LedgerEntry = {
    seq: it.seq,
    id: it.id,
    ts: it.ts,
    topic: it.topic,
    sender: it.sender,
    ...(it.recipient !== undefined ? { recipient: it.recipient } : {}),
    payload: payload as Record<string, unknown>,
    ...(it.replayOf !== undefined ? { replayOf: it.replayOf } : {}),
    hash: it.hash,
    prevHash: it.prevHash,
    ...(it.expiresAt !== undefined ? { expiresAt: it.expiresAt } : {}),
    ...(it.prevExpiresAt !== undefined ? { prevExpiresAt: it.prevExpiresAt } : {}),
  };
  return { seq, entry };
}

function encodeEntry(e: LedgerEntry): Record<string, unknown> {
  return {
    pk: chunkPk(e.seq),
    seq: e.seq,
    id: e.id,
    ts: e.ts,
    topic: e.topic,
    sender: e.sender,
    ...(e.recipient !== undefined ? { recipient: e.recipient } : {}),
    payload: canonicalJson(e.payload),
    ...(e.replayOf !== undefined ? { replayOf: e.replayOf } : {}),
    hash: e.hash,
    prevHash: e.prevHash,
    ...(e.expiresAt !== undefined ? { expiresAt: e.expiresAt } : {}),
    ...(e.prevExpiresAt !== undefined ? { prevExpiresAt: e.prevExpiresAt } : {}),
  };
}

export class DynamoLedgerStore implements LedgerStore {
  readonly maxEntriesPerCommit = 45;
  readonly maxBytesPerCommit = 3_500_000;

  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    readonly tableName: string,
    /** items per Query page when scanning (tests use small pages to exercise paging) */
    private readonly pageSize = 1000,
  ) {}

  async readHead(): Promise<LedgerHead | null> {
    const out = await this.ddb.send(new GetCommand({ TableName: this.tableName, Key: { pk: HEAD_PK, seq: 0 }, ConsistentRead: true }));
    if (!out.Item) return null;
    const r = HeadItemSchema.safeParse(out.Item);
    if (!r.success) throw new StoreError(`ledger head item is malformed: ${z.prettifyError(r.error)}`);
    return { seq: r.data.lastSeq, hash: r.data.hash, expiresAt: r.data.lastExpiresAt ?? null, appendedAt: r.data.appendedAt };
  }

  async commit(c: LedgerCommit): Promise<CommitResult> {
    if (c.entries.length === 0) return { ok: true };
    if (c.entries.length > this.maxEntriesPerCommit)
      throw new StoreError(`a ledger commit holds at most ${this.maxEntriesPerCommit} entries`);
    const T = this.tableName;
    const items: NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']> = [];
    for (const e of c.entries) {
      items.push({ Put: { TableName: T, Item: encodeEntry(e) } });
      items.push({
        Put: {
          TableName: T,
          Item: { pk: idPk(e.id), seq: 0, entrySeq: e.seq, ...(e.expiresAt !== undefined ? { expiresAt: e.expiresAt } : {}) },
        },
      });
    }
    const head: Record<string, unknown> = { pk: HEAD_PK, seq: 0, lastSeq: c.head.seq, hash: c.head.hash, appendedAt: c.head.appendedAt };
    if (c.head.expiresAt !== null) head.lastExpiresAt = c.head.expiresAt;
    items.push(
      c.expect
        ? {
            Put: {
              TableName: T,
              Item: head,
              ConditionExpression: 'lastSeq = :expected',
              ExpressionAttributeValues: { ':expected': c.expect.seq },
            },
          }
        : { Put: { TableName: T, Item: head, ConditionExpression: 'attribute_not_exists(pk)' } },
    );
    for (const cp of c.checkpoints) {
      items.push({
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
      });
    }
    try {
      await this.ddb.send(new TransactWriteCommand({ TransactItems: items }));
      return { ok: true };
    } catch (e) {
      // the head moved (ConditionalCheckFailed) or another transaction touched the same items
      // at the same time (TransactionConflict): either way, re-read the head and try again
      if (
        e instanceof TransactionCanceledException &&
        (e.CancellationReasons ?? []).some((r) => r.Code === 'ConditionalCheckFailed' || r.Code === 'TransactionConflict')
      ) {
        return { ok: false, reason: 'conflict' };
      }
      throw e;
    }
  }

  async findIds(ids: string[]): Promise<Map<string, number>> {
    const found = new Map<string, number>();
    const unique = [...new Set(ids)];
    for (let i = 0; i < unique.length; i += 100) {
      let keys: Record<string, unknown>[] | undefined = unique.slice(i, i + 100).map((id) => ({ pk: idPk(id), seq: 0 }));
      for (let round = 0; keys && keys.length > 0; round++) {
        if (round > 10) throw new StoreError('BatchGetItem kept returning unprocessed keys');
        const out = await this.ddb.send(new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: keys, ConsistentRead: true } } }));
        for (const it of out.Responses?.[this.tableName] ?? []) {
          const pk = String(it.pk);
          found.set(pk.slice(3), Number(it.entrySeq));
        }
        keys = out.UnprocessedKeys?.[this.tableName]?.Keys as Record<string, unknown>[] | undefined;
      }
    }
    return found;
  }

  async *scan(fromSeq: number, toSeq: number): AsyncIterable<ScannedEntry> {
    if (toSeq < fromSeq) return;
    const lastChunk = Math.floor(toSeq / LEDGER_CHUNK_SIZE);
    for (let chunk = Math.floor(fromSeq / LEDGER_CHUNK_SIZE); chunk <= lastChunk; chunk++) {
      let start: Record<string, unknown> | undefined;
      do {
        const out = await this.ddb.send(
          new QueryCommand({
            TableName: this.tableName,
            KeyConditionExpression: 'pk = :pk AND seq BETWEEN :from AND :to',
            ExpressionAttributeValues: { ':pk': `C#${chunk}`, ':from': fromSeq, ':to': toSeq },
            ConsistentRead: true,
            Limit: this.pageSize,
            ExclusiveStartKey: start,
          }),
        );
        for (const it of out.Items ?? []) yield decodeEntry(it);
        start = out.LastEvaluatedKey;
      } while (start);
    }
  }

  async checkpoints(): Promise<LedgerCheckpoint[]> {
    const list: LedgerCheckpoint[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.ddb.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': CHECKPOINT_PK },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
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
