/**
 * Who receives an envelope (pure; the router handler feeds it the registry).
 *
 * - Only agents whose bundle exports `onEnvelope` (`hasOnEnvelope`) receive envelopes: without
 *   it there is nothing to run.
 * - Addressed envelopes (`recipient` set) go to the recipient only, whether or not it subscribes
 *   to the topic: a direct message. Topic subscribers do not see them.
 * - Broadcast envelopes (no recipient) go to every agent with a subscription matching the topic,
 *   except the sender itself (an agent subscribed to what it publishes would otherwise feed
 *   itself in a loop; it can still address itself explicitly).
 * - Subscriptions: an exact topic (`orders.created`), or a pattern with one trailing `*`:
 *   `orders.*` matches every topic starting with `orders.` (`orders.created`, `orders.eu.new`,
 *   not `orders`), `ord*` every topic starting with `ord`, and `*` alone every topic. A `*`
 *   anywhere else is literal (and never matches: topics cannot contain `*`).
 * - Status: paused agents are skipped (an operator stopped them; the ledger keeps the envelope
 *   and it can be replayed after resume). Quarantined agents still get the dispatch: the runner's
 *   stub consumes and counts it without running agent code (architecture.md, "Health").
 *   Restarting agents get it too; the runner runs it with the current generation.
 */
import type { Envelope } from '../envelope';
import type { AgentStatus } from '../registry';

export interface RoutableAgent {
  name: string;
  status: AgentStatus;
  subscriptions: string[];
  hasOnEnvelope: boolean;
}

export type RouteReason = 'recipient' | 'subscription';

export interface Route {
  agent: string;
  reason: RouteReason;
}

/** Statuses whose agents are not sent envelopes. */
export const UNROUTED_STATUSES: readonly AgentStatus[] = ['paused'];

export function subscriptionMatches(subscription: string, topic: string): boolean {
  if (subscription.endsWith('*') && subscription.indexOf('*') === subscription.length - 1) {
    return topic.startsWith(subscription.slice(0, -1));
  }
  return subscription === topic;
}

export function routeEnvelope(envelope: Pick<Envelope, 'topic' | 'sender' | 'recipient'>, agents: readonly RoutableAgent[]): Route[] {
  const eligible = (a: RoutableAgent) => a.hasOnEnvelope && !UNROUTED_STATUSES.includes(a.status);
  if (envelope.recipient !== undefined) {
    const a = agents.find((x) => x.name === envelope.recipient);
    return a && eligible(a) ? [{ agent: a.name, reason: 'recipient' }] : [];
  }
  return agents
    .filter((a) => eligible(a) && a.name !== envelope.sender && a.subscriptions.some((s) => subscriptionMatches(s, envelope.topic)))
    .map((a) => ({ agent: a.name, reason: 'subscription' as const }))
    .sort((x, y) => (x.agent < y.agent ? -1 : x.agent > y.agent ? 1 : 0));
}
