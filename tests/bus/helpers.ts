/** Shared helpers of the bus/ledger tests (real DynamoDB Local tables; port fakes only for SQS dispatch). */
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { DynamoLedgerStore, MAX_BLOCK_ENTRIES, blockPk, chunkPk } from '../../shared/adapters/aws/dynamo-ledger';
import { canonicalJson } from '../../shared/core/ledger/canonical';
import { GENESIS_HASH, hashEntry } from '../../shared/core/ledger/hash';
import { LedgerService, type LedgerServiceDeps } from '../../shared/core/ledger/service';
import type { DispatchItem } from '../../shared/core/dispatch';
import type { Dispatcher, LedgerEntry } from '../../shared/core/ports';
import { makeEnvelope, type Envelope } from '../../shared/core/envelope';
import { versionSortKey } from '../../shared/core/bundle/identity';
import type { NewRegistration } from '../../shared/core/registry';

export const T0 = Date.UTC(2026, 0, 1);

export function ledgerOn(
  ddb: DynamoDBDocumentClient,
  table: string,
  deps: Omit<LedgerServiceDeps, 'store'> = {},
  pageSize?: number,
): LedgerService {
  return new LedgerService({ store: new DynamoLedgerStore(ddb, table, pageSize), ...deps });
}

/** Every retained entry, via the public list API (pages of `limit`). */
export async function allEntries(ledger: LedgerService, limit = 1000): Promise<LedgerEntry[]> {
  const out: LedgerEntry[] = [];
  let after: number | undefined;
  for (;;) {
    const page = await ledger.list({ limit, ...(after !== undefined ? { after } : {}) });
    out.push(...page.entries);
    if (page.next === null) return out;
    after = page.next;
  }
}

export function env(
  topic: string,
  sender: string,
  payload: Record<string, unknown>,
  extra: { recipient?: string; at?: number } = {},
): Envelope {
  return makeEnvelope({ topic, sender, payload, recipient: extra.recipient }, extra.at ?? T0);
}

/** An entry as stored inside a block (payload as its JSON value). */
export type StoredEntry = Record<string, unknown> & { seq: number };

/**
 * Raw table access for tamper / TTL simulations: entries are edited inside their block (the body
 * decoded, changed and written back, the block's other attributes as they were), as someone with
 * write access to the table could.
 */
export class LedgerTable {
  constructor(
    readonly ddb: DynamoDBDocumentClient,
    readonly table: string,
  ) {}

  /** The block item holding `seq` (the newest block starting at or before it). */
  async block(seq: number): Promise<Record<string, unknown> | undefined> {
    for (const pk of [blockPk(seq), blockPk(Math.max(0, seq - MAX_BLOCK_ENTRIES))]) {
      const out = await this.ddb.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :p AND seq <= :s',
          ExpressionAttributeValues: { ':p': pk, ':s': seq },
          ScanIndexForward: false,
          Limit: 1,
          ConsistentRead: true,
        }),
      );
      const it = out.Items?.[0];
      if (it && Number(it.last) >= seq) return it;
    }
    return undefined;
  }

  static body(item: Record<string, unknown>): StoredEntry[] {
    return JSON.parse(inflateRawSync(item.body as Uint8Array).toString('utf8')) as StoredEntry[];
  }

  async putBody(item: Record<string, unknown>, entries: StoredEntry[]): Promise<void> {
    if (entries.length === 0) {
      await this.ddb.send(new DeleteCommand({ TableName: this.table, Key: { pk: item.pk, seq: item.seq } }));
      return;
    }
    await this.put({ ...item, body: new Uint8Array(deflateRawSync(Buffer.from(JSON.stringify(entries), 'utf8'))) });
  }

  /** The stored entry `seq` (its payload as a JSON value). */
  async get(seq: number): Promise<StoredEntry | undefined> {
    const b = await this.block(seq);
    return b ? LedgerTable.body(b).find((e) => e.seq === seq) : undefined;
  }

  /** Puts an item as it is (a block, the head hint, a checkpoint). */
  async put(item: Record<string, unknown>): Promise<void> {
    await this.ddb.send(new PutCommand({ TableName: this.table, Item: item }));
  }

  /** The block holding `seq` as it is now; calling the result puts it back. */
  async snapshot(seq: number): Promise<() => Promise<void>> {
    const item = await this.block(seq);
    if (!item) throw new Error(`no block holds ${seq}`);
    return () => this.put(item);
  }

  private async edit(seq: number, change: (e: StoredEntry) => void): Promise<void> {
    const item = await this.block(seq);
    if (!item) throw new Error(`no block holds ${seq}`);
    const entries = LedgerTable.body(item);
    const e = entries.find((x) => x.seq === seq);
    if (!e) throw new Error(`entry ${seq} is not in its block`);
    change(e);
    await this.putBody(item, entries);
  }

  set(seq: number, field: string, value: unknown): Promise<void> {
    return this.edit(seq, (e) => {
      e[field] = value;
    });
  }

  remove(seq: number, field: string): Promise<void> {
    return this.edit(seq, (e) => {
      delete e[field];
    });
  }

  /** Removes entry `seq` from its block (the block goes when it was its only entry). */
  async delete(seq: number): Promise<void> {
    const item = await this.block(seq);
    if (!item) throw new Error(`no block holds ${seq}`);
    await this.putBody(
      item,
      LedgerTable.body(item).filter((e) => e.seq !== seq),
    );
  }

  /** Every item of the table (a consistent Scan, paged). */
  async items(prefix = ''): Promise<Record<string, unknown>[]> {
    const all: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.ddb.send(new ScanCommand({ TableName: this.table, ConsistentRead: true, ExclusiveStartKey: start }));
      all.push(...(out.Items ?? []).filter((it) => String(it.pk).startsWith(prefix)));
      start = out.LastEvaluatedKey;
    } while (start);
    return all;
  }

  /** What DynamoDB TTL does, eventually: delete items whose expiresAt has passed (optionally only some). */
  async expire(nowMs: number, keep: (item: Record<string, unknown>) => boolean = () => false): Promise<number> {
    let n = 0;
    for (const it of await this.items()) {
      if (typeof it.expiresAt === 'number' && it.expiresAt <= nowMs / 1000 && !keep(it)) {
        await this.ddb.send(new DeleteCommand({ TableName: this.table, Key: { pk: it.pk, seq: it.seq } }));
        n++;
      }
    }
    return n;
  }

  /** entries stored (in blocks, and any in the per-entry layout) */
  async countEntries(): Promise<number> {
    const blocks = await this.items('B#');
    return blocks.reduce((n, b) => n + LedgerTable.body(b).length, 0) + (await this.items('C#')).length;
  }

  async blocks(): Promise<Record<string, unknown>[]> {
    return (await this.items('B#')).sort((a, b) => Number(a.seq) - Number(b.seq));
  }

  async markers(): Promise<number> {
    return (await this.items('ID#')).length;
  }

  async hint(): Promise<Record<string, unknown> | undefined> {
    return (await this.ddb.send(new GetCommand({ TableName: this.table, Key: { pk: 'HEAD', seq: 0 }, ConsistentRead: true }))).Item;
  }

  async checkpoints(): Promise<Record<string, unknown>[]> {
    const out = await this.ddb.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :p',
        ExpressionAttributeValues: { ':p': 'CP' },
        ConsistentRead: true,
      }),
    );
    return out.Items ?? [];
  }

  /**
   * What someone who can write the table can do undetected by the chain alone: change entry
   * `seq`, recompute its hash and every hash after it (each next entry's prevHash with it), and
   * write all of it back: the blocks (bodies and their head hashes), the head hint and the
   * checkpoints. Returns the new hashes by seq.
   */
  async rewriteFrom(seq: number, change: (e: StoredEntry) => void): Promise<Map<number, string>> {
    const hashes = new Map<number, string>();
    let prevHash: string | null = null;
    for (const block of await this.blocks()) {
      const entries = LedgerTable.body(block);
      let touched = false;
      for (const e of entries) {
        if (e.seq < seq) continue;
        if (e.seq === seq) change(e);
        if (prevHash !== null) e.prevHash = prevHash;
        e.hash = hashEntry(e as unknown as LedgerEntry, e.prevHash as string);
        prevHash = e.hash as string;
        hashes.set(e.seq, prevHash);
        touched = true;
      }
      if (touched) await this.putBody({ ...block, hash: entries[entries.length - 1]!.hash }, entries);
    }
    const hint = await this.hint();
    const hinted = hint ? hashes.get(Number(hint.lastSeq)) : undefined;
    if (hint && hinted) await this.put({ ...hint, hash: hinted });
    for (const cp of await this.checkpoints()) {
      const h = hashes.get(Number(cp.seq));
      if (h) await this.put({ ...cp, hash: h });
    }
    return hashes;
  }

  /**
   * Writes a ledger in the per-entry layout that blocks replaced (one item per entry, an id marker
   * per entry, the head without `blocksFrom`), as the previous ledger writer did.
   */
  async writeLegacy(envelopes: Envelope[], at = T0): Promise<LedgerEntry[]> {
    const entries: LedgerEntry[] = [];
    let prevHash = GENESIS_HASH;
    for (const [i, e] of envelopes.entries()) {
      const entry: LedgerEntry = {
        seq: i + 1,
        id: e.id,
        ts: e.ts,
        topic: e.topic,
        sender: e.sender,
        ...(e.recipient !== undefined ? { recipient: e.recipient } : {}),
        payload: JSON.parse(canonicalJson(e.payload)) as Record<string, unknown>,
        hash: '',
        prevHash,
      };
      entry.hash = hashEntry(entry, prevHash);
      prevHash = entry.hash;
      entries.push(entry);
      const { payload, ...rest } = entry;
      await this.put({ pk: chunkPk(entry.seq), ...rest, payload: canonicalJson(payload) });
      await this.put({ pk: `ID#${entry.id}`, seq: 0, entrySeq: entry.seq });
    }
    const last = entries[entries.length - 1]!;
    await this.put({ pk: 'HEAD', seq: 0, lastSeq: last.seq, hash: last.hash, appendedAt: at });
    return entries;
  }
}

/** Port fake of the SQS dispatch queue (no emulator): records what would be sent. */
export class RecordingDispatcher implements Dispatcher {
  readonly items: DispatchItem[] = [];
  async dispatch(items: DispatchItem[]): Promise<void> {
    this.items.push(...items);
  }
  envelopesFor(agent: string): Envelope[] {
    return this.items.flatMap((i) => (i.message.kind === 'envelope' && i.message.agent === agent ? [i.message.envelope] : []));
  }
}

export function registration(name: string, manifest: Partial<NewRegistration['manifest']> = {}): NewRegistration {
  return {
    name,
    version: '1.0.0',
    versionKey: versionSortKey('1.0.0'),
    bundleKey: `agents/${name}/1.0.0.mjs`,
    sha256: 'a'.repeat(64),
    size: 100,
    signer: null,
    manifest: { cycleSeconds: 60, timeoutSeconds: 5, subscriptions: [], hasOnEnvelope: true, ...manifest },
    at: new Date(T0).toISOString(),
    firstRunAt: T0 + 60_000,
  };
}
