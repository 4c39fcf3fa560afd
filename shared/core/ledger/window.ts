/**
 * The ledger writer's de-duplication window: the event ids of the blocks committed recently, in
 * memory, so that checking a batch against what is recorded costs no request (the per-entry id
 * markers it replaces cost a write each, and a read per batch).
 *
 * It holds whole blocks, newest at the end: every block that ends at or before the writer's head
 * and was appended at or after `coveredSince`. The writer adds its own blocks as it commits them
 * and the blocks of other writers when it catches up with them (it must, before its next commit
 * can land), so within the window the check is exact, concurrent writers included. It reaches
 * back as far as the oldest envelope of a batch needs (a duplicate of an envelope made at `ts`
 * was appended after `ts`, less clock skew), at most `maxAgeMs`, and keeps at most `maxIds` ids
 * (the oldest blocks go first; what falls out is no longer de-duplicated).
 */
import type { StoredBlock } from '../ports';

interface WindowBlock {
  first: number;
  last: number;
  at: number;
  ids: string[];
}

export class IdWindow {
  private readonly ids = new Map<string, number>();
  /** oldest first */
  private readonly blocks: WindowBlock[] = [];
  /** every block appended at or after this time (epoch ms) and ending at or before `end` is held */
  coveredSince = Number.POSITIVE_INFINITY;
  /** the window reached the first block: nothing older exists in the block layout */
  reachedStart = false;

  constructor(
    /** seq of the newest block held (the writer's head) */
    public end: number,
    private readonly maxIds: number,
  ) {
    if (end === 0) {
      this.coveredSince = Number.NEGATIVE_INFINITY;
      this.reachedStart = true;
    }
  }

  get size(): number {
    return this.ids.size;
  }

  /** seq of the oldest block held, or end + 1 */
  get start(): number {
    return this.blocks[0]?.first ?? this.end + 1;
  }

  has(id: string): number | undefined {
    return this.ids.get(id);
  }

  /** A block right after `end` (committed by this writer or found catching up). */
  push(b: StoredBlock): void {
    if (b.first !== this.end + 1) return;
    this.blocks.push({ first: b.first, last: b.head.seq, at: b.head.appendedAt, ids: b.ids });
    b.ids.forEach((id, i) => {
      this.ids.set(id, b.first + i);
    });
    this.end = b.head.seq;
    this.trim();
  }

  /** A block right before `start` (reading backwards). */
  unshift(b: StoredBlock): void {
    if (b.head.seq !== this.start - 1) return;
    this.blocks.unshift({ first: b.first, last: b.head.seq, at: b.head.appendedAt, ids: b.ids });
    b.ids.forEach((id, i) => {
      if (!this.ids.has(id)) this.ids.set(id, b.first + i);
    });
    this.coveredSince = b.head.appendedAt;
  }

  /** Drops blocks appended before `since` (and the oldest beyond maxIds). */
  evictBefore(since: number): void {
    while (this.blocks.length > 0 && this.blocks[0]!.at < since) this.dropOldest();
    if (this.coveredSince < since) this.coveredSince = since;
  }

  private trim(): void {
    while (this.ids.size > this.maxIds && this.blocks.length > 1) this.dropOldest();
  }

  private dropOldest(): void {
    const b = this.blocks.shift();
    if (!b) return;
    b.ids.forEach((id, i) => {
      if (this.ids.get(id) === b.first + i) this.ids.delete(id);
    });
    this.coveredSince = b.at + 1;
    this.reachedStart = false;
  }
}
