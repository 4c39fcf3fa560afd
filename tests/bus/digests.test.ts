/**
 * Digest anchoring against DynamoDB Local: the ledger's head is anchored (LedgerService.writeDigest
 * into the digest store); someone who can write the table then rewrites an entry and recomputes
 * every hash after it, blocks, head hint and checkpoints included. Verify without digests has no
 * way to tell (it says ok); with digests it says which digests no longer match, and which is the
 * last that still does. Also: a ledger cut short, the digest stores themselves (a file in local
 * mode; S3 with Object Lock in the cloud, whose version listing has no emulator: aws-sdk-client-mock,
 * exact requests asserted).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { appendFileSync, readFileSync } from 'node:fs';
import { mockClient } from 'aws-sdk-client-mock';
import { ListObjectVersionsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createTestTables, tempDir, type TestTables } from '../support/env';
import { FileDigestStore } from '../../shared/adapters/node/file-digest-store';
import { S3DigestStore } from '../../shared/adapters/aws/s3-digest-store';
import { LedgerDigestsUnavailableError } from '../../shared/core/ledger/errors';
import { FakeClock } from '../../shared/core/clock';
import { LedgerTable, T0, allEntries, env, ledgerOn } from './helpers';

let t: TestTables;
let n = 0;
async function freshTable(): Promise<string> {
  const { ensureTable } = await import('../../shared/adapters/aws/tables');
  const { LEDGER_TABLE } = await import('../../shared/definitions/tables');
  const name = `${t.names.Ledger}-d${++n}`;
  await ensureTable(t.clients.ddbRaw, LEDGER_TABLE, name);
  return name;
}
const dir = tempDir('orch-digests-');

beforeAll(async () => {
  t = await createTestTables();
});

describe('digest anchoring', () => {
  it('a rewrite with every later hash recomputed: verify without digests says ok, with digests names each digest that no longer matches', async () => {
    const table = await freshTable();
    const clock = new FakeClock(T0);
    const digests = new FileDigestStore(join(dir.path, 'rewrite.jsonl'));
    const ledger = ledgerOn(t.clients.ddb, table, { digests, clock });
    // 4 blocks of 10, a digest after each (seq 10, 20, 30, 40), a minute apart
    for (let b = 0; b < 4; b++) {
      await ledger.append(Array.from({ length: 10 }, (_, i) => env('orders.created', 'shop', { order: b * 10 + i, amount: 100 })));
      clock.advance(60_000);
      expect((await ledger.writeDigest()).written).toMatchObject({ seq: (b + 1) * 10 });
    }
    // nothing new: no digest
    expect((await ledger.writeDigest()).written).toBeNull();
    const before = await allEntries(ledger);
    expect(await ledger.verify({ digests: true })).toEqual({
      ok: true,
      entries: 40,
      head: before[39]!.hash,
      firstBad: null,
      digests: {
        ok: true,
        total: 4,
        checked: 4,
        expired: 0,
        mismatched: [],
        lastMatching: { seq: 40, at: new Date(T0 + 4 * 60_000).toISOString(), ref: `${digests.file}:4` },
      },
    });

    // the attack: order 14 now pays 1; every hash from entry 15 on recomputed and written back
    const raw = new LedgerTable(t.clients.ddb, table);
    const forged = await raw.rewriteFrom(15, (e) => {
      e.payload = { ...(e.payload as Record<string, unknown>), amount: 1 };
    });
    expect(forged.size).toBe(26);

    const plain = await ledger.verify();
    expect(plain).toEqual({ ok: true, entries: 40, head: forged.get(40), firstBad: null });
    const anchored = await ledger.verify({ digests: true });
    expect(anchored).toMatchObject({ ok: false, entries: 40, firstBad: 20 });
    expect(anchored.digests).toEqual({
      ok: false,
      total: 4,
      checked: 4,
      expired: 0,
      mismatched: [20, 30, 40].map((seq) => ({
        ref: `${digests.file}:${seq / 10}`,
        seq,
        at: new Date(T0 + (seq / 10) * 60_000).toISOString(),
        anchored: before[seq - 1]!.hash,
        found: forged.get(seq),
      })),
      // history up to entry 10 is as it was anchored
      lastMatching: { seq: 10, at: new Date(T0 + 60_000).toISOString(), ref: `${digests.file}:1` },
    });
    // the digest writer does not anchor the forged head over the old one: the digests stay, a new one is added
    clock.advance(60_000);
    await ledger.append([env('later', 'x', {})]);
    await ledger.writeDigest();
    expect((await ledger.verify({ digests: true })).digests).toMatchObject({
      total: 5,
      mismatched: [{ seq: 20 }, { seq: 30 }, { seq: 40 }],
    });
  });

  it('a ledger cut short (the last blocks deleted, the hint moved back) misses an anchored entry', async () => {
    const table = await freshTable();
    const digests = new FileDigestStore(join(dir.path, 'cut.jsonl'));
    const ledger = ledgerOn(t.clients.ddb, table, { digests });
    await ledger.append(Array.from({ length: 10 }, (_, i) => env('a', 'x', { i })));
    await ledger.writeDigest();
    await ledger.append(Array.from({ length: 10 }, (_, i) => env('b', 'x', { i })));
    await ledger.writeDigest();
    const raw = new LedgerTable(t.clients.ddb, table);
    const entries = await allEntries(ledger);
    const last = (await raw.blocks()).at(-1)!;
    await raw.putBody(last, []);
    await raw.put({ ...(await raw.hint())!, lastSeq: 10, hash: entries[9]!.hash });
    expect(await ledger.verify()).toMatchObject({ ok: true, entries: 10 });
    const r = await ledger.verify({ digests: true });
    expect(r).toMatchObject({ ok: false, entries: 10, firstBad: 20 });
    expect(r.digests?.mismatched).toEqual([expect.objectContaining({ seq: 20, anchored: entries[19]!.hash, found: null })]);
    expect(r.digests?.lastMatching).toMatchObject({ seq: 10 });
  });

  it('without a digest store: verify with digests and the digest writer are refused (501 at the API)', async () => {
    const ledger = ledgerOn(t.clients.ddb, await freshTable());
    await expect(ledger.verify({ digests: true })).rejects.toBeInstanceOf(LedgerDigestsUnavailableError);
    await expect(ledger.writeDigest()).rejects.toBeInstanceOf(LedgerDigestsUnavailableError);
    expect(await ledger.verify()).toMatchObject({ ok: true, entries: 0 });
  });
});

describe('digest stores', () => {
  const hash = (c: string) => c.repeat(64);

  it('file (local mode): appended lines, read back in seq order; lines that are not digests anchor nothing', async () => {
    const file = join(dir.path, 'store.jsonl');
    const s = new FileDigestStore(file);
    expect(await s.list()).toEqual([]);
    expect(await s.has(5)).toBe(false);
    await s.put({ seq: 9, hash: hash('b'), at: T0 + 1 });
    await s.put({ seq: 5, hash: hash('a'), at: T0 });
    appendFileSync(file, 'not json\n{"digest":"garbage"}\n');
    expect(await s.list()).toEqual([
      { seq: 5, hash: hash('a'), at: T0, ref: `${file}:2` },
      { seq: 9, hash: hash('b'), at: T0 + 1, ref: `${file}:1` },
    ]);
    expect(await s.has(5)).toBe(true);
    expect(readFileSync(file, 'utf8').split('\n')[0]).toBe(
      JSON.stringify({
        digest: `0000000000000009-${String(T0 + 1).padStart(13, '0')}-${hash('b')}`,
        seq: 9,
        hash: hash('b'),
        at: new Date(T0 + 1).toISOString(),
      }),
    );
  });

  it('S3 (Object Lock bucket): PutObject with a checksum; every version listed, also behind delete markers, across pages', async () => {
    const mock = mockClient(S3Client);
    try {
      const k = (seq: number, at: number, c: string) =>
        `ledger-digests/${String(seq).padStart(16, '0')}-${String(at).padStart(13, '0')}-${hash(c)}.json`;
      mock.on(PutObjectCommand).resolves({ VersionId: 'v9' });
      mock
        .on(ListObjectVersionsCommand, { Bucket: 'digests', Prefix: 'ledger-digests/' })
        .resolvesOnce({
          Versions: [
            { Key: k(3, T0, 'a'), VersionId: 'v1' },
            { Key: 'ledger-digests/README.txt', VersionId: 'x' },
          ],
          // a delete marker hides the object from ListObjectsV2; its locked version is still here
          DeleteMarkers: [{ Key: k(3, T0, 'a'), VersionId: 'dm1' }],
          IsTruncated: true,
          NextKeyMarker: k(3, T0, 'a'),
          NextVersionIdMarker: 'v1',
        })
        .resolvesOnce({ Versions: [{ Key: k(1, T0 - 5, 'c'), VersionId: 'v0' }], IsTruncated: false });
      mock.on(ListObjectVersionsCommand, { Prefix: 'ledger-digests/0000000000000003-' }).resolves({ Versions: [{ Key: k(3, T0, 'a') }] });
      mock.on(ListObjectVersionsCommand, { Prefix: 'ledger-digests/0000000000000004-' }).resolves({});
      const s = new S3DigestStore(new S3Client({ region: 'us-east-1' }), 'digests');
      expect(await s.put({ seq: 3, hash: hash('a'), at: T0 })).toEqual({
        seq: 3,
        hash: hash('a'),
        at: T0,
        ref: `${k(3, T0, 'a')}?versionId=v9`,
      });
      expect(mock.commandCalls(PutObjectCommand)[0]?.args[0].input).toEqual({
        Bucket: 'digests',
        Key: k(3, T0, 'a'),
        Body: JSON.stringify({ seq: 3, hash: hash('a'), at: new Date(T0).toISOString() }),
        ContentType: 'application/json',
        ChecksumAlgorithm: 'SHA256',
      });
      expect(await s.list()).toEqual([
        { seq: 1, hash: hash('c'), at: T0 - 5, ref: `${k(1, T0 - 5, 'c')}?versionId=v0` },
        { seq: 3, hash: hash('a'), at: T0, ref: `${k(3, T0, 'a')}?versionId=v1` },
      ]);
      expect(await s.has(3)).toBe(true);
      expect(await s.has(4)).toBe(false);
      expect(mock.commandCalls(ListObjectVersionsCommand).map((c) => c.args[0].input)).toEqual([
        { Bucket: 'digests', Prefix: 'ledger-digests/', KeyMarker: undefined, VersionIdMarker: undefined },
        { Bucket: 'digests', Prefix: 'ledger-digests/', KeyMarker: k(3, T0, 'a'), VersionIdMarker: 'v1' },
        { Bucket: 'digests', Prefix: 'ledger-digests/0000000000000003-', KeyMarker: undefined, VersionIdMarker: undefined, MaxKeys: 1 },
        { Bucket: 'digests', Prefix: 'ledger-digests/0000000000000004-', KeyMarker: undefined, VersionIdMarker: undefined, MaxKeys: 1 },
      ]);
    } finally {
      mock.restore();
    }
  });
});
