/**
 * Reading one shard of a sparse, write-sharded GSI (`due` on the registry, `expect` on the
 * heartbeats): the items of shard `shard` whose sort key is below a bound, in sort-key order,
 * paged until `limit` items were accepted. Items the caller cannot use (`accept` returns null)
 * are skipped.
 */
import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export interface ShardQuery {
  table: string;
  index: string;
  shardAttr: string;
  shard: string;
  sortAttr: string;
  /** `<` (strictly before) or `<=` (up to and including) the bound */
  cmp: '<' | '<=';
  bound: number;
  limit: number;
}

export async function queryShard<T>(
  ddb: DynamoDBDocumentClient,
  q: ShardQuery,
  accept: (item: Record<string, unknown>) => T | null,
): Promise<T[]> {
  const found: T[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await ddb.send(
      new QueryCommand({
        TableName: q.table,
        IndexName: q.index,
        KeyConditionExpression: `#shard = :s AND #sort ${q.cmp} :b`,
        ExpressionAttributeNames: { '#shard': q.shardAttr, '#sort': q.sortAttr },
        ExpressionAttributeValues: { ':s': q.shard, ':b': q.bound },
        Limit: Math.min(q.limit - found.length, 1000),
        ExclusiveStartKey: start,
      }),
    );
    for (const it of out.Items ?? []) {
      const t = accept(it);
      if (t !== null) found.push(t);
    }
    start = out.LastEvaluatedKey;
  } while (start && found.length < q.limit);
  return found;
}
