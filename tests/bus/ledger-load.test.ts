/**
 * Verification while the ledger is being written: 20 publishers keep the local bus and the very
 * ledger-writer handler busy for at least 10 s (SQS batches of 10, as the FIFO queue delivers
 * them), and verify is called 50 times meanwhile, from two callers at once. Every call must say
 * ok: entries appended while it runs are verified if it reaches them, or not part of what it
 * verified, never a break. (Before blocks, verify read the head first and flagged every entry
 * appended after it: 166 of 169 calls said `ok: false` in this situation.)
 *
 * Nothing here depends on speed: the publishers run until both the 10 s have passed and the 50
 * calls have answered, however long that takes; each report is checked for what it says, not
 * for when it came.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { setImmediate as tick } from 'node:timers/promises';
import { createTestTables, type TestTables } from '../support/env';
import { LocalBus } from '../../local/bus';
import { RULES } from '../../shared/definitions/routing';
import { createLedgerWriterHandler } from '../../functions/ledger-writer/core';
import type { LedgerVerifyReport } from '../../shared/core/ports';
import { GENESIS_HASH } from '../../shared/core/ledger/hash';
import { allEntries, env, ledgerOn } from './helpers';

let t: TestTables;
beforeAll(async () => {
  t = await createTestTables();
});

describe('verify under load', () => {
  it('20 publishers for 10 s, 50 verify calls meanwhile: 50 × ok, each on a gap-free prefix', { timeout: 600_000 }, async () => {
    const writerLedger = ledgerOn(t.clients.ddb, t.names.Ledger);
    const bus = new LocalBus({
      rules: RULES,
      vars: { HOT_BUCKET: 'hot' },
      targets: { 'ledger-writer': createLedgerWriterHandler({ ledger: writerLedger }) },
    });
    // the API's ledger service: another instance, as the API Lambda is another process
    const reader = ledgerOn(t.clients.ddb, t.names.Ledger);
    const startedAt = Date.now();
    let stop = false;
    let published = 0;
    const publishers = Array.from({ length: 20 }, async (_, p) => {
      for (let i = 0; !stop; i++) {
        const batch = Array.from({ length: 1 + ((p + i) % 3) }, (_, j) => env(`load.${p % 4}`, `publisher-${p}`, { p, i, j }));
        await bus.publish(batch);
        published += batch.length;
        // keep the ledger queue short (the ledger grows while verify runs, and all of it is
        // ledgered soon after the publishers stop)
        if (published - (bus.stats().delivered.Ledger ?? 0) > 400) await bus.idle();
        await tick();
      }
    });
    const reports: LedgerVerifyReport[] = [];
    const verifier = async () => {
      while (reports.length < 50) {
        const r = await reader.verify();
        if (reports.length < 50) reports.push(r);
      }
    };
    await Promise.all([verifier(), verifier()]);
    // the publishers go on for 10 s at least, however fast the 50 calls were
    while (Date.now() - startedAt < 10_000) await reader.verify().then((r) => expect(r).toMatchObject({ ok: true, firstBad: null }));
    stop = true;
    await Promise.all(publishers);
    await bus.idle();

    expect(reports).toHaveLength(50);
    for (const r of reports) expect(r).toMatchObject({ ok: true, firstBad: null });
    // each call verified a prefix, and the ledger grew while they ran
    const counts = reports.map((r) => r.entries);
    expect(Math.max(...counts)).toBeGreaterThan(Math.min(...counts));
    const entries = await allEntries(reader);
    expect(entries).toHaveLength(published);
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: published }, (_, i) => i + 1));
    for (const r of reports) expect(r.head).toBe(r.entries === 0 ? GENESIS_HASH : entries[r.entries - 1]!.hash);
    expect(await reader.verify()).toEqual({ ok: true, entries: published, head: entries[published - 1]!.hash, firstBad: null });
    console.log(
      `verify under load: ${published} entries appended; the 50 calls verified ${Math.min(...counts)}..${Math.max(...counts)} entries`,
    );
  });
});
