/**
 * DynamoDB adapter of the RegistryStore port. One item per agent (key `name`).
 * Registration is a single conditional UpdateItem: the new version wins only if its sortable
 * version key is greater than the stored one, so racing managers never roll back or mix fields.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, ScanCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConflictError, NotFoundError } from '../../core/errors';
import type { RegistryStore } from '../../core/ports';
import { AgentRecordSchema, type AgentRecord, type AgentStatus, type NewRegistration, type RegisterOutcome } from '../../core/registry';
import { StoreError } from './errors';

export class DynamoRegistry implements RegistryStore {
  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

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

  async register(reg: NewRegistration): Promise<RegisterOutcome> {
    try {
      const out = await this.ddb.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { name: reg.name },
          ConditionExpression: 'attribute_not_exists(#name) OR #vk < :vk',
          UpdateExpression: [
            'SET #version = :version, #vk = :vk, #bundleKey = :bundleKey, #sha = :sha, #size = :size, #signer = :signer',
            '#cycle = :cycle, #timeout = :timeout, #subs = :subs, #hasOnEnvelope = :hoe, #updatedAt = :at',
            '#status = if_not_exists(#status, :active), #registeredAt = if_not_exists(#registeredAt, :at)',
            '#restarts = if_not_exists(#restarts, :zero), #restartTimes = if_not_exists(#restartTimes, :empty)',
            '#lastError = if_not_exists(#lastError, :null)',
          ].join(', '),
          ExpressionAttributeNames: {
            '#name': 'name',
            '#version': 'version',
            '#vk': 'versionKey',
            '#bundleKey': 'bundleKey',
            '#sha': 'sha256',
            '#size': 'size',
            '#signer': 'signer',
            '#cycle': 'cycleSeconds',
            '#timeout': 'timeoutSeconds',
            '#subs': 'subscriptions',
            '#hasOnEnvelope': 'hasOnEnvelope',
            '#updatedAt': 'updatedAt',
            '#status': 'status',
            '#registeredAt': 'registeredAt',
            '#restarts': 'restarts',
            '#restartTimes': 'restartTimes',
            '#lastError': 'lastError',
          },
          ExpressionAttributeValues: {
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
            ':at': reg.at,
            ':active': 'active',
            ':zero': 0,
            ':empty': [],
            ':null': null,
          },
          ReturnValues: 'UPDATED_OLD',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      const prev = out.Attributes?.version;
      return { outcome: 'registered', previousVersion: typeof prev === 'string' ? prev : null };
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) {
        const active = (e.Item?.version as { S?: string } | undefined)?.S ?? (await this.get(reg.name))?.version ?? 'unknown';
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

  async setStatus(name: string, status: AgentStatus, opts: { from?: AgentStatus[]; at?: string } = {}): Promise<AgentRecord> {
    const values: Record<string, unknown> = { ':s': status, ':at': opts.at ?? new Date().toISOString() };
    let cond = 'attribute_exists(#name)';
    if (opts.from?.length) {
      const keys = opts.from.map((s, i) => {
        values[`:f${i}`] = s;
        return `:f${i}`;
      });
      cond += ` AND #status IN (${keys.join(', ')})`;
    }
    try {
      const out = await this.ddb.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { name },
          ConditionExpression: cond,
          UpdateExpression: 'SET #status = :s, #updatedAt = :at',
          ExpressionAttributeNames: { '#name': 'name', '#status': 'status', '#updatedAt': 'updatedAt' },
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return this.parse(out.Attributes ?? {});
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) {
        const cur = await this.get(name);
        if (!cur) throw new NotFoundError(`agent ${name}`);
        throw new ConflictError(`agent ${name} is ${cur.status}; cannot change it to ${status}`, { name, status: cur.status });
      }
      throw e;
    }
  }
}
