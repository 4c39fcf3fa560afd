/**
 * WorkerSandbox: runs agent code in worker threads (AgentSandbox + BundleInspector ports).
 *
 * One run = one fresh Worker: a new V8 isolate with its own heap limit (`resourceLimits`), an
 * empty `process.env` (the agent sees no orchestrator configuration or credentials) and no
 * inherited `execArgv` (no loaders). The agent's exception or rejected promise, a hang past its
 * timeout (the AbortSignal fires first, then the worker is terminated), `process.exit` (ends only
 * the worker) and a JS-heap blow-up (ERR_WORKER_OUT_OF_MEMORY) each end only that run, with an
 * outcome of error | timeout | crashed | oom.
 *
 * Bundles are imported from `<cacheDir>/<sha256>.mjs`. The caller's bytes are re-hashed before
 * the file is written, and the worker re-hashes the file right before importing it; a file that
 * no longer matches (disk corruption, tampering) is rewritten once from the verified bytes.
 *
 * What the agent hands back (publish, state, logs) is validated twice: in the worker, so the
 * agent gets an exception at the faulty call, and here, because the worker is not trusted.
 *
 * Limits of this isolation (see docs/scheduling.md): worker threads share the process, so this
 * contains faults, not malice. Memory outside the V8 heap (Buffers, ArrayBuffers) is not capped
 * per worker, and a bundle can still read files the process can read.
 */
import { Worker } from 'node:worker_threads';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { AgentSandbox, PublishedByAgent, SandboxResult, SandboxRun, VerifiedBundleRef } from '../../core/ports';
import { BundleManifestSchema, type BundleManifest } from '../../core/registry';
import type { RunOutcome } from '../../core/heartbeat';
import { MAX_STATE_BYTES, STATE_KEY_RE } from '../../core/heartbeat';
import { MAX_ENVELOPE_BYTES, TOPIC_RE, envelopeSize } from '../../core/envelope';
import { silentLogger, type Logger } from '../../core/logger';
import { BundleIntegrityError, InspectionUnavailableError, InvalidManifestError, SandboxError } from './errors';
import { WORKER_SOURCE } from './sandbox-worker';

export interface SandboxLimits {
  /** envelopes one run may publish */
  maxPublishes: number;
  /** serialized envelope size (contract: 256 KB) */
  maxEnvelopeBytes: number;
  /** total persisted state of an agent (sum of key + JSON value lengths) */
  maxStateBytes: number;
  /** ctx.log lines per run; further lines are dropped */
  maxLogLines: number;
}

export const DEFAULT_SANDBOX_LIMITS: SandboxLimits = {
  maxPublishes: 100,
  maxEnvelopeBytes: MAX_ENVELOPE_BYTES,
  maxStateBytes: MAX_STATE_BYTES,
  maxLogLines: 200,
};

export interface WorkerSandboxOptions {
  /** directory of `<sha256>.mjs` bundle files (created if missing) */
  cacheDir: string;
  /** V8 old-generation heap limit of one run's worker (AGENT_RUN_MEMORY_MB); default 256 */
  memoryMb?: number;
  /** how long loading a bundle for `inspect()` may take; default 10 s */
  inspectTimeoutMs?: number;
  /**
   * extra time for starting the worker and importing the bundle before the agent's own timeout
   * starts counting (its top-level code hanging is cut after timeout + this); default 5 s
   */
  loadGraceMs?: number;
  limits?: Partial<SandboxLimits>;
  /** where ctx.log lines go (tagged with agent, version, cycle) */
  logger?: Logger;
}

/** When the AbortSignal fires: shortly before the timeout (10 %, between 20 ms and 1 s). */
export function abortAfterMs(timeoutMs: number): number {
  const margin = Math.min(1000, Math.max(20, Math.round(timeoutMs * 0.1)));
  return Math.max(0, timeoutMs - margin);
}

const sha256Hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

// What a worker may send; anything else fails the run (the worker runs untrusted code).
const WorkerMessageSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('integrity'), actual: z.string() }),
  z.object({ t: z.literal('manifest'), manifest: z.record(z.string(), z.unknown()) }),
  z.object({ t: z.literal('manifest-error'), error: z.string() }),
  z.object({ t: z.literal('started') }),
  z.object({
    t: z.literal('log'),
    level: z.enum(['debug', 'info', 'warn', 'error']),
    msg: z.string().max(4096),
    fields: z.record(z.string(), z.unknown()).nullable(),
  }),
  z.object({
    t: z.literal('publish'),
    topic: z.string().regex(TOPIC_RE),
    payload: z.record(z.string(), z.unknown()),
    recipient: z.string().min(1).max(128).optional(),
  }),
  z.object({ t: z.literal('state'), key: z.string().regex(STATE_KEY_RE), value: z.string().nullable(), del: z.boolean() }),
  z.object({ t: z.literal('done'), ok: z.boolean(), error: z.string().nullable(), aborted: z.boolean() }),
]);
type WorkerMessage = z.infer<typeof WorkerMessageSchema>;

const INTEGRITY = Symbol('integrity');

export class WorkerSandbox implements AgentSandbox {
  private readonly memoryMb: number;
  private readonly inspectTimeoutMs: number;
  private readonly loadGraceMs: number;
  private readonly limits: SandboxLimits;
  private readonly log: Logger;
  /** sha256 of cache files written or checked by this process (the worker re-hashes anyway) */
  private readonly materialized = new Map<string, Promise<string>>();
  private dirReady: Promise<unknown> | undefined;

  constructor(private readonly opts: WorkerSandboxOptions) {
    this.memoryMb = opts.memoryMb ?? 256;
    this.inspectTimeoutMs = opts.inspectTimeoutMs ?? 10_000;
    this.loadGraceMs = opts.loadGraceMs ?? 5_000;
    this.limits = { ...DEFAULT_SANDBOX_LIMITS, ...opts.limits };
    this.log = opts.logger ?? silentLogger;
  }

  // ------------------------------------------------------------------------------------------
  // bundle cache

  /** Writes the verified bytes to `<cacheDir>/<sha256>.mjs` (atomically) unless a matching file is there. */
  private materialize(bundle: VerifiedBundleRef, force = false): Promise<string> {
    if (!/^[0-9a-f]{64}$/.test(bundle.sha256)) throw new BundleIntegrityError(`bundle ${bundle.key}: sha256 is not 64 hex digits`);
    if (sha256Hex(bundle.bytes) !== bundle.sha256)
      throw new BundleIntegrityError(`bundle ${bundle.key}: bytes do not hash to the verified sha256 ${bundle.sha256}`, {
        key: bundle.key,
      });
    const cached = this.materialized.get(bundle.sha256);
    if (cached && !force) return cached;
    const file = join(this.opts.cacheDir, `${bundle.sha256}.mjs`);
    const p = (async () => {
      this.dirReady ??= mkdir(this.opts.cacheDir, { recursive: true });
      await this.dirReady;
      if (!force) {
        const existing = await readFile(file).catch(() => null);
        if (existing && sha256Hex(existing) === bundle.sha256) return file;
      }
      const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
      await writeFile(tmp, bundle.bytes, { mode: 0o600 });
      await rename(tmp, file);
      return file;
    })();
    this.materialized.set(bundle.sha256, p);
    p.catch(() => this.materialized.delete(bundle.sha256));
    return p.catch((e: unknown) => {
      throw new SandboxError(`cannot write bundle cache file ${file}: ${(e as Error).message}`);
    });
  }

  private spawn(workerData: Record<string, unknown>): Worker {
    try {
      return new Worker(WORKER_SOURCE, {
        eval: true,
        env: {},
        argv: [],
        execArgv: [],
        workerData,
        resourceLimits: {
          maxOldGenerationSizeMb: this.memoryMb,
          maxYoungGenerationSizeMb: Math.max(4, Math.min(64, Math.floor(this.memoryMb / 8))),
          stackSizeMb: 4,
        },
      });
    } catch (e) {
      throw new SandboxError(`cannot start a worker thread: ${(e as Error).message}`);
    }
  }

  private workerLimits() {
    return { ...this.limits, topicRe: TOPIC_RE.source, stateKeyRe: STATE_KEY_RE.source };
  }

  /** Runs `attempt` and, if the cached file failed the worker's re-hash, rewrites it and tries once more. */
  private async withIntegrityRetry<T>(bundle: VerifiedBundleRef, attempt: (file: string) => Promise<T | typeof INTEGRITY>): Promise<T> {
    let file = await this.materialize(bundle);
    for (let i = 0; i < 2; i++) {
      const r = await attempt(file);
      if (r !== INTEGRITY) return r;
      this.log.warn('bundle cache file failed its re-hash; rewriting it', { key: bundle.key, sha256: bundle.sha256 });
      file = await this.materialize(bundle, true);
    }
    throw new BundleIntegrityError(`bundle ${bundle.key}: cache file keeps failing its sha256 check`, { key: bundle.key });
  }

  // ------------------------------------------------------------------------------------------
  // BundleInspector

  /**
   * Loads the bundle in a fresh worker and reads what its default export declares. Rejects with
   * InvalidManifestError (a BundleRejectedError, `bad_manifest`) when the bundle itself is not an
   * agent: it throws or exits while it is imported, its default export is not an agent, or its
   * manifest is invalid. Rejects with InspectionUnavailableError when the inspection could not be
   * done for reasons of the host: the cache file cannot be written (or keeps failing its re-hash),
   * the worker does not start or runs out of memory, or loading does not finish within
   * `inspectTimeoutMs`.
   */
  async inspect(bundle: VerifiedBundleRef): Promise<BundleManifest> {
    let raw: Record<string, unknown>;
    try {
      raw = await this.withIntegrityRetry(bundle, (file) => this.inspectOnce(file, bundle));
    } catch (e) {
      if (e instanceof SandboxError || e instanceof BundleIntegrityError)
        throw new InspectionUnavailableError(`the bundle could not be inspected: ${e.message}`, { key: bundle.key });
      throw e;
    }
    const r = BundleManifestSchema.safeParse(raw);
    if (!r.success) throw new InvalidManifestError(`invalid agent manifest: ${z.prettifyError(r.error)}`, { key: bundle.key });
    return r.data;
  }

  private inspectOnce(file: string, bundle: VerifiedBundleRef): Promise<Record<string, unknown> | typeof INTEGRITY> {
    return new Promise((resolve, reject) => {
      const worker = this.spawn({ mode: 'inspect', file, sha256: bundle.sha256, limits: this.workerLimits() });
      let settled = false;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        void worker.terminate();
        fn();
      };
      // the bundle's own fault: permanent
      const fail = (msg: string) => settle(() => reject(new InvalidManifestError(msg, { key: bundle.key })));
      // the host's: the inspection could not be done, it is tried again later
      const unavailable = (msg: string) => settle(() => reject(new InspectionUnavailableError(msg, { key: bundle.key })));
      const timer = setTimeout(
        () =>
          unavailable(
            `loading the bundle did not finish within ${this.inspectTimeoutMs} ms (a busy host, or top-level code that never finishes)`,
          ),
        this.inspectTimeoutMs,
      );
      worker.on('message', (raw: unknown) => {
        const m = WorkerMessageSchema.safeParse(raw);
        if (!m.success) return fail('the bundle sent an unexpected message while loading');
        if (m.data.t === 'integrity') return settle(() => resolve(INTEGRITY));
        if (m.data.t === 'manifest') {
          const manifest = m.data.manifest;
          return settle(() => resolve(manifest));
        }
        if (m.data.t === 'manifest-error') return fail(m.data.error);
        if (m.data.t === 'done') return fail(m.data.error ?? 'loading the bundle failed');
        return fail('the bundle sent an unexpected message while loading');
      });
      worker.on('error', (e: Error & { code?: string }) => {
        if (e.code === 'ERR_WORKER_OUT_OF_MEMORY')
          return unavailable(`the inspector ran out of memory (heap limit ${this.memoryMb} MB) while loading the bundle`);
        if (e.code === 'ERR_WORKER_INIT_FAILED') return unavailable(`the inspector's worker thread failed to start: ${e.message}`);
        // an exception of the bundle's code outside the import (a timer callback, a floating rejection)
        return fail(`loading the bundle failed: ${e.message}`);
      });
      worker.on('exit', (code) => fail(`the bundle exited (code ${code}) while loading`));
    });
  }

  // ------------------------------------------------------------------------------------------
  // AgentSandbox

  async run(run: SandboxRun): Promise<SandboxResult> {
    if (!(run.timeoutMs > 0)) throw new SandboxError(`timeoutMs must be positive, got ${run.timeoutMs}`);
    if (run.kind === 'envelope' && !run.envelope) throw new SandboxError('an envelope run needs an envelope');
    return this.withIntegrityRetry(run.bundle, (file) => this.runOnce(file, run));
  }

  private runOnce(file: string, run: SandboxRun): Promise<SandboxResult | typeof INTEGRITY> {
    const agentLog = this.log.child({ agent: run.agent, version: run.version, cycle: run.cycle, kind: run.kind });
    // sizes of the persisted state, key by key, to re-check the total the worker enforces
    const sizes = new Map<string, number>();
    let stateBytes = 0;
    for (const [k, v] of Object.entries(run.state)) {
      const n = k.length + (JSON.stringify(v)?.length ?? 0);
      sizes.set(k, n);
      stateBytes += n;
    }
    return new Promise((resolve) => {
      const worker = this.spawn({
        mode: 'run',
        file,
        sha256: run.bundle.sha256,
        agent: run.agent,
        version: run.version,
        kind: run.kind,
        cycle: run.cycle,
        envelope: run.envelope ?? null,
        state: run.state,
        abortAfterMs: abortAfterMs(run.timeoutMs),
        limits: this.workerLimits(),
      });
      const t0 = performance.now();
      let startedAt: number | null = null;
      const published: PublishedByAgent[] = [];
      const stateChanges: Record<string, unknown> = {};
      let settled = false;
      const finish = (outcome: RunOutcome | typeof INTEGRITY, error: string | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        void worker.terminate();
        if (outcome === INTEGRITY) return resolve(INTEGRITY);
        const durationMs = Math.max(0, Math.round(performance.now() - (startedAt ?? t0)));
        resolve({ outcome, error, durationMs, published, stateChanges });
      };
      const onTimeout = () => finish('timeout', `timed out after ${run.timeoutMs} ms`);
      let timer = setTimeout(onTimeout, run.timeoutMs + this.loadGraceMs);

      const onMessage = (m: WorkerMessage) => {
        switch (m.t) {
          case 'integrity':
            return finish(INTEGRITY, null);
          case 'started':
            if (startedAt !== null) return finish('error', 'agent sent a second start message');
            startedAt = performance.now();
            clearTimeout(timer);
            timer = setTimeout(onTimeout, run.timeoutMs);
            return;
          case 'log':
            agentLog[m.level](m.msg, m.fields ? { fields: m.fields } : undefined);
            return;
          case 'publish': {
            if (published.length >= this.limits.maxPublishes)
              return finish('error', `agent published more than ${this.limits.maxPublishes} envelopes`);
            const size = envelopeSize({
              id: '00000000-0000-0000-0000-000000000000',
              topic: m.topic,
              sender: run.agent,
              recipient: m.recipient,
              ts: '2026-01-01T00:00:00.000Z',
              payload: m.payload,
            });
            if (size > this.limits.maxEnvelopeBytes) return finish('error', `agent published an envelope of ${size} bytes, over the limit`);
            const p: PublishedByAgent = { topic: m.topic, payload: m.payload };
            if (m.recipient !== undefined) p.recipient = m.recipient;
            published.push(p);
            return;
          }
          case 'state': {
            let value: unknown;
            if (!m.del) {
              try {
                value = JSON.parse(m.value ?? '');
              } catch {
                return finish('error', 'agent sent a state value that is not JSON');
              }
            }
            const n = m.del ? 0 : m.key.length + (m.value ?? '').length;
            stateBytes += n - (sizes.get(m.key) ?? 0);
            if (m.del) sizes.delete(m.key);
            else sizes.set(m.key, n);
            if (stateBytes > this.limits.maxStateBytes)
              return finish('error', `agent state is over the limit of ${this.limits.maxStateBytes} bytes`);
            stateChanges[m.key] = value;
            return;
          }
          case 'done':
            if (m.ok) return finish('ok', null);
            return finish(m.aborted ? 'timeout' : 'error', m.aborted ? `${m.error ?? 'failed'} (after the timeout signal)` : m.error);
          default:
            return finish('error', `agent sent an unexpected message (${m.t})`);
        }
      };
      worker.on('message', (raw: unknown) => {
        if (settled) return;
        const m = WorkerMessageSchema.safeParse(raw);
        if (!m.success) return finish('error', 'agent sent a malformed message to the sandbox');
        onMessage(m.data);
      });
      worker.on('error', (e: Error & { code?: string }) => {
        if (e.code === 'ERR_WORKER_OUT_OF_MEMORY') return finish('oom', `out of memory (heap limit ${this.memoryMb} MB)`);
        // an exception thrown outside the awaited handler (timer callback, unhandled rejection)
        finish('error', `uncaught: ${e instanceof Error ? e.message : String(e)}`.slice(0, 2000));
      });
      worker.on('exit', (code) => finish('crashed', `agent code ended its worker (exit code ${code}) before the run finished`));
    });
  }
}
