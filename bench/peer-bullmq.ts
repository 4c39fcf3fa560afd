/**
 * The peer a single-machine user would pick instead of local mode: BullMQ on Redis, the same
 * trivial job (read a counter from the job's data, add one) in a sandboxed processor, in child
 * processes (BullMQ's default for a processor file) and in worker threads (`useWorkerThreads`),
 * at concurrency 2, measured in the same `npm run bench` as our cycles/s (bench/cycles.ts).
 *
 * A backlog of jobs is added first (addBulk), then one Worker drains it; jobs/s is the backlog
 * over the time from the worker's start to the last `completed` event. BullMQ's defaults
 * otherwise (completed jobs kept in Redis, no retries). What it does not do that a cycle does:
 * no bundle signature re-verification, no permission sandbox (the processor runs with the
 * worker's environment and rights), no lease/at-most-once per slot, no durable hash-chained
 * ledger entry per run.
 *
 * Redis: Debian's `redis-server`, started by this module on a free loopback port (no
 * persistence) and stopped after. If the binary is missing the module tries
 * `apt-get update && apt-get install -y redis-server`; if that fails too it reports that it
 * skipped and why (it never fails the bench).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchResult } from './types';

const JOBS = 5000;
const CONCURRENCY = 2;
/** longest one drain may take before the peer is reported as failed */
const DRAIN_TIMEOUT_MS = 60_000;

/** the processor: a CommonJS file, as BullMQ's sandboxed processors are loaded */
const PROCESSOR = `module.exports = async (job) => ({ n: (job.data.n ?? 0) + 1 });\n`;

function which(cmd: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  const p = r.stdout.trim();
  return r.status === 0 && p ? p : null;
}

/** redis-server's path and how it was found, or why there is none */
function ensureRedis(): { path: string; how: string } | { skip: string } {
  const found = which('redis-server');
  if (found) return { path: found, how: `${found} (already installed)` };
  const apt = which('apt-get');
  if (!apt) return { skip: 'redis-server is not installed and there is no apt-get to install it' };
  const run = (args: string[]) =>
    spawnSync(apt, args, { encoding: 'utf8', timeout: 180_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  const upd = run(['update']);
  const inst = upd.status === 0 ? run(['install', '-y', 'redis-server']) : upd;
  const path = which('redis-server');
  if (path) return { path, how: `${path} (installed by this module with apt-get)` };
  const why = `${inst.stderr ?? ''}${inst.error ? String(inst.error) : ''}`.trim().split('\n').slice(-2).join(' ');
  return { skip: `redis-server is not installed and apt-get could not install it (${why || `exit ${inst.status}`})` };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

async function startRedis(path: string): Promise<{ port: number; proc: ChildProcess; version: string }> {
  const port = await freePort();
  const version = (spawnSync(path, ['--version'], { encoding: 'utf8' }).stdout.match(/v=(\S+)/)?.[1] ?? '?').trim();
  const proc = spawn(path, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start within 10 s: ${out.slice(-300)}`)), 10_000);
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited (${code}): ${out.slice(-300)}`));
    });
  });
  proc.stdout?.resume();
  proc.stderr?.resume();
  return { port, proc, version };
}

async function drain(port: number, processorFile: string, useWorkerThreads: boolean): Promise<number> {
  const { Queue, Worker } = await import('bullmq');
  const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };
  const name = `bench-${useWorkerThreads ? 'threads' : 'procs'}-${Date.now()}`;
  const queue = new Queue(name, { connection });
  try {
    for (let i = 0; i < JOBS; i += 1000)
      await queue.addBulk(Array.from({ length: Math.min(1000, JOBS - i) }, (_, j) => ({ name: 'cycle', data: { n: i + j } })));
    let done = 0;
    let failed = 0;
    const worker = new Worker(name, processorFile, { connection, concurrency: CONCURRENCY, useWorkerThreads, autorun: false });
    const finished = new Promise<void>((resolve) => {
      const tick = () => {
        if (done + failed >= JOBS) resolve();
      };
      worker.on('completed', () => {
        done++;
        tick();
      });
      worker.on('failed', () => {
        failed++;
        tick();
      });
    });
    await worker.waitUntilReady();
    const t0 = performance.now();
    worker.run().catch(() => undefined);
    await finished;
    const s = (performance.now() - t0) / 1000;
    await worker.close();
    if (failed) throw new Error(`${failed} of ${JOBS} BullMQ jobs failed`);
    return JOBS / s;
  } finally {
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
  }
}

export async function run(): Promise<BenchResult[]> {
  const redis = ensureRedis();
  if ('skip' in redis) {
    console.log(`  BullMQ peer skipped: ${redis.skip}`);
    return [{ name: 'BullMQ peer: skipped', value: 0, unit: '', note: redis.skip }];
  }
  const dir = mkdtempSync(join(tmpdir(), 'bench-bullmq-'));
  const processorFile = join(dir, 'processor.cjs');
  writeFileSync(processorFile, PROCESSOR);
  let server: Awaited<ReturnType<typeof startRedis>> | undefined;
  try {
    try {
      server = await startRedis(redis.path);
    } catch (e) {
      const why = `redis-server did not start: ${String((e as Error).message ?? e)}`;
      console.log(`  BullMQ peer skipped: ${why}`);
      return [{ name: 'BullMQ peer: skipped', value: 0, unit: '', note: why }];
    }
    const { version } = (await import('bullmq/package.json', { with: { type: 'json' } })).default as { version: string };
    // a peer that fails or hangs is reported, never the bench's failure
    const guarded = async (threads: boolean): Promise<number | string> => {
      let timer: NodeJS.Timeout | undefined;
      try {
        return await Promise.race([
          drain(server!.port, processorFile, threads),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no result within ${DRAIN_TIMEOUT_MS / 1000} s`)), DRAIN_TIMEOUT_MS);
          }),
        ]);
      } catch (e) {
        return String((e as Error).message ?? e);
      } finally {
        clearTimeout(timer);
      }
    };
    const procs = await guarded(false);
    const threads = await guarded(true);
    if (typeof procs === 'string' || typeof threads === 'string') {
      const why =
        `BullMQ failed: ${typeof procs === 'string' ? `child processes: ${procs}` : ''} ${typeof threads === 'string' ? `worker threads: ${threads}` : ''}`.trim();
      console.log(`  BullMQ peer skipped: ${why}`);
      return [{ name: 'BullMQ peer: skipped', value: 0, unit: '', note: why }];
    }
    const common = `BullMQ ${version}, Redis ${server.version} (${redis.how}) on a free loopback port, no persistence; ${JOBS} jobs added first, concurrency ${CONCURRENCY}, the same trivial job; no signatures, no permission sandbox, no lease, no durable ledger`;
    return [
      {
        name: 'BullMQ peer: jobs/s, sandboxed processor in child processes',
        value: Math.round(procs),
        unit: 'jobs/s',
        note: common,
      },
      {
        name: 'BullMQ peer: jobs/s, sandboxed processor in worker threads',
        value: Math.round(threads),
        unit: 'jobs/s',
        note: `useWorkerThreads; ${common}`,
      },
    ];
  } finally {
    if (server && server.proc.exitCode === null) {
      const exited = new Promise((r) => server?.proc.once('exit', r));
      server.proc.kill('SIGTERM');
      await exited;
    }
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of await run()) console.log(`${r.name}: ${r.value} ${r.unit}${r.note ? ` (${r.note})` : ''}`);
  process.exit(0);
}
