/** ControlService against DynamoDB Local: views, allowed transitions, ledger events, errors. */
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoRegistry } from '../../shared/adapters/aws/dynamo-registry';
import { DynamoHeartbeats } from '../../shared/adapters/aws/dynamo-heartbeats';
import { ControlService } from '../../shared/core/control/service';
import { ActionNotAllowedError, UnknownActionError } from '../../shared/core/control/errors';
import { ConflictError, NotFoundError, ValidationError } from '../../shared/core/errors';
import { FakeClock } from '../../shared/core/clock';
import { DispatchMessageSchema } from '../../shared/core/dispatch';
import { nextSlotAtOrAfter } from '../../shared/core/registry';
import { createTestTables } from '../support/env';
import { RecordingPublisher } from '../support/recording-publisher';
import { RecordingDispatcher, T0, registration, testPolicy } from './helpers';

let registry: DynamoRegistry;
let heartbeats: DynamoHeartbeats;
let events: RecordingPublisher;
let dispatcher: RecordingDispatcher;
let clock: FakeClock;
let control: ControlService;
const policy = testPolicy();

beforeAll(async () => {
  const t = await createTestTables();
  registry = new DynamoRegistry(t.clients.ddb, t.names.Registry, { shards: 3 });
  heartbeats = new DynamoHeartbeats(t.clients.ddb, t.names.Heartbeats, { shards: 3 });
  await registry.register(registration('alpha', { cycleSeconds: 10, timeoutSeconds: 2, firstRunAt: T0 + 10_000 }));
  await registry.register(registration('beta', { cycleSeconds: 60 }));
});

beforeEach(() => {
  events = new RecordingPublisher();
  dispatcher = new RecordingDispatcher();
  clock = new FakeClock(T0 + 3_500);
  control = new ControlService({ registry, heartbeats, dispatcher, events, policy, clock });
});

describe('ControlService (DynamoDB Local)', () => {
  it('lists agents exactly as GET /agents shows them', async () => {
    await heartbeats.complete('alpha', {
      runId: 'r',
      at: T0 + 1000,
      outcome: 'error',
      error: 'boom',
      durationMs: 5,
      generation: 1,
      stateChanges: {},
      expectBy: null,
      countsAsCycle: true,
    });
    const list = await control.list();
    expect(list).toEqual([
      {
        name: 'alpha',
        version: '1.0.0',
        status: 'active',
        cycleSeconds: 10,
        lastHeartbeat: new Date(T0 + 1000).toISOString(),
        nextRunAt: new Date(T0 + 10_000).toISOString(),
        consecutiveErrors: 1,
        restarts: 0,
        lastError: 'boom',
      },
      {
        name: 'beta',
        version: '1.0.0',
        status: 'active',
        cycleSeconds: 60,
        lastHeartbeat: null,
        nextRunAt: new Date(T0).toISOString(),
        consecutiveErrors: 0,
        restarts: 0,
        lastError: null,
      },
    ]);
    expect(await control.get('beta')).toEqual(list[1]);
    expect(await control.describe('alpha')).toMatchObject({
      name: 'alpha',
      timeoutSeconds: 2,
      cycles: 1,
      failures: 1,
      lastOutcome: 'error',
      generation: 1,
    });
  });

  it('pause unschedules and clears the expected heartbeat; resume schedules the next slot on the grid', async () => {
    await heartbeats.setExpectedBy('alpha', T0 + 99_000);
    const paused = await control.pause('alpha');
    expect(paused).toMatchObject({ status: 'paused', nextRunAt: null });
    expect((await heartbeats.get('alpha'))?.expectBy).toBeNull();
    expect(events.last('agent.paused')?.payload).toMatchObject({ name: 'alpha', by: 'operator', previousStatus: 'active' });
    await expect(control.pause('alpha')).rejects.toThrow(/already paused/);
    const resumed = await control.resume('alpha');
    // now = T0 + 3.5 s, period 10 s: the next slot of alpha's grid (k × 10 s + its phase offset)
    const next = nextSlotAtOrAfter(T0 + 3_500, 10, 'alpha');
    expect(next - (T0 + 3_500)).toBeLessThan(10_000);
    expect(resumed).toMatchObject({ status: 'active', nextRunAt: new Date(next).toISOString() });
    // first heartbeat expected by slot + stuck limit: max(3·10, 10 + 2 + 30) = 42 s
    expect((await heartbeats.get('alpha'))?.expectBy).toBe(next + 42_000);
    expect(events.topics()).toEqual(['agent.paused', 'agent.resumed']);
  });

  it('trigger dispatches one trigger message now, for active and paused agents', async () => {
    const r = await control.trigger('alpha');
    expect(dispatcher.items).toHaveLength(1);
    const item = dispatcher.items[0]!;
    expect(DispatchMessageSchema.parse(item.message)).toEqual({ kind: 'trigger', agent: 'alpha', runId: r.runId });
    expect(item.notBefore).toBe(clock.now());
    expect(events.last('agent.triggered')?.payload).toMatchObject({ name: 'alpha', runId: r.runId });
    await control.pause('beta');
    await expect(control.act('beta', 'trigger')).resolves.toMatchObject({ agent: { status: 'paused' } });
    await control.resume('beta');
  });

  it('restart (operator): immediate, fresh generation, errors reset, not counted toward quarantine', async () => {
    await heartbeats.complete('alpha', {
      runId: 'r',
      at: T0 + 2000,
      outcome: 'error',
      error: 'again',
      durationMs: 5,
      generation: 1,
      stateChanges: {},
      expectBy: null,
      countsAsCycle: true,
    });
    const before = await registry.get('alpha');
    const v = await control.restart('alpha');
    expect(v).toMatchObject({ status: 'active', nextRunAt: new Date(clock.now()).toISOString(), consecutiveErrors: 0, restarts: 0 });
    const after = await registry.get('alpha');
    expect(after?.generation).toBe((before?.generation ?? 0) + 1);
    expect(after?.restartTimes).toEqual([]);
    expect(events.last('agent.restarted')?.payload).toMatchObject({ name: 'alpha', by: 'operator', backoffMs: 0 });
  });

  it('quarantine and release: quarantined agents cannot be triggered, resumed or restarted; release reschedules with a fresh window', async () => {
    await control.quarantine('beta');
    expect(await control.get('beta')).toMatchObject({ status: 'quarantined', nextRunAt: null });
    for (const action of ['trigger', 'resume', 'restart', 'pause', 'quarantine'] as const) {
      const err = await control.act('beta', action).catch((e: unknown) => e);
      expect(err, action).toBeInstanceOf(ConflictError);
    }
    await expect(control.trigger('beta')).rejects.toBeInstanceOf(ActionNotAllowedError);
    expect(dispatcher.items).toEqual([]);
    const gen = (await registry.get('beta'))?.generation ?? 0;
    const v = await control.release('beta');
    expect(v).toMatchObject({
      status: 'active',
      nextRunAt: new Date(nextSlotAtOrAfter(T0 + 3_500, 60, 'beta')).toISOString(),
      consecutiveErrors: 0,
    });
    expect((await registry.get('beta'))?.generation).toBe(gen + 1);
    expect(events.topics()).toEqual(['agent.quarantined', 'agent.released']);
    await expect(control.release('beta')).rejects.toThrow(/only quarantined agents/);
  });

  it('bad input changes nothing: unknown agent → NotFoundError, malformed name → ValidationError, unknown action → UnknownActionError', async () => {
    const before = await control.list();
    await expect(control.pause('nobody')).rejects.toBeInstanceOf(NotFoundError);
    await expect(control.get('Bad Name!')).rejects.toBeInstanceOf(ValidationError);
    await expect(control.act('alpha', 'explode')).rejects.toBeInstanceOf(UnknownActionError);
    await expect(control.act('alpha', 'explode')).rejects.toMatchObject({ code: 'validation_failed' });
    expect(await control.list()).toEqual(before);
    expect(events.envelopes).toEqual([]);
    expect(dispatcher.items).toEqual([]);
  });
});
