/**
 * The API under test, wired like local mode but without timers: DynamoDB Local tables (registry,
 * heartbeats, ledger) through the real adapters, the real ControlService and LedgerService, a
 * bus whose only rule is the Ledger one (every published envelope is appended by the ledger
 * core, as the ledger writer does), the real LocalComponentControl over plain switches, and the
 * real local HTTP listener in front of the very handler the Lambda runs.
 */
import { randomBytes } from 'node:crypto';
import { DynamoRegistry } from '../../shared/adapters/aws/dynamo-registry';
import { DynamoHeartbeats } from '../../shared/adapters/aws/dynamo-heartbeats';
import { createDynamoLedger } from '../../shared/adapters/aws/dynamo-ledger';
import { ControlService } from '../../shared/core/control/service';
import { healthPolicyFrom } from '../../shared/core/health/policy';
import { loadConfig } from '../../shared/core/config';
import type { Envelope } from '../../shared/core/envelope';
import type { EventPublisher, LedgerReader } from '../../shared/core/ports';
import type { LedgerService } from '../../shared/core/ledger/service';
import { LocalComponentControl, type Switch } from '../../local/components';
import { createApiHandler } from '../../functions/api/app';
import { createStreamHandler } from '../../functions/api/stream-core';
import type { ApiDeps } from '../../functions/api/deps';
import { startHttpServer, type HttpServer } from '../../local/http';
import { RecordingDispatcher } from '../runtime/helpers';
import { createTestTables } from '../support/env';

/** Publishes onto a "bus" whose Ledger rule appends every envelope, in order, like the ledger writer. */
export class LedgerOnlyBus implements EventPublisher {
  ledger!: LedgerService;
  published = 0;
  async publish(envelopes: Envelope[]): Promise<void> {
    this.published += envelopes.length;
    await this.ledger.append(envelopes);
  }
}

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
  bus: LedgerOnlyBus;
  dispatcher: RecordingDispatcher;
  control: ControlService;
  components: LocalComponentControl;
  deps: ApiDeps;
  /** fetch with the bearer token */
  api(path: string, init?: RequestInit & { token?: string | null }): Promise<Response>;
  close(): Promise<void>;
}

export async function startApiHarness(opts: { maxBodyBytes?: number; busCounters?: ApiDeps['busCounters'] } = {}): Promise<ApiHarness> {
  const t = await createTestTables();
  const registry = new DynamoRegistry(t.clients.ddb, t.names.Registry, { shards: 2 });
  const heartbeats = new DynamoHeartbeats(t.clients.ddb, t.names.Heartbeats, { shards: 2 });
  const bus = new LedgerOnlyBus();
  const ledger = createDynamoLedger(t.clients.ddb, t.names.Ledger, bus);
  bus.ledger = ledger;
  const dispatcher = new RecordingDispatcher();
  const policy = healthPolicyFrom(loadConfig({}));
  const control = new ControlService({ registry, heartbeats, dispatcher, events: bus, policy });
  const switches = new Map<string, PlainSwitch>();
  const sw = (id: string) => switches.get(id) ?? (switches.set(id, new PlainSwitch()), switches.get(id) as PlainSwitch);
  const components = new LocalComponentControl({ rule: (id) => sw(`rule:${id}`), schedule: (id) => sw(`schedule:${id}`), extra: { runner: [sw('runner-pool')] } });
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
    close: () => server.close(),
  };
}

/** Everything a rejected request must leave untouched. */
export async function stateOf(h: ApiHarness): Promise<unknown> {
  const agents = (await h.registry.list()).map((a) => ({ name: a.name, status: a.status, generation: a.generation, nextRunAt: a.nextRunAt, restarts: a.restarts, version: a.version }));
  const hbs = await h.heartbeats.getMany(agents.map((a) => a.name));
  return {
    agents,
    heartbeats: [...hbs.entries()].map(([n, hb]) => [n, hb.consecutiveErrors, hb.expectBy, hb.cycles]),
    head: await h.ledger.head(),
    published: h.bus.published,
    dispatched: h.dispatcher.items.length,
    components: await h.components.list(),
  };
}
