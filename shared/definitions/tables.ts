/**
 * DynamoDB table definitions, the single source for the CDK constructs (infra/) and for the
 * tables local mode and the tests create in DynamoDB Local. Plain data: no CDK or SDK imports.
 *
 * Layout (see docs/architecture.md, "Data model"):
 * - Registry   pk `name`. One item per agent. Sparse GSI `due` (dueShard, nextRunAt): only agents
 *              that are scheduled (status active|restarting) carry these two attributes, so the
 *              scheduler's tick reads only agents that are due, never every agent. GSI `agents`
 *              (status, name), KEYS_ONLY: the paged `GET /agents` (one status's names in order,
 *              `begins_with` for a prefix); its keys change only with a status change, never on
 *              the per-cycle schedule advance, so the scheduler's writes never write this index.
 *              The item COUNTS_ITEM (`#counts`, not an agent name) holds the number of agents per
 *              status, kept exact by the same transactions that change a status or (de)register.
 * - Heartbeats pk `name`. One item per agent (runner-owned: last heartbeat, counters, slot claim,
 *              persisted state) plus short-lived run-claim items (`<agent>#run#<runId>`, TTL).
 *              Sparse GSI `expect` (hbShard, expectBy; keys only): agents whose next heartbeat is
 *              expected, `expectBy` a lower bound of the exact deadline `stuckAt`; the health
 *              monitor's sweep queries `expectBy < now` and reads those candidates back.
 *              Sparse GSI `erroring` (errShard), KEYS_ONLY: agents whose last run failed
 *              (consecutiveErrors > 0) carry `errShard`; the summary counts them from it.
 * - Ledger     pk `pk` (string), sk `seq` (number): entries in chunks of LEDGER_CHUNK_SIZE
 *              (`C#<chunk>`), the head item, event-id markers and retention checkpoints.
 */
export interface KeyAttr {
  name: string;
  type: 'S' | 'N';
}
export interface IndexDef {
  indexName: string;
  partitionKey: KeyAttr;
  sortKey?: KeyAttr;
  projection: 'ALL' | 'KEYS_ONLY';
}
export interface TableDef {
  /** logical id used by the CDK construct and the env var that carries the physical name */
  id: 'Registry' | 'Heartbeats' | 'Ledger';
  envVar: 'REGISTRY_TABLE' | 'HEARTBEAT_TABLE' | 'LEDGER_TABLE';
  /** default physical name (local mode; the cloud lets CloudFormation name them) */
  localName: string;
  partitionKey: KeyAttr;
  sortKey?: KeyAttr;
  ttlAttribute?: string;
  indexes?: IndexDef[];
}

/** default number of shards of the sparse `due` and `expect` GSIs (AGENT_SCHEDULE_SHARDS) */
export const DEFAULT_SCHEDULE_SHARDS = 4;

export const DUE_INDEX = 'due';
export const EXPECT_INDEX = 'expect';
/** the registry's paged-listing index: (status, name), keys only */
export const AGENTS_INDEX = 'agents';
/** the heartbeats' sparse index of agents whose last run failed */
export const ERRORING_INDEX = 'erroring';
/** the registry item holding the agent counts per status (`#` is never in an agent name) */
export const COUNTS_ITEM = '#counts';

export const REGISTRY_TABLE: TableDef = {
  id: 'Registry',
  envVar: 'REGISTRY_TABLE',
  localName: 'agent-registry',
  partitionKey: { name: 'name', type: 'S' },
  indexes: [
    { indexName: DUE_INDEX, partitionKey: { name: 'dueShard', type: 'S' }, sortKey: { name: 'nextRunAt', type: 'N' }, projection: 'ALL' },
    { indexName: AGENTS_INDEX, partitionKey: { name: 'status', type: 'S' }, sortKey: { name: 'name', type: 'S' }, projection: 'KEYS_ONLY' },
  ],
};

export const HEARTBEAT_TABLE: TableDef = {
  id: 'Heartbeats',
  envVar: 'HEARTBEAT_TABLE',
  localName: 'agent-heartbeats',
  partitionKey: { name: 'name', type: 'S' },
  ttlAttribute: 'expiresAt',
  indexes: [
    // KEYS_ONLY: a completion that does not move the bound writes nothing to the index (with ALL,
    // every heartbeat rewrote the index item); the sweep reads its few candidates back
    {
      indexName: EXPECT_INDEX,
      partitionKey: { name: 'hbShard', type: 'S' },
      sortKey: { name: 'expectBy', type: 'N' },
      projection: 'KEYS_ONLY',
    },
    { indexName: ERRORING_INDEX, partitionKey: { name: 'errShard', type: 'S' }, projection: 'KEYS_ONLY' },
  ],
};

export const LEDGER_TABLE: TableDef = {
  id: 'Ledger',
  envVar: 'LEDGER_TABLE',
  localName: 'agent-ledger',
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'seq', type: 'N' },
  ttlAttribute: 'expiresAt',
};

export const TABLES: TableDef[] = [REGISTRY_TABLE, HEARTBEAT_TABLE, LEDGER_TABLE];

/** Stable shard of an agent name for the sparse GSIs (write sharding; 0 <= shard < shards). */
export function shardOf(name: string, shards: number): string {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return String((h >>> 0) % Math.max(1, shards));
}
