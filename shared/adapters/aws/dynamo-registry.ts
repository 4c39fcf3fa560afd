/**
 * DynamoDB adapters of the registry table (see shared/definitions/tables.ts):
 * - DynamoRegistry (RegistryStore): registration, deregistration, status transitions.
 * - DynamoSchedule (ScheduleStore): the scheduler's sparse `due` index and conditional advance.
 *
 * Registration never mixes versions: a new agent is created with `attribute_not_exists(name)`;
 * an upgrade replaces all bundle fields in one UpdateItem conditioned on the stored sortable
 * version key being lower. Status transitions are single conditional UpdateItems.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, ScanCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConflictError, NotFoundError } from '../../core/errors';
import type { RegistryStore, ScheduleStore } from '../../core/ports';
import {
  AgentRecordSchema,
  SCHEDULED_STATUSES,
  type AgentRecord,
  type AgentStatus,
  type DueAgent,
  type NewRegistration,
  type RegisterOutcome,
  type Transition,
} from '../../core/registry';
import { DEFAULT_SCHEDULE_SHARDS, DUE_INDEX, shardOf } from '../../definitions/tables';
import { StoreError } from './errors';
import { queryShard } from './sparse-index';

export interface RegistryOptions {
  /** number of `dueShard` values (AGENT_SCHEDULE_SHARDS); must match the scheduler's */
  shards?: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

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
      for (const it of out.Items ?? []) items.push(this.parse(it));
      start = out.LastEvaluatedKey;
    } while (start);
    return items.sort((a, b) => a.name.localeCompare(b.name));
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
    // 1. a new agent: created active and scheduled at its first slot
    try {
      await this.ddb.send(
        new UpdateCommand({
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
        }),
      );
      return { outcome: 'registered', previousVersion: null };
    } catch (e) {
      if (!(e instanceof ConditionalCheckFailedException)) throw e;
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
    try {
      await this.ddb.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: { name },
          ConditionExpression: '#version = :v',
          ExpressionAttributeNames: { '#version': 'version' },
          ExpressionAttributeValues: { ':v': version },
        }),
      );
      return true;
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) return false;
      throw e;
    }
  }

  async transition(name: string, t: Transition): Promise<AgentRecord> {
    // A restart prunes the restart window: read, compute, write conditioned on the generation read
    // (every restart bumps it), retried when another writer got in between and the caller did not
    // pin a generation itself.
    for (let attempt = 0; ; attempt++) {
      let restartTimes: number[] | undefined;
      let readGeneration: number | undefined;
      if (t.recordRestart) {
        const cur = await this.get(name);
        if (!cur) throw new NotFoundError(`agent ${name}`);
        restartTimes = [...cur.restartTimes.filter((x) => x >= t.recordRestart!.windowStart), t.at];
        readGeneration = cur.generation;
      }
      const names: Record<string, string> = {
        '#name': 'name',
        '#status': 'status',
        '#statusReason': 'statusReason',
        '#statusChangedAt': 'statusChangedAt',
        '#updatedAt': 'updatedAt',
      };
      const values: Record<string, unknown> = { ':to': t.to, ':reason': t.reason, ':at': iso(t.at) };
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
      const conds = ['attribute_exists(#name)', statusIn(t.from, values, 'f')];
      if (t.bumpGeneration) {
        names['#generation'] = 'generation';
        add.push('#generation :one');
        values[':one'] = 1;
      }
      const expectGen = t.expectGeneration ?? readGeneration;
      if (expectGen !== undefined) {
        names['#generation'] = 'generation';
        conds.push('#generation = :eg');
        values[':eg'] = expectGen;
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
      try {
        const out = await this.ddb.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: { name },
            ConditionExpression: conds.join(' AND '),
            UpdateExpression: expr,
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
            ReturnValues: 'ALL_NEW',
          }),
        );
        return this.parse(out.Attributes ?? {});
      } catch (e) {
        if (!(e instanceof ConditionalCheckFailedException)) throw e;
        const cur = await this.get(name);
        if (!cur) throw new NotFoundError(`agent ${name}`);
        const raceOnOurRead = t.expectGeneration === undefined && readGeneration !== undefined && cur.generation !== readGeneration;
        if (raceOnOurRead && t.from.includes(cur.status) && attempt < 3) continue;
        if (!t.from.includes(cur.status))
          throw new ConflictError(`agent ${name} is ${cur.status}; cannot make it ${t.to}`, { name, status: cur.status });
        throw new ConflictError(`agent ${name} changed concurrently (generation ${cur.generation}); try again`, {
          name,
          generation: cur.generation,
        });
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

  async advance(name: string, expectNextRunAt: number, nextRunAt: number, opts: { activate: boolean; at: number }): Promise<boolean> {
    const values: Record<string, unknown> = { ':expect': expectNextRunAt, ':next': nextRunAt };
    const names: Record<string, string> = { '#next': 'nextRunAt', '#status': 'status' };
    let expr = 'SET #next = :next';
    if (opts.activate) {
      names['#statusChangedAt'] = 'statusChangedAt';
      names['#updatedAt'] = 'updatedAt';
      values[':active'] = 'active';
      values[':at'] = iso(opts.at);
      expr += ', #status = :active, #statusChangedAt = :at, #updatedAt = :at';
    }
    try {
      await this.ddb.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { name },
          ConditionExpression: `#next = :expect AND ${statusIn(SCHEDULED_STATUSES, values, 'st')}`,
          UpdateExpression: expr,
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
