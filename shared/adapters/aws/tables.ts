/** Creates the tables of shared/definitions/tables.ts in a DynamoDB endpoint (local mode, tests). */
import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceInUseException,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
  type AttributeDefinition,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import type { TableDef } from '../../definitions/tables';
import { StoreError } from './errors';

export async function ensureTable(client: DynamoDBClient, def: TableDef, name: string = def.localName): Promise<void> {
  const attrs = new Map<string, AttributeDefinition>();
  const add = (a: { name: string; type: 'S' | 'N' }) => attrs.set(a.name, { AttributeName: a.name, AttributeType: a.type });
  add(def.partitionKey);
  if (def.sortKey) add(def.sortKey);
  for (const ix of def.indexes ?? []) {
    add(ix.partitionKey);
    if (ix.sortKey) add(ix.sortKey);
  }
  try {
    await client.send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [...attrs.values()],
        KeySchema: [
          { AttributeName: def.partitionKey.name, KeyType: 'HASH' },
          ...(def.sortKey ? [{ AttributeName: def.sortKey.name, KeyType: 'RANGE' as const }] : []),
        ],
        ...(def.indexes?.length
          ? {
              GlobalSecondaryIndexes: def.indexes.map((ix) => ({
                IndexName: ix.indexName,
                KeySchema: [
                  { AttributeName: ix.partitionKey.name, KeyType: 'HASH' as const },
                  ...(ix.sortKey ? [{ AttributeName: ix.sortKey.name, KeyType: 'RANGE' as const }] : []),
                ],
                Projection: { ProjectionType: ix.projection },
              })),
            }
          : {}),
      }),
    );
    if (def.ttlAttribute) {
      await client.send(
        new UpdateTimeToLiveCommand({ TableName: name, TimeToLiveSpecification: { AttributeName: def.ttlAttribute, Enabled: true } }),
      );
    }
  } catch (e) {
    if (!(e instanceof ResourceInUseException)) throw e;
    await addMissingIndexes(client, def, name, [...attrs.values()]);
  }
  await client.send(new DescribeTableCommand({ TableName: name }));
}

/**
 * A table made by an older version (a local data dir kept across an upgrade) gets the indexes
 * added since, one UpdateTable each (DynamoDB creates one GSI per update), and is waited for
 * until they are ACTIVE (they backfill from the existing items).
 */
const INDEX_BUILD_TIMEOUT_MS = 10 * 60_000;

async function addMissingIndexes(client: DynamoDBClient, def: TableDef, name: string, attrs: AttributeDefinition[]): Promise<void> {
  const described = await client.send(new DescribeTableCommand({ TableName: name }));
  const have = new Set((described.Table?.GlobalSecondaryIndexes ?? []).map((ix) => ix.IndexName));
  for (const ix of def.indexes ?? []) {
    if (have.has(ix.indexName)) continue;
    const used = new Set([ix.partitionKey.name, ...(ix.sortKey ? [ix.sortKey.name] : [])]);
    await client.send(
      new UpdateTableCommand({
        TableName: name,
        AttributeDefinitions: attrs.filter((a) => used.has(a.AttributeName ?? '')),
        GlobalSecondaryIndexUpdates: [
          {
            Create: {
              IndexName: ix.indexName,
              KeySchema: [
                { AttributeName: ix.partitionKey.name, KeyType: 'HASH' },
                ...(ix.sortKey ? [{ AttributeName: ix.sortKey.name, KeyType: 'RANGE' as const }] : []),
              ],
              Projection: { ProjectionType: ix.projection },
            },
          },
        ],
      }),
    );
    // DynamoDB Local builds it in the background (seconds; minutes for a big table on a busy machine)
    const deadline = Date.now() + INDEX_BUILD_TIMEOUT_MS;
    for (;;) {
      const t = await client.send(new DescribeTableCommand({ TableName: name }));
      const status = t.Table?.GlobalSecondaryIndexes?.find((g) => g.IndexName === ix.indexName)?.IndexStatus;
      if (status === 'ACTIVE') break;
      if (Date.now() > deadline)
        throw new StoreError(`index ${ix.indexName} of table ${name} is still ${status} after ${INDEX_BUILD_TIMEOUT_MS / 1000} s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

export async function ensureTables(
  client: DynamoDBClient,
  defs: TableDef[],
  names?: Partial<Record<TableDef['id'], string>>,
): Promise<void> {
  for (const def of defs) await ensureTable(client, def, names?.[def.id] ?? def.localName);
}
