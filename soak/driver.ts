/**
 * The soak driver: runs local mode in a child process (soak/orchestrator.ts), loads it with a
 * fleet of healthy and faulty agents, injects faults, and checks the outcome (soak/checks.ts).
 *
 * Phases, each bounded in time:
 *   1. start   — fork the orchestrator (local mode: DynamoDB Local, s3rver, API on 127.0.0.1).
 *   2. publish — sign every bundle with the dev key and put it into the hot directory over
 *                loopback (S3 PutObject to s3rver, as `agentctl publish` does); wait until
 *                GET /agents lists them all.
 *   3. active  — `activeSeconds` of load with the fault injector: DynamoDB Local and s3rver
 *                restarts (alternating), and duplicate deliveries (cycles and envelope runs
 *                that already ran handed to the runner pool again, copies of slots still waiting,
 *                envelopes re-published with their id). GET /healthz is probed every second.
 *   4. converge — wait until GET /agents shows every faulty agent quarantined, for as long as the
 *                faulty agents left make progress (a run of theirs ends, one more is quarantined):
 *                `convergeSeconds` without progress, or three times that in all, end the wait.
 *                A slow or loaded machine takes longer; it does not fail a liveness bound.
 *   5. drain   — POST /components/scheduler/stop, then wait until the runner pool and the bus are
 *                idle, so that the ledger has every envelope.
 *   6. collect — GET /agents, every GET /ledger page, GET /ledger/verify, the child's counters;
 *                then `stop` (clean shutdown, exit 0 expected).
 *
 * The child's exit is watched from the first to the last phase: exiting before phase 6 fails the
 * soak (`process-alive`), whatever else happened.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus, totalmem, platform, release } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { createClients } from '../shared/adapters/aws/clients';
import { S3BundleStore } from '../shared/adapters/aws/s3-bundle-store';
import { bundleKey } from '../shared/core/bundle/identity';
import { signBundle } from '../shared/core/bundle/signing';
import { cycleRunId, envelopeRunId, type DispatchItem } from '../shared/core/dispatch';
import type { Envelope } from '../shared/core/envelope';
import { errorMessage } from '../shared/core/errors';
import { planFleet, type FleetPlan } from './fleet';
import { ChildMessageSchema, ChildStatsSchema, type ChildStats, type Command, type ObservedEvent, type ObservedRun } from './protocol';
import {
  ApiAgentSchema,
  ApiLedgerEntrySchema,
  ApiVerifySchema,
  evaluate,
  type ApiAgent,
  type ApiLedgerEntry,
  type CheckResult,
  type FaultWindow,
  type Injected,
  type SoakFigures,
  type SoakObservations,
} from './checks';
import { SoakApiError, SoakConfigError, SoakOrchestratorError, SoakTimeoutError } from './errors';
import { pollUntil } from '../shared/core/retry';

const here = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(here, '..');

const range = z.tuple([z.number().int().min(1), z.number().int().min(1)]);

export const SoakOptionsSchema = z
  .object({
    agents: z.number().int().min(20).max(5000).default(500),
    /** seconds of load and fault injection after every agent is registered */
    activeSeconds: z.number().min(10).max(7200).default(300),
    /**
     * after the active phase, how long the last faulty agents may go without progress (a run of
     * theirs ending, one of them quarantined) before the wait for their quarantine ends; the wait
     * is at most three times this in all
     */
    convergeSeconds: z.number().min(1).max(3600).default(180),
    registerTimeoutSeconds: z.number().min(10).max(3600).default(300),
    drainTimeoutSeconds: z.number().min(5).max(3600).default(180),
    healthyCycleSeconds: range.default([40, 79]),
    faultyCycleSeconds: range.default([5, 9]),
    runnerConcurrency: z.number().int().min(1).max(256).default(8),
    /** an emulator restart every this many seconds of the active phase, DynamoDB Local and s3rver alternating (0: none) */
    emulatorFaultEverySeconds: z.number().min(0).default(30),
    dynamoDownMs: z.number().int().min(0).max(30_000).default(500),
    s3DownMs: z.number().int().min(0).max(30_000).default(500),
    /** a duplicate-delivery injection every this many seconds (0: none) */
    duplicateEverySeconds: z.number().min(0).default(5),
    duplicatesPerInjection: z.number().int().min(1).max(200).default(5),
    /** health policy of the run (env of the orchestrator); contract defaults except the backoff */
    health: z
      .object({
        AGENT_ERR_THRESHOLD: z.number().int().min(1).default(3),
        AGENT_MAX_RESTARTS: z.number().int().min(0).default(3),
        AGENT_RESTART_WINDOW_SECONDS: z.number().int().min(1).default(600),
        AGENT_RESTART_BACKOFF_BASE_SECONDS: z.number().int().min(0).default(1),
        AGENT_RESTART_BACKOFF_MAX_SECONDS: z.number().int().min(0).default(4),
        AGENT_STUCK_GRACE_SECONDS: z.number().int().min(0).default(30),
      })
      .prefault({}),
    /** data directory of the orchestrator; default a fresh temp dir, removed afterwards unless keepData */
    dataDir: z.string().min(1).optional(),
    keepData: z.boolean().default(false),
    logLevel: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('warn'),
    seed: z.number().int().default(7),
  })
  .refine(
    (o) => o.healthyCycleSeconds[0] <= o.healthyCycleSeconds[1] && o.faultyCycleSeconds[0] <= o.faultyCycleSeconds[1],
    'period ranges are [min, max]',
  );
export type SoakOptions = z.input<typeof SoakOptionsSchema>;
export type ResolvedSoakOptions = z.infer<typeof SoakOptionsSchema>;

export interface SoakResult {
  passed: boolean;
  checks: CheckResult[];
  figures: SoakFigures;
  options: ResolvedSoakOptions;
  machine: string;
  startedAt: string;
  /** seconds per phase */
  phases: Record<string, number>;
  /** peak RSS of the orchestrator process (MB) from the periodic stats */
  peakRssMb: number;
  /** the orchestrator's log (its stderr/stdout), for a failed soak */
  logFile: string | null;
  /** set when a phase failed outright (timeout, child error); the checks then say what was left */
  error: string | null;
}

export function machineDescription(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return `${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${platform()} ${release()}, node ${process.version}`;
}

/** mulberry32: a small seeded PRNG, so a soak's choices are reproducible from its seed */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface ChildHandle {
  child: ChildProcess;
  ready: { apiUrl: string; s3Endpoint: string; bucket: string; token: string; privateKey: string; publicKey: string; pid: number };
  runs: ObservedRun[];
  events: ObservedEvent[];
  exitedEarly: SoakObservations['process']['exitedEarly'];
  finalExit: SoakObservations['process']['finalExit'];
  command(cmd: Command, timeoutMs?: number): Promise<unknown>;
  stopRequested: boolean;
  exited: Promise<void>;
}

async function startChild(o: ResolvedSoakOptions, dataDir: string, logFile: string): Promise<ChildHandle> {
  const env: Record<string, string> = { LOG_LEVEL: o.logLevel };
  for (const [k, v] of Object.entries(o.health)) env[k] = String(v);
  mkdirSync(dataDir, { recursive: true });
  const logFd = openSync(logFile, 'a');
  const child = fork(
    join(here, 'orchestrator.ts'),
    [JSON.stringify({ dataDir, env, runnerConcurrency: o.runnerConcurrency, logLevel: o.logLevel })],
    {
      cwd: REPO_ROOT,
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', logFd, logFd, 'ipc'],
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    },
  );
  closeSync(logFd);
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  const h: Partial<ChildHandle> & { runs: ObservedRun[]; events: ObservedEvent[] } = {
    runs: [],
    events: [],
    exitedEarly: null,
    finalExit: null,
    stopRequested: false,
  };
  let onReady: ((r: ChildHandle['ready']) => void) | undefined;
  const ready = new Promise<ChildHandle['ready']>((res) => (onReady = res));
  h.exited = new Promise<void>((res) =>
    child.once('exit', (code, signal) => {
      if (h.stopRequested) h.finalExit = { code, signal };
      else h.exitedEarly = { code, signal, at: Date.now() };
      for (const p of pending.values()) p.reject(new SoakOrchestratorError(`orchestrator process exited (code ${code}, signal ${signal})`));
      pending.clear();
      res();
    }),
  );
  child.on('message', (raw: unknown) => {
    const m = ChildMessageSchema.safeParse(raw);
    if (!m.success) {
      process.stderr.write(`soak: invalid message from the orchestrator: ${m.error.message}\n`);
      return;
    }
    const msg = m.data;
    if (msg.t === 'ready') onReady?.(msg);
    else if (msg.t === 'obs') {
      for (const r of msg.runs) h.runs.push(r);
      for (const e of msg.events) h.events.push(e);
    } else {
      const p = pending.get(msg.id);
      if (!p) return;
      pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new SoakOrchestratorError(msg.error ?? 'command failed'));
    }
  });
  h.child = child;
  h.command = (cmd: Command, timeoutMs = 120_000) =>
    new Promise<unknown>((res, rej) => {
      if (child.exitCode !== null || child.signalCode !== null)
        return rej(new SoakOrchestratorError('orchestrator process is not running'));
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        rej(new SoakTimeoutError(`orchestrator did not answer ${cmd.op} within ${timeoutMs} ms`));
      }, timeoutMs);
      pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          res(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          rej(e);
        },
      });
      child.send({ t: 'cmd', id, cmd });
    });
  const started = await Promise.race([ready, h.exited.then(() => null), sleep(180_000).then(() => undefined)]);
  if (started === null) throw new SoakOrchestratorError(`orchestrator exited before it was ready; log: ${tail(logFile)}`);
  if (started === undefined) {
    child.kill('SIGTERM');
    throw new SoakTimeoutError('orchestrator not ready within 180 s');
  }
  h.ready = started;
  return h as ChildHandle;
}

function tail(file: string, chars = 3000): string {
  try {
    const s = readFileSync(file, 'utf8');
    return s.slice(-chars);
  } catch {
    return '(no log)';
  }
}

class Api {
  constructor(
    private readonly base: string,
    private readonly token: string,
  ) {}

  async call<T>(method: 'GET' | 'POST', path: string, schema: z.ZodType<T>, timeoutMs = 30_000): Promise<T> {
    const res = await fetch(this.base.replace(/\/$/, '') + path, {
      method,
      headers: { authorization: `Bearer ${this.token}` },
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    if (!res.ok) throw new SoakApiError(`${method} ${path}: HTTP ${res.status}: ${text.slice(0, 300)}`, { status: res.status });
    const parsed = schema.safeParse(JSON.parse(text));
    if (!parsed.success) throw new SoakApiError(`${method} ${path}: unexpected body: ${parsed.error.message.slice(0, 300)}`);
    return parsed.data;
  }

  /** every agent: every page of `GET /agents` */
  async agents(): Promise<ApiAgent[]> {
    const out: ApiAgent[] = [];
    let cursor: string | null = null;
    do {
      const path: string = `/agents?limit=1000${cursor ? `&cursor=${cursor}` : ''}`;
      const page: { agents: ApiAgent[]; cursor: string | null } = await this.call(
        'GET',
        path,
        z.object({ agents: z.array(ApiAgentSchema), cursor: z.string().nullable() }),
      );
      out.push(...page.agents);
      cursor = page.cursor;
    } while (cursor);
    return out;
  }

  async ledger(): Promise<ApiLedgerEntry[]> {
    const out: ApiLedgerEntry[] = [];
    let after = 0;
    for (;;) {
      const page = await this.call(
        'GET',
        `/ledger?after=${after}&limit=1000`,
        z.object({ entries: z.array(ApiLedgerEntrySchema), next: z.number().nullable().optional() }),
        120_000,
      );
      out.push(...page.entries);
      if (page.entries.length === 0 || page.next === null || page.next === undefined) return out;
      after = page.next;
    }
  }

  verify() {
    return this.call('GET', '/ledger/verify', ApiVerifySchema, 300_000);
  }

  async healthz(): Promise<boolean> {
    try {
      const res = await fetch(this.base.replace(/\/$/, '') + '/healthz', { signal: AbortSignal.timeout(5000) });
      await res.arrayBuffer();
      return res.status === 200;
    } catch {
      return false;
    }
  }
}

async function mapLimit<T>(items: T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (i < items.length) await fn(items[i++] as T);
    }),
  );
}

async function publishFleet(plan: FleetPlan, ready: ChildHandle['ready']): Promise<void> {
  const clients = createClients({ region: 'us-east-1', endpoints: { s3: ready.s3Endpoint }, localCredentials: true });
  const store = new S3BundleStore(clients.s3, ready.bucket);
  await mapLimit(plan.agents, 8, async (a) => {
    const bytes = new TextEncoder().encode(a.source);
    const signature = signBundle(ready.privateKey, a.name, '1.0.0', bytes);
    await store.put(bundleKey(a.name, '1.0.0'), bytes, { signature, signer: ready.publicKey });
  });
  clients.s3.destroy();
}

function until<T>(what: string, seconds: number, fn: () => Promise<T | undefined>, everyMs = 1000): Promise<T> {
  return pollUntil(fn, {
    forMs: seconds * 1000,
    everyMs,
    timeout: (last) => new SoakTimeoutError(`${what}: not within ${seconds} s${last ? ` (last error: ${errorMessage(last)})` : ''}`),
  });
}

export interface SoakHooks {
  /** progress lines (phases, faults, counts) */
  progress?: (line: string) => void;
}

export async function runSoak(input: SoakOptions, hooks: SoakHooks = {}): Promise<SoakResult> {
  const parsed = SoakOptionsSchema.safeParse(input);
  if (!parsed.success) throw new SoakConfigError(`invalid soak options: ${z.prettifyError(parsed.error)}`);
  const o = parsed.data;
  const say = hooks.progress ?? (() => undefined);
  const plan = planFleet({ agents: o.agents, healthyCycleSeconds: o.healthyCycleSeconds, faultyCycleSeconds: o.faultyCycleSeconds });
  const dataDir = o.dataDir ? resolve(o.dataDir) : mkdtempSync(join(tmpdir(), 'orch-soak-'));
  const logFile = join(dataDir, 'orchestrator.log');
  const random = prng(o.seed);
  const phases: Record<string, number> = {};
  const startedAt = new Date().toISOString();
  let t = Date.now();
  const phase = (name: string) => {
    phases[name] = Math.round((Date.now() - t) / 100) / 10;
    t = Date.now();
  };

  const injected: Injected = { redispatchedCycles: [], redispatchedEnvelopeRuns: [], pendingCopies: [], republished: [] };
  const faults: FaultWindow[] = [];
  const healthz = { ok: 0, failed: 0 };
  let peakRssMb = 0;
  let schedulerStoppedAt = Date.now();
  let final: SoakObservations['final'] = null;
  let error: string | null = null;
  let h: ChildHandle | undefined;
  let probe: NodeJS.Timeout | undefined;
  let sampler: NodeJS.Timeout | undefined;
  say(
    `soak: ${plan.agents.length} agents (${plan.counts.healthy} healthy, ${plan.counts.throw} throw, ${plan.counts.hang} hang, ${plan.counts.spin} spin, ${plan.counts.crash} crash); data ${dataDir}`,
  );
  try {
    h = await startChild(o, dataDir, logFile);
    const child = h;
    phase('start');
    say(`soak: orchestrator pid ${child.ready.pid} at ${child.ready.apiUrl}`);
    const api = new Api(child.ready.apiUrl, child.ready.token);
    probe = setInterval(() => {
      void api.healthz().then((ok) => (ok ? healthz.ok++ : healthz.failed++));
    }, 1000);
    sampler = setInterval(() => {
      void child
        .command({ op: 'stats' }, 30_000)
        .then((s) => {
          const st = ChildStatsSchema.parse(s);
          peakRssMb = Math.max(peakRssMb, st.memory.rssMb);
        })
        .catch(() => undefined);
    }, 10_000);

    await publishFleet(plan, child.ready);
    const names = new Set(plan.agents.map((a) => a.name));
    await until('every agent registered (GET /agents)', o.registerTimeoutSeconds, async () => {
      const n = (await api.agents()).filter((a) => names.has(a.name)).length;
      return n === names.size ? n : undefined;
    });
    phase('publish');
    say(`soak: ${names.size} agents registered in ${phases.publish} s; active phase ${o.activeSeconds} s`);

    // ---------------------------------------------------------------------------------------------
    // active phase: load + fault injection
    const healthyNames = plan.healthy.map((a) => a.name);
    const healthy = new Set(healthyNames);
    const activeEnd = Date.now() + o.activeSeconds * 1000;
    const pick = <T>(xs: T[], n: number): T[] => {
      const pool = [...xs];
      const out: T[] = [];
      while (out.length < n && pool.length) out.push(pool.splice(Math.floor(random() * pool.length), 1)[0] as T);
      return out;
    };
    /** recent observations not yet used for an injection */
    const used = new Set<string>();
    const recentEvents = (pred: (e: ObservedEvent) => boolean) => {
      const since = Date.now() - 20_000;
      const out: ObservedEvent[] = [];
      for (let i = child.events.length - 1; i >= 0; i--) {
        const e = child.events[i]!;
        if (e.at < since) break;
        if (!used.has(e.envelope.id) && pred(e)) out.push(e);
      }
      return out;
    };
    const injections: (() => Promise<void>)[] = [
      // cycles that ran: the same dispatch message again (a redelivery after the run)
      async () => {
        const ran = recentEvents(
          (e) => e.envelope.topic === 'agent.cycle' && e.envelope.payload.kind === 'cycle' && healthy.has(String(e.envelope.payload.name)),
        );
        const items: DispatchItem[] = pick(ran, o.duplicatesPerInjection).map((e) => {
          used.add(e.envelope.id);
          const p = e.envelope.payload as { name: string; slot: number; generation: number };
          return {
            message: { kind: 'cycle', agent: p.name, runId: cycleRunId(p.name, p.slot), slot: p.slot, generation: p.generation },
            notBefore: Date.now(),
          };
        });
        if (!items.length) return;
        await child.command({ op: 'dispatch', items });
        injected.redispatchedCycles.push(...items.map((i) => i.message.runId));
      },
      // slots still waiting in the pool: a second copy, both race
      async () => {
        const r = (await child.command({ op: 'duplicatePending', max: o.duplicatesPerInjection, agents: healthyNames })) as {
          runIds: string[];
        };
        injected.pendingCopies.push(...r.runIds);
      },
      // envelopes between healthy agents: published again with the same id (the router dispatches again)
      async () => {
        const envs = pick(
          recentEvents(
            (e) => e.envelope.topic === 'soak.ping' && healthy.has(e.envelope.sender) && healthy.has(e.envelope.recipient ?? ''),
          ),
          o.duplicatesPerInjection,
        ).map((e) => {
          used.add(e.envelope.id);
          return e.envelope;
        });
        if (!envs.length) return;
        await child.command({ op: 'publish', envelopes: envs });
        injected.republished.push(...envs.map((e: Envelope) => ({ id: e.id, recipient: e.recipient! })));
      },
      // envelope runs that happened: the dispatch message again (a redelivery from the queue)
      async () => {
        const envs = pick(
          recentEvents(
            (e) => e.envelope.topic === 'soak.ping' && healthy.has(e.envelope.sender) && healthy.has(e.envelope.recipient ?? ''),
          ),
          o.duplicatesPerInjection,
        );
        const delivered = new Set(child.runs.filter((r) => r.status === 'ran' && r.kind === 'envelope').map((r) => r.runId));
        const items: DispatchItem[] = envs
          .filter((e) => delivered.has(envelopeRunId(e.envelope.recipient!, e.envelope.id)))
          .map((e) => {
            used.add(e.envelope.id);
            return {
              message: {
                kind: 'envelope',
                agent: e.envelope.recipient!,
                runId: envelopeRunId(e.envelope.recipient!, e.envelope.id),
                envelope: e.envelope,
              },
              notBefore: Date.now(),
            };
          });
        if (!items.length) return;
        await child.command({ op: 'dispatch', items });
        injected.redispatchedEnvelopeRuns.push(...items.map((i) => i.message.runId));
      },
    ];
    const activeStart = Date.now();
    let nextEmulatorFault = o.emulatorFaultEverySeconds > 0 ? activeStart + o.emulatorFaultEverySeconds * 1000 : Infinity;
    let nextDuplicate = o.duplicateEverySeconds > 0 ? activeStart + o.duplicateEverySeconds * 1000 : Infinity;
    let emulatorFaults = 0;
    let duplicateRound = 0;
    while (Date.now() < activeEnd) {
      const now = Date.now();
      // an emulator restart only if the system has time to recover inside the active phase
      if (now >= nextEmulatorFault && activeEnd - now > 10_000) {
        const kind = emulatorFaults % 2 === 0 ? 'dynamodb' : 's3';
        emulatorFaults++;
        const r = (await child.command(
          kind === 'dynamodb' ? { op: 'restartDynamo', downMs: o.dynamoDownMs } : { op: 'restartS3', downMs: o.s3DownMs },
        )) as { from: number; to: number };
        faults.push({ kind, from: r.from, to: r.to });
        say(`soak: ${kind} restarted, unreachable for ${r.to - r.from} ms`);
        nextEmulatorFault += o.emulatorFaultEverySeconds * 1000;
      } else if (now >= nextDuplicate) {
        await injections[duplicateRound % injections.length]!();
        duplicateRound++;
        nextDuplicate += o.duplicateEverySeconds * 1000;
      } else {
        await sleep(Math.max(10, Math.min(nextEmulatorFault, nextDuplicate, activeEnd) - now));
      }
    }
    phase('active');
    say(
      `soak: active phase over: ${child.runs.length} run reports, ${child.events.length} bus envelopes, ${faults.length} emulator restarts, duplicates injected`,
    );

    // ---------------------------------------------------------------------------------------------
    // converge: every faulty agent quarantined
    const faulty = new Set(plan.faulty.map((a) => a.name));
    const convergeStart = Date.now();
    let lastProgress = convergeStart;
    let marker = '';
    const converged = await pollUntil(
      async (): Promise<string | undefined> => {
        const agents = await api.agents();
        const left = new Set(agents.filter((a) => faulty.has(a.name) && a.status !== 'quarantined').map((a) => a.name));
        if (left.size === 0) return 'ok';
        const now = Date.now();
        const progress = `${left.size}/${child.runs.filter((r) => left.has(r.agent)).length}`;
        if (progress !== marker) {
          marker = progress;
          lastProgress = now;
        }
        const idle = now - lastProgress > o.convergeSeconds * 1000;
        if (!idle && now - convergeStart <= 3 * o.convergeSeconds * 1000) return undefined;
        return `${left.size} left (${[...left].slice(0, 5).join(', ')}) after ${Math.round((now - convergeStart) / 1000)} s, the last ${Math.round((now - lastProgress) / 1000)} s without progress`;
      },
      {
        // the callback decides when to give up; this bound only covers an API that stops answering
        forMs: 3 * o.convergeSeconds * 1000 + 10_000,
        everyMs: 2000,
        timeout: (last) => new SoakTimeoutError(`GET /agents did not answer${last ? `: ${errorMessage(last)}` : ''}`),
      },
    ).catch((e: unknown) => errorMessage(e));
    // not fatal: the check reports which agents were left
    if (converged !== 'ok') say(`soak: every faulty agent quarantined (GET /agents): ${converged}`);
    phase('converge');

    // ---------------------------------------------------------------------------------------------
    // drain and collect
    const stopped = await api.call(
      'POST',
      '/components/scheduler/stop',
      z.object({ component: z.object({ name: z.string(), running: z.boolean() }) }),
    );
    if (stopped.component.running) throw new SoakApiError('POST /components/scheduler/stop: the scheduler still runs');
    schedulerStoppedAt = Date.now();
    // slots dispatched before the stop (horizon 1.5 s) still run; then everything settles
    await sleep(2000);
    const stats = ChildStatsSchema.parse(
      await child.command({ op: 'drain', timeoutMs: o.drainTimeoutSeconds * 1000 }, o.drainTimeoutSeconds * 1000 + 30_000),
    );
    await child.command({ op: 'flush' });
    phase('drain');
    const [agents, ledger, verify] = [await api.agents(), await api.ledger(), await api.verify()];
    final = { agents, ledger, verify, stats: stats as ChildStats };
    phase('collect');
  } catch (e) {
    error = errorMessage(e);
    say(`soak: failed: ${error}`);
  } finally {
    if (probe) clearInterval(probe);
    if (sampler) clearInterval(sampler);
    if (h) {
      const child = h;
      if (!child.exitedEarly) {
        child.stopRequested = true;
        await child.command({ op: 'stop' }, 120_000).catch((e: unknown) => {
          say(`soak: stop failed: ${errorMessage(e)}; sending SIGTERM`);
          child.child.kill('SIGTERM');
        });
        await Promise.race([child.exited, sleep(60_000)]);
        if (child.child.exitCode === null && child.child.signalCode === null) child.child.kill('SIGKILL');
      }
      phase('stop');
    }
  }

  const obs: SoakObservations = {
    plan,
    policy: { errThreshold: o.health.AGENT_ERR_THRESHOLD, maxRestarts: o.health.AGENT_MAX_RESTARTS },
    runs: h?.runs ?? [],
    events: h?.events ?? [],
    injected,
    faults,
    schedulerStoppedAt,
    process: { exitedEarly: h?.exitedEarly ?? null, finalExit: h?.finalExit ?? null, healthz },
    final,
  };
  const { checks, figures } = evaluate(obs);
  if (error) checks.unshift({ id: 'phases', title: 'every phase completed in its time bound', ok: false, detail: error });
  const passed = checks.every((c) => c.ok);
  if (!o.keepData && passed) rmSync(dataDir, { recursive: true, force: true });
  else {
    // everything the verdict was computed from, for a post-mortem (or a re-evaluation)
    const { plan: _plan, ...rest } = obs;
    writeFileSync(join(dataDir, 'observations.json'), JSON.stringify({ ...rest, agents: plan.agents.map(({ source: _s, ...a }) => a) }));
  }
  return {
    passed,
    checks,
    figures,
    options: o,
    machine: machineDescription(),
    startedAt,
    phases,
    peakRssMb,
    logFile: passed && !o.keepData ? null : logFile,
    error,
  };
}

/** The result as a Markdown section (docs/soak.md keeps the full form's last one). */
export function formatResult(r: SoakResult): string {
  const f = r.figures;
  const o = r.options;
  const lines = [
    `### Soak ${r.passed ? 'PASSED' : 'FAILED'} — ${o.agents} agents, ${r.startedAt}`,
    '',
    `Machine: ${r.machine}.`,
    `Options: active ${o.activeSeconds} s, healthy periods ${o.healthyCycleSeconds[0]}–${o.healthyCycleSeconds[1]} s, faulty periods ${o.faultyCycleSeconds[0]}–${o.faultyCycleSeconds[1]} s, runner concurrency ${o.runnerConcurrency}, an emulator restart every ${o.emulatorFaultEverySeconds} s (DynamoDB down ${o.dynamoDownMs} ms + its JVM start, s3rver down ${o.s3DownMs} ms), ${o.duplicatesPerInjection} duplicates every ${o.duplicateEverySeconds} s, health ${Object.entries(
      o.health,
    )
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}, seed ${o.seed}.`,
    `Phases (s): ${Object.entries(r.phases)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}; total ${Object.values(r.phases)
      .reduce((a, b) => a + b, 0)
      .toFixed(1)} s. Orchestrator peak RSS ${r.peakRssMb} MB.`,
    '',
    '| check | result | detail |',
    '|---|---|---|',
    ...r.checks.map((c) => `| ${c.title} | ${c.ok ? 'ok' : '**FAILED**'} | ${c.detail.replace(/\|/g, '\\|')} |`),
    '',
    '| figure | value |',
    '|---|---|',
    `| runs (cycles / envelope runs) | ${f.runs} (${f.cycleRuns} / ${f.envelopeRuns}) |`,
    `| skipped runs by reason | ${
      Object.entries(f.skipped)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || 'none'
    } |`,
    `| envelopes published by agents / orchestrator events / ledger entries | ${f.envelopesPublished} / ${f.orchestratorEvents} / ${f.ledgerEntries} |`,
    `| healthy slots ran / expected (missed within outages) | ${f.healthySlots.ran} / ${f.healthySlots.expected} (${f.healthySlots.missedInFaultWindows}) |`,
    `| healthy slot jitter (run start − slot start) p50 / p90 / p99 / max | ${f.jitterMs.p50} / ${f.jitterMs.p90} / ${f.jitterMs.p99} / ${f.jitterMs.max} ms (${f.jitterMs.samples} runs) |`,
    `| the same, slots away from emulator outages | ${f.jitterQuietMs.p50} / ${f.jitterQuietMs.p90} / ${f.jitterQuietMs.p99} / ${f.jitterQuietMs.max} ms (${f.jitterQuietMs.samples} runs) |`,
    `| faulty restart epochs, most failed cycles in one (those reaching the threshold in a DynamoDB outage's recovery: count, most) | ${f.faultyEpochs.epochs}, ${f.faultyEpochs.maxFailuresInAnEpoch} (${f.faultyEpochs.recoveryEpochs}, ${f.faultyEpochs.maxFailuresInRecovery}) |`,
    `| duplicate deliveries injected | ${f.duplicatesInjected} |`,
    `| emulator restarts (DynamoDB / s3rver), total unreachable | ${f.faults.dynamodb} / ${f.faults.s3}, ${(f.faults.unreachableMs / 1000).toFixed(1)} s |`,
  ];
  if (r.logFile) lines.push('', `Orchestrator log: ${r.logFile}`);
  return lines.join('\n') + '\n';
}
