/**
 * RunnerService: one dispatch message = one run (the runner Lambda handles one SQS message per
 * invocation; local mode's runner pool calls the same core).
 *
 * `handle` runs its phases in order (each a method below):
 * 1. admit: read the registry record and decide whether the run may happen at all:
 *    - unknown agent → skipped;
 *    - quarantined → the stub takes the agent's place: no agent code runs, envelope deliveries
 *      are counted and dropped;
 *    - cycles need status `active` and the generation they were scheduled under (slots enqueued
 *      before a restart or release are skipped; an upgrade alone does not drop queued slots, see
 *      dispatchedAfterStatusChange), and are skipped when delivered long after their start
 *      (slotExpiryMs); triggers run for `active` and `paused` agents; envelope runs need `active`
 *      and an onEnvelope (envelopes for paused or restarting agents are dropped and counted).
 * 2. load: the bundle by sha256 (in-memory cache; on every load, cached or not, the bytes are
 *    re-hashed and the signature re-verified against the trusted keys).
 * 3. claim: a scheduled slot with the conditional `lastSlot < slot` (at most once per
 *    agent and slot, whatever the number of deliveries; in the steady state written by the
 *    completion itself, the queue holding the run meanwhile: RunClaim.exclusive/previousSlot), a trigger or envelope
 *    run with a TTL claim item per runId. A claim is a lease (leaseMs): a redelivery takes over
 *    the claim of an attempt that died after claiming, once its deadline has passed. A claim
 *    that is live or done → skipped ('duplicate').
 * 4. execute: the agent's code in the sandbox with the persisted state.
 * 5. record: one heartbeat write: heartbeat, outcome, duration, counters, consecutive errors, the state
 *    keys the run changed (a failed run changes no state) and the next expected heartbeat.
 * 6. announce: the agent's envelopes (only for a successful run) and `agent.cycle` / `agent.failed`.
 *
 * Agent failures are results, never exceptions: `handle` throws only for infrastructure errors
 * (registry/heartbeat/S3 unreachable) so that the queue redelivers.
 */
import { DispatchMessageSchema, type DispatchMessage } from '../dispatch';
import { makeEnvelope, type Envelope } from '../envelope';
import { bundleUnverifiedEvent, isReservedTopic, orchestratorEvent } from '../events';
import { BundleRejectedError, errorMessage } from '../errors';
import { retryFollowUp } from '../retry';
import { SCHEDULED_STATUSES, type AgentRecord } from '../registry';
import type { RunOutcome } from '../heartbeat';
import type {
  AgentSandbox,
  BundleStore,
  ClaimOutcome,
  CompletionStatus,
  EventPublisher,
  HeartbeatClaimReader,
  HeartbeatStore,
  RegistryStore,
  RunClaim,
  RunCompletion,
  SandboxResult,
  StubCounter,
  VerifiedBundleRef,
} from '../ports';
import { verifyBundle } from '../bundle/verify';
import { nodeCryptoVerifier, type TrustedKey, type Verifier } from '../bundle/signing';
import { stuckDeadline, type HealthPolicy } from '../health/policy';
import { iso, systemClock, type Clock } from '../clock';
import { silentLogger, type Logger } from '../logger';
import { bundleKey } from '../bundle/identity';
import { agentStack } from '../stack';
import {
  BundleReverifyError,
  BundleUnavailableError,
  CompletionAbandonedError,
  InvalidDispatchMessageError,
  RunLeaseHeldError,
} from './errors';

export interface RunnerDeps {
  registry: RegistryStore;
  heartbeats: HeartbeatStore & Partial<HeartbeatClaimReader> & Partial<StubCounter>;
  bundles: BundleStore;
  events: EventPublisher;
  sandbox: AgentSandbox;
  policy: HealthPolicy;
  trustedKeys: TrustedKey[];
  maxBundleBytes: number;
  verifier?: Verifier;
  clock?: Clock;
  logger?: Logger;
  /** bytes of bundles kept in memory (LRU by sha256 + key), default 64 MiB */
  bundleCacheBytes?: number;
  /**
   * longest time a failing completion write or event publish is retried in place (real time),
   * default 60 s. A completion is never retried past its lease's deadline (see leaseMs).
   */
  completeRetryMs?: number;
}

export type SkipReason =
  | 'unknown_agent'
  | 'quarantined'
  | 'paused'
  | 'restarting'
  | 'stale_generation'
  | 'duplicate'
  | 'expired'
  | 'no_onEnvelope'
  | 'bundle_unavailable'
  /** it ran, but its lease was taken over before it completed: its result is discarded */
  | 'superseded';

export type RunReport =
  | {
      status: 'ran';
      agent: string;
      runId: string;
      kind: DispatchMessage['kind'];
      cycle: number;
      outcome: RunOutcome;
      error: string | null;
      durationMs: number;
      consecutiveErrors: number;
      published: number;
      /** set when the bus refused the run's envelopes (the heartbeat was written) */
      publishError?: string;
    }
  | { status: 'skipped'; agent: string; runId: string; kind: DispatchMessage['kind']; reason: SkipReason };

/** how long keeping a run's log lines may take before the runner moves on (they are best effort) */
const KEEP_LOGS_TIMEOUT_MS = 3_000;

/** SQS's maximum per-message delay: a slot's message was sent at most this long before the slot. */
export const MAX_DISPATCH_AHEAD_MS = 900_000;

/**
 * Whether a slot's message was certainly sent after the agent's last status change. Restarts and
 * releases change the status and bump the generation: messages sent before them carry an older
 * generation and are skipped (that is what makes a restart's backoff hold). A registration of a
 * new version bumps the generation without a status change; a message sent after the last status
 * change but before such an upgrade still runs (with the new version), so an upgrade does not
 * drop the slots already queued.
 */
export function dispatchedAfterStatusChange(rec: Pick<AgentRecord, 'statusChangedAt'>, slot: number): boolean {
  const changed = rec.statusChangedAt ? Date.parse(rec.statusChangedAt) : Number.NEGATIVE_INFINITY;
  return Number.isFinite(slot) && slot - MAX_DISPATCH_AHEAD_MS > changed;
}

/**
 * A run's lease (the claim's deadline, from its start): its timeout plus this allowance, by which
 * an attempt has certainly ended. The sandbox cuts a run at its timeout (plus at most 5 s for
 * loading the bundle), and the completion write is retried in place only until the deadline (an
 * outage of the store is ridden out for the rest of the allowance, 25 s or more), so an attempt is
 * over, completed or given up, when its lease ends. After it a redelivery of the same run may take
 * the claim over: a takeover never runs beside a live attempt of the same run.
 */
export const LEASE_GRACE_MS = 30_000;

export function leaseMs(timeoutSeconds: number): number {
  return Math.round(timeoutSeconds * 1000) + LEASE_GRACE_MS;
}

/**
 * A slot delivered this long after its start is not started any more (skipped as 'expired'):
 * after the runner was stopped (event source mapping disabled, local pool stopped) the queued
 * slots are not replayed in a burst, in line with the scheduler's overdue policy. Normal delivery
 * delays are far below it: max(2 periods, timeout + 15 s). A slot that an attempt claimed before
 * its expiry is not affected: a redelivery takes its lease over whenever it comes (takeoverOnly).
 */
export function slotExpiryMs(cycleSeconds: number, timeoutSeconds: number): number {
  return Math.max(2 * cycleSeconds * 1000, Math.round(timeoutSeconds * 1000) + 15_000);
}

interface CachedBundle {
  bytes: Uint8Array;
  signature: string | undefined;
  signer: string | undefined;
}

export class RunnerService {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly verifier: Verifier;
  private readonly cacheBytes: number;
  private readonly completeRetryMs: number;
  private readonly cache = new Map<string, CachedBundle>();
  private cachedBytes = 0;

  constructor(private readonly deps: RunnerDeps) {
    this.clock = deps.clock ?? systemClock;
    this.log = deps.logger ?? silentLogger;
    this.verifier = deps.verifier ?? nodeCryptoVerifier;
    this.cacheBytes = deps.bundleCacheBytes ?? 64 * 1024 * 1024;
    this.completeRetryMs = deps.completeRetryMs ?? 60_000;
  }

  /** Parses a raw dispatch message (SQS body, local pool item); throws InvalidDispatchMessageError. */
  static parse(raw: unknown): DispatchMessage {
    const r = DispatchMessageSchema.safeParse(raw);
    if (!r.success)
      throw new InvalidDispatchMessageError(
        `invalid dispatch message: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    return r.data;
  }

  /** One run, in its phases: admit → load → claim → execute → record → announce. */
  async handle(raw: DispatchMessage): Promise<RunReport> {
    const msg = RunnerService.parse(raw);
    const admitted = await this.admit(msg);
    if ('skip' in admitted) return this.skipped(msg, admitted.skip);
    const { rec, expired } = admitted;
    const loaded = await this.load(rec);
    if (loaded === 'unavailable') return this.skipped(msg, 'bundle_unavailable');
    const lease = await this.claimRun(msg, rec, expired);
    if ('skip' in lease) return this.skipped(msg, lease.skip);
    const result = await this.execute(msg, rec, loaded, lease);
    const completion = await this.record(msg, rec, lease, result);
    // a redelivery took the lease over (this attempt outlived its deadline, or a restart ended the
    // run's lease): that attempt's result is the one that counts
    if (completion.status === 'superseded') {
      this.log.warn('run result discarded: its lease was taken over', { agent: rec.name, runId: msg.runId, outcome: result.outcome });
      return this.skipped(msg, 'superseded');
    }
    const report = await this.announce(msg, rec, lease, result, completion.consecutiveErrors);
    // after the run's events, and bounded: keeping its log lines never delays or fails the run
    await this.keepLogs(msg, rec, lease, result);
    return report;
  }

  /**
   * The run's log lines into the agent's ring (shared/core/logs.ts); a failed run's end with a
   * line of its error. Only runs that logged write (a failing agent that logs nothing costs no
   * write: its error is on agent.failed and the heartbeat). Best effort and bounded: the write is
   * abandoned (aborted) after KEEP_LOGS_TIMEOUT_MS; a failed write loses lines, never the run.
   */
  private async keepLogs(msg: DispatchMessage, rec: AgentRecord, lease: { cycle: number }, result: SandboxResult): Promise<void> {
    const lines = [...(result.logs ?? [])];
    if (!lines.length) return;
    if (result.outcome !== 'ok')
      lines.push({
        ts: iso(this.clock.now()),
        level: 'error',
        msg: `run failed (${result.outcome}): ${result.error ?? result.outcome}`,
        fields: { outcome: result.outcome },
      });
    try {
      await this.deps.heartbeats.putRunLog(
        rec.name,
        { runId: msg.runId, kind: msg.kind, cycle: lease.cycle, version: rec.version, at: this.clock.now(), lines },
        { signal: AbortSignal.timeout(KEEP_LOGS_TIMEOUT_MS) },
      );
    } catch (e) {
      this.log.warn('keeping the run log failed', { agent: rec.name, runId: msg.runId, error: errorMessage(e) });
    }
  }

  private skipped(msg: DispatchMessage, reason: SkipReason): RunReport {
    this.log.debug('run skipped', { agent: msg.agent, runId: msg.runId, kind: msg.kind, reason });
    return { status: 'skipped', agent: msg.agent, runId: msg.runId, kind: msg.kind, reason };
  }

  /**
   * Phase 1, admit: whether the run may happen at all, by the registry record (see the header).
   * A slot delivered after its expiry is not started any more (no burst of old slots after the
   * runner was stopped), but one that an earlier attempt claimed in time and then left (it died,
   * or lost the store) is still taken over and run: `expired` makes the claim a takeover only.
   */
  private async admit(msg: DispatchMessage): Promise<{ rec: AgentRecord; expired: boolean } | { skip: SkipReason }> {
    const rec = await this.deps.registry.get(msg.agent);
    if (!rec) return { skip: 'unknown_agent' };
    if (rec.status === 'quarantined') {
      if (msg.kind === 'envelope') await this.deps.heartbeats.recordDropped?.(rec.name, this.clock.now());
      return { skip: 'quarantined' };
    }
    if (msg.kind === 'cycle' || msg.kind === 'envelope') {
      if (rec.status === 'paused' || rec.status === 'restarting') {
        // an envelope for an agent that is not running is dropped, and counted like the stub's
        if (msg.kind === 'envelope') await this.deps.heartbeats.recordDropped?.(rec.name, this.clock.now());
        return { skip: rec.status };
      }
      if (msg.kind === 'cycle' && msg.generation !== rec.generation && !dispatchedAfterStatusChange(rec, msg.slot))
        return { skip: 'stale_generation' };
      if (msg.kind === 'envelope' && !rec.hasOnEnvelope) return { skip: 'no_onEnvelope' };
    } else if (rec.status === 'restarting') return { skip: 'restarting' };
    const expired = msg.kind === 'cycle' && this.clock.now() > msg.slot + slotExpiryMs(rec.cycleSeconds, rec.timeoutSeconds);
    return { rec, expired };
  }

  /**
   * Phase 2, load: the verified bundle, or why the run must fail without running it (a bundle
   * that no longer verifies), or 'unavailable' (the object is gone: deregistration racing).
   */
  private async load(rec: AgentRecord): Promise<{ bundle: VerifiedBundleRef } | { error: string } | 'unavailable'> {
    try {
      return { bundle: await this.loadBundle(rec) };
    } catch (e) {
      if (e instanceof BundleUnavailableError) return 'unavailable';
      if (!(e instanceof BundleReverifyError)) throw e;
      this.log.error('bundle failed re-verification; the run fails without running it', { agent: rec.name, error: e.message });
      return { error: e.message };
    }
  }

  /**
   * Phase 3, claim: the run's lease (see leaseMs). Another attempt holding it → RunLeaseHeldError
   * (retry at its deadline: it is done by then, or its lease expired); claimed before → skipped.
   */
  private async claimRun(
    msg: DispatchMessage,
    rec: AgentRecord,
    expired: boolean,
  ): Promise<{ claim: RunClaim; cycle: number; state: Record<string, unknown> } | { skip: SkipReason }> {
    const startedAt = this.clock.now();
    const claim: RunClaim = { runId: msg.runId, startedAt, deadline: startedAt + leaseMs(rec.timeoutSeconds) };
    if (msg.kind === 'cycle') {
      claim.slot = msg.slot;
      claim.previousSlot = msg.slot - Math.round(rec.cycleSeconds * 1000);
    }
    if (expired) claim.takeoverOnly = true;
    // a slot dispatched around a status change after the registration may have a copy from before
    // it (pause, resume): its lease is written before it runs; otherwise the queue holds it
    // (see RunClaim.exclusive)
    if (msg.kind === 'cycle' && rec.statusChangedAt !== rec.registeredAt && !dispatchedAfterStatusChange(rec, msg.slot))
      claim.exclusive = true;
    const claimed = await this.claim(rec.name, claim);
    if (!claimed.claimed && claimed.heldUntil !== undefined) throw new RunLeaseHeldError(rec.name, msg.runId, claimed.heldUntil);
    if (!claimed.claimed) return { skip: expired && !claimed.claimedBefore ? 'expired' : 'duplicate' };
    return { claim, cycle: (claimed.record?.cycles ?? 0) + 1, state: claimed.state };
  }

  /** Phase 4, execute: the agent's code in the sandbox (or the failure that replaces it). */
  private async execute(
    msg: DispatchMessage,
    rec: AgentRecord,
    loaded: { bundle: VerifiedBundleRef } | { error: string },
    lease: { cycle: number; state: Record<string, unknown> },
  ): Promise<SandboxResult> {
    if ('error' in loaded) return { outcome: 'error', error: loaded.error, durationMs: 0, published: [], stateChanges: {} };
    try {
      return await this.deps.sandbox.run({
        agent: rec.name,
        version: rec.version,
        generation: rec.generation,
        ...(rec.runtime ? { runtime: rec.runtime } : {}),
        bundle: loaded.bundle,
        kind: msg.kind === 'envelope' ? 'envelope' : 'cycle',
        cycle: lease.cycle,
        ...(msg.kind === 'envelope' ? { envelope: msg.envelope } : {}),
        state: lease.state,
        timeoutMs: Math.round(rec.timeoutSeconds * 1000),
      });
    } catch (e) {
      // the sandbox itself failed (cannot start a worker, cache file keeps failing its hash):
      // the claim is spent, so record the run as crashed rather than retrying it
      this.log.error('sandbox failed', { agent: rec.name, runId: msg.runId, error: e });
      return { outcome: 'crashed', error: `sandbox: ${errorMessage(e)}`, durationMs: 0, published: [], stateChanges: {} };
    }
  }

  /** Phase 5, record: the one completion write (all or nothing: a failed run changes no state). */
  private record(
    msg: DispatchMessage,
    rec: AgentRecord,
    lease: { claim: RunClaim },
    result: SandboxResult,
  ): Promise<{ consecutiveErrors: number; status: CompletionStatus }> {
    const at = this.clock.now();
    const countsAsCycle = msg.kind !== 'envelope';
    const { claim } = lease;
    return this.completeWithRetry(rec.name, claim.deadline, {
      runId: msg.runId,
      at,
      outcome: result.outcome,
      error: result.error,
      stack: result.outcome === 'ok' ? null : agentStack(result.stack, rec.bundleKey, result.error),
      version: rec.version,
      durationMs: result.durationMs,
      generation: rec.generation,
      stateChanges: result.outcome === 'ok' ? result.stateChanges : {},
      expectBy: countsAsCycle && SCHEDULED_STATUSES.includes(rec.status) ? stuckDeadline(this.deps.policy, at, rec) : null,
      countsAsCycle,
      lease: { startedAt: claim.startedAt, ...(claim.slot !== undefined ? { slot: claim.slot } : {}) },
      retryWindowMs: Math.max(0, claim.deadline - at),
    });
  }

  /**
   * Phase 6, announce: the agent's envelopes (a successful run's only) and agent.cycle /
   * agent.failed. The completion is committed, so its events must follow: retried in place (ids
   * are fixed, so a repeat is deduplicated); a bus that stays down is reported, not thrown.
   */
  private async announce(
    msg: DispatchMessage,
    rec: AgentRecord,
    lease: { cycle: number },
    result: SandboxResult,
    consecutiveErrors: number,
  ): Promise<RunReport> {
    const at = this.clock.now();
    const ok = result.outcome === 'ok';
    const envelopes: Envelope[] = [];
    for (const p of ok ? result.published : []) {
      // only the orchestrator publishes its own topics (a runtime refuses them; this is the last line)
      if (isReservedTopic(p.topic)) {
        this.log.warn('dropped an envelope of a reserved topic published by the agent', { agent: rec.name, topic: p.topic });
        continue;
      }
      try {
        envelopes.push(makeEnvelope({ topic: p.topic, sender: rec.name, payload: p.payload, recipient: p.recipient }, at));
      } catch (e) {
        this.log.warn('dropped an invalid envelope published by the agent', { agent: rec.name, topic: p.topic, error: errorMessage(e) });
      }
    }
    const run = {
      name: rec.name,
      version: rec.version,
      runId: msg.runId,
      kind: msg.kind,
      ...(msg.kind === 'cycle' ? { slot: msg.slot } : {}),
      cycle: lease.cycle,
      generation: rec.generation,
      outcome: result.outcome,
      durationMs: result.durationMs,
    };
    const record = ok
      ? orchestratorEvent('agent.cycle', { ...run, published: envelopes.length }, at)
      : orchestratorEvent(
          'agent.failed',
          { ...run, error: result.error, stack: agentStack(result.stack, rec.bundleKey, result.error), consecutiveErrors },
          at,
        );
    let publishError: string | undefined;
    try {
      await retryFollowUp(() => this.deps.events.publish([...envelopes, record]), {
        forMs: this.completeRetryMs,
        log: this.log,
        what: 'publishing the run events',
        fields: { agent: rec.name, runId: msg.runId },
      });
    } catch (e) {
      publishError = errorMessage(e);
      this.log.error('publishing the run events failed', { agent: rec.name, runId: msg.runId, error: e });
    }
    if (!ok)
      this.log.warn('run failed', { agent: rec.name, runId: msg.runId, outcome: result.outcome, error: result.error, consecutiveErrors });
    return {
      status: 'ran',
      agent: rec.name,
      runId: msg.runId,
      kind: msg.kind,
      cycle: lease.cycle,
      outcome: result.outcome,
      error: result.error,
      durationMs: result.durationMs,
      consecutiveErrors,
      published: envelopes.length,
      ...(publishError !== undefined ? { publishError } : {}),
    };
  }

  /**
   * The completion write, retried in place on infrastructure errors (the run happened and its
   * result is only in memory; a redelivery would find the claim and not run it again before its
   * deadline), until the lease's deadline at most: then the attempt gives up (throws, so the
   * message is redelivered and taken over), and no attempt outlives its lease. The write is
   * conditional on the lease, so a retry of a write that was applied is reported as `already`
   * (the store keeps a receipt for `retryWindowMs`), not applied twice.
   */
  private completeWithRetry(
    name: string,
    deadline: number,
    done: RunCompletion,
  ): Promise<{ consecutiveErrors: number; status: CompletionStatus }> {
    let lastError: unknown;
    const attempt = async () => {
      if (lastError !== undefined && this.clock.now() >= deadline)
        throw new CompletionAbandonedError(name, done.runId, deadline, lastError);
      try {
        return await this.deps.heartbeats.complete(name, done);
      } catch (e) {
        lastError = e;
        throw e;
      }
    };
    return retryFollowUp(attempt, {
      forMs: this.completeRetryMs,
      log: this.log,
      what: 'completion write',
      fields: { agent: name, runId: done.runId },
    });
  }

  private uncache(key: string): void {
    const c = this.cache.get(key);
    if (!c) return;
    this.cachedBytes -= c.bytes.byteLength;
    this.cache.delete(key);
  }

  private async claim(name: string, claim: RunClaim): Promise<ClaimOutcome> {
    const hb = this.deps.heartbeats;
    if (hb.claimAndRead) return hb.claimAndRead(name, claim);
    if (!(await hb.claim(name, claim))) return { claimed: false, record: null, state: {} };
    const [record, state] = await Promise.all([hb.get(name), hb.getState(name)]);
    return { claimed: true, record, state };
  }

  /**
   * The registered bundle by sha256: from memory or the hot directory, re-verified on every load
   * (sha256 against the registry, signature against the trusted keys, size).
   */
  private async loadBundle(rec: AgentRecord): Promise<VerifiedBundleRef> {
    // the record names its own bundle: a record pointing at another agent's (or version's) object
    // would run that code under this agent's name and state, however well it verifies
    const own = bundleKey(rec.name, rec.version);
    if (rec.bundleKey !== own)
      throw new BundleReverifyError(
        `the registry record of ${rec.name}@${rec.version} points at ${rec.bundleKey}, not at its own bundle ${own}`,
        {
          reason: 'key_mismatch',
          expected: own,
          actual: rec.bundleKey,
        },
      );
    // keyed by content and object key: the signature covers name and version, so the same
    // bytes under another key are another cache entry
    const cacheKey = `${rec.sha256}:${rec.bundleKey}`;
    let c = this.cache.get(cacheKey);
    let fetched = false;
    let verified: ReturnType<typeof verifyBundle>;
    try {
      if (!c) {
        // bounded: an object replaced by a larger one is read no further than the limit
        const obj = await this.deps.bundles.get(rec.bundleKey, this.deps.maxBundleBytes);
        if (!obj) throw new BundleUnavailableError(rec.bundleKey);
        c = { bytes: obj.bytes, signature: obj.signature, signer: obj.signer };
        fetched = true;
      }
      verified = verifyBundle({
        key: rec.bundleKey,
        bytes: c.bytes,
        signature: c.signature,
        signer: c.signer,
        trustedKeys: this.deps.trustedKeys,
        maxBytes: this.deps.maxBundleBytes,
        verifier: this.verifier,
      });
    } catch (e) {
      this.uncache(cacheKey);
      if (e instanceof BundleRejectedError)
        throw new BundleReverifyError(`bundle ${rec.bundleKey} failed re-verification (${e.reason}): ${e.message}`, { reason: e.reason });
      throw e;
    }
    if (verified.sha256 !== rec.sha256) {
      this.uncache(cacheKey);
      throw new BundleReverifyError(
        `bundle ${rec.bundleKey} no longer matches its registered sha256 (the object was replaced after registration)`,
        {
          expected: rec.sha256,
          actual: verified.sha256,
        },
      );
    }
    // LRU: re-insert as the newest entry, evict the oldest beyond the byte budget
    this.uncache(cacheKey);
    this.cache.set(cacheKey, c);
    this.cachedBytes += c.bytes.byteLength;
    while (this.cachedBytes > this.cacheBytes && this.cache.size > 1) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) break;
      this.uncache(oldest);
    }
    if (fetched && verified.signer === null) {
      await this.deps.events.publish([
        bundleUnverifiedEvent({ key: rec.bundleKey, name: rec.name, version: rec.version, sha256: rec.sha256 }, this.clock.now()),
      ]);
    }
    return { key: rec.bundleKey, sha256: rec.sha256, bytes: c.bytes };
  }
}
