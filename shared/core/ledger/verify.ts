/**
 * Verification of the ledger's hash chain against its storage, in phases: the head hint, the
 * checkpoints and the digests are read; then every stored entry is checked in order, to the last
 * block (its hash, its link to the previous entry or that entry's checkpoint, its expiry, its own
 * checkpoint, and every digest of its seq); missing runs of entries are read again (an append
 * that landed while the scan passed shows up) and then told apart from legitimate expiry
 * (retention); the entries must reach the hint and match it there. The report names the first
 * bad seq.
 *
 * Exact under load: the hint, checkpoints and digests name only entries committed before the
 * scan starts, and the scan follows the chain to whatever block is last when it gets there, so
 * entries appended while verify runs are verified if the scan reaches them and otherwise simply
 * not part of the verified prefix; nothing appended meanwhile can look like a break.
 */
import type {
  DigestCheckReport,
  DigestMismatch,
  LedgerCheckpoint,
  LedgerEntry,
  LedgerHead,
  LedgerStore,
  LedgerVerifyReport,
  ScannedEntry,
  StoredDigest,
} from '../ports';
import type { Logger } from '../logger';
import { GENESIS_HASH, hashEntry } from './hash';
import { iso } from '../clock';

/** A checkpoint every this many entries (written by LedgerService, read here). */
export const LEDGER_CHECKPOINT_EVERY = 1000;

const inf = (x: number | null) => (x === null ? Infinity : x);

class ChainCheck {
  firstBad: number | null = null;
  private readonly cps = new Map<number, LedgerCheckpoint>();
  private readonly retentionStarts: number[] = [];
  private prev: LedgerEntry | null = null;
  /** the seq the next stored entry should have */
  next = 1;
  count = 0;
  /** the last entry read (the head of the verified prefix) */
  last: LedgerEntry | null = null;
  /** digests by seq, and what became of each */
  private readonly digests = new Map<number, StoredDigest[]>();
  private readonly digestSeen = new Set<StoredDigest>();
  readonly mismatched: DigestMismatch[] = [];
  private matching: StoredDigest | null = null;
  private expiredDigests = 0;

  constructor(
    checkpoints: LedgerCheckpoint[],
    private readonly nowS: number,
    private readonly log: Logger,
    private readonly hint: LedgerHead | null,
    digests: StoredDigest[] | null,
  ) {
    for (const cp of checkpoints) {
      this.cps.set(cp.seq, cp);
      if (cp.retentionStart) this.retentionStarts.push(cp.seq);
    }
    for (const d of digests ?? []) this.digests.set(d.seq, [...(this.digests.get(d.seq) ?? []), d]);
  }

  /** One scanned item, in seq order. */
  feed(it: ScannedEntry): void {
    if (it.error !== undefined) {
      this.unreadable(it.seq, it.error);
      this.digestAt(it.seq, null);
      return;
    }
    this.entry(it.entry);
    if (it.damage !== undefined) this.bad(it.seq, it.damage);
    this.digestAt(it.seq, it.entry.hash);
  }

  private digestAt(seq: number, found: string | null): void {
    for (const d of this.digests.get(seq) ?? []) {
      this.digestSeen.add(d);
      this.compare(d, found);
    }
  }

  private compare(d: StoredDigest, found: string | null): void {
    if (found === d.hash) {
      if (!this.matching || d.seq > this.matching.seq || (d.seq === this.matching.seq && d.at > this.matching.at)) this.matching = d;
      return;
    }
    this.mismatched.push({ ref: d.ref, seq: d.seq, at: iso(d.at), anchored: d.hash, found });
    this.bad(
      d.seq,
      found === null ? `entry ${d.seq} anchored by digest ${d.ref} is missing` : `entry ${d.seq} no longer matches digest ${d.ref}`,
    );
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
    this.last = e;
    if (this.hint && e.seq === this.hint.seq && (e.hash !== this.hint.hash || (e.expiresAt ?? null) !== this.hint.expiresAt))
      this.bad(e.seq, 'the entry does not match the ledger head hint');
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

  /** After the last stored entry: what is missing up to the hint, and the digests not met on the way. */
  end(hintNow: LedgerHead | null): void {
    const hint = this.hint;
    // the first block writes the hint with it: entries without one (read again now, as the first
    // block may have landed after the hint was read) mean it was deleted
    if (!hint && !hintNow && this.last) this.bad(this.firstSeen ?? this.last.seq, 'entries without a ledger head hint');
    if (!hint && !hintNow && this.cps.size > 0) this.bad(this.firstCheckpoint, 'checkpoint without a ledger head hint');
    if (hint && this.next <= hint.seq) this.gap(this.next, hint.seq, hint.expiresAt);
    const end = this.last?.seq ?? 0;
    for (const [seq, ds] of this.digests)
      for (const d of ds) {
        if (this.digestSeen.has(d)) continue;
        if (seq > Math.max(end, hint?.seq ?? 0)) {
          this.compare(d, null); // the ledger now ends before an entry that was anchored
          continue;
        }
        // missing: expired (a deletion was reported by the gap check); its checkpoint, if any, still has its hash
        const cp = this.cps.get(seq);
        if (cp) this.compare(d, cp.hash);
        else if (hint && seq === hint.seq) this.compare(d, hint.hash);
        else this.expiredDigests++;
      }
  }

  firstSeen: number | null = null;

  digestReport(total: number): DigestCheckReport {
    this.mismatched.sort((a, b) => a.seq - b.seq);
    const m = this.matching;
    return {
      ok: this.mismatched.length === 0,
      total,
      checked: total - this.expiredDigests,
      expired: this.expiredDigests,
      mismatched: this.mismatched,
      lastMatching: m ? { seq: m.seq, at: iso(m.at), ref: m.ref } : null,
    };
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

export async function verifyChain(
  store: LedgerStore,
  opts: { nowS: number; logger: Logger; digests?: StoredDigest[] | null },
): Promise<LedgerVerifyReport> {
  // First what names committed entries (the hint, the checkpoints; the caller read the digests
  // before this), then the entries: an intact ledger has everything they name in the scan.
  const hint = await store.readHint();
  const check = new ChainCheck(await store.checkpoints(), opts.nowS, opts.logger, hint, opts.digests ?? null);
  const feed = (it: ScannedEntry) => {
    check.firstSeen ??= it.seq;
    check.feed(it);
  };
  // a missing run is read again before it counts as missing: a block that landed after the
  // scan passed its place shows up now (appends only ever add blocks; a deleted one stays gone)
  const reread = async (a: number, b: number) => {
    for await (const it of store.scan(a, b)) if (it.seq >= check.next) feed(it);
  };
  for await (const it of store.scan(1, Number.POSITIVE_INFINITY)) {
    if (it.seq < check.next) continue; // read again already
    if (it.seq > check.next) await reread(check.next, it.seq - 1);
    feed(it);
  }
  if (hint && check.next <= hint.seq) await reread(check.next, hint.seq);
  check.end(hint ?? (check.last || check.hasCheckpoints ? await store.readHint() : null));
  const head = check.last && check.last.seq >= (hint?.seq ?? 0) ? check.last.hash : (hint?.hash ?? GENESIS_HASH);
  const report: LedgerVerifyReport = { ok: check.firstBad === null, entries: check.count, head, firstBad: check.firstBad };
  if (opts.digests) report.digests = check.digestReport(opts.digests.length);
  return report;
}
