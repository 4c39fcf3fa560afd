/** Shared helpers of the bus/ledger tests (real DynamoDB Local tables; port fakes only for SQS dispatch). */
import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { DynamoLedgerStore, chunkPk } from '../../shared/adapters/aws/dynamo-ledger';
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

/** Raw table access for tamper / TTL simulations. */
export class LedgerTable {
  constructor(
    readonly ddb: DynamoDBDocumentClient,
    readonly table: string,
  ) {}
  key(seq: number) {
    return { pk: chunkPk(seq), seq };
  }
  async get(seq: number): Promise<Record<string, unknown> | undefined> {
    return (await this.ddb.send(new GetCommand({ TableName: this.table, Key: this.key(seq), ConsistentRead: true }))).Item;
  }
  async put(item: Record<string, unknown>): Promise<void> {
    await this.ddb.send(new PutCommand({ TableName: this.table, Item: item }));
  }
  async set(seq: number, field: string, value: unknown): Promise<void> {
    await this.ddb.send(
      new UpdateCommand({
        TableName: this.table,
        Key: this.key(seq),
        UpdateExpression: 'SET #f = :v',
        ExpressionAttributeNames: { '#f': field },
        ExpressionAttributeValues: { ':v': value },
      }),
    );
  }
  async remove(seq: number, field: string): Promise<void> {
    await this.ddb.send(
      new UpdateCommand({
        TableName: this.table,
        Key: this.key(seq),
        UpdateExpression: 'REMOVE #f',
        ExpressionAttributeNames: { '#f': field },
      }),
    );
  }
  async delete(seq: number): Promise<void> {
    await this.ddb.send(new DeleteCommand({ TableName: this.table, Key: this.key(seq) }));
  }
  /** What DynamoDB TTL does, eventually: delete items whose expiresAt has passed (optionally only some). */
  async expire(nowMs: number, keep: (item: Record<string, unknown>) => boolean = () => false): Promise<number> {
    let n = 0;
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.ddb.send(new ScanCommand({ TableName: this.table, ConsistentRead: true, ExclusiveStartKey: start }));
      for (const it of out.Items ?? []) {
        if (typeof it.expiresAt === 'number' && it.expiresAt <= nowMs / 1000 && !keep(it)) {
          await this.ddb.send(new DeleteCommand({ TableName: this.table, Key: { pk: it.pk, seq: it.seq } }));
          n++;
        }
      }
      start = out.LastEvaluatedKey;
    } while (start);
    return n;
  }
  /** items whose pk starts with `prefix` (a consistent Scan with COUNT, paged) */
  private async countWithPrefix(prefix: string): Promise<number> {
    let n = 0;
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.ddb.send(
        new ScanCommand({
          TableName: this.table,
          ConsistentRead: true,
          ExclusiveStartKey: start,
          FilterExpression: 'begins_with(pk, :c)',
          ExpressionAttributeValues: { ':c': prefix },
          Select: 'COUNT',
        }),
      );
      n += out.Count ?? 0;
      start = out.LastEvaluatedKey;
    } while (start);
    return n;
  }
  countEntries(): Promise<number> {
    return this.countWithPrefix('C#');
  }
  markers(): Promise<number> {
    return this.countWithPrefix('ID#');
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
