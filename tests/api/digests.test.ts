/**
 * `GET /ledger/verify?digests=true` and `agentctl ledger verify --digests` on the real API
 * listener (harness.ts: DynamoDB Local, the real LedgerService with a digest file): the report's
 * digest section, a rewrite of history found and named, bad query values refused, and 501 where
 * no digest store is configured.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { main } from '../../cli/agentctl';
import { FileDigestStore } from '../../shared/adapters/node/file-digest-store';
import { LedgerTable } from '../bus/helpers';
import { tempDir } from '../support/env';
import { startApiHarness, type ApiHarness } from './harness';

const dir = tempDir('orch-api-digests-');
let h: ApiHarness;
let plain: ApiHarness;
const digests = new FileDigestStore(join(dir.path, 'ledger-digests.jsonl'));

beforeAll(async () => {
  [h, plain] = await Promise.all([startApiHarness({ digests }), startApiHarness()]);
});

afterAll(async () => {
  await Promise.all([h?.close(), plain?.close()]);
  dir.cleanup();
});

async function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: { ...process.env, AGENT_DATA_DIR: join(dir.path, 'none'), AGENT_API_URL: h.url, AGENT_API_TOKEN: h.token },
  });
  return { code, stdout, stderr };
}

async function publish(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const r = await h.api('/events', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ topic: 'pay.made', payload: { i, amount: 10 } }),
    });
    expect(r.status).toBe(202);
  }
  await h.bus.idle();
}

describe('verify with digests through the API and agentctl', () => {
  it('anchored and intact: the digest section; agentctl says how many digests were checked', async () => {
    await publish(5);
    await h.ledger.writeDigest();
    await publish(5);
    await h.ledger.writeDigest();
    const head = await h.ledger.head();
    const res = await h.api('/ledger/verify?digests=true');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      ok: true,
      entries: head.seq,
      head: head.hash,
      firstBad: null,
      digests: {
        ok: true,
        total: 2,
        checked: 2,
        expired: 0,
        mismatched: [],
        lastMatching: { seq: head.seq, at: expect.any(String), ref: `${digests.file}:2` },
      },
    });
    // without the parameter (or =false): the contract's report, no digest section
    for (const q of ['', '?digests=false'])
      expect(Object.keys((await (await h.api(`/ledger/verify${q}`)).json()) as object).sort()).toEqual([
        'entries',
        'firstBad',
        'head',
        'ok',
      ]);
    const v = await run(['ledger', 'verify', '--digests']);
    expect(v).toMatchObject({ code: 0, stderr: '' });
    expect(v.stdout).toMatch(
      new RegExp(
        `^ledger ok: ${head.seq} entries, head ${head.hash}; 2 of 2 digests checked, last matching: #${head.seq} anchored \\S+\\n$`,
      ),
    );
  });

  it('history rewritten with every later hash recomputed: plain verify ok, with digests the digest is named (exit 1)', async () => {
    const raw = new LedgerTable(h.tables.clients.ddb, h.tables.names.Ledger);
    const restore = await raw.snapshot(3);
    const blocks = await raw.blocks();
    const originals = await Promise.all(blocks.map((b) => raw.snapshot(Number(b.seq))));
    const hint = (await raw.hint())!;
    await raw.rewriteFrom(3, (e) => {
      e.payload = { ...(e.payload as Record<string, unknown>), amount: 1_000_000 };
    });
    try {
      expect((await run(['ledger', 'verify'])).code).toBe(0);
      const body: unknown = await (await h.api('/ledger/verify?digests=true')).json();
      expect(body).toMatchObject({
        ok: false,
        firstBad: 5,
        digests: { ok: false, mismatched: [{ seq: 5 }, { seq: 10 }], lastMatching: null },
      });
      const v = await run(['ledger', 'verify', '--digests']);
      expect(v.code).toBe(1);
      expect(v.stderr).toContain(
        `ledger verification FAILED: first bad entry #5 (10 entries checked); 2 digest(s) no longer match, first: ${digests.file}:1 (entry #5 anchored`,
      );
    } finally {
      await restore();
      for (const r of originals) await r();
      await raw.put(hint);
    }
    expect((await run(['ledger', 'verify', '--digests'])).code).toBe(0);
  });

  it('refuses a bad value, and answers 501 where no digest store is configured', async () => {
    const bad = await h.api('/ledger/verify?digests=yes');
    expect(bad.status).toBe(400);
    const none = await plain.api('/ledger/verify?digests=true');
    expect(none.status).toBe(501);
    expect(await none.json()).toEqual({
      error: { code: 'ledger_digests_not_configured', message: 'this orchestrator has no ledger digest store configured' },
    });
    expect((await plain.api('/ledger/verify')).status).toBe(200);
  });
});
