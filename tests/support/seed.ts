/**
 * Seeds a table fast for capacity tests and benchmarks: BatchWriteItem in chunks of 25 (its
 * limit), 8 requests in flight, unprocessed items sent again until none is left.
 */
import { BatchWriteItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';

export async function batchWrite(ddb: DynamoDBClient, table: string, items: Record<string, AttributeValue>[]): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next;
      next += 25;
      if (i >= items.length) return;
      let req: Record<string, { PutRequest: { Item: Record<string, AttributeValue> } }[]> | undefined = {
        [table]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })),
      };
      while (req && Object.keys(req).length > 0) {
        const out = await ddb.send(new BatchWriteItemCommand({ RequestItems: req }));
        req = out.UnprocessedItems as typeof req;
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}
