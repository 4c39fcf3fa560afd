/**
 * The benchmark's request counter (SDK middleware) on a real client against DynamoDB Local:
 * requests per operation, consumed capacity, and transactional write units priced from the
 * request (DynamoDB Local reports 2 units for a whole transaction; DynamoDB bills 2 per item and KB).
 */
import { describe, expect, it } from 'vitest';
import { GetCommand, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { RequestCounter, itemSize, transactWriteUnits } from '../../shared/adapters/aws/request-counter';
import { createTestTables } from '../support/env';

describe('RequestCounter', () => {
  it('sizes items like DynamoDB, for plain and marshalled values', () => {
    expect(itemSize({ pk: 'C#0' })).toBe(2 + 3);
    expect(itemSize({ seq: 12345 })).toBe(3 + 4);
    expect(itemSize({ pk: { S: 'C#0' }, seq: { N: '12345' } })).toBe(5 + 7);
    expect(itemSize({ m: { a: 'xy', b: [true, null] } })).toBe(1 + 3 + (1 + 2) + (1 + 3 + 2 + 2));
    expect(
      transactWriteUnits({ TransactItems: [{ Put: { Item: { d: 'x'.repeat(1500) } } }, { Update: {} }, { Put: { Item: { d: 'x' } } }] }),
    ).toBe(4 + 2 + 2);
  });

  it('counts requests per operation and the write units of transactions', async () => {
    const t = await createTestTables();
    const counter = new RequestCounter();
    counter.count(t.clients.ddbRaw, 'DynamoDB', { capacity: true });
    await t.clients.ddb.send(new PutCommand({ TableName: t.names.Registry, Item: { name: 'a', x: 1 } }));
    await t.clients.ddb.send(new GetCommand({ TableName: t.names.Registry, Key: { name: 'a' }, ConsistentRead: true }));
    const puts = Array.from({ length: 10 }, (_, i) => ({
      Put: { TableName: t.names.Ledger, Item: { pk: 'C#0', seq: i, data: 'x'.repeat(i < 5 ? 500 : 1500) } },
    }));
    await t.clients.ddb.send(new TransactWriteCommand({ TransactItems: puts }));
    expect(counter.snapshot()).toEqual({ 'DynamoDB:GetItem': 1, 'DynamoDB:PutItem': 1, 'DynamoDB:TransactWriteItems': 1 });
    // put 1 WRU + transaction 5 × 2 (≤ 1 KB) + 5 × 4 (≤ 2 KB); get (consistent) 1 RRU
    expect(counter.units).toEqual({ read: 1, write: 1 + 10 + 20 });
    counter.reset();
    expect(counter.total()).toBe(0);
  });
});
