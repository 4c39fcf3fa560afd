/**
 * The API under test, wired like local mode but without timers: DynamoDB Local tables (registry,
 * heartbeats, ledger) through the real adapters, the real ControlService and LedgerService, the
 * real LocalBus with the RULES of shared/definitions/routing.ts delivering, asynchronously as in
 * local mode, to the real ledger-writer handler (the other rules' targets, router and health
 * monitor, are not wired here: their events are counted undeliverable), the real
 * LocalComponentControl over plain switches, and the real local HTTP listener in front of the
 * very handler the Lambda runs.
 *
 * Publishing returns before the ledger has the envelope (as PutEvents does): a test that reads
 * the ledger after publishing waits for `h.bus.idle()`.
 */
import { randomBytes } from 'node:crypto';
import { DynamoRegistry } from '../../shared/adapters/aws/dynamo-registry';
import { DynamoHeartbeats } from '../../shared/adapters/aws/dynamo-heartbeats';
import { createDynamoLedger } from '../../shared/adapters/aws/dynamo-ledger';
import { ControlService } from '../../shared/core/control/service';
import { healthPolicyFrom } from '../../shared/core/health/policy';
import { loadConfig } from '../../shared/core/config';
import type { LedgerDigestStore, LedgerReader } from '../../shared/core/ports';
import type { LedgerService } from '../../shared/core/ledger/service';
import { RULES } from '../../shared/definitions/routing';
import { LocalBus } from '../../local/bus';
import { LocalComponentControl, type Switch } from '../../local/components';
import { createApiHandler } from '../../functions/api/app';
import { createStreamHandler } from '../../functions/api/stream-core';
import { createRpcServer } from '../../functions/api/rpc/server';
import { createLedgerWriterHandler } from '../../functions/ledger-writer/core';
import type { ApiDeps } from '../../functions/api/deps';
import { startHttpServer, type HttpServer } from '../../local/http';
import { RecordingDispatcher } from '../runtime/helpers';
import { createTestTables, type TestTables } from '../support/env';

export class PlainSwitch implements Switch {
  enabled = true;
  setEnabled(enabled: boolean): void {
    this.enabled = enabled;
  }
  isEnabled(): boolean {
    return this.enabled;
  }
}

export interface ApiHarness {
  url: string;
  token: string;
  server: HttpServer;
  registry: DynamoRegistry;
  heartbeats: DynamoHeartbeats;
  ledger: LedgerService & LedgerReader;
  bus: LocalBus;
  tables: TestTables;
  dispatcher: RecordingDispatcher;
  control: ControlService;
  components: LocalComponentControl;
  deps: ApiDeps;
  /** fetch with the bearer token */
  api(path: string, init?: RequestInit & { token?: string | null }): Promise<Response>;
  close(): Promise<void>;
}

export async function startApiHarness(
  opts: { maxBodyBytes?: number; busCounters?: ApiDeps['busCounters']; digests?: LedgerDigestStore } = {},
): Promise<ApiHarness> {
  const t = await createTestTables();
  const registry = new DynamoRegistry(t.clients.ddb, t.names.Registry, { shards: 2 });
  const heartbeats = new DynamoHeartbeats(t.clients.ddb, t.names.Heartbeats, { shards: 2 });
  // as local/host.ts wires them: the bus delivers to the ledger writer, the ledger replays onto the bus
  const targets: ConstructorParameters<typeof LocalBus>[0]['targets'] = {};
  const bus = new LocalBus({ rules: RULES, vars: { HOT_BUCKET: 'hot' }, targets });
  const ledger = createDynamoLedger(t.clients.ddb, t.names.Ledger, bus, opts.digests ? { digests: opts.digests } : {});
  targets['ledger-writer'] = createLedgerWriterHandler({ ledger });
  const dispatcher = new RecordingDispatcher();
  const policy = healthPolicyFrom(loadConfig({}));
  const control = new ControlService({ registry, heartbeats, dispatcher, events: bus, policy });
  const switches = new Map<string, PlainSwitch>();
  const sw = (id: string): PlainSwitch => {
    if (!switches.has(id)) switches.set(id, new PlainSwitch());
    return switches.get(id) as PlainSwitch;
  };
  const components = new LocalComponentControl({
    rule: (id) => sw(`rule:${id}`),
    schedule: (id) => sw(`schedule:${id}`),
    extra: { runner: [sw('runner-pool')] },
  });
  const token = randomBytes(24).toString('hex');
  const deps: ApiDeps = {
    auth: { mode: 'token', token },
    control,
    registry,
    heartbeats,
    ledger,
    replay: (req) => ledger.replay(req),
    events: bus,
    components,
    ...(opts.busCounters ? { busCounters: opts.busCounters } : {}),
    ...(opts.maxBodyBytes ? { maxBodyBytes: opts.maxBodyBytes } : {}),
    stream: { pollMs: 50, metricsEveryMs: 200, keepaliveMs: 1000 },
  };
  const server = await startHttpServer({
    handler: createApiHandler(deps),
    streamHandler: createStreamHandler(deps),
    rpc: createRpcServer(deps),
    port: 0,
    ...(opts.maxBodyBytes ? { maxBodyBytes: opts.maxBodyBytes } : {}),
  });
  return {
    url: server.url,
    token,
    server,
    registry,
    heartbeats,
    ledger,
    bus,
    tables: t,
    dispatcher,
    control,
    components,
    deps,
    api(path, init = {}) {
      const { token: tk, ...rest } = init;
      const headers = new Headers(rest.headers);
      const use = tk === undefined ? token : tk;
      if (use !== null) headers.set('authorization', `Bearer ${use}`);
      return fetch(server.url + path, { ...rest, headers });
    },
    async close() {
      await server.close();
      await bus.idle();
    },
  };
}

/** Everything a rejected request must leave untouched (read once the bus delivered what it holds). */
export async function stateOf(h: ApiHarness): Promise<unknown> {
  await h.bus.idle();
  const agents = (await h.registry.list()).map((a) => ({
    name: a.name,
    status: a.status,
    generation: a.generation,
    nextRunAt: a.nextRunAt,
    restarts: a.restarts,
    version: a.version,
  }));
  const hbs = await h.heartbeats.getMany(agents.map((a) => a.name));
  return {
    agents,
    heartbeats: [...hbs.entries()].map(([n, hb]) => [n, hb.consecutiveErrors, hb.expectBy, hb.cycles]),
    head: await h.ledger.head(),
    published: h.bus.stats().published,
    dispatched: h.dispatcher.items.length,
    components: await h.components.list(),
  };
}
