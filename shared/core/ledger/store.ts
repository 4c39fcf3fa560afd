/**
 * LedgerStore: the storage port of the ledger (DynamoDB adapter: shared/adapters/aws/dynamo-ledger.ts).
 * The store knows nothing about hashing; LedgerService computes entries and the store commits
 * them atomically with the head and the event-id markers.
 */
import type { LedgerEntry } from '../ports';

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
  /** consecutive entries, seq = expect.seq + 1, ... */
  entries: LedgerEntry[];
  head: LedgerHead;
  checkpoints: LedgerCheckpoint[];
}

/** A commit either lands entirely or not at all (the head moved: a concurrent append). */
export type CommitResult = { ok: true } | { ok: false; reason: 'conflict' };

/** One stored entry read back: decoded, or why it cannot be (tampered / damaged item). */
export type ScannedEntry = { seq: number; entry: LedgerEntry; error?: undefined } | { seq: number; entry?: undefined; error: string };

export interface LedgerStore {
  /** limits of one atomic commit */
  readonly maxEntriesPerCommit: number;
  readonly maxBytesPerCommit: number;
  readHead(): Promise<LedgerHead | null>;
  /**
   * Atomically: every entry, a marker per event id, the checkpoints and the new head, only if the
   * stored head is still `expect` (absent for null). Nothing is written otherwise.
   */
  commit(c: LedgerCommit): Promise<CommitResult>;
  /** event ids already recorded → their seq */
  findIds(ids: string[]): Promise<Map<string, number>>;
  /** stored entries with fromSeq <= seq <= toSeq, ascending; stop iterating to stop reading */
  scan(fromSeq: number, toSeq: number): AsyncIterable<ScannedEntry>;
  checkpoints(): Promise<LedgerCheckpoint[]>;
}
