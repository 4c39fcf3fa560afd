/**
 * The `process` runtime, local mode's default: agent code runs in child processes, never in the
 * orchestrator's process (AgentSandbox + BundleInspector ports).
 *
 * - One process per agent version (and restart generation), kept warm across its cycles like a
 *   Lambda execution environment: it imports the verified bytes once (handed over IPC, hashed and
 *   imported from memory: agent-kernel.ts) and then runs one run at a time, each with a fresh
 *   `ctx`. A bounded pool (LRU, `maxProcesses`) caps their number; an idle process is ended to
 *   make room.
 * - A process is recycled (killed, and started again for the next run) when its run crashes or
 *   times out, when code of it throws outside a run, and when its agent is restarted, upgraded or
 *   quarantined (another generation or version: the old process is ended when the new one starts;
 *   a quarantined agent's process ages out of the LRU).
 * - Isolation (isolation.ts): Node's permission model (read and write only the process's own
 *   scratch directory; no child processes, workers, addons or WASI), an empty environment, a V8
 *   heap limit and a data limit, and what the OS offers: its own uid, PID/network/mount namespaces.
 *   The whole process group is killed at the deadline, so nothing it started outlives the run.
 * - What the agent sends is validated and capped on this side (run-collector.ts); what it prints
 *   (stdout, stderr: pipes) is logged as the agent's, one record per line with `agent` and
 *   `stream`, under the same per-run caps as ctx.log (output between runs counts against the run
 *   before it), never written to the orchestrator's stdout as such.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { AgentSandbox, SandboxResult, SandboxRun, VerifiedBundleRef } from '../../core/ports';
import type { BundleManifest } from '../../core/registry';
import { errorMessage } from '../../core/errors';
import { silentLogger, type Logger } from '../../core/logger';
import { BundleIntegrityError, InspectionUnavailableError, InvalidManifestError, SandboxError } from './errors';
import { KERNEL_SOURCE } from './agent-kernel';
import { abortAfterMs, DEFAULT_SANDBOX_LIMITS, kernelLimits, lineSplitter, RunCollector, type SandboxLimits } from './run-collector';
import { checkVerified, InspectMessageSchema, parseManifest } from './sandbox';
import { detectIsolation, permissionFlag, privateTempDir, searchableByOthers, type Isolation, type IsolationKind } from './isolation';

export interface ProcessSandboxOptions {
  /** where the agent processes' scratch directories live (created, root-owned, 0711) */
  workDir: string;
  /** V8 old-generation heap limit of an agent process (AGENT_RUN_MEMORY_MB); default 256 */
  memoryMb?: number;
  /** agent processes kept at most (AGENT_RUNTIME_PROCESSES); default 32 */
  maxProcesses?: number;
  /** how long starting a process and loading its bundle may take; default 20 s */
  loadTimeoutMs?: number;
  limits?: Partial<SandboxLimits>;
  /** where ctx.log lines and what the agent prints go (tagged with agent, version, cycle) */
  logger?: Logger;
  /** force an isolation mode (tests); default: the best the host offers */
  isolation?: IsolationKind;
}

/** The agent process's bootstrap around the kernel: load once, then runs, one at a time. */
const HOST_SOURCE = `${KERNEL_SOURCE}
const send = (m) => process.send(m);
let agent = null;
process.on('message', (m) => {
  if (m.t === 'load') {
    loadAgent(Buffer.from(m.bytes), m.sha256, m.key).then(
      (r) => {
        if (!r.integrity) return send({ t: 'integrity', actual: r.actual });
        agent = r.agent;
        const mf = manifestOf(agent);
        send(mf.error ? { t: 'manifest-error', error: mf.error } : { t: 'manifest', manifest: mf.manifest });
      },
      (e) => send({ t: 'manifest-error', error: 'bundle could not be imported: ' + describe(e), stack: stackOf(e) }),
    );
  } else if (m.t === 'run') {
    runAgent(agent, m.input, send).catch((e) => send({ t: 'done', ok: false, error: 'sandbox: ' + describe(e), stack: null, aborted: false, runId: m.input.runId }));
  }
});
// code of the agent that throws outside a run's promise (a timer, a floating rejection): the
// process is no longer trustworthy; the trusted side fails the run and recycles it
const uncaught = (e) => { try { send({ t: 'uncaught', error: describe(e), stack: stackOf(e) }); } catch (_) {} };
process.on('uncaughtException', uncaught);
process.on('unhandledRejection', uncaught);
send({ t: 'ready' });
`;

const HostMessageSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('ready') }),
  z.object({ t: z.literal('uncaught'), error: z.string(), stack: z.string().nullable().optional() }),
]);

/** The stderr of V8's fatal out-of-memory. */
const OOM_RE = /heap out of memory|Allocation failed/i;

let runSeq = 0;

/** One agent process: started isolated, its bundle loaded once, then runs one at a time. */
class AgentProcess {
  readonly child: ChildProcess;
  private stderrTail = '';
  private exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  /** being ended (kill sent): no run starts in it any more, even before its exit is observed */
  private ending_ = false;
  private readonly exitWaiters: (() => void)[] = [];
  private onMessage: ((raw: unknown) => void) | null = null;
  private onExit: (() => void) | null = null;
  /**
   * Where what the process prints goes: the current run's collector, after a run still that run's
   * (output between runs counts against the run before it), before the first run one of its own.
   * Never the host's stdout: every line is logged as this agent's, under the run's caps.
   */
  private sink: RunCollector;
  /** runs wait for each other: one at a time */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly id: string,
    readonly agent: string,
    readonly slot: number,
    private readonly scratch: string,
    iso: Isolation,
    private readonly opts: { memoryMb: number; log: Logger; limits: SandboxLimits },
  ) {
    // node 24 needs more than 512 MB of data mappings just to start
    const dataLimit = Math.max(1024, 4 * opts.memoryMb) * 1024 * 1024;
    const argv = [
      iso.node,
      permissionFlag(),
      // the directory and everything in it
      `--allow-fs-read=${scratch}`,
      `--allow-fs-write=${scratch}`,
      `--max-old-space-size=${opts.memoryMb}`,
      '--disable-warning=ExperimentalWarning',
      '--input-type=commonjs',
      '-e',
      HOST_SOURCE,
    ];
    const { command, args } = iso.wrap(argv, slot, dataLimit);
    this.child = spawn(command, args, {
      cwd: scratch,
      env: {},
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'advanced',
      detached: true,
    });
    this.sink = new RunCollector({ agent, state: {} }, opts.limits, opts.log.child({ agent }));
    for (const [name, stream] of [
      ['stdout', this.child.stdout],
      ['stderr', this.child.stderr],
    ] as const) {
      const split = lineSplitter((line) => this.sink.printed(name, line));
      stream?.setEncoding('utf8');
      stream?.on('data', (d: string) => {
        if (name === 'stderr') this.stderrTail = (this.stderrTail + d).slice(-4000);
        split(d);
      });
    }
    this.child.on('message', (raw) => this.onMessage?.(raw));
    this.child.on('error', (e) => this.markExited(null, null, errorMessage(e)));
    this.child.on('exit', (code, signal) => this.markExited(code, signal));
  }

  /** it can take a run: not exited, and not being ended */
  get alive(): boolean {
    return this.exited === null && !this.ending_;
  }

  private markExited(code: number | null, signal: NodeJS.Signals | null, spawnError?: string): void {
    if (this.exited) return;
    this.exited = { code, signal };
    if (spawnError) this.stderrTail += spawnError;
    this.onExit?.();
    for (const w of this.exitWaiters.splice(0)) w();
  }

  /** How the process ended, in words, and whether that was V8's out-of-memory. */
  private ending(): { oom: boolean; text: string } {
    const e = this.exited;
    const oom = OOM_RE.test(this.stderrTail);
    return { oom, text: e ? `exit code ${e.code ?? '-'}${e.signal ? `, signal ${e.signal}` : ''}` : 'running' };
  }

  /** Ends the process and everything it started (its process group), now. */
  kill(): Promise<void> {
    this.ending_ = true;
    if (this.exited) return Promise.resolve();
    try {
      if (this.child.pid) process.kill(-this.child.pid, 'SIGKILL');
    } catch {
      this.child.kill('SIGKILL');
    }
    return new Promise((r) => this.exitWaiters.push(r));
  }

  /** Starts the process and imports the bundle; resolves with what its default export declares. */
  load(bundle: VerifiedBundleRef, timeoutMs: number): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      let ready = false;
      const done = (fn: () => void) => {
        clearTimeout(timer);
        this.onMessage = null;
        this.onExit = null;
        fn();
      };
      const timer = setTimeout(
        () =>
          done(() =>
            reject(
              new InspectionUnavailableError(`starting the agent process and loading its bundle did not finish within ${timeoutMs} ms`, {
                key: bundle.key,
              }),
            ),
          ),
        timeoutMs,
      );
      this.onExit = () => {
        const end = this.ending();
        if (!ready)
          done(() =>
            reject(
              new InspectionUnavailableError(`the agent process did not start (${end.text}): ${this.stderrTail.slice(-500)}`, {
                key: bundle.key,
              }),
            ),
          );
        else if (end.oom)
          done(() =>
            reject(new InspectionUnavailableError(`the agent process ran out of memory while loading the bundle`, { key: bundle.key })),
          );
        else done(() => reject(new InvalidManifestError(`the bundle exited (${end.text}) while loading`, { key: bundle.key })));
      };
      this.onMessage = (raw) => {
        const h = HostMessageSchema.safeParse(raw);
        if (h.success && h.data.t === 'ready') {
          ready = true;
          this.child.send({ t: 'load', bytes: bundle.bytes, sha256: bundle.sha256, key: bundle.key });
          return;
        }
        if (h.success && h.data.t === 'uncaught') {
          const why = h.data.error;
          return done(() => reject(new InvalidManifestError(`loading the bundle failed: ${why}`, { key: bundle.key })));
        }
        const m = InspectMessageSchema.safeParse(raw);
        if (!m.success)
          return done(() => reject(new InvalidManifestError('the bundle sent an unexpected message while loading', { key: bundle.key })));
        if (m.data.t === 'integrity')
          return done(() =>
            reject(
              new BundleIntegrityError(`bundle ${bundle.key}: the agent process's bytes do not hash to ${bundle.sha256}`, {
                key: bundle.key,
              }),
            ),
          );
        if (m.data.t === 'manifest-error') {
          const msg = m.data.error;
          return done(() => reject(new InvalidManifestError(msg, { key: bundle.key })));
        }
        const manifest = m.data.manifest;
        return done(() => resolve(manifest));
      };
    });
  }

  /**
   * One run, after the runs before it; `limits`: the collector's. Null when the process was
   * ended (a run before it timed out, crashed) before this run's turn came: the run did not start
   * here, and may start in a fresh process.
   */
  run(run: SandboxRun, limits: SandboxLimits, loadGraceMs: number): Promise<SandboxResult | null> {
    const p = this.queue.then(() => (this.alive ? this.runNow(run, limits, loadGraceMs) : null));
    this.queue = p.catch(() => undefined);
    return p;
  }

  private runNow(run: SandboxRun, limits: SandboxLimits, loadGraceMs: number): Promise<SandboxResult> {
    const agentLog = this.opts.log.child({ agent: run.agent, version: run.version, cycle: run.cycle, kind: run.kind });
    const collector = new RunCollector(run, limits, agentLog);
    const runId = `r${++runSeq}`;
    const t0 = performance.now();
    return new Promise((resolve) => {
      if (!this.alive) return resolve(collector.result('crashed', `the agent process had ended (${this.ending().text})`, t0));
      let settled = false;
      const finish = (r: SandboxResult, recycle: boolean) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.onMessage = null;
        this.onExit = null;
        resolve(r);
        if (recycle) void this.kill();
      };
      const onTimeout = () => finish(collector.result('timeout', `timed out after ${run.timeoutMs} ms`, t0), true);
      let timer = setTimeout(onTimeout, run.timeoutMs + loadGraceMs);
      this.sink = collector;
      this.onExit = () => {
        const end = this.ending();
        finish(
          collector.result(
            end.oom ? 'oom' : 'crashed',
            end.oom ? 'out of memory' : `agent code ended its process (${end.text}) before the run finished`,
            t0,
          ),
          false,
        );
      };
      this.onMessage = (raw) => {
        if (settled) return;
        const h = HostMessageSchema.safeParse(raw);
        if (h.success && h.data.t === 'uncaught')
          return finish(collector.result('error', `uncaught: ${h.data.error}`, t0, h.data.stack ?? null), true);
        // messages of an earlier run (its timers, after it ended) are not this run's
        if ((raw as { runId?: unknown } | null)?.runId !== runId) return;
        const wasStarted = collector.startedAt !== null;
        const v = collector.accept(raw);
        if (!wasStarted && collector.startedAt !== null) {
          clearTimeout(timer);
          timer = setTimeout(onTimeout, run.timeoutMs);
        }
        if (!v.end) return;
        if ('integrity' in v) return finish(collector.result('error', 'the agent process sent an integrity report during a run', t0), true);
        finish(collector.result(v.outcome, v.error, t0, v.stack), false);
      };
      this.child.send({
        t: 'run',
        input: {
          runId,
          agent: run.agent,
          version: run.version,
          kind: run.kind,
          cycle: run.cycle,
          envelope: run.envelope ?? null,
          state: run.state,
          abortAfterMs: abortAfterMs(run.timeoutMs),
          limits: kernelLimits(limits),
        },
      });
    });
  }

  /** Removes the scratch directory (after the process ended). */
  cleanup(): void {
    rmSync(this.scratch, { recursive: true, force: true });
  }
}

/** A pooled process: its start (and load), and the runs that hold it (it is never ended under them). */
interface PoolEntry {
  id: string;
  agent: string;
  proc: Promise<AgentProcess>;
  users: number;
  /** retired (another version or generation, or out of room): ended once its users are gone */
  retired: boolean;
  /** the process, once started and loaded */
  loaded?: AgentProcess;
}

export class ProcessSandbox implements AgentSandbox {
  readonly runtime = 'process' as const;
  readonly isolation: Isolation;
  private readonly memoryMb: number;
  private readonly maxProcesses: number;
  private readonly loadTimeoutMs: number;
  private readonly limits: SandboxLimits;
  private readonly log: Logger;
  /** live processes by (agent, generation, sha256), in LRU order (the Map's order) */
  private readonly pool = new Map<string, PoolEntry>();
  private readonly freeSlots: number[] = [];
  private nextSlot = 0;
  private closed = false;
  /** where the scratch directories are (the work dir, or a temp directory other uids can reach) */
  private readonly scratchRoot: string;

  constructor(opts: ProcessSandboxOptions) {
    this.memoryMb = opts.memoryMb ?? 256;
    this.maxProcesses = Math.max(1, opts.maxProcesses ?? 32);
    this.loadTimeoutMs = opts.loadTimeoutMs ?? 20_000;
    this.limits = { ...DEFAULT_SANDBOX_LIMITS, ...opts.limits };
    this.log = opts.logger ?? silentLogger;
    this.isolation = detectIsolation(opts.isolation);
    mkdirSync(opts.workDir, { recursive: true, mode: 0o711 });
    // another uid must reach its scratch directory: where a directory above the work dir is not
    // searchable by others (a checkout under /root, a mktemp directory), the scratch directories
    // live in a fresh 0711 directory under the temp directory instead
    this.scratchRoot =
      this.isolation.kind === 'uid' && !searchableByOthers(join(opts.workDir, 'scratch'))
        ? privateTempDir('agent-orchestrator-scratch-', 0o711)
        : opts.workDir;
    if (this.isolation.kind === 'none')
      this.log.warn("agent processes run without OS isolation (no uid switch, no namespaces): only Node's permission model", {
        isolation: 'none',
      });
    else
      this.log.info('agent processes isolated', {
        isolation: this.isolation.kind,
        detail:
          this.isolation.kind === 'uid'
            ? 'own uid, PID/network/mount namespaces, permission model'
            : "PID/network/mount namespaces in a user namespace (your uid: files kept by Node's permission model only)",
      });
  }

  /** A fresh scratch directory for a process of `slot`, owned by its uid (uid mode), 0700. */
  private scratchFor(slot: number, id: string): string {
    const dir = join(this.scratchRoot, `scratch-${slot}-${id.replace(/[^a-z0-9-]/gi, '_').slice(0, 80)}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const uid = this.isolation.uidFor(slot);
    if (uid !== null) chownSync(dir, uid, uid);
    return dir;
  }

  private start(id: string, agent: string): AgentProcess {
    const slot = this.freeSlots.pop() ?? this.nextSlot++;
    let proc: AgentProcess;
    try {
      proc = new AgentProcess(id, agent, slot, this.scratchFor(slot, id), this.isolation, {
        memoryMb: this.memoryMb,
        log: this.log,
        limits: this.limits,
      });
    } catch (e) {
      this.freeSlots.push(slot);
      throw new SandboxError(`cannot start an agent process: ${errorMessage(e)}`);
    }
    proc.child.once('exit', () => {
      proc.cleanup();
      this.freeSlots.push(slot);
      // a process that ended (crash, timeout) leaves the pool: the next run starts a new one
      const e = this.pool.get(id);
      if (e)
        void e.proc.then(
          (p) => p === proc && this.pool.get(id) === e && this.pool.delete(id),
          () => undefined,
        );
    });
    return proc;
  }

  /** Ends a retired entry's process once no run holds it. */
  private endIfUnused(e: PoolEntry): void {
    if (!e.retired || e.users > 0) return;
    void e.proc.then(
      (p) => p.kill(),
      () => undefined,
    );
  }

  private retire(e: PoolEntry): void {
    if (this.pool.get(e.id) === e) this.pool.delete(e.id);
    e.retired = true;
    this.endIfUnused(e);
  }

  /**
   * The warm process of a run's agent version (the entry is held for the run: nothing ends it
   * before the run has ended), started and loaded if there is none. Starting one retires the
   * agent's other processes (an older version or generation) and, beyond the cap, the least
   * recently used idle ones.
   */
  private acquire(run: SandboxRun): PoolEntry {
    const id = `${run.agent}\u0000${run.generation ?? 0}\u0000${run.bundle.sha256}`;
    let e = this.pool.get(id);
    // a process being ended (its run timed out or crashed) takes no new run: start another
    if (e?.loaded && !e.loaded.alive) {
      this.retire(e);
      e = undefined;
    }
    if (e) {
      // most recently used last
      this.pool.delete(id);
      this.pool.set(id, e);
    } else {
      if (this.closed) throw new SandboxError('the process runtime is closed');
      for (const other of [...this.pool.values()]) if (other.agent === run.agent) this.retire(other);
      for (const other of [...this.pool.values()]) {
        if (this.pool.size < this.maxProcesses) break;
        if (other.users === 0) this.retire(other);
      }
      const proc = this.start(id, run.agent);
      const loaded = proc.load(run.bundle, this.loadTimeoutMs).then(
        () => proc,
        async (err: unknown) => {
          await proc.kill();
          throw err;
        },
      );
      const entry: PoolEntry = { id, agent: run.agent, proc: loaded, users: 0, retired: false };
      loaded.then(
        (p) => {
          entry.loaded = p;
        },
        () => this.pool.get(id) === entry && this.pool.delete(id),
      );
      this.pool.set(id, entry);
      e = entry;
    }
    e.users++;
    return e;
  }

  private release(e: PoolEntry): void {
    e.users--;
    this.endIfUnused(e);
  }

  // ------------------------------------------------------------------------------------------
  // BundleInspector

  /**
   * Starts a fresh process for the bundle, reads its manifest, ends the process. Rejects with
   * InvalidManifestError (`bad_manifest`) when the bundle is not an agent (it throws or exits
   * while imported, its default export is not an agent, its manifest is invalid), with
   * InspectionUnavailableError when the host could not do it (the process did not start or load
   * in time, ran out of memory).
   */
  async inspect(bundle: VerifiedBundleRef): Promise<BundleManifest> {
    try {
      checkVerified(bundle);
    } catch (e) {
      throw new InspectionUnavailableError(`the bundle could not be inspected: ${errorMessage(e)}`, { key: bundle.key });
    }
    let p: AgentProcess;
    try {
      p = await this.start(`inspect-${++runSeq}`, 'inspect');
    } catch (e) {
      throw new InspectionUnavailableError(`the bundle could not be inspected: ${errorMessage(e)}`, { key: bundle.key });
    }
    try {
      const raw = await p.load(bundle, this.loadTimeoutMs).catch((e: unknown) => {
        if (e instanceof BundleIntegrityError) throw new InspectionUnavailableError(e.message, { key: bundle.key });
        throw e;
      });
      return parseManifest(raw, bundle.key);
    } finally {
      await p.kill();
    }
  }

  // ------------------------------------------------------------------------------------------
  // AgentSandbox

  async run(run: SandboxRun): Promise<SandboxResult> {
    if (!(run.timeoutMs > 0)) throw new SandboxError(`timeoutMs must be positive, got ${run.timeoutMs}`);
    if (run.kind === 'envelope' && !run.envelope) throw new SandboxError('an envelope run needs an envelope');
    checkVerified(run.bundle);
    // a run queued behind one that ended its process starts again in a fresh process (once: a
    // process that ends before its first run is this run's crash)
    for (let attempt = 1; ; attempt++) {
      const r = await this.runOnce(run);
      if (r) return r;
      if (attempt >= 2)
        return {
          outcome: 'crashed',
          error: 'the agent process ended before the run could start',
          durationMs: 0,
          published: [],
          stateChanges: {},
        };
    }
  }

  private async runOnce(run: SandboxRun): Promise<SandboxResult | null> {
    const entry = this.acquire(run);
    try {
      let p: AgentProcess;
      try {
        p = await entry.proc;
      } catch (e) {
        // the bundle loaded at registration; failing to load it now is this run's failure
        if (e instanceof InvalidManifestError)
          return { outcome: 'error', error: e.message, durationMs: 0, published: [], stateChanges: {} };
        if (e instanceof InspectionUnavailableError)
          return { outcome: 'crashed', error: e.message, durationMs: 0, published: [], stateChanges: {} };
        throw e;
      }
      return await p.run(run, this.limits, this.loadTimeoutMs);
    } finally {
      this.release(entry);
    }
  }

  /** Ends every agent process (shutdown). */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.pool.values()];
    this.pool.clear();
    await Promise.all(all.map(async (e) => (await e.proc.catch(() => null))?.kill()));
  }

  /** Live agent processes (diagnostics, tests). */
  size(): number {
    return this.pool.size;
  }
}
