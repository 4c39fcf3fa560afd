/**
 * DynamoDB adapters of the registry table (see shared/definitions/tables.ts):
 * - DynamoRegistry (RegistryStore): registration, deregistration, status transitions.
 * - DynamoSchedule (ScheduleStore): the scheduler's sparse `due` index and conditional advance.
 *
 * Registration never mixes versions: a new agent is created with `attribute_not_exists(name)`;
 * an upgrade replaces all bundle fields in one UpdateItem conditioned on the stored sortable
 * version key being lower. Status transitions are single conditional UpdateItems.
 *
 * Counts per status: COUNT_SHARDS items `#counts#<shard>` (the agent's shard of its name) hold the
 * number of agents per status. Every write that changes a status, creates or deletes an agent is
 * one TransactWriteItems of the conditional item write and the ADD to its counts item, so the
 * counts are exact (both or neither). Those are the rare writes (registration, operator and
 * health transitions, restarting → active); the per-cycle schedule advance is a plain UpdateItem
 * that touches neither the counts nor the `agents` index. Sharding the counts spreads concurrent
 * transitions (a transaction conflicts with another on the same item) over several items.
 */
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { ConflictError, NotFoundError } from '../../core/errors';
import type { RegistryStore, ScheduleStore } from '../../core/ports';
import {
  AgentRecordSchema,
  AgentStatusSchema,
  SCHEDULED_STATUSES,
  zeroCounts,
  type AgentPageQuery,
  type AgentRecordPage,
  type StatusCounts,
  type AgentRecord,
  type AgentStatus,
  type DueAgent,
  type NewRegistration,
  type RegisterOutcome,
  type Transition,
} from '../../core/registry';
import { AGENTS_INDEX, COUNTS_ITEM, DEFAULT_SCHEDULE_SHARDS, DUE_INDEX, shardOf } from '../../definitions/tables';
import { StoreError } from './errors';
import { queryShard } from './sparse-index';
import { batchGetByName } from './batch-get';

export interface RegistryOptions {
  /** number of `dueShard` values (AGENT_SCHEDULE_SHARDS); must match the scheduler's */
  shards?: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** counts items (`#counts#0` …): concurrent transitions of different agents rarely meet on one */
export const COUNT_SHARDS = 8;
const countsKey = (agent: string): string => `${COUNTS_ITEM}#${shardOf(agent, COUNT_SHARDS)}`;
/** written once the counts items hold the registry's counts (a fresh registry's first summary, or an upgrade's) */
export const COUNTS_MARKER = `${COUNTS_ITEM}#init`;
const isCountsItem = (name: unknown): boolean => typeof name === 'string' && name.startsWith(COUNTS_ITEM);
const TRANSACT_ATTEMPTS = 8;

/** The ADD to an agent's counts item that goes with a status change (in the same transaction). */
function countsUpdate(table: string, agent: string, delta: Partial<Record<AgentStatus, number>>) {
  const names: Record<string, string> = {};
  const values: Record<string, number> = {};
  const adds = Object.entries(delta).map(([status, d], i) => {
    names[`#c${i}`] = status;
    values[`:d${i}`] = d as number;
    return `#c${i} :d${i}`;
  });
  return {
    Update: {
      TableName: table,
      Key: { name: countsKey(agent) },
      UpdateExpression: `ADD ${adds.join(', ')}`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    },
  };
}

/** Whether a cancelled transaction failed on its first item's condition (else: a conflict with another transaction, retried). */
function cancelledOnCondition(e: unknown): boolean {
  return e instanceof TransactionCanceledException && e.CancellationReasons?.[0]?.Code === 'ConditionalCheckFailed';
}
const transactConflict = (e: unknown): boolean => e instanceof TransactionCanceledException && !cancelledOnCondition(e);
const backoff = (attempt: number) => new Promise((r) => setTimeout(r, Math.min(200, 5 * 2 ** attempt) * Math.random()));

/** Runs a transaction, again while it conflicts with another one (the counts items are shared). */
async function transact(ddb: DynamoDBDocumentClient, items: unknown[]): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await ddb.send(new TransactWriteCommand({ TransactItems: items as never }));
      return;
    } catch (e) {
      if (!transactConflict(e) || attempt >= TRANSACT_ATTEMPTS) throw e;
      await backoff(attempt);
    }
  }
}

/** Builds `#status IN (:s0, :s1)` and fills the values map. */
function statusIn(statuses: readonly AgentStatus[], values: Record<string, unknown>, prefix: string): string {
  const keys = statuses.map((s, i) => {
    values[`:${prefix}${i}`] = s;
    return `:${prefix}${i}`;
  });
  return `#status IN (${keys.join(', ')})`;
}

export class DynamoRegistry implements RegistryStore {
  private readonly shards: number;

  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly tableName: string,
    opts: RegistryOptions = {},
  ) {
    this.shards = opts.shards ?? DEFAULT_SCHEDULE_SHARDS;
  }

  private parse(item: Record<string, unknown>): AgentRecord {
    const r = AgentRecordSchema.safeParse(item);
    if (!r.success) throw new StoreError(`registry item ${String(item.name)} is malformed: ${r.error.message}`);
    return r.data;
  }

  async get(name: string): Promise<AgentRecord | null> {
    const out = await this.ddb.send(new GetCommand({ TableName: this.tableName, Key: { name }, ConsistentRead: true }));
    return out.Item ? this.parse(out.Item) : null;
  }

  async list(): Promise<AgentRecord[]> {
    const items: AgentRecord[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.ddb.send(new ScanCommand({ TableName: this.tableName, ConsistentRead: true, ExclusiveStartKey: start }));
      for (const it of out.Items ?? []) if (!isCountsItem(it.name)) items.push(this.parse(it));
      start = out.LastEvaluatedKey;
    } while (start);
    return items.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * One page: the names from the `agents` index (one Query per status asked for, each reading at
   * most limit + 1 keys), merged in name order, then the page's items in one consistent
   * BatchGetItem. The index is eventually consistent: an agent whose item no longer matches (gone,
   * or its status changed since) is left out, so a page may hold fewer than `limit` agents.
   */
  async page(q: AgentPageQuery): Promise<AgentRecordPage> {
    const statuses = q.status ? [q.status] : AgentStatusSchema.options;
    const lists = await Promise.all(statuses.map((st) => this.namesOf(st, q, q.limit + 1)));
    const names = [...new Set(lists.flat())].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).slice(0, q.limit + 1);
    const more = names.length > q.limit;
    const pageNames = names.slice(0, q.limit);
    const items = await this.getMany(pageNames);
    const agents: AgentRecord[] = [];
    for (const n of pageNames) {
      const rec = items.get(n);
      if (rec && (!q.status || rec.status === q.status)) agents.push(rec);
    }
    return { agents, last: more ? (pageNames[pageNames.length - 1] ?? null) : null };
  }

  /** Up to `n` names of one status after `q.after` (and starting with `q.prefix`), in order, keys only. */
  private async namesOf(status: AgentStatus, q: AgentPageQuery, n: number): Promise<string[]> {
    const prefix = q.prefix ?? '';
    let start: Record<string, unknown> | undefined;
    if (q.after !== undefined) {
      // a cursor before the prefix's range starts at its beginning; one after it: nothing left
      if (q.after.startsWith(prefix)) start = { status, name: q.after };
      else if (q.after > prefix) return [];
    }
    const names: string[] = [];
    do {
      const out = await this.ddb.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: AGENTS_INDEX,
          KeyConditionExpression: prefix ? '#status = :s AND begins_with(#name, :p)' : '#status = :s',
          ExpressionAttributeNames: { '#status': 'status', ...(prefix ? { '#name': 'name' } : {}) },
          ExpressionAttributeValues: { ':s': status, ...(prefix ? { ':p': prefix } : {}) },
          Limit: n - names.length,
          ExclusiveStartKey: start,
        }),
      );
      for (const it of out.Items ?? []) if (typeof it.name === 'string') names.push(it.name);
      start = out.LastEvaluatedKey;
    } while (start && names.length < n);
    return names;
  }

  /** Items by name, consistent, BatchGetItem of up to 100 keys (unprocessed keys retried). */
  private async getMany(names: string[]): Promise<Map<string, AgentRecord>> {
    const found = new Map<string, AgentRecord>();
    for (const it of await this.batchGet(names)) if (!isCountsItem(it.name)) found.set(String(it.name), this.parse(it));
    return found;
  }

  private async batchGet(names: string[]): Promise<Record<string, unknown>[]> {
    return [...(await batchGetByName(this.ddb, this.tableName, names, 'the registry')).values()];
  }

  /**
   * Agents per status: the COUNT_SHARDS counts items, one BatchGetItem (with the marker item that
   * says they were initialized). A registry written before the counts existed (no marker) is
   * counted once by a scan and the counts items overwritten with the result, then the marker
   * written: transitions made before that are in the scan; one racing with the scan itself can
   * leave a count off by one (docs/api.md, "Paged reads").
   */
  async counts(): Promise<StatusCounts> {
    const keys = [...Array.from({ length: COUNT_SHARDS }, (_, i) => `${COUNTS_ITEM}#${i}`), COUNTS_MARKER];
    const items = await this.batchGet(keys);
    if (!items.some((it) => it.name === COUNTS_MARKER)) return this.backfillCounts();
    const counts = zeroCounts();
    for (const it of items)
      for (const st of AgentStatusSchema.options) {
        const v = it[st];
        if (typeof v === 'number') counts[st] += v;
      }
    return counts;
  }

  private async backfillCounts(): Promise<StatusCounts> {
    const agents = await this.list();
    const byShard = new Map<string, StatusCounts>(Array.from({ length: COUNT_SHARDS }, (_, i) => [`${COUNTS_ITEM}#${i}`, zeroCounts()]));
    const counts = zeroCounts();
    for (const a of agents) {
      (byShard.get(countsKey(a.name)) as StatusCounts)[a.status]++;
      counts[a.status]++;
    }
    for (const [key, c] of byShard) await this.ddb.send(new PutCommand({ TableName: this.tableName, Item: { name: key, ...c } }));
    await this.ddb.send(new PutCommand({ TableName: this.tableName, Item: { name: COUNTS_MARKER, at: new Date().toISOString() } }));
    return counts;
  }

  private transact(items: unknown[]): Promise<void> {
    return transact(this.ddb, items);
  }

  private bundleFields(reg: NewRegistration) {
    return {
      names: {
        '#version': 'version',
        '#vk': 'versionKey',
        '#bundleKey': 'bundleKey',
        '#sha': 'sha256',
        '#size': 'size',
        '#signer': 'signer',
        '#cycle': 'cycleSeconds',
        '#timeout': 'timeoutSeconds',
        '#subs': 'subscriptions',
        '#hoe': 'hasOnEnvelope',
        '#runtime': 'runtime',
        '#updatedAt': 'updatedAt',
      },
      values: {
        ':version': reg.version,
        ':vk': reg.versionKey,
        ':bundleKey': reg.bundleKey,
        ':sha': reg.sha256,
        ':size': reg.size,
        ':signer': reg.signer,
        ':cycle': reg.manifest.cycleSeconds,
        ':timeout': reg.manifest.timeoutSeconds,
        ':subs': reg.manifest.subscriptions,
        ':hoe': reg.manifest.hasOnEnvelope,
        ':runtime': reg.manifest.runtime ?? null,
        ':at': reg.at,
      },
      set: '#version = :version, #vk = :vk, #bundleKey = :bundleKey, #sha = :sha, #size = :size, #signer = :signer, #cycle = :cycle, #timeout = :timeout, #subs = :subs, #hoe = :hoe, #runtime = :runtime, #updatedAt = :at',
    };
  }

  async register(reg: NewRegistration): Promise<RegisterOutcome> {
    const f = this.bundleFields(reg);
    // 1. a new agent: created active and scheduled at its first slot, counted as active
    try {
      await this.transact([
        {
          Update: {
            TableName: this.tableName,
            Key: { name: reg.name },
            ConditionExpression: 'attribute_not_exists(#name)',
            UpdateExpression:
              `SET ${f.set}, #status = :active, #statusReason = :reason, #statusChangedAt = :at, #registeredAt = :at, ` +
              '#generation = :one, #restarts = :zero, #restartTimes = :empty, #nextRunAt = :next, #dueShard = :shard',
            ExpressionAttributeNames: {
              ...f.names,
              '#name': 'name',
              '#status': 'status',
              '#statusReason': 'statusReason',
              '#statusChangedAt': 'statusChangedAt',
              '#registeredAt': 'registeredAt',
              '#generation': 'generation',
              '#restarts': 'restarts',
              '#restartTimes': 'restartTimes',
              '#nextRunAt': 'nextRunAt',
              '#dueShard': 'dueShard',
            },
            ExpressionAttributeValues: {
              ...f.values,
              ':active': 'active',
              ':reason': 'registered',
              ':one': 1,
              ':zero': 0,
              ':empty': [],
              ':next': reg.firstRunAt,
              ':shard': shardOf(reg.name, this.shards),
            },
          },
        },
        countsUpdate(this.tableName, reg.name, { active: 1 }),
      ]);
      return { outcome: 'registered', previousVersion: null };
    } catch (e) {
      if (!cancelledOnCondition(e)) throw e;
    }
    // 2. an upgrade: bundle fields replaced together, status and schedule kept, generation bumped
    try {
      const out = await this.ddb.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { name: reg.name },
          ConditionExpression: 'attribute_exists(#name) AND #vk < :vk',
          UpdateExpression: `SET ${f.set} ADD #generation :one`,
          ExpressionAttributeNames: { ...f.names, '#name': 'name', '#generation': 'generation' },
          ExpressionAttributeValues: { ...f.values, ':one': 1 },
          ReturnValues: 'UPDATED_OLD',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      const prev = out.Attributes?.version;
      return { outcome: 'registered', previousVersion: typeof prev === 'string' ? prev : null };
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) {
        const active = (e.Item?.version as { S?: string } | undefined)?.S ?? (await this.get(reg.name))?.version;
        // deregistered between the two writes: try again as a new agent
        if (active === undefined) return this.register(reg);
        return { outcome: 'not_newer', activeVersion: active };
      }
      throw e;
    }
  }

  async deregister(name: string, version: string): Promise<boolean> {
    // the delete and the count of its status, in one transaction: the status is read first and
    // the delete conditioned on it (read again if it changed meanwhile)
    for (let attempt = 0; ; attempt++) {
      const cur = await this.get(name);
      if (!cur || cur.version !== version) return false;
      try {
        await this.transact([
          {
            Delete: {
              TableName: this.tableName,
              Key: { name },
              ConditionExpression: '#version = :v AND #status = :s',
              ExpressionAttributeNames: { '#version': 'version', '#status': 'status' },
              ExpressionAttributeValues: { ':v': version, ':s': cur.status },
            },
          },
          countsUpdate(this.tableName, name, { [cur.status]: -1 }),
        ]);
        return true;
      } catch (e) {
        if (!cancelledOnCondition(e) || attempt >= TRANSACT_ATTEMPTS) throw e;
      }
    }
  }

  async transition(name: string, t: Transition): Promise<AgentRecord> {
    // Read, check, write conditioned on the status read (and on the generation when the caller
    // pins one or a restart prunes the restart window): a status change is one transaction with
    // its counts item. Another writer getting in between makes the write fail; it is read again
    // and retried while the transition is still allowed and the caller did not pin a generation.
    for (let attempt = 0; ; attempt++) {
      const cur = await this.get(name);
      if (!cur) throw new NotFoundError(`agent ${name}`);
      if (!t.from.includes(cur.status))
        throw new ConflictError(`agent ${name} is ${cur.status}; cannot make it ${t.to}`, { name, status: cur.status });
      if ((t.expectGeneration !== undefined && cur.generation !== t.expectGeneration) || attempt > 3)
        throw new ConflictError(`agent ${name} changed concurrently (generation ${cur.generation}); try again`, {
          name,
          generation: cur.generation,
        });
      const restartTimes = t.recordRestart ? [...cur.restartTimes.filter((x) => x >= t.recordRestart!.windowStart), t.at] : undefined;
      const names: Record<string, string> = {
        '#name': 'name',
        '#status': 'status',
        '#statusReason': 'statusReason',
        '#statusChangedAt': 'statusChangedAt',
        '#updatedAt': 'updatedAt',
      };
      const values: Record<string, unknown> = { ':to': t.to, ':reason': t.reason, ':at': iso(t.at), ':cur': cur.status };
      const set = ['#status = :to', '#statusReason = :reason', '#statusChangedAt = :at', '#updatedAt = :at'];
      const remove: string[] = [];
      const add: string[] = [];
      if (t.nextRunAt !== undefined) {
        names['#nextRunAt'] = 'nextRunAt';
        names['#dueShard'] = 'dueShard';
        if (t.nextRunAt === null) remove.push('#nextRunAt', '#dueShard');
        else {
          set.push('#nextRunAt = :next', '#dueShard = :shard');
          values[':next'] = t.nextRunAt;
          values[':shard'] = shardOf(name, this.shards);
        }
      }
      const conds = ['attribute_exists(#name)', '#status = :cur'];
      if (t.bumpGeneration) {
        names['#generation'] = 'generation';
        add.push('#generation :one');
        values[':one'] = 1;
      }
      if (t.expectGeneration !== undefined || restartTimes) {
        names['#generation'] = 'generation';
        conds.push('#generation = :eg');
        values[':eg'] = cur.generation;
      }
      if (restartTimes) {
        names['#restartTimes'] = 'restartTimes';
        names['#restarts'] = 'restarts';
        set.push('#restartTimes = :rt');
        values[':rt'] = restartTimes;
        add.push('#restarts :one');
        values[':one'] = 1;
      } else if (t.resetRestartWindow) {
        names['#restartTimes'] = 'restartTimes';
        set.push('#restartTimes = :rt');
        values[':rt'] = [];
      }
      const expr = [`SET ${set.join(', ')}`, remove.length ? `REMOVE ${remove.join(', ')}` : '', add.length ? `ADD ${add.join(', ')}` : '']
        .filter(Boolean)
        .join(' ');
      const update = {
        TableName: this.tableName,
        Key: { name },
        ConditionExpression: conds.join(' AND '),
        UpdateExpression: expr,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      };
      try {
        if (cur.status === t.to) {
          const out = await this.ddb.send(new UpdateCommand({ ...update, ReturnValues: 'ALL_NEW' }));
          return this.parse(out.Attributes ?? {});
        }
        await this.transact([{ Update: update }, countsUpdate(this.tableName, name, { [cur.status]: -1, [t.to]: 1 })]);
        const after = await this.get(name);
        if (!after) throw new NotFoundError(`agent ${name}`);
        return after;
      } catch (e) {
        if (!(e instanceof ConditionalCheckFailedException) && !cancelledOnCondition(e)) throw e;
      }
    }
  }
}

export class DynamoSchedule implements ScheduleStore {
  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  queryDue(shard: string, before: number, limit: number): Promise<DueAgent[]> {
    return queryShard(
      this.ddb,
      { table: this.tableName, index: DUE_INDEX, shardAttr: 'dueShard', shard, sortAttr: 'nextRunAt', cmp: '<=', bound: before, limit },
      (it) => {
        const r = AgentRecordSchema.safeParse(it);
        if (!r.success || r.data.nextRunAt === null) return null;
        return {
          name: r.data.name,
          status: r.data.status,
          nextRunAt: r.data.nextRunAt,
          cycleSeconds: r.data.cycleSeconds,
          generation: r.data.generation,
        };
      },
    );
  }

  /**
   * The per-cycle advance: one conditional UpdateItem of `nextRunAt` (it writes the `due` index,
   * never the `agents` index nor the counts). Activating a restarting agent changes its status:
   * that advance is a transaction with the counts item, conditioned on `restarting`; if the agent
   * is no longer restarting it is advanced as an active one (or not at all).
   */
  async advance(name: string, expectNextRunAt: number, nextRunAt: number, opts: { activate: boolean; at: number }): Promise<boolean> {
    const names: Record<string, string> = { '#next': 'nextRunAt', '#status': 'status' };
    if (opts.activate) {
      try {
        await transact(this.ddb, [
          {
            Update: {
              TableName: this.tableName,
              Key: { name },
              ConditionExpression: '#next = :expect AND #status = :restarting',
              UpdateExpression: 'SET #next = :next, #status = :active, #statusChangedAt = :at, #updatedAt = :at',
              ExpressionAttributeNames: { ...names, '#statusChangedAt': 'statusChangedAt', '#updatedAt': 'updatedAt' },
              ExpressionAttributeValues: {
                ':expect': expectNextRunAt,
                ':next': nextRunAt,
                ':restarting': 'restarting',
                ':active': 'active',
                ':at': iso(opts.at),
              },
            },
          },
          countsUpdate(this.tableName, name, { restarting: -1, active: 1 }),
        ]);
        return true;
      } catch (e) {
        // not restarting (any more): advanced as an active agent, if it is one
        if (!cancelledOnCondition(e)) throw e;
      }
    }
    const values: Record<string, unknown> = { ':expect': expectNextRunAt, ':next': nextRunAt };
    try {
      await this.ddb.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { name },
          ConditionExpression: `#next = :expect AND ${statusIn(opts.activate ? ['active'] : SCHEDULED_STATUSES, values, 'st')}`,
          UpdateExpression: 'SET #next = :next',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) return false;
      throw e;
    }
  }
}
