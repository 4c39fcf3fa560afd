// The runtime half of `agent-orchestrator/agent` (types: agent.d.ts). It is bundled into agents by
// `agentctl build`, so it must stay tiny and import nothing.

/** Returns the agent object unchanged (the types do the work). */
export function defineAgent(agent) {
  return agent;
}
