/**
 * A registry made by a version before paged reads (a local data dir kept across the upgrade):
 * `ensureTable` adds the indexes the table lacks (DynamoDB Local backfills them from the existing
 * items), and the first summary counts the agents once and stores the counts, which the writes
 * then keep.
 */
import { describe, expect, it } from 'vitest';
import { DeleteItemCommand, DescribeTableCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { ensureTable } from '../../shared/adapters/aws/tables';
import { DynamoRegistry } from '../../shared/adapters/aws/dynamo-registry';
import { COUNTS_ITEM, REGISTRY_TABLE } from '../../shared/definitions/tables';
import { registration } from '../runtime/helpers';
import { createTestTables, uniqueSuffix } from '../support/env';

describe('a registry from before paged reads', () => {
  it('gets the agents index on the next start, backfilled, and its counts on the first summary', async () => {
    const { clients } = await createTestTables();
    const name = `old-registry-${uniqueSuffix()}`;
    // the table as the previous version defined it: no `agents` index
    await ensureTable(
      clients.ddbRaw,
      { ...REGISTRY_TABLE, indexes: REGISTRY_TABLE.indexes?.filter((ix) => ix.indexName !== 'agents') },
      name,
    );
    const registry = new DynamoRegistry(clients.ddb, name, { shards: 2 });
    for (const n of ['old-a', 'old-b', 'old-c']) await registry.register(registration(n, { firstRunAt: Date.now() }));
    await registry.transition('old-b', { to: 'paused', from: ['active'], at: Date.now(), reason: 't', nextRunAt: null });
    // the old version kept no counts
    const items = await clients.ddbRaw.send(new ScanCommand({ TableName: name }));
    for (const it of items.Items ?? [])
      if (it.name?.S?.startsWith(COUNTS_ITEM))
        await clients.ddbRaw.send(new DeleteItemCommand({ TableName: name, Key: { name: it.name } }));

    await ensureTable(clients.ddbRaw, REGISTRY_TABLE, name);
    const described = await clients.ddbRaw.send(new DescribeTableCommand({ TableName: name }));
    expect(described.Table?.GlobalSecondaryIndexes?.map((ix) => [ix.IndexName, ix.IndexStatus]).sort()).toEqual([
      ['agents', 'ACTIVE'],
      ['due', 'ACTIVE'],
    ]);
    expect((await registry.page({ limit: 10 })).agents.map((a) => a.name)).toEqual(['old-a', 'old-b', 'old-c']);
    expect((await registry.page({ limit: 10, status: 'paused' })).agents.map((a) => a.name)).toEqual(['old-b']);

    expect(await registry.counts()).toEqual({ active: 2, paused: 1, restarting: 0, quarantined: 0 });
    // from then on the writes keep the stored counts
    await registry.transition('old-a', { to: 'quarantined', from: ['active'], at: Date.now(), reason: 't', nextRunAt: null });
    expect(await registry.counts()).toEqual({ active: 1, paused: 1, restarting: 0, quarantined: 1 });
  }, 600_000); // adding an index to a table waits for its backfill: a bound, as long as ensureTable waits
});
