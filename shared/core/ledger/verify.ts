/**
 * Verification of the ledger's hash chain against its storage, in phases: the head and the
 * checkpoints are read; an empty ledger must really be empty; every stored entry is checked in
 * order (its hash, its link to the previous entry or that entry's checkpoint, its expiry and its
 * own checkpoint); missing runs of entries are told apart from legitimate expiry (retention);
 * the head must match the last entry; and nothing may exist beyond the head. The report names
 * the first bad seq.
 */
import type { LedgerCheckpoint, LedgerEntry, LedgerHead, LedgerStore, LedgerVerifyReport } from '../ports';
import type { Logger } from '../logger';
import { GENESIS_HASH, hashEntry } from './hash';

/** A checkpoint every this many entries (written by LedgerService, read here). */
export const LEDGER_CHECKPOINT_EVERY = 1000;

const inf = (x: number | null) => (x === null ? Infinity : x);

class ChainCheck {
  firstBad: number | null = null;
  private readonly cps = new Map<number, LedgerCheckpoint>();
  private readonly retentionStarts: number[] = [];
  private prev: LedgerEntry | null = null;
  /** the seq the next stored entry should have */
  private next = 1;
  count = 0;

  constructor(
    checkpoints: LedgerCheckpoint[],
    private readonly nowS: number,
    private readonly log: Logger,
  ) {
    for (const cp of checkpoints) {
      this.cps.set(cp.seq, cp);
      if (cp.retentionStart) this.retentionStarts.push(cp.seq);
    }
  }

  get hasCheckpoints(): boolean {
    return this.cps.size > 0;
  }

  get firstCheckpoint(): number {
    return Math.min(...this.cps.keys());
  }

  bad(seq: number, why: string): void {
    if (this.firstBad === null || seq < this.firstBad) {
      this.firstBad = seq;
      this.log.warn('ledger verification failed', { seq, why });
    }
  }

  /** A stored item that could not be decoded (tampered or damaged). */
  unreadable(seq: number, why: string): void {
    this.count++;
    this.bad(seq, why);
    this.prev = null;
    this.next = seq + 1;
  }

  /** One stored entry, in seq order. */
  entry(e: LedgerEntry): void {
    this.count++;
    if (e.seq > this.next) this.gap(this.next, e.seq - 1, e.prevExpiresAt ?? null);
    if (hashEntry(e, e.prevHash) !== e.hash) this.bad(e.seq, 'hash does not match the content');
    this.link(e);
    const exp = e.expiresAt ?? null;
    const prevExp = e.prevExpiresAt ?? null;
    if (exp !== null && prevExp !== null && exp < prevExp) this.bad(e.seq, 'expiry goes back in time');
    const cp = this.cps.get(e.seq);
    if (cp && (cp.hash !== e.hash || cp.expiresAt !== exp)) this.bad(e.seq, 'entry does not match its checkpoint');
    this.prev = e;
    this.next = e.seq + 1;
  }

  /** Its link to what came before: genesis, the previous entry, or that entry's checkpoint. */
  private link(e: LedgerEntry): void {
    const prevExp = e.prevExpiresAt ?? null;
    const prev = this.prev;
    if (e.seq === 1) {
      if (e.prevHash !== GENESIS_HASH || prevExp !== null) this.bad(e.seq, 'first entry does not start from genesis');
    } else if (prev && prev.seq === e.seq - 1) {
      if (e.prevHash !== prev.hash) this.bad(e.seq, 'prevHash does not match the previous entry');
      if (prevExp !== (prev.expiresAt ?? null)) this.bad(e.seq, 'prevExpiresAt does not match the previous entry');
    } else {
      const cp = this.cps.get(e.seq - 1);
      if (cp && (cp.hash !== e.prevHash || cp.expiresAt !== prevExp))
        this.bad(e.seq, 'prevHash does not match the checkpoint of the previous entry');
    }
  }

  /** After the last stored entry: what is missing up to the head, and the head itself. */
  end(head: LedgerHead): void {
    if (this.next <= head.seq) this.gap(this.next, head.seq, head.expiresAt);
    if (this.prev && this.prev.seq === head.seq && this.prev.hash !== head.hash)
      this.bad(head.seq, 'the head does not match the last entry');
  }

  private gap(a: number, b: number, lastExp: number | null): void {
    const prev = this.prev;
    const before = prev && prev.seq === a - 1 ? { exp: prev.expiresAt ?? null } : null;
    const at = this.missingBad(a, b, lastExp, before);
    if (at !== null) this.bad(at, `entries ${a}..${b} are missing, and entry ${at} had not expired`);
  }

  /**
   * Entries a..b are all missing. Returns the first of them that certainly had not expired
   * (so was deleted or lost), or null if they may all have expired legitimately.
   * `lastExp`: expiresAt of b (known from b+1's prevExpiresAt, or from the head);
   * `before`: expiresAt of a-1 when that entry is present. Expiry never decreases along the
   * chain (null = never), except at retention starts (checkpointed), where a never-expiring
   * entry is followed by an expiring one.
   */
  private missingBad(a: number, b: number, lastExp: number | null, before: { exp: number | null } | null): number | null {
    const inside = this.retentionStarts.filter((s) => s > a && s <= b);
    if (inside.length > 0) {
      // entry s-1 of the first start never expires: the gap up to it is certainly bad somewhere
      return this.missingBad(a, Math.min(...inside) - 1, null, before) ?? a;
    }
    // a..b is monotone; so is a-1..b unless a itself is a retention start
    if (before && !this.retentionStarts.includes(a) && inf(before.exp) > this.nowS) return a;
    if (inf(lastExp) <= this.nowS) return null;
    let first = b;
    for (const cp of this.cps.values()) if (cp.seq >= a && cp.seq < first && inf(cp.expiresAt) > this.nowS) first = cp.seq;
    return first;
  }
}

export async function verifyChain(store: LedgerStore, opts: { nowS: number; logger: Logger }): Promise<LedgerVerifyReport> {
  const head = await store.readHead();
  const check = new ChainCheck(await store.checkpoints(), opts.nowS, opts.logger);
  if (!head) {
    // an empty ledger must really be empty
    for await (const it of store.scan(1, LEDGER_CHECKPOINT_EVERY)) {
      check.bad(it.seq, 'entry without a ledger head');
      break;
    }
    if (check.firstBad === null && check.hasCheckpoints) check.bad(check.firstCheckpoint, 'checkpoint without a ledger head');
    return { ok: check.firstBad === null, entries: 0, head: GENESIS_HASH, firstBad: check.firstBad };
  }
  for await (const it of store.scan(1, head.seq)) {
    if (it.error !== undefined) check.unreadable(it.seq, it.error);
    else check.entry(it.entry);
  }
  check.end(head);
  // an entry beyond the head was not written by the ledger writer
  for await (const it of store.scan(head.seq + 1, head.seq + 1)) check.bad(it.seq, 'entry beyond the ledger head');
  return { ok: check.firstBad === null, entries: check.count, head: head.hash, firstBad: check.firstBad };
}
