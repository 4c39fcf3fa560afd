/**
 * The API's JSON shapes as protobuf messages (proto/agentorchestrator/v1): ISO times become
 * google.protobuf.Timestamp (unset for null), seq numbers uint64 (bigint), status strings the
 * AgentStatus enum. Envelope and ledger `ts` stay the ISO string recorded (and hashed) in the ledger.
 */
import type { MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromMs, type Timestamp } from '@bufbuild/protobuf/wkt';
import type { AgentDetail as AgentDetailView, AgentView } from '../../../shared/core/control/service';
import type { AgentStatus as AgentStatusName } from '../../../shared/core/registry';
import type { LedgerEntry as LedgerEntryView } from '../../../shared/core/ports';
import { DURATION_BUCKETS_MS } from '../../../shared/core/heartbeat';
import { type AgentDetailSchema, type AgentSchema, AgentStatus } from '../../../shared/gen/agentorchestrator/v1/agents_pb';
import type { EnvelopeSchema } from '../../../shared/gen/agentorchestrator/v1/bus_pb';
import type { LedgerEntrySchema } from '../../../shared/gen/agentorchestrator/v1/ledger_pb';
import type { MetricsSnapshotSchema } from '../../../shared/gen/agentorchestrator/v1/metrics_pb';
import type { MetricsSnapshot } from '../metrics';

type JsonObject = { [k: string]: JsonValue };
type JsonValue = number | string | boolean | null | JsonObject | JsonValue[];

export const STATUS: Record<AgentStatusName, AgentStatus> = {
  active: AgentStatus.ACTIVE,
  paused: AgentStatus.PAUSED,
  restarting: AgentStatus.RESTARTING,
  quarantined: AgentStatus.QUARANTINED,
};

/** An ISO time (or null) as a Timestamp (or unset). */
export function ts(v: string | null | undefined): Timestamp | undefined {
  if (v === null || v === undefined) return undefined;
  const ms = Date.parse(v);
  return Number.isFinite(ms) ? timestampFromMs(ms) : undefined;
}

const tsMs = (v: number | null | undefined): Timestamp | undefined => (v === null || v === undefined ? undefined : timestampFromMs(v));

const opt = <T>(v: T | null | undefined): T | undefined => (v === null ? undefined : v);

/** A JSON object as google.protobuf.Struct accepts it (values without a JSON form dropped, as JSON.stringify does). */
export function jsonObject(v: unknown): JsonObject {
  return JSON.parse(JSON.stringify(v ?? {})) as JsonObject;
}

export function agent(v: AgentView): MessageInitShape<typeof AgentSchema> {
  return {
    name: v.name,
    version: v.version,
    status: STATUS[v.status],
    cycleSeconds: v.cycleSeconds,
    lastHeartbeat: ts(v.lastHeartbeat),
    nextRunAt: ts(v.nextRunAt),
    consecutiveErrors: v.consecutiveErrors,
    restarts: v.restarts,
    lastError: opt(v.lastError),
  };
}

export function agentDetail(d: AgentDetailView): MessageInitShape<typeof AgentDetailSchema> {
  return {
    agent: agent(d),
    timeoutSeconds: d.timeoutSeconds,
    subscriptions: d.subscriptions,
    hasOnEnvelope: d.hasOnEnvelope,
    statusReason: opt(d.statusReason),
    statusChangedAt: ts(d.statusChangedAt),
    generation: BigInt(d.generation),
    sha256: d.sha256,
    signer: opt(d.signer),
    registeredAt: ts(d.registeredAt),
    updatedAt: ts(d.updatedAt),
    cycles: BigInt(d.cycles),
    failures: BigInt(d.failures),
    lastOutcome: opt(d.lastOutcome),
    lastDurationMs: d.lastDurationMs === null ? undefined : Math.round(d.lastDurationMs),
    stuckAt: ts(d.stuckAt),
    lastErrorAt: ts(d.lastErrorAt),
    lastErrorStack: opt(d.lastErrorStack),
  };
}

export function envelope(e: LedgerEntryView): MessageInitShape<typeof EnvelopeSchema> {
  return {
    id: e.id,
    topic: e.topic,
    sender: e.sender,
    recipient: e.recipient,
    ts: e.ts,
    payload: jsonObject(e.payload),
    replayOf: e.replayOf === undefined ? undefined : BigInt(e.replayOf),
  };
}

export function ledgerEntry(e: LedgerEntryView): MessageInitShape<typeof LedgerEntrySchema> {
  return {
    seq: BigInt(e.seq),
    envelope: envelope(e),
    hash: e.hash,
    prevHash: e.prevHash,
    expiresAt: e.expiresAt === undefined ? undefined : BigInt(e.expiresAt),
    prevExpiresAt: e.prevExpiresAt === undefined ? undefined : BigInt(e.prevExpiresAt),
  };
}

export function metricsSnapshot(s: MetricsSnapshot): MessageInitShape<typeof MetricsSnapshotSchema> {
  return {
    at: ts(s.at),
    agents: s.agents.map((a) => ({
      name: a.name,
      version: a.version,
      status: STATUS[a.status],
      cycles: BigInt(a.cycles),
      failures: BigInt(a.failures),
      consecutiveErrors: a.consecutiveErrors,
      restarts: a.restarts,
      lastHeartbeat: tsMs(a.lastHeartbeat),
      lastOutcome: opt(a.lastOutcome),
      lastDurationMs: a.lastDurationMs === null ? undefined : Math.round(a.lastDurationMs),
      durationBuckets: a.durationBuckets.map((n) => BigInt(n)),
      durationCount: BigInt(a.durationCount),
      durationSumMs: a.durationSumMs,
    })),
    ledgerHeadSeq: BigInt(s.ledger.headSeq),
    ledgerHeadHash: s.ledger.headHash,
    bus: s.bus === null ? undefined : jsonObject(s.bus),
    durationBoundsMs: [...DURATION_BUCKETS_MS],
  };
}

/** A uint64 of a request as a number (beyond 2^53 it is out of every range the API accepts). */
export const num = (v: bigint | undefined): number | undefined => (v === undefined ? undefined : Number(v));
