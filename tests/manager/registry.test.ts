/** DynamoRegistry and DynamoSchedule against DynamoDB Local. */
import { beforeAll, describe, expect, it } from 'vitest';
import semver from 'semver';
import { DynamoRegistry, DynamoSchedule } from '../../shared/adapters/aws/dynamo-registry';
import { versionSortKey } from '../../shared/core/bundle/identity';
import { ConflictError, NotFoundError } from '../../shared/core/errors';
import type { NewRegistration } from '../../shared/core/registry';
import { shardOf } from '../../shared/definitions/tables';
import { createTestTables } from '../support/env';

const SHARDS = 3;
const T0 = Date.UTC(2026, 0, 1);
let registry: DynamoRegistry;
let schedule: DynamoSchedule;

beforeAll(async () => {
  const t = await createTestTables();
  registry = new DynamoRegistry(t.clients.ddb, t.names.Registry, { shards: SHARDS });
  schedule = new DynamoSchedule(t.clients.ddb, t.names.Registry);
});

function reg(name: string, version: string, cycleSeconds = 60, firstRunAt = T0): NewRegistration {
  const sha = version
    .replace(/[^0-9]/g, '')
    .padEnd(64, 'a')
    .slice(0, 64);
  return {
    name,
    version,
    versionKey: versionSortKey(version),
    bundleKey: `agents/${name}/${version}.mjs`,
    sha256: sha,
    size: 100 + version.length,
    signer: null,
    manifest: { cycleSeconds, timeoutSeconds: 5, subscriptions: [`t.${version}`], hasOnEnvelope: false },
    at: new Date(T0).toISOString(),
    firstRunAt,
  };
}

const pause = (at = T0) => ({ to: 'paused' as const, from: ['active', 'restarting'] as const, at, reason: 'operator', nextRunAt: null });

describe('DynamoRegistry (DynamoDB Local)', () => {
  it('registers a new agent active and scheduled; refuses older or equal versions; an upgrade keeps status and schedule', async () => {
    expect(await registry.register(reg('alpha', '1.0.0', 60, T0 + 60_000))).toEqual({ outcome: 'registered', previousVersion: null });
    expect(await registry.get('alpha')).toMatchObject({
      status: 'active',
      nextRunAt: T0 + 60_000,
      generation: 1,
      restarts: 0,
      statusReason: 'registered',
    });
    expect(await registry.register(reg('alpha', '1.0.0'))).toEqual({ outcome: 'not_newer', activeVersion: '1.0.0' });
    expect(await registry.register(reg('alpha', '0.9.0'))).toEqual({ outcome: 'not_newer', activeVersion: '1.0.0' });
    await registry.transition('alpha', pause());
    expect(await registry.register(reg('alpha', '1.0.1', 60, T0 + 999))).toEqual({ outcome: 'registered', previousVersion: '1.0.0' });
    const rec = await registry.get('alpha');
    // paused stays paused and unscheduled; the upgrade is a fresh load (generation bumped)
    expect(rec).toMatchObject({
      version: '1.0.1',
      status: 'paused',
      nextRunAt: null,
      bundleKey: 'agents/alpha/1.0.1.mjs',
      restarts: 0,
      generation: 2,
    });
  });

  it('two concurrent registrations of different versions leave the newest, never a mix', async () => {
    for (let round = 0; round < 10; round++) {
      const name = `race-${round}`;
      const versions = ['1.0.0', '1.2.0', '1.10.0', '2.0.0-rc.1', '2.0.0', '1.9.9'].sort(() => Math.random() - 0.5);
      const results = await Promise.all(versions.map((v) => registry.register(reg(name, v, versions.indexOf(v) + 1))));
      expect(results.some((r) => r.outcome === 'registered')).toBe(true);
      const rec = await registry.get(name);
      const newest = [...versions].sort(semver.rcompare)[0]!;
      const expected = reg(name, newest, versions.indexOf(newest) + 1);
      // every bundle field comes from the same (newest) registration
      expect(rec).toMatchObject({
        version: newest,
        versionKey: expected.versionKey,
        bundleKey: expected.bundleKey,
        sha256: expected.sha256,
        size: expected.size,
        cycleSeconds: expected.manifest.cycleSeconds,
        subscriptions: expected.manifest.subscriptions,
      });
    }
  });

  it('transition enforces allowed source states, reports unknown agents, and changes nothing when refused', async () => {
    await registry.register(reg('beta', '1.0.0'));
    const before = await registry.get('beta');
    await expect(
      registry.transition('beta', { to: 'active', from: ['paused'], at: T0, reason: 'resume', nextRunAt: T0 }),
    ).rejects.toBeInstanceOf(ConflictError);
    await expect(registry.transition('nobody', pause())).rejects.toBeInstanceOf(NotFoundError);
    expect(await registry.get('beta')).toEqual(before);
    const paused = await registry.transition('beta', pause(T0 + 5));
    expect(paused).toMatchObject({
      status: 'paused',
      statusReason: 'operator',
      nextRunAt: null,
      statusChangedAt: new Date(T0 + 5).toISOString(),
    });
    const resumed = await registry.transition('beta', { to: 'active', from: ['paused'], at: T0 + 6, reason: null, nextRunAt: T0 + 60_000 });
    expect(resumed).toMatchObject({ status: 'active', nextRunAt: T0 + 60_000 });
  });

  it('restarts count within the window, bump the generation, and honour an expected generation', async () => {
    await registry.register(reg('gamma', '1.0.0'));
    const restart = (at: number, extra: object = {}) =>
      registry.transition('gamma', {
        to: 'restarting',
        from: ['active', 'restarting'],
        at,
        reason: 'failures',
        nextRunAt: at + 1000,
        bumpGeneration: true,
        recordRestart: { windowStart: at - 600_000 },
        ...extra,
      });
    await restart(T0);
    await restart(T0 + 1000);
    const r3 = await restart(T0 + 700_000); // the first two fall out of the window
    expect(r3).toMatchObject({ status: 'restarting', restarts: 3, restartTimes: [T0 + 700_000], generation: 4, nextRunAt: T0 + 701_000 });
    await expect(restart(T0 + 700_001, { expectGeneration: 1 })).rejects.toBeInstanceOf(ConflictError);
    expect((await registry.get('gamma'))?.generation).toBe(4);
    const q = await registry.transition('gamma', {
      to: 'quarantined',
      from: ['active', 'restarting', 'paused'],
      at: T0 + 700_002,
      reason: 'too many restarts',
      nextRunAt: null,
    });
    expect(q).toMatchObject({ status: 'quarantined', nextRunAt: null });
    const rel = await registry.transition('gamma', {
      to: 'active',
      from: ['quarantined'],
      at: T0 + 800_000,
      reason: 'released',
      nextRunAt: T0 + 800_000,
      bumpGeneration: true,
      resetRestartWindow: true,
    });
    expect(rel).toMatchObject({ status: 'active', restartTimes: [], restarts: 3, generation: 5 });
  });

  it('concurrent restarts of one agent are all counted (optimistic retry on the window read)', async () => {
    await registry.register(reg('delta', '1.0.0'));
    await Promise.all(
      [1, 2, 3].map((i) =>
        registry.transition('delta', {
          to: 'restarting',
          from: ['active', 'restarting'],
          at: T0 + i,
          reason: 'r',
          nextRunAt: T0 + 1000,
          bumpGeneration: true,
          recordRestart: { windowStart: T0 - 1 },
        }),
      ),
    );
    const rec = await registry.get('delta');
    expect(rec?.restarts).toBe(3);
    expect(rec?.restartTimes.sort()).toEqual([T0 + 1, T0 + 2, T0 + 3]);
    expect(rec?.generation).toBe(4);
  });

  it('deregisters only the active version', async () => {
    await registry.register(reg('epsilon', '1.0.0'));
    expect(await registry.deregister('epsilon', '0.1.0')).toBe(false);
    expect(await registry.get('epsilon')).not.toBeNull();
    expect(await registry.deregister('epsilon', '1.0.0')).toBe(true);
    expect(await registry.get('epsilon')).toBeNull();
    expect((await registry.list()).map((r) => r.name)).not.toContain('epsilon');
  });
});

describe('DynamoSchedule (sparse due index)', () => {
  it('returns only scheduled agents that are due, per shard, and never paused ones', async () => {
    const names = Array.from({ length: 12 }, (_, i) => `sched-${i}`);
    for (const [i, n] of names.entries()) await registry.register(reg(n, '1.0.0', 10, T0 + i * 1000));
    await registry.transition('sched-0', pause());
    const due = new Map<string, number>();
    for (let s = 0; s < SHARDS; s++) {
      for (const d of await schedule.queryDue(String(s), T0 + 5000, 100)) {
        if (d.name.startsWith('sched-')) {
          expect(shardOf(d.name, SHARDS)).toBe(String(s));
          due.set(d.name, d.nextRunAt);
        }
      }
    }
    expect([...due.keys()].sort()).toEqual(['sched-1', 'sched-2', 'sched-3', 'sched-4', 'sched-5']);
    expect(due.get('sched-3')).toBe(T0 + 3000);
  });

  it('advance wins once for racing schedulers, activates a restarting agent, and refuses an unscheduled one', async () => {
    await registry.register(reg('adv', '1.0.0', 1, T0));
    const wins = await Promise.all(Array.from({ length: 8 }, () => schedule.advance('adv', T0, T0 + 5000, { activate: false, at: T0 })));
    expect(wins.filter(Boolean)).toHaveLength(1);
    expect((await registry.get('adv'))?.nextRunAt).toBe(T0 + 5000);
    await registry.transition('adv', {
      to: 'restarting',
      from: ['active'],
      at: T0,
      reason: 'r',
      nextRunAt: T0 + 9000,
      bumpGeneration: true,
      recordRestart: { windowStart: 0 },
    });
    expect(await schedule.advance('adv', T0 + 9000, T0 + 10_000, { activate: true, at: T0 + 9000 })).toBe(true);
    expect(await registry.get('adv')).toMatchObject({ status: 'active', nextRunAt: T0 + 10_000 });
    await registry.transition('adv', pause());
    expect(await schedule.advance('adv', T0 + 10_000, T0 + 11_000, { activate: false, at: T0 })).toBe(false);
  });
});
