/** Registry records: one per agent, the active bundle and its control status. */
import { z } from 'zod';
import { AgentNameSchema, VersionSchema } from './bundle/identity';

export const AgentStatusSchema = z.enum(['active', 'paused', 'restarting', 'quarantined']);
export type AgentStatus = z.infer<typeof AgentStatusSchema>;

/** What a bundle declares in its default export (read in a sandbox after verification). */
export const BundleManifestSchema = z.object({
  cycleSeconds: z.number().min(1).max(86_400).default(60),
  timeoutSeconds: z.number().min(0.1).max(900).default(30),
  subscriptions: z.array(z.string().min(1).max(256)).max(100).default([]),
  hasOnEnvelope: z.boolean().default(false),
});
export type BundleManifest = z.infer<typeof BundleManifestSchema>;

export const AgentRecordSchema = z.object({
  name: AgentNameSchema,
  version: VersionSchema,
  /** lexicographically sortable form of `version` (see versionSortKey) used in conditions */
  versionKey: z.string(),
  bundleKey: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number().int().nonnegative(),
  /** base64 public key that verified the bundle; null when loaded unverified */
  signer: z.string().nullable(),
  status: AgentStatusSchema,
  cycleSeconds: z.number(),
  timeoutSeconds: z.number(),
  subscriptions: z.array(z.string()),
  hasOnEnvelope: z.boolean(),
  registeredAt: z.string(),
  updatedAt: z.string(),
  /** health bookkeeping (owned by the health monitor) */
  restarts: z.number().int().nonnegative().default(0),
  restartTimes: z.array(z.number()).default([]),
  lastError: z.string().nullable().default(null),
});
export type AgentRecord = z.infer<typeof AgentRecordSchema>;

export interface NewRegistration {
  name: string;
  version: string;
  versionKey: string;
  bundleKey: string;
  sha256: string;
  size: number;
  signer: string | null;
  manifest: BundleManifest;
  at: string;
}

export type RegisterOutcome =
  | { outcome: 'registered'; previousVersion: string | null }
  | { outcome: 'not_newer'; activeVersion: string };
