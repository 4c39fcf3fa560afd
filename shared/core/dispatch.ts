/**
 * Dispatch messages: what the scheduler, the bus router and the control API hand to the runner
 * (SQS dispatch queue in the cloud, the local runner pool locally). One message = one run.
 */
import { z } from 'zod';
import { EnvelopeSchema } from './envelope';
import { AgentNameSchema } from './bundle/identity';

export const DispatchMessageSchema = z.discriminatedUnion('kind', [
  /** a scheduled slot: claimed at most once per (agent, slot) */
  z
    .object({
      kind: z.literal('cycle'),
      agent: AgentNameSchema,
      runId: z.string().min(1).max(256),
      slot: z.number().int(),
      generation: z.number().int().nonnegative(),
    })
    .strict(),
  /** an operator's trigger-now: one extra cycle, claimed at most once per runId */
  z.object({ kind: z.literal('trigger'), agent: AgentNameSchema, runId: z.string().min(1).max(256) }).strict(),
  /** an envelope for the agent's onEnvelope: claimed at most once per runId (= agent + envelope id) */
  z.object({ kind: z.literal('envelope'), agent: AgentNameSchema, runId: z.string().min(1).max(256), envelope: EnvelopeSchema }).strict(),
]);
export type DispatchMessage = z.infer<typeof DispatchMessageSchema>;

export const cycleRunId = (agent: string, slot: number): string => `${agent}@${slot}`;
export const envelopeRunId = (agent: string, envelopeId: string): string => `${agent}<${envelopeId}`;

export interface DispatchItem {
  message: DispatchMessage;
  /** epoch ms before which the run must not start (SQS DelaySeconds in the cloud, a timer locally) */
  notBefore: number;
}
