/**
 * The ledger's hash chain. Each entry's hash is
 *
 *   SHA-256( "agent-ledger:v1\0" || prevHash || "\0" || canonicalJson(content) )   (hex)
 *
 * over UTF-8 bytes, where `prevHash` is the previous entry's hash (64 zeros for seq 1) and
 * `content` is {seq, id, ts, topic, sender, recipient, payload, replayOf, expiresAt,
 * prevExpiresAt} with absent optional fields as null. The domain prefix keeps these hashes
 * from ever colliding with hashes of other things the orchestrator signs or hashes (bundles use
 * "agent-bundle:v1:"); the NUL separators make the split between the parts unambiguous.
 */
import { createHash } from 'node:crypto';
import type { LedgerEntry } from '../ports';
import { canonicalJson } from './canonical';

export const LEDGER_HASH_DOMAIN = 'agent-ledger:v1\0';
export const GENESIS_HASH = '0'.repeat(64);

export type LedgerContent = Omit<LedgerEntry, 'hash' | 'prevHash'>;

/** The object the hash covers (absent optional fields as null, so "absent" is hashed too). */
export function hashedContent(c: LedgerContent): Record<string, unknown> {
  return {
    seq: c.seq,
    id: c.id,
    ts: c.ts,
    topic: c.topic,
    sender: c.sender,
    recipient: c.recipient ?? null,
    payload: c.payload,
    replayOf: c.replayOf ?? null,
    expiresAt: c.expiresAt ?? null,
    prevExpiresAt: c.prevExpiresAt ?? null,
  };
}

export function hashEntry(c: LedgerContent, prevHash: string): string {
  return createHash('sha256')
    .update(LEDGER_HASH_DOMAIN, 'utf8')
    .update(prevHash, 'utf8')
    .update('\0', 'utf8')
    .update(canonicalJson(hashedContent(c)), 'utf8')
    .digest('hex');
}
