/** Creates the tables of shared/definitions/tables.ts in a DynamoDB endpoint (local mode, tests). */
import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
  type AttributeDefinition,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import type { TableDef } from '../../definitions/tables';

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
  }
  await client.send(new DescribeTableCommand({ TableName: name }));
}

export async function ensureTables(
  client: DynamoDBClient,
  defs: TableDef[],
  names?: Partial<Record<TableDef['id'], string>>,
): Promise<void> {
  for (const def of defs) await ensureTable(client, def, names?.[def.id] ?? def.localName);
}
