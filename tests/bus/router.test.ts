/** Envelope routing: the pure rules, and the router's registry cache and handler on the real registry (DynamoDB Local). */
import { beforeAll, describe, expect, it } from 'vitest';
import { routeEnvelope, subscriptionMatches, type RoutableAgent } from '../../shared/core/bus/routing';
import { EnvelopeRouter } from '../../shared/core/bus/router';
import { createRouterHandler } from '../../functions/router/core';
import { DynamoRegistry } from '../../shared/adapters/aws/dynamo-registry';
import { FakeClock } from '../../shared/core/clock';
import { createClients } from '../../shared/adapters/aws/clients';
import { RequestCounter } from '../../shared/adapters/aws/request-counter';
import { createTestTables, ddbEndpoint } from '../support/env';
import { RecordingDispatcher, T0, env, registration } from './helpers';

describe('subscriptions', () => {
  it.each([
    ['orders.created', 'orders.created', true],
    ['orders.created', 'orders.created.eu', false],
    ['orders.*', 'orders.created', true],
    ['orders.*', 'orders.eu.created', true],
    ['orders.*', 'orders', false],
    ['orders.*', 'ordersX', false],
    ['ord*', 'orders', true],
    ['ord*', 'or', false],
    ['*', 'anything.at.all', true],
    ['a*b', 'a*b', true],
    ['a*b', 'axb', false],
    ['Orders.created', 'orders.created', false],
  ])('%s vs %s → %s', (sub, topic, expected) => {
    expect(subscriptionMatches(sub, topic)).toBe(expected);
  });
});

describe('routeEnvelope', () => {
  const agents: RoutableAgent[] = [
    { name: 'billing', status: 'active', subscriptions: ['orders.*'], hasOnEnvelope: true },
    { name: 'audit', status: 'active', subscriptions: ['*'], hasOnEnvelope: true },
    { name: 'shop', status: 'active', subscriptions: ['orders.created'], hasOnEnvelope: true },
    { name: 'sleepy', status: 'paused', subscriptions: ['orders.*'], hasOnEnvelope: true },
    { name: 'jail', status: 'quarantined', subscriptions: ['orders.*'], hasOnEnvelope: true },
    { name: 'boot', status: 'restarting', subscriptions: ['orders.created'], hasOnEnvelope: true },
    { name: 'deaf', status: 'active', subscriptions: ['orders.*'], hasOnEnvelope: false },
  ];
  const names = (r: { agent: string }[]) => r.map((x) => x.agent);

  it('broadcasts to matching subscribers with onEnvelope, not to the sender, not to paused agents', () => {
    expect(names(routeEnvelope({ topic: 'orders.created', sender: 'shop' }, agents))).toEqual(['audit', 'billing', 'boot', 'jail']);
    expect(names(routeEnvelope({ topic: 'orders.created', sender: 'elsewhere' }, agents))).toEqual([
      'audit',
      'billing',
      'boot',
      'jail',
      'shop',
    ]);
    expect(names(routeEnvelope({ topic: 'misc', sender: 'x' }, agents))).toEqual(['audit']);
  });

  it('an addressed envelope goes to its recipient only, subscribed or not', () => {
    expect(routeEnvelope({ topic: 'private.note', sender: 'x', recipient: 'shop' }, agents)).toEqual([
      { agent: 'shop', reason: 'recipient' },
    ]);
    expect(routeEnvelope({ topic: 'orders.created', sender: 'x', recipient: 'billing' }, agents)).toEqual([
      { agent: 'billing', reason: 'recipient' },
    ]);
    expect(routeEnvelope({ topic: 'orders.created', sender: 'shop', recipient: 'shop' }, agents)).toEqual([
      { agent: 'shop', reason: 'recipient' },
    ]);
    for (const recipient of ['nobody', 'sleepy', 'deaf']) expect(routeEnvelope({ topic: 't', sender: 'x', recipient }, agents)).toEqual([]);
  });
});

describe('EnvelopeRouter cache (DynamoRegistry on DynamoDB Local)', () => {
  it('reads the registry at most once per TTL, and looks up an unknown recipient at once (a point read, never a scan)', async () => {
    const t = await createTestTables();
    // agents are registered through one client; the router reads through another, whose requests are counted
    const writer = new DynamoRegistry(t.clients.ddb, t.names.Registry);
    const clients = createClients({ region: 'us-east-1', endpoints: { dynamodb: ddbEndpoint() }, localCredentials: true });
    const counter = new RequestCounter();
    counter.count(clients.ddbRaw, 'DynamoDB');
    const registry = new DynamoRegistry(clients.ddb, t.names.Registry);
    const scans = () => counter.requests.get('DynamoDB:Scan') ?? 0;
    const gets = () => counter.requests.get('DynamoDB:GetItem') ?? 0;

    await writer.register(registration('alpha', { subscriptions: ['t'] }));
    const clock = new FakeClock(T0);
    const dispatcher = new RecordingDispatcher();
    const router = new EnvelopeRouter({ registry, dispatcher, clock, cacheTtlMs: 5000 });
    await Promise.all([router.route(env('t', 'x', {})), router.route(env('t', 'x', {}))]);
    expect(scans()).toBe(1);
    await writer.register(registration('bravo', { subscriptions: ['t'] }));
    clock.advance(4000);
    expect((await router.route(env('t', 'x', {}))).routes.map((r) => r.agent)).toEqual(['alpha']); // stale within the bound
    await router.route(env('t', 'x', {}, { recipient: 'bravo' })); // unknown recipient, registered just now: looked up
    expect(dispatcher.envelopesFor('bravo')).toHaveLength(1);
    expect(gets()).toBe(1);
    await router.route(env('t', 'x', {}, { recipient: 'bravo' })); // now in the cache
    expect(gets()).toBe(1);
    expect(dispatcher.envelopesFor('bravo')).toHaveLength(2);
    await router.route(env('t', 'x', {}, { recipient: 'ghost' })); // unknown for good: one point read each, no scan
    await router.route(env('t', 'x', {}, { recipient: 'ghost' }));
    expect(gets()).toBe(3);
    expect(scans()).toBe(1);
    expect(dispatcher.envelopesFor('ghost')).toHaveLength(0);
    clock.advance(5000);
    expect((await router.route(env('t', 'x', {}))).routes.map((r) => r.agent)).toEqual(['alpha', 'bravo']);
    expect(scans()).toBe(2);
    // nothing but those reads
    expect(counter.snapshot()).toEqual({ 'DynamoDB:GetItem': 3, 'DynamoDB:Scan': 2 });
  });
});

describe('router handler (DynamoDB Local registry)', () => {
  let registry: DynamoRegistry;
  beforeAll(async () => {
    const t = await createTestTables();
    registry = new DynamoRegistry(t.clients.ddb, t.names.Registry);
    await registry.register(registration('billing', { subscriptions: ['orders.*'] }));
    await registry.register(registration('shop', { subscriptions: [] }));
    await registry.register(registration('silent', { subscriptions: ['orders.*'], hasOnEnvelope: false }));
  });

  const event = (detail: unknown, extra: Record<string, unknown> = {}) => ({
    version: '0',
    id: 'ev-1',
    'detail-type': (detail as { topic?: string }).topic ?? 'x',
    source: 'agent-orchestrator',
    account: '000000000000',
    time: '2026-01-01T00:00:00Z',
    region: 'us-east-1',
    resources: [],
    detail,
    ...extra,
  });

  it('dispatches one envelope run per recipient, with runId = agent + envelope id', async () => {
    const dispatcher = new RecordingDispatcher();
    const clock = new FakeClock(T0);
    const handler = createRouterHandler({ registry, dispatcher, clock });
    const e = env('orders.created', 'shop', { n: 1 });
    expect(await handler(event(e))).toEqual({ routed: [{ agent: 'billing', reason: 'subscription' }] });
    const direct = env('note', 'billing', { hi: true }, { recipient: 'shop' });
    expect(await handler(event(direct))).toEqual({ routed: [{ agent: 'shop', reason: 'recipient' }] });
    expect(dispatcher.items).toEqual([
      { message: { kind: 'envelope', agent: 'billing', runId: `billing<${e.id}`, envelope: e }, notBefore: T0 },
      { message: { kind: 'envelope', agent: 'shop', runId: `shop<${direct.id}`, envelope: direct }, notBefore: T0 },
    ]);
  });

  it('drops events without a valid envelope, dispatching nothing', async () => {
    const dispatcher = new RecordingDispatcher();
    const handler = createRouterHandler({ registry, dispatcher });
    const e = env('orders.created', 'x', {});
    for (const bad of [
      event({ ...e, payload: [] }),
      event(e, { source: 'aws.s3' }),
      event(e, { 'detail-type': 'other' }),
      { nope: true },
      null,
    ]) {
      const r = await handler(bad);
      expect(r.routed).toEqual([]);
      expect('invalid' in r && r.invalid.length > 0).toBe(true);
    }
    expect(dispatcher.items).toEqual([]);
  });
});
