/** Registry records: one per agent, the active bundle, its control status and its schedule. */
import { z } from 'zod';
import { AgentNameSchema, VersionSchema } from './bundle/identity';

export const AgentStatusSchema = z.enum(['active', 'paused', 'restarting', 'quarantined']);
export type AgentStatus = z.infer<typeof AgentStatusSchema>;

/** Statuses in which an agent is scheduled (carries nextRunAt in the sparse `due` index). */
export const SCHEDULED_STATUSES: readonly AgentStatus[] = ['active', 'restarting'];

/** What a bundle declares in its default export (read in a sandbox after verification). */
/** Where agent code runs: `process` (local default), `thread` (trusted code only), `lambda` (cloud default). */
export const RUNTIME_NAMES = ['process', 'thread', 'lambda'] as const;
export type RuntimeName = (typeof RUNTIME_NAMES)[number];

export const BundleManifestSchema = z.object({
  cycleSeconds: z.number().min(1).max(86_400).default(60),
  timeoutSeconds: z.number().min(0.1).max(900).default(30),
  subscriptions: z.array(z.string().min(1).max(256)).max(100).default([]),
  hasOnEnvelope: z.boolean().default(false),
  /** the runtime the agent asks for (one of those the deployment allows); absent: the default */
  runtime: z.enum(RUNTIME_NAMES).optional(),
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
  /** why the status last changed (operator action, "3 consecutive failures", "stuck: ...") */
  statusReason: z.string().nullable().default(null),
  statusChangedAt: z.string().nullable().default(null),
  cycleSeconds: z.number(),
  timeoutSeconds: z.number(),
  subscriptions: z.array(z.string()),
  hasOnEnvelope: z.boolean(),
  /** the runtime the bundle asked for; null: the deployment's default */
  runtime: z.enum(RUNTIME_NAMES).nullable().default(null),
  registeredAt: z.string(),
  updatedAt: z.string(),
  /**
   * Bumped by every registration, restart and release. Dispatched runs carry the generation they
   * were scheduled under; the runner skips a run whose generation is stale (e.g. slots enqueued
   * before a restart), and a restart is a "fresh load" because caches are keyed by it.
   */
  generation: z.number().int().nonnegative().default(0),
  /** health bookkeeping (owned by the health monitor and the control API) */
  restarts: z.number().int().nonnegative().default(0),
  /** epoch ms of restarts inside the restart window (pruned on each restart) */
  restartTimes: z.array(z.number()).default([]),
  /** start (epoch ms) of the next slot to dispatch; null when not scheduled (paused, quarantined) */
  nextRunAt: z.number().nullable().default(null),
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
  /** first slot for a new agent (epoch ms); an upgraded agent keeps its schedule */
  firstRunAt: number;
}

export type RegisterOutcome = { outcome: 'registered'; previousVersion: string | null } | { outcome: 'not_newer'; activeVersion: string };

/**
 * A status transition applied atomically to a registry item (one conditional UpdateItem).
 * The store refuses it (ConflictError) unless the current status is in `from` and, when given,
 * the generation equals `expectGeneration` (optimistic concurrency between monitors/operators).
 */
export interface Transition {
  to: AgentStatus;
  from: readonly AgentStatus[];
  /** epoch ms of the change */
  at: number;
  reason: string | null;
  /** number: schedule the next slot then; null: unschedule; undefined: leave as is */
  nextRunAt?: number | null;
  bumpGeneration?: boolean;
  expectGeneration?: number;
  /** count a restart at `at`, keeping only restartTimes newer than `windowStart` */
  recordRestart?: { windowStart: number };
  /** forget the restart window (release) */
  resetRestartWindow?: boolean;
}

/** A scheduled agent as the scheduler's due query returns it. */
export interface DueAgent {
  name: string;
  status: AgentStatus;
  nextRunAt: number;
  cycleSeconds: number;
  generation: number;
}

/** An agent's period in whole milliseconds (at least 1). */
export function slotPeriodMs(cycleSeconds: number): number {
  return Math.max(1, Math.round(cycleSeconds * 1000));
}

/**
 * Phase offset of an agent's slot grid, in [0, period) ms: a stable hash of its name (FNV-1a,
 * then murmur3's finalizer so that it is not correlated with the `dueShard` of the same name),
 * so that agents of the same period spread over the period instead of all starting at second 0.
 * Pure and deterministic: every scheduler, monitor and local stand-in computes the same grid.
 */
export function slotOffsetMs(name: string, cycleSeconds: number): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) % slotPeriodMs(cycleSeconds);
}

/**
 * Slot grid of an agent (epoch ms): `k × period + slotOffsetMs(name, period)`. The first slot at
 * or after `t`.
 */
export function nextSlotAtOrAfter(t: number, cycleSeconds: number, name: string): number {
  const p = slotPeriodMs(cycleSeconds);
  const off = slotOffsetMs(name, cycleSeconds);
  return Math.ceil((t - off) / p) * p + off;
}

/** The latest slot of the agent's grid at or before `t` (epoch ms). */
export function latestSlotAtOrBefore(t: number, cycleSeconds: number, name: string): number {
  const p = slotPeriodMs(cycleSeconds);
  const off = slotOffsetMs(name, cycleSeconds);
  return Math.floor((t - off) / p) * p + off;
}

/** One page of the registry in name order (`GET /agents?limit&cursor&status&prefix`). */
export interface AgentPageQuery {
  /** agents in the page at most (1..MAX_AGENT_PAGE) */
  limit: number;
  /** names after this one (the previous page's last name) */
  after?: string | undefined;
  status?: AgentStatus | undefined;
  /** names that start with this */
  prefix?: string | undefined;
}

export interface AgentRecordPage {
  agents: AgentRecord[];
  /** the last name the page covered when more agents may follow (the next page's `after`); null at the end */
  last: string | null;
}

/** default and largest page of `GET /agents` */
export const DEFAULT_AGENT_PAGE = 100;
export const MAX_AGENT_PAGE = 1000;

/** Agents per status, kept exact by the writes that change a status (not counted by reading every agent). */
export type StatusCounts = Record<AgentStatus, number>;

export const zeroCounts = (): StatusCounts => ({ active: 0, paused: 0, restarting: 0, quarantined: 0 });
