/**
 * The `thread` runtime: runs agent code in worker threads of the orchestrator's own process
 * (AgentSandbox + BundleInspector ports). For trusted code only (AGENT_RUNTIME=thread): the
 * default local runtime is `process` (process-sandbox.ts), the cloud's `lambda`.
 *
 * One run = one fresh Worker: a new V8 isolate with its own heap limit (`resourceLimits`), an
 * empty `process.env` and no inherited `execArgv`. The agent's exception or rejected promise, a
 * hang past its timeout (the AbortSignal fires first, then the worker is terminated),
 * `process.exit` (ends only the worker) and a JS-heap blow-up (ERR_WORKER_OUT_OF_MEMORY) each end
 * only that run, with an outcome of error | timeout | crashed | oom. The worker imports exactly
 * the verified bytes it was handed (agent-kernel.ts: hashed there, imported from memory). What
 * it prints is piped to this side and logged as the agent's (tagged, capped per run: run-collector.ts).
 *
 * Limits of this isolation (see docs/scheduling.md): worker threads share the process, so this
 * contains faults, not malice: the agent can read what the process can read, signal it, start
 * processes; memory outside the V8 heap is not capped per worker. The cloud runs this runtime
 * inside the sandbox Lambda, whose role can do nothing but write its logs.
 */
import { Worker } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { AgentSandbox, SandboxResult, SandboxRun, VerifiedBundleRef } from '../../core/ports';
import { BundleManifestSchema, type BundleManifest } from '../../core/registry';
import { silentLogger, type Logger } from '../../core/logger';
import { BundleIntegrityError, InspectionUnavailableError, InvalidManifestError, SandboxError } from './errors';
import { KERNEL_SOURCE } from './agent-kernel';
import { abortAfterMs, DEFAULT_SANDBOX_LIMITS, kernelLimits, lineSplitter, RunCollector, type SandboxLimits } from './run-collector';

export { abortAfterMs, DEFAULT_SANDBOX_LIMITS, type SandboxLimits };

export interface WorkerSandboxOptions {
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

/** The worker's bootstrap around the kernel: one inspection or one run, from workerData. */
const WORKER_SOURCE = `${KERNEL_SOURCE}
const { parentPort, workerData: wd } = require('node:worker_threads');
const send = (m) => parentPort.postMessage(m);
(async () => {
  const runId = wd.input ? wd.input.runId : null;
  let loaded;
  try {
    loaded = await loadAgent(Buffer.from(wd.bytes), wd.sha256, wd.key);
  } catch (e) {
    const error = 'bundle could not be imported: ' + describe(e);
    send(wd.mode === 'inspect' ? { t: 'manifest-error', error } : { t: 'done', ok: false, error, stack: stackOf(e), aborted: false, runId });
    return;
  }
  if (!loaded.integrity) return send({ t: 'integrity', actual: loaded.actual, runId });
  if (wd.mode === 'inspect') {
    const r = manifestOf(loaded.agent);
    return send(r.error ? { t: 'manifest-error', error: r.error } : { t: 'manifest', manifest: r.manifest });
  }
  // a handler whose promise never settles, with nothing else pending, must still hang until the
  // parent's timeout (an empty event loop would otherwise end the worker early)
  setInterval(() => {}, 1 << 30);
  await runAgent(loaded.agent, wd.input, send);
})().catch((e) => send({ t: 'done', ok: false, error: 'sandbox: ' + describe(e), stack: null, aborted: false, runId: wd.input ? wd.input.runId : null }));
`;

/** What an inspection may answer. */
export const InspectMessageSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('integrity'), actual: z.string() }),
  z.object({ t: z.literal('manifest'), manifest: z.record(z.string(), z.unknown()) }),
  z.object({ t: z.literal('manifest-error'), error: z.string() }),
]);

const sha256Hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** The bytes must hash to the sha256 they were verified under before any runtime is handed them. */
export function checkVerified(bundle: VerifiedBundleRef): void {
  if (!/^[0-9a-f]{64}$/.test(bundle.sha256)) throw new BundleIntegrityError(`bundle ${bundle.key}: sha256 is not 64 hex digits`);
  if (sha256Hex(bundle.bytes) !== bundle.sha256)
    throw new BundleIntegrityError(`bundle ${bundle.key}: bytes do not hash to the verified sha256 ${bundle.sha256}`, { key: bundle.key });
}

/** The manifest an inspection answered, validated; a bundle that declares nonsense is `bad_manifest`. */
export function parseManifest(raw: Record<string, unknown>, key: string): BundleManifest {
  const r = BundleManifestSchema.safeParse(raw);
  if (!r.success) throw new InvalidManifestError(`invalid agent manifest: ${z.prettifyError(r.error)}`, { key });
  return r.data;
}

export class WorkerSandbox implements AgentSandbox {
  readonly runtime = 'thread' as const;
  private readonly memoryMb: number;
  private readonly inspectTimeoutMs: number;
  private readonly loadGraceMs: number;
  private readonly limits: SandboxLimits;
  private readonly log: Logger;

  constructor(opts: WorkerSandboxOptions = {}) {
    this.memoryMb = opts.memoryMb ?? 256;
    this.inspectTimeoutMs = opts.inspectTimeoutMs ?? 10_000;
    this.loadGraceMs = opts.loadGraceMs ?? 5_000;
    this.limits = { ...DEFAULT_SANDBOX_LIMITS, ...opts.limits };
    this.log = opts.logger ?? silentLogger;
  }

  private spawn(workerData: Record<string, unknown>): Worker {
    try {
      return new Worker(WORKER_SOURCE, {
        eval: true,
        env: {},
        argv: [],
        execArgv: [],
        workerData,
        // what the agent prints is not the host's output: piped here, logged as the agent's (pipeOutput)
        stdout: true,
        stderr: true,
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

  /** The worker's stdout and stderr, line by line, to `sink` (a collector: tagged, capped). */
  private pipeOutput(worker: Worker, sink: RunCollector): void {
    for (const [name, stream] of [
      ['stdout', worker.stdout],
      ['stderr', worker.stderr],
    ] as const) {
      const split = lineSplitter((line) => sink.printed(name, line));
      stream.setEncoding('utf8');
      stream.on('data', (d: string) => split(d));
    }
  }

  // ------------------------------------------------------------------------------------------
  // BundleInspector

  /**
   * Loads the bundle in a fresh worker and reads what its default export declares. Rejects with
   * InvalidManifestError (a BundleRejectedError, `bad_manifest`) when the bundle itself is not an
   * agent: it throws or exits while it is imported, its default export is not an agent, or its
   * manifest is invalid. Rejects with InspectionUnavailableError when the inspection could not be
   * done for reasons of the host: the worker does not start or runs out of memory, or loading
   * does not finish within `inspectTimeoutMs`.
   */
  async inspect(bundle: VerifiedBundleRef): Promise<BundleManifest> {
    try {
      checkVerified(bundle);
    } catch (e) {
      throw new InspectionUnavailableError(`the bundle could not be inspected: ${(e as Error).message}`, { key: bundle.key });
    }
    return parseManifest(await this.inspectOnce(bundle), bundle.key);
  }

  private inspectOnce(bundle: VerifiedBundleRef): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      let worker: Worker;
      try {
        worker = this.spawn({ mode: 'inspect', bytes: bundle.bytes, sha256: bundle.sha256, key: bundle.key });
      } catch (e) {
        return reject(new InspectionUnavailableError(`the bundle could not be inspected: ${(e as Error).message}`, { key: bundle.key }));
      }
      this.pipeOutput(worker, new RunCollector({ agent: bundle.key, state: {} }, this.limits, this.log.child({ bundle: bundle.key })));
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
        const m = InspectMessageSchema.safeParse(raw);
        if (!m.success) return fail('the bundle sent an unexpected message while loading');
        if (m.data.t === 'integrity')
          return unavailable(`bundle ${bundle.key}: the bytes handed to the inspector do not hash to ${bundle.sha256}`);
        if (m.data.t === 'manifest') {
          const manifest = m.data.manifest;
          return settle(() => resolve(manifest));
        }
        return fail(m.data.error);
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
    checkVerified(run.bundle);
    const result = await this.runOnce(run);
    if (result === 'integrity')
      throw new BundleIntegrityError(`bundle ${run.bundle.key}: the worker's bytes did not hash to ${run.bundle.sha256}`, {
        key: run.bundle.key,
      });
    return result;
  }

  private runOnce(run: SandboxRun): Promise<SandboxResult | 'integrity'> {
    const agentLog = this.log.child({ agent: run.agent, version: run.version, cycle: run.cycle, kind: run.kind });
    const collector = new RunCollector(run, this.limits, agentLog);
    return new Promise((resolve) => {
      const worker = this.spawn({
        mode: 'run',
        bytes: run.bundle.bytes,
        sha256: run.bundle.sha256,
        key: run.bundle.key,
        input: {
          runId: 'thread',
          agent: run.agent,
          version: run.version,
          kind: run.kind,
          cycle: run.cycle,
          envelope: run.envelope ?? null,
          state: run.state,
          abortAfterMs: abortAfterMs(run.timeoutMs),
          limits: kernelLimits(this.limits),
        },
      });
      this.pipeOutput(worker, collector);
      const t0 = performance.now();
      let settled = false;
      const finish = (r: SandboxResult | 'integrity') => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        void worker.terminate();
        resolve(r);
      };
      const onTimeout = () => finish(collector.result('timeout', `timed out after ${run.timeoutMs} ms`, t0));
      let timer = setTimeout(onTimeout, run.timeoutMs + this.loadGraceMs);
      worker.on('message', (raw: unknown) => {
        if (settled) return;
        const wasStarted = collector.startedAt !== null;
        const v = collector.accept(raw);
        if (!wasStarted && collector.startedAt !== null) {
          clearTimeout(timer);
          timer = setTimeout(onTimeout, run.timeoutMs);
        }
        if (!v.end) return;
        if ('integrity' in v) return finish('integrity');
        finish(collector.result(v.outcome, v.error, t0, v.stack));
      });
      worker.on('error', (e: Error & { code?: string }) => {
        if (e.code === 'ERR_WORKER_OUT_OF_MEMORY')
          return finish(collector.result('oom', `out of memory (heap limit ${this.memoryMb} MB)`, t0));
        // an exception thrown outside the awaited handler (timer callback, unhandled rejection)
        finish(
          collector.result(
            'error',
            `uncaught: ${e instanceof Error ? e.message : String(e)}`.slice(0, 2000),
            t0,
            e instanceof Error ? (e.stack ?? null) : null,
          ),
        );
      });
      worker.on('exit', (code) =>
        finish(collector.result('crashed', `agent code ended its worker (exit code ${code}) before the run finished`, t0)),
      );
    });
  }
}
