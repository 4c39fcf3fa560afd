/**
 * Digest records: what a digest store keeps for one digest, in one text form shared by the
 * stores (an S3 object key, a line of the local file). `seq` and `at` are zero-padded so that the
 * lexical order of the keys is the order of the digests.
 *
 *   <seq, 16 digits>-<at epoch ms, 13 digits>-<hash, 64 hex>      e.g. 0000000000012345-1767225600000-ab12…
 */
import type { LedgerDigest } from '../ports';

const RECORD = /^(\d{16})-(\d{13})-([0-9a-f]{64})$/;

export const digestSeqPrefix = (seq: number): string => String(seq).padStart(16, '0');

export function digestRecord(d: LedgerDigest): string {
  return `${digestSeqPrefix(d.seq)}-${String(d.at).padStart(13, '0')}-${d.hash}`;
}

/** The digest a record names, or null for anything else (which a store ignores). */
export function parseDigestRecord(s: string): LedgerDigest | null {
  const m = RECORD.exec(s);
  if (!m) return null;
  return { seq: Number(m[1]), at: Number(m[2]), hash: m[3]! };
}
