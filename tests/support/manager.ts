/** The AgentManager as the composition root builds it, on a test's own stores and sandbox. */
import type { Clock } from '../../shared/core/clock';
import type { Config } from '../../shared/core/config';
import { AgentManager } from '../../shared/core/manager/service';
import type { BundleInspector, BundleStore, EventPublisher, RegistryStore } from '../../shared/core/ports';

export function managerOn(deps: {
  registry: RegistryStore;
  bundles: BundleStore;
  events: EventPublisher;
  inspector: BundleInspector;
  config: Pick<Config, 'trustedKeys' | 'AGENT_MAX_BUNDLE_BYTES'>;
  clock?: Clock;
}): AgentManager {
  const { config, ...rest } = deps;
  return new AgentManager({ ...rest, trustedKeys: config.trustedKeys, maxBytes: config.AGENT_MAX_BUNDLE_BYTES });
}
