/**
 * Agent Manager: turns hot-directory changes into registry changes.
 *
 * Order for a new object: parse key → size (the event's, when it has one) → one bounded GET
 * (Content-Length checked first, the body read no further than AGENT_MAX_BUNDLE_BYTES: no HEAD
 * before it, so the bytes checked are the bytes read) → verify signature and rollback (pure, no
 * bundle code) → inspect the verified bundle in a sandbox → conditional registration. Any rejection writes a `bundle.rejected` event and leaves the
 * active version untouched. No code of a bundle runs before its signature is verified.
 * Infrastructure errors (store, bus, an inspection the host could not do) are thrown: the event
 * is delivered again, and nothing was rejected.
 */
import { BundleRejectedError, errorMessage } from '../errors';
import { BUNDLE_PREFIX, SIDECAR_SUFFIX, isBundleCandidate, parseBundleKey, versionSortKey } from '../bundle/identity';
import { checkSize, verifyBundle } from '../bundle/verify';
import { nodeCryptoVerifier, type TrustedKey, type Verifier } from '../bundle/signing';
import { bundleUnverifiedEvent, orchestratorEvent } from '../events';
import type { BundleInspector, BundleStore, EventPublisher, RegistryStore } from '../ports';
import type { Clock } from '../clock';
import { iso, systemClock } from '../clock';
import type { Logger } from '../logger';
import { silentLogger } from '../logger';
import semver from 'semver';
import { nextSlotAtOrAfter, type BundleManifest } from '../registry';

export interface ManagerDeps {
  registry: RegistryStore;
  bundles: BundleStore;
  events: EventPublisher;
  inspector: BundleInspector;
  trustedKeys: TrustedKey[];
  maxBytes: number;
  verifier?: Verifier;
  clock?: Clock;
  logger?: Logger;
}

export type ManagerOutcome =
  | { kind: 'registered'; name: string; version: string; previousVersion: string | null; signer: string | null }
  | { kind: 'rejected'; key: string; reason: BundleRejectedError['reason']; message: string }
  | { kind: 'unchanged'; name: string; version: string }
  | { kind: 'deregistered'; name: string; version: string }
  | { kind: 'ignored'; key: string; why: string };

export class AgentManager {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly verifier: Verifier;

  constructor(private readonly deps: ManagerDeps) {
    this.clock = deps.clock ?? systemClock;
    this.log = deps.logger ?? silentLogger;
    this.verifier = deps.verifier ?? nodeCryptoVerifier;
  }

  private async reject(key: string, err: BundleRejectedError): Promise<ManagerOutcome> {
    this.log.warn('bundle rejected', { key, reason: err.reason, error: err.message });
    await this.deps.events.publish([
      orchestratorEvent('bundle.rejected', { ...err.details, key, reason: err.reason, message: err.message }, this.clock.now()),
    ]);
    return { kind: 'rejected', key, reason: err.reason, message: err.message };
  }

  /** Handles an "Object Created" for `key` (a bundle, or a `.sig` sidecar of one). */
  async onObjectCreated(key: string, size?: number): Promise<ManagerOutcome> {
    if (!key.startsWith(BUNDLE_PREFIX)) return { kind: 'ignored', key, why: 'outside the agents/ prefix' };
    if (key.endsWith(SIDECAR_SUFFIX)) {
      // A sidecar arriving after its bundle: process the bundle again (its first attempt may have
      // been rejected for a missing signature).
      const bundleKey = key.slice(0, -SIDECAR_SUFFIX.length);
      if (!isBundleCandidate(bundleKey)) return { kind: 'ignored', key, why: 'sidecar of something that is not a bundle' };
      return this.onObjectCreated(bundleKey);
    }
    try {
      const id = parseBundleKey(key);
      // the event's size rejects early without a request; the read itself is bounded either way
      // (the object may have been replaced since the event)
      if (size !== undefined) checkSize(key, size, this.deps.maxBytes);
      const obj = await this.deps.bundles.get(key, this.deps.maxBytes);
      if (!obj) return { kind: 'ignored', key, why: 'object no longer exists' };
      const active = await this.deps.registry.get(id.name);
      const verified = verifyBundle({
        key,
        bytes: obj.bytes,
        signature: obj.signature,
        signer: obj.signer,
        trustedKeys: this.deps.trustedKeys,
        maxBytes: this.deps.maxBytes,
        activeVersion: active && !(active.version === id.version) ? active.version : undefined,
        verifier: this.verifier,
      });
      if (active && active.version === id.version) {
        // At-least-once delivery: the same object again is not a rollback attempt.
        if (active.sha256 === verified.sha256) return { kind: 'unchanged', name: id.name, version: id.version };
        throw new BundleRejectedError(
          'not_newer',
          `version ${id.version} is already active with different content; publish a new version`,
          {
            key,
            version: id.version,
            active: active.version,
          },
        );
      }
      // Only now, after verification, may bundle code run (in a sandbox) to read its manifest.
      // The inspector rejects with a BundleRejectedError when the bundle itself is not an agent
      // (bad_manifest, permanent); any other error means the inspection could not be done (the
      // host: a worker that does not start, a timeout on a busy host, the inspector's memory) and
      // is thrown on, so the event is retried and the bundle is not rejected.
      let manifest: BundleManifest;
      try {
        manifest = await this.deps.inspector.inspect({ key, sha256: verified.sha256, bytes: obj.bytes });
      } catch (e) {
        if (e instanceof BundleRejectedError)
          throw new BundleRejectedError('bad_manifest', `bundle could not be loaded: ${errorMessage(e)}`, { key });
        throw e;
      }
      if (verified.signer === null) {
        await this.deps.events.publish([
          bundleUnverifiedEvent({ key, name: id.name, version: id.version, sha256: verified.sha256 }, this.clock.now()),
        ]);
      }
      const at = iso(this.clock.now());
      const res = await this.deps.registry.register({
        name: id.name,
        version: id.version,
        versionKey: versionSortKey(id.version),
        bundleKey: key,
        sha256: verified.sha256,
        size: verified.size,
        signer: verified.signer,
        manifest,
        at,
        firstRunAt: nextSlotAtOrAfter(this.clock.now(), manifest.cycleSeconds, id.name),
      });
      if (res.outcome === 'not_newer') {
        throw new BundleRejectedError('not_newer', `version ${id.version} is not newer than the active version ${res.activeVersion}`, {
          key,
          version: id.version,
          active: res.activeVersion,
        });
      }
      // an upgrade keeps the agent's status: a quarantined (or paused) agent's new version does not
      // run until the operator releases (resumes) it, and the event says so
      const status = active?.status ?? 'active';
      const note =
        status === 'quarantined'
          ? `${id.name} is quarantined: version ${id.version} does not run until it is released (agentctl release ${id.name})`
          : status === 'paused'
            ? `${id.name} is paused: version ${id.version} does not run until it is resumed (agentctl resume ${id.name})`
            : undefined;
      await this.deps.events.publish([
        orchestratorEvent(
          'agent.registered',
          {
            name: id.name,
            version: id.version,
            previousVersion: res.previousVersion,
            sha256: verified.sha256,
            signer: verified.signer,
            cycleSeconds: manifest.cycleSeconds,
            status,
            ...(note ? { note } : {}),
          },
          this.clock.now(),
        ),
      ]);
      this.log.info('agent registered', { name: id.name, version: id.version, previousVersion: res.previousVersion });
      return { kind: 'registered', name: id.name, version: id.version, previousVersion: res.previousVersion, signer: verified.signer };
    } catch (e) {
      if (e instanceof BundleRejectedError) return this.reject(key, e);
      throw e;
    }
  }

  /** Handles an "Object Deleted": deleting the active version's bundle deregisters the agent. */
  async onObjectDeleted(key: string): Promise<ManagerOutcome> {
    if (!key.startsWith(BUNDLE_PREFIX) || key.endsWith(SIDECAR_SUFFIX)) return { kind: 'ignored', key, why: 'not a bundle' };
    let id: ReturnType<typeof parseBundleKey>;
    try {
      id = parseBundleKey(key);
    } catch {
      return { kind: 'ignored', key, why: 'not a bundle key' };
    }
    const active = await this.deps.registry.get(id.name);
    if (!active || active.version !== id.version) return { kind: 'ignored', key, why: 'not the active version' };
    const removed = await this.deps.registry.deregister(id.name, id.version);
    if (!removed) return { kind: 'ignored', key, why: 'active version changed concurrently' };
    await this.deps.events.publish([
      orchestratorEvent('agent.deregistered', { name: id.name, version: id.version, key }, this.clock.now()),
    ]);
    return { kind: 'deregistered', name: id.name, version: id.version };
  }

  /**
   * Full rescan: for every agent in the hot directory, tries its versions newer than the active
   * one, newest first, until one registers; deregisters agents whose active bundle is gone.
   */
  async rescan(): Promise<ManagerOutcome[]> {
    const objects = await this.deps.bundles.list(BUNDLE_PREFIX);
    const byName = new Map<string, { version: string; key: string; size: number }[]>();
    for (const o of objects) {
      if (o.key.endsWith(SIDECAR_SUFFIX)) continue;
      try {
        const id = parseBundleKey(o.key);
        const list = byName.get(id.name) ?? [];
        list.push({ version: id.version, key: o.key, size: o.size });
        byName.set(id.name, list);
      } catch {
        // malformed keys are reported when their own Object Created event is handled
      }
    }
    const outcomes: ManagerOutcome[] = [];
    const registered = new Map((await this.deps.registry.list()).map((r) => [r.name, r]));
    for (const [name, versions] of byName) {
      const active = registered.get(name);
      const candidates = versions
        .filter((v) => !active || semver.gt(v.version, active.version))
        .sort((a, b) => semver.rcompare(a.version, b.version));
      for (const c of candidates) {
        const out = await this.onObjectCreated(c.key, c.size);
        outcomes.push(out);
        if (out.kind === 'registered') break;
      }
    }
    const present = new Set(objects.map((o) => o.key));
    for (const rec of registered.values()) {
      if (!present.has(rec.bundleKey)) outcomes.push(await this.onObjectDeleted(rec.bundleKey));
    }
    return outcomes;
  }
}
