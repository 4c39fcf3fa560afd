/**
 * Local-mode runtime for the runtime tests, wired as local mode wires it: DynamoDB Local tables,
 * an s3rver hot directory with signed bundles registered by the real AgentManager, the real
 * worker-thread sandbox, the local bus (rules of shared/definitions/routing.ts) delivering
 * `agent.failed` to the health-monitor handler, the scheduler handler dispatching into the local
 * runner pool, which runs the runner core. Time is a FakeClock the test moves; the runs
 * themselves (worker threads, DynamoDB, S3) are real.
 */
import { DynamoRegistry, DynamoSchedule } from '../../shared/adapters/aws/dynamo-registry';
import { DynamoHeartbeats } from '../../shared/adapters/aws/dynamo-heartbeats';
import { S3BundleStore } from '../../shared/adapters/aws/s3-bundle-store';
import type { WorkerSandbox } from '../../shared/adapters/node/sandbox';
import { ControlService } from '../../shared/core/control/service';
import { healthPolicyFrom } from '../../shared/core/health/policy';
import { generateKeyPair, publicKeyOf, signBundle } from '../../shared/core/bundle/signing';
import { bundleKey } from '../../shared/core/bundle/identity';
import { loadConfig, type Config } from '../../shared/core/config';
import { FakeClock } from '../../shared/core/clock';
import type { Envelope } from '../../shared/core/envelope';
import type { RunReport } from '../../shared/core/runner/service';
import type { DispatchMessage } from '../../shared/core/dispatch';
import type { AgentSandbox } from '../../shared/core/ports';
import { RULES } from '../../shared/definitions/routing';
import { createSchedulerHandler } from '../../functions/scheduler/core';
import { createRunnerCore, type RunnerCoreDeps } from '../../functions/runner/core';
import { createHealthMonitorHandler, type HealthHandlerResult } from '../../functions/health-monitor/core';
import type { TickReport } from '../../shared/core/scheduler/service';
import { LocalBus } from '../../local/bus';
import { LocalRunnerPool } from '../../local/runner';
import { createTestTables, startTestS3, type TestTables } from '../support/env';
import { createTestInspector } from '../support/inspector';
import { T0, fixtureBytes } from './helpers';
import { managerOn } from '../support/manager';

export interface RuntimeOptions {
  env?: Record<string, string>;
  concurrency?: number;
  horizonMs?: number;
  start?: number;
  /** wraps the runner core the pool calls (e.g. to route some agents to a runner host that dies mid-run) */
  wrapCore?: (core: (msg: DispatchMessage) => Promise<RunReport>) => (msg: DispatchMessage) => Promise<RunReport>;
}

export type Runtime = Awaited<ReturnType<typeof startRuntime>>;

/**
 * A runner host that dies mid-run, for the agents in `dying`: their runs go to a core of its own
 * (its own heartbeat store client, as another host's) whose sandbox never ends, so it claims and
 * never completes; the pool sees the run skipped. `wrapCore` goes into RuntimeOptions; `rt`
 * returns the runtime once started.
 */
export function dyingHost(rt: () => Runtime): { dying: Set<string>; wrapCore: NonNullable<RuntimeOptions['wrapCore']> } {
  const dying = new Set<string>();
  const never: AgentSandbox = { inspect: () => new Promise(() => {}), run: () => new Promise(() => {}) };
  const wrapCore: NonNullable<RuntimeOptions['wrapCore']> = (core) => {
    let dead: ((m: DispatchMessage) => Promise<RunReport>) | undefined;
    return async (msg) => {
      if (!dying.has(msg.agent)) return core(msg);
      const r = rt();
      dead ??= createRunnerCore({
        registry: r.registry,
        heartbeats: new DynamoHeartbeats(r.tables.clients.ddb, r.tables.names.Heartbeats, { shards: r.config.AGENT_SCHEDULE_SHARDS }),
        bundles: r.bundles,
        events: r.bus,
        sandbox: never,
        config: r.config,
        clock: r.clock,
      });
      void dead(msg);
      return { status: 'skipped', agent: msg.agent, runId: msg.runId, kind: msg.kind, reason: 'duplicate' };
    };
  };
  return { dying, wrapCore };
}

export async function startRuntime(opts: RuntimeOptions = {}) {
  const s3 = await startTestS3();
  const tables: TestTables = await createTestTables(s3.endpoint);
  const ddb = tables.clients.ddb;
  const keys = generateKeyPair();
  const config: Config = loadConfig({ AGENT_BUNDLE_PUBKEYS: keys.publicKey, AGENT_SCHEDULE_SHARDS: '3', ...opts.env });
  const shards = config.AGENT_SCHEDULE_SHARDS;
  const clock = new FakeClock(opts.start ?? T0);
  const registry = new DynamoRegistry(ddb, tables.names.Registry, { shards });
  const schedule = new DynamoSchedule(ddb, tables.names.Registry);
  const heartbeats = new DynamoHeartbeats(ddb, tables.names.Heartbeats, { shards });
  const bundles = new S3BundleStore(tables.clients.s3, s3.bucket);
  const sandbox: WorkerSandbox = createTestInspector({ memoryMb: 64 });

  const events: Envelope[] = [];
  const healthResults: HealthHandlerResult[] = [];
  let health: ((e: unknown) => Promise<HealthHandlerResult>) | undefined;
  const bus = new LocalBus({
    rules: RULES,
    vars: { HOT_BUCKET: s3.bucket },
    clock,
    targets: {
      'health-monitor': async (e: never) => {
        const r = await health!(e);
        healthResults.push(r);
        return r;
      },
    },
  });
  bus.subscribe((e) => events.push(e.detail));
  health = createHealthMonitorHandler({ registry, heartbeats, events: bus, config, clock });

  const reports: RunReport[] = [];
  const core = createRunnerCore({ registry, heartbeats, bundles, events: bus, sandbox, config, clock });
  const pool = new LocalRunnerPool({
    core: opts.wrapCore ? opts.wrapCore(core) : core,
    concurrency: opts.concurrency ?? 4,
    clock,
    onReport: (r) => reports.push(r),
  });
  const horizonMs = opts.horizonMs ?? 1500;
  const scheduler = createSchedulerHandler({ schedule, dispatcher: pool, clock, config: { shards, horizonMs } });
  const manager = managerOn({ registry, bundles, events: bus, inspector: sandbox, config, clock });
  const policy = healthPolicyFrom(config);
  const control = new ControlService({ registry, heartbeats, dispatcher: pool, events: bus, policy, clock });

  const rt = {
    s3,
    tables,
    config,
    policy,
    clock,
    registry,
    schedule,
    heartbeats,
    bundles,
    sandbox,
    bus,
    events,
    healthResults,
    reports,
    core,
    pool,
    scheduler,
    health: (e: unknown) => health!(e),
    manager,
    control,
    keys,

    /** A runner core on the same stores, with some dependencies replaced (e.g. a faulty store). */
    coreWith(overrides: Partial<RunnerCoreDeps>) {
      return createRunnerCore({ registry, heartbeats, bundles, events: bus, sandbox, config, clock, ...overrides });
    },

    /** Signs a fixture and registers it through the real manager (as an S3 upload would). */
    async publish(name: string, file: string, version = '1.0.0') {
      const bytes = typeof file === 'string' && file.endsWith('.mjs') ? fixtureBytes(file) : new TextEncoder().encode(file);
      const key = bundleKey(name, version);
      await bundles.put(key, bytes, { signature: signBundle(keys.privateKey, name, version, bytes), signer: publicKeyOf(keys.privateKey) });
      const out = await manager.onObjectCreated(key, bytes.byteLength);
      if (out.kind !== 'registered') throw new Error(`registration of ${name} failed: ${JSON.stringify(out)}`);
      return out;
    },

    /**
     * Moves the clock (by less than a period) to the latest of these agents' next slots, so that
     * the next `step`s run a known number of their slots: slots start at each agent's phase
     * offset on its grid, not at whole periods.
     */
    async alignTo(...names: string[]) {
      const next = await Promise.all(names.map(async (n) => (await registry.get(n))?.nextRunAt ?? 0));
      const target = Math.max(...next);
      if (target > clock.now()) clock.advance(target - clock.now());
    },

    /** Lets everything due now happen: runs, then bus deliveries (health monitor), repeatedly until quiet. */
    async settle() {
      for (let i = 0; i < 10; i++) {
        pool.poke();
        await pool.idle();
        await bus.idle();
        if (pool.stats().inFlight === 0) {
          const due = pool.waiting().some((w) => w.notBefore <= clock.now());
          if (!due) return;
        }
      }
    },

    /** One local-mode second: scheduler tick at `now`, due runs, deliveries; then the clock moves on. */
    async step(ms = 1000, opts2: { sweep?: boolean } = {}): Promise<TickReport> {
      const tick = (await scheduler({ action: 'tick' })) as TickReport;
      await rt.settle();
      if (opts2.sweep) {
        await health!({ action: 'sweep' });
        await rt.settle();
      }
      clock.advance(ms);
      return tick;
    },

    /** agent.cycle / agent.failed events of one agent, in order. */
    runsOf(name: string) {
      return events.filter((e) => (e.topic === 'agent.cycle' || e.topic === 'agent.failed') && e.payload.name === name);
    },

    ledgerOf(topic: string, name?: string) {
      return events.filter((e) => e.topic === topic && (name === undefined || e.payload.name === name));
    },

    async stop() {
      await pool.stop();
      await bus.idle();
      await s3.stop();
    },
  };
  return rt;
}
