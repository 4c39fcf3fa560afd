/**
 * EnvelopeRouter: the core of the `router` function (rule Delivery). Finds an envelope's
 * recipients (routing.ts) in the registry and hands one `{kind: 'envelope'}` run per recipient
 * to the Dispatcher (SQS dispatch queue in the cloud, the local runner pool locally).
 *
 * The registry list is cached for `cacheTtlMs` (default 5 s): a subscription change or pause
 * takes effect for routing within that bound. An envelope addressed to an agent missing from
 * the cached list looks that one agent up (a GetItem: a just-registered agent gets its messages
 * at once; messages to unknown agents cost a point read each, never a scan).
 */
import { envelopeRunId, type DispatchItem } from '../dispatch';
import type { Envelope } from '../envelope';
import type { Dispatcher, RegistryStore } from '../ports';
import { systemClock, type Clock } from '../clock';
import { silentLogger, type Logger } from '../logger';
import { routeEnvelope, type RoutableAgent, type Route } from './routing';

export interface RouterDeps {
  registry: Pick<RegistryStore, 'list' | 'get'>;
  dispatcher: Dispatcher;
  clock?: Clock;
  logger?: Logger;
  cacheTtlMs?: number;
}

export class EnvelopeRouter {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly ttl: number;
  private cache: { agents: RoutableAgent[]; at: number } | null = null;
  private inflight: Promise<RoutableAgent[]> | null = null;

  constructor(private readonly deps: RouterDeps) {
    this.clock = deps.clock ?? systemClock;
    this.log = deps.logger ?? silentLogger;
    this.ttl = deps.cacheTtlMs ?? 5_000;
  }

  private refresh(): Promise<RoutableAgent[]> {
    this.inflight ??= this.deps.registry
      .list()
      .then((list) => {
        const agents = list.map((a) => ({
          name: a.name,
          status: a.status,
          subscriptions: a.subscriptions,
          hasOnEnvelope: a.hasOnEnvelope,
        }));
        this.cache = { agents, at: this.clock.now() };
        return agents;
      })
      .finally(() => {
        this.inflight = null;
      });
    return this.inflight;
  }

  private async agents(recipient: string | undefined): Promise<RoutableAgent[]> {
    const now = this.clock.now();
    const c = this.cache;
    const agents = !c || now - c.at >= this.ttl ? await this.refresh() : c.agents;
    if (recipient === undefined || agents.some((a) => a.name === recipient)) return agents;
    // an addressed envelope for an agent the cached list does not know (yet): look it up
    const rec = await this.deps.registry.get(recipient);
    if (!rec) return agents;
    const found = { name: rec.name, status: rec.status, subscriptions: rec.subscriptions, hasOnEnvelope: rec.hasOnEnvelope };
    if (this.cache) this.cache.agents = [...this.cache.agents, found];
    return [...agents, found];
  }

  /** Forgets the cached registry (tests; after an operator action in the same process). */
  invalidate(): void {
    this.cache = null;
  }

  async route(envelope: Envelope): Promise<{ routes: Route[] }> {
    const routes = routeEnvelope(envelope, await this.agents(envelope.recipient));
    if (routes.length === 0) {
      this.log.debug('envelope has no recipients', { id: envelope.id, topic: envelope.topic, recipient: envelope.recipient });
      return { routes };
    }
    const now = this.clock.now();
    const items: DispatchItem[] = routes.map((r) => ({
      message: { kind: 'envelope', agent: r.agent, runId: envelopeRunId(r.agent, envelope.id), envelope },
      notBefore: now,
    }));
    await this.deps.dispatcher.dispatch(items);
    this.log.debug('envelope routed', { id: envelope.id, topic: envelope.topic, agents: routes.map((r) => r.agent) });
    return { routes };
  }
}
