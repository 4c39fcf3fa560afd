/**
 * Local mode and the cloud run the same definitions: the synthesized template's EventBridge
 * rules, EventBridge Scheduler schedules and DynamoDB tables are compared with
 * shared/definitions/routing.ts (RULES, SCHEDULES) and shared/definitions/tables.ts (TABLES),
 * which local mode's bus, timers and DynamoDB Local tables are built from. The rules are matched
 * by what they target (not by their names), so a rule that drifts, disappears or appears fails.
 * Finally, local mode's own pattern matcher (shared/core/bus/pattern.ts, used by local/bus.ts)
 * selects the same events with the template's patterns as with the definitions'.
 */
import { describe, expect, it } from 'vitest';
import { matchesPattern } from '../../shared/core/bus/pattern';
import { BUS_SOURCE, resolvePattern, RULES, SCHEDULES, type RuleDef, type TargetName } from '../../shared/definitions/routing';
import { TABLES } from '../../shared/definitions/tables';
import { toEventBridge } from '../../local/s3-events';
import { arnOf, ofType, refOf, synth, TEST_PUBKEY, type CfnResourceJson } from './synth';

const { stack, resources, id } = synth({ trustedKeys: TEST_PUBKEY }, { nag: false });
const bucketRef = refOf(id(stack.hotDirectory.bucket));
const busRef = refOf(id(stack.eventBus.bus));
const PLACEHOLDER = '__HOT_BUCKET__';

/** the template resource each definition target is delivered to */
const targetArn: Record<TargetName, unknown> = {
  'agent-manager': arnOf(id(stack.manager.function.fn)),
  scheduler: arnOf(id(stack.scheduler.function.fn)),
  'health-monitor': arnOf(id(stack.monitor.function.fn)),
  router: arnOf(id(stack.router.function.fn)),
  'ledger-digest': arnOf(id(stack.ledgerDigests.function.fn)),
  // the ledger writer is fed through its FIFO queue
  'ledger-writer': arnOf(id(stack.ledgerWriter.queue)),
  // only with a Kafka bridge configured (its rule is not in RULES: tests/infra/kafka.test.ts)
  'kafka-producer': null,
};
const json = (v: unknown) => JSON.stringify(v);

/** template pattern with the bucket's Ref put back as the definitions' placeholder */
function templatePattern(rule: CfnResourceJson): Record<string, unknown> {
  return JSON.parse(json(rule.Properties?.EventPattern).replaceAll(json(bucketRef), json(PLACEHOLDER))) as Record<string, unknown>;
}

const templateRules = ofType(resources, 'AWS::Events::Rule');
const routingRules = templateRules.filter(([, r]) =>
  Object.values(targetArn).some((arn) => json(r.Properties?.Targets[0]?.Arn) === json(arn)),
);

function ruleFor(def: RuleDef): [string, CfnResourceJson] {
  const want = json(resolvePattern(def.pattern, { HOT_BUCKET: PLACEHOLDER }));
  const hits = routingRules.filter(
    ([, r]) => json(r.Properties?.Targets[0]?.Arn) === json(targetArn[def.target]) && json(templatePattern(r)) === want,
  );
  expect(hits, `rule ${def.id}`).toHaveLength(1);
  return hits[0] as [string, CfnResourceJson];
}

describe('routing rules: template = shared/definitions/routing.ts RULES', () => {
  it('every rule of the template that feeds a component is a RULES entry, and vice versa', () => {
    expect(routingRules).toHaveLength(RULES.length);
    const matched = new Set(RULES.map((def) => ruleFor(def)[0]));
    expect(matched.size).toBe(RULES.length);
    // the only other rule is the observability rule, which feeds a log group, not a component
    const others = templateRules.filter(([rid]) => !matched.has(rid));
    expect(others.map(([rid]) => rid)).toEqual([id(stack.healthEvents.rule)]);
  });

  for (const def of RULES) {
    it(`${def.id}: same pattern, bus and target; enabled`, () => {
      const [, rule] = ruleFor(def);
      const p = rule.Properties as Record<string, any>;
      expect(templatePattern(rule)).toEqual(resolvePattern(def.pattern, { HOT_BUCKET: PLACEHOLDER }));
      if (def.bus === 'agents') expect(p.EventBusName).toEqual(busRef);
      else expect(p.EventBusName).toBeUndefined(); // the account's default bus, where S3 sends
      expect(p.Targets).toHaveLength(1);
      expect(p.Targets[0].Arn).toEqual(targetArn[def.target]);
      expect(p.Description).toBe(def.description);
      expect(p.State).toBe('ENABLED');
    });
  }
});

describe('schedules: template = shared/definitions/routing.ts SCHEDULES', () => {
  const schedules = ofType(resources, 'AWS::Scheduler::Schedule');
  const seconds = (expr: string): number => {
    const m = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expr);
    expect(m, expr).not.toBeNull();
    const unit = { minute: 60, minutes: 60, hour: 3600, hours: 3600, day: 86_400, days: 86_400 }[m?.[2] as 'minute'];
    return Number(m?.[1]) * unit;
  };

  it('one schedule per definition, nothing else', () => {
    expect(schedules).toHaveLength(SCHEDULES.length);
  });

  for (const def of SCHEDULES) {
    it(`${def.id}: same period, input and target`, () => {
      const hits = schedules.filter(
        ([, s]) =>
          json(s.Properties?.Target.Arn) === json(targetArn[def.target]) &&
          json(JSON.parse(s.Properties?.Target.Input as string)) === json(def.input),
      );
      expect(hits).toHaveLength(1);
      const p = hits[0]?.[1].Properties as Record<string, any>;
      expect(seconds(p.ScheduleExpression as string)).toBe(def.everySeconds);
      expect(p.State).toBe('ENABLED');
      expect(p.FlexibleTimeWindow).toEqual({ Mode: 'OFF' });
      expect(p.Description).toBe(def.description);
      expect(p.GroupName).toBe(stack.schedules.group.scheduleGroupName);
      expect(hits[0]?.[1].DependsOn).toContain(id(stack.schedules.group));
    });
  }
});

describe('tables: template = shared/definitions/tables.ts TABLES', () => {
  const functionEnv = resources[id(stack.runner.function.fn)]?.Properties?.Environment.Variables as Record<string, { Ref: string }>;

  for (const def of TABLES) {
    it(`${def.id}: key schema, attributes, GSIs and TTL`, () => {
      // the table the functions are told to use under the definition's env var
      const tableId = functionEnv[def.envVar]?.Ref as string;
      const p = resources[tableId]?.Properties as Record<string, any>;
      expect(resources[tableId]?.Type).toBe('AWS::DynamoDB::Table');
      expect(p.KeySchema).toEqual([
        { AttributeName: def.partitionKey.name, KeyType: 'HASH' },
        ...(def.sortKey ? [{ AttributeName: def.sortKey.name, KeyType: 'RANGE' }] : []),
      ]);
      const attrs = new Map<string, string>();
      for (const k of [def.partitionKey, def.sortKey, ...(def.indexes ?? []).flatMap((ix) => [ix.partitionKey, ix.sortKey])])
        if (k) attrs.set(k.name, k.type);
      expect(
        new Map(
          (p.AttributeDefinitions as { AttributeName: string; AttributeType: string }[]).map((a) => [a.AttributeName, a.AttributeType]),
        ),
      ).toEqual(attrs);
      const gsis = (p.GlobalSecondaryIndexes ?? []) as { IndexName: string; KeySchema: unknown; Projection: { ProjectionType: string } }[];
      expect(gsis.map((g) => g.IndexName).sort()).toEqual((def.indexes ?? []).map((ix) => ix.indexName).sort());
      for (const ix of def.indexes ?? []) {
        const g = gsis.find((x) => x.IndexName === ix.indexName);
        expect(g?.KeySchema).toEqual([
          { AttributeName: ix.partitionKey.name, KeyType: 'HASH' },
          ...(ix.sortKey ? [{ AttributeName: ix.sortKey.name, KeyType: 'RANGE' }] : []),
        ]);
        expect(g?.Projection.ProjectionType).toBe(ix.projection);
      }
      if (def.ttlAttribute) expect(p.TimeToLiveSpecification).toEqual({ AttributeName: def.ttlAttribute, Enabled: true });
      else expect(p.TimeToLiveSpecification).toBeUndefined();
    });
  }
});

describe("local mode's matcher selects the same events with the template's patterns", () => {
  const BUCKET = 'hot-bucket-123';
  /** S3's EventBridge events (Amazon S3 User Guide, "EventBridge event message structure") */
  const s3Event = (type: string, bucket: string, key: string, deletion?: { 'deletion-type': string; reason: string }) => ({
    version: '0',
    id: 'e1',
    'detail-type': type,
    source: 'aws.s3',
    account: '123456789012',
    time: '2026-01-01T00:00:00Z',
    region: 'eu-west-1',
    resources: [`arn:aws:s3:::${bucket}`],
    detail: {
      version: '0',
      bucket: { name: bucket },
      object: type === 'Object Created' ? { key, size: 10, 'version-id': 'v2' } : { key, 'version-id': 'v1' },
      reason: 'PutObject',
      ...deletion,
    },
  });
  const deleteMarker = { 'deletion-type': 'Delete Marker Created', reason: 'DeleteObject' };
  const envelopeEvent = (topic: string, source = BUS_SOURCE) => ({
    version: '0',
    id: 'e2',
    'detail-type': topic,
    source,
    account: '123456789012',
    time: '2026-01-01T00:00:00Z',
    region: 'eu-west-1',
    resources: [],
    detail: { id: 'x', topic, sender: 'a', ts: '2026-01-01T00:00:00Z', payload: {} },
  });
  const cases: { name: string; bus: RuleDef['bus']; event: unknown; expected: RuleDef['id'][] }[] = [
    {
      name: 'bundle uploaded',
      bus: 'default',
      event: s3Event('Object Created', BUCKET, 'agents/echo/1.0.0.mjs'),
      expected: ['HotDirectory'],
    },
    {
      name: 'bundle deleted (DeleteObject: a delete marker, the current object is gone)',
      bus: 'default',
      event: s3Event('Object Deleted', BUCKET, 'agents/echo/1.0.0.mjs', deleteMarker),
      expected: ['HotDirectory'],
    },
    {
      name: 'superseded version expired by the lifecycle rule (noncurrent version permanently deleted)',
      bus: 'default',
      event: s3Event('Object Deleted', BUCKET, 'agents/echo/1.0.0.mjs', {
        'deletion-type': 'Permanently Deleted',
        reason: 'Lifecycle Expiration',
      }),
      expected: [],
    },
    {
      name: 'one version deleted by version id (Permanently Deleted; the last one is left to the daily rescan)',
      bus: 'default',
      event: s3Event('Object Deleted', BUCKET, 'agents/echo/1.0.0.mjs', { 'deletion-type': 'Permanently Deleted', reason: 'DeleteObject' }),
      expected: [],
    },
    {
      name: 'delete marker in another bucket',
      bus: 'default',
      event: s3Event('Object Deleted', 'someone-else', 'agents/echo/1.0.0.mjs', deleteMarker),
      expected: [],
    },
    {
      name: 'delete marker outside agents/',
      bus: 'default',
      event: s3Event('Object Deleted', BUCKET, 'other/x.mjs', deleteMarker),
      expected: [],
    },
    { name: 'object outside agents/', bus: 'default', event: s3Event('Object Created', BUCKET, 'other/x.mjs'), expected: [] },
    { name: 'another bucket', bus: 'default', event: s3Event('Object Created', 'someone-else', 'agents/echo/1.0.0.mjs'), expected: [] },
    { name: 'agent.cycle (ledgered, not routed)', bus: 'agents', event: envelopeEvent('agent.cycle'), expected: ['Ledger'] },
    { name: 'agent.failed', bus: 'agents', event: envelopeEvent('agent.failed'), expected: ['Ledger', 'Delivery', 'Health'] },
    { name: 'an agent topic', bus: 'agents', event: envelopeEvent('orders.created'), expected: ['Ledger', 'Delivery'] },
    { name: 'a foreign source', bus: 'agents', event: envelopeEvent('orders.created', 'someone.else'), expected: [] },
  ];

  for (const c of cases) {
    it(c.name, () => {
      const viaTemplate = RULES.filter((def) => def.bus === c.bus)
        .filter((def) => matchesPattern(JSON.parse(json(templatePattern(ruleFor(def)[1])).replaceAll(PLACEHOLDER, BUCKET)), c.event))
        .map((d) => d.id);
      const viaDefinitions = RULES.filter((def) => def.bus === c.bus)
        .filter((def) => matchesPattern(resolvePattern(def.pattern, { HOT_BUCKET: BUCKET }), c.event))
        .map((d) => d.id);
      expect(viaTemplate).toEqual(viaDefinitions);
      expect(viaTemplate.sort()).toEqual([...c.expected].sort());
    });
  }
});

describe("local mode's S3 events carry what the HotDirectory rule needs", () => {
  const BUCKET = 'hot-bucket-123';
  const rule = RULES.find((d) => d.id === 'HotDirectory') as RuleDef;
  const pattern = JSON.parse(json(templatePattern(ruleFor(rule)[1])).replaceAll(PLACEHOLDER, BUCKET)) as Record<string, unknown>;
  const record = (eventName: string, key: string) => ({
    eventName,
    eventTime: '2026-01-01T00:00:00.000Z',
    s3: { bucket: { name: BUCKET }, object: { key, size: 10 } },
  });

  it('an s3rver delete becomes the delete-marker event the cloud sends for DeleteObject, and the rule matches it', () => {
    const e = toEventBridge(record('ObjectRemoved:Delete', 'agents/echo/1.0.0.mjs'));
    expect(e).toMatchObject({
      'detail-type': 'Object Deleted',
      detail: { 'deletion-type': 'Delete Marker Created', reason: 'DeleteObject' },
    });
    expect(matchesPattern(pattern, e)).toBe(true);
  });

  it('an s3rver upload is an Object Created without deletion-type, and the rule matches it', () => {
    const e = toEventBridge(record('ObjectCreated:Put', 'agents/echo/1.0.0.mjs'));
    expect(e?.['detail-type']).toBe('Object Created');
    expect(e?.detail).not.toHaveProperty('deletion-type');
    expect(matchesPattern(pattern, e)).toBe(true);
  });
});
