/**
 * Items of one table by their `name` key, consistent reads: BatchGetItem per 100 keys (its
 * limit), duplicate names asked once (BatchGetItem refuses duplicate keys), unprocessed keys
 * asked again with backoff, a StoreError after 8 tries. Used by the registry and heartbeat
 * adapters, whose tables are both keyed by `name`.
 */
import { BatchGetCommand, type BatchGetCommandOutput, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { StoreError } from './errors';

export async function batchGetByName(
  ddb: DynamoDBDocumentClient,
  table: string,
  names: string[],
  what: string,
): Promise<Map<string, Record<string, unknown>>> {
  const found = new Map<string, Record<string, unknown>>();
  const unique = [...new Set(names)];
  for (let i = 0; i < unique.length; i += 100) {
    let keys: Record<string, unknown>[] | undefined = unique.slice(i, i + 100).map((name) => ({ name }));
    for (let attempt = 0; keys && keys.length > 0; attempt++) {
      if (attempt > 8) throw new StoreError(`BatchGetItem on ${what} kept returning unprocessed keys`);
      if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(1000, 20 * 2 ** attempt)));
      const out: BatchGetCommandOutput = await ddb.send(
        new BatchGetCommand({ RequestItems: { [table]: { Keys: keys, ConsistentRead: true } } }),
      );
      for (const it of out.Responses?.[table] ?? []) found.set(String(it.name), it);
      keys = out.UnprocessedKeys?.[table]?.Keys;
    }
  }
  return found;
}
