/**
 * `npm start` as a real process for the whole-system tests: its own process group (so a test can
 * press Ctrl-C the way a terminal does, and so nothing it started can outlive the test: npm,
 * local mode and the DynamoDB Local JVM are all in that group), the API on a port the OS picks
 * (PORT=0; the URL is read from what it prints), and readiness by what it prints and a real
 * request, never by a fixed sleep.
 *
 * `killAllLocalModes()` (call it in afterAll) kills every group started here that is still alive,
 * also when a test failed half-way.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pollUntil } from '../../shared/core/retry';

export interface LocalModeProcess {
  child: ChildProcess;
  /** stdout and stderr so far */
  output(): string;
  /** resolves with the API URL once "Orchestrator running" is printed; rejects if it exits first */
  ready: Promise<string>;
  /** resolves with the exit code (or null after a signal) and the signal */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** the API token (after ready) */
  token(): string;
  /** SIGINT to the whole group, as Ctrl-C in a terminal */
  ctrlC(): void;
}

const groups = new Set<number>();

export interface StartOptions {
  dataDir: string;
  env?: Record<string, string>;
  /** generous: a loaded 2-core machine starts Java slowly (default 120 s) */
  readyTimeoutMs?: number;
}

export function startLocalMode(opts: StartOptions): LocalModeProcess {
  const child = spawn('npm', ['start', '--silent'], {
    cwd: process.cwd(),
    env: { ...process.env, PORT: '0', AGENT_DATA_DIR: opts.dataDir, LOG_LEVEL: 'warn', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  if (child.pid) groups.add(child.pid);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      if (child.pid) groups.delete(child.pid);
      resolve({ code, signal });
    }),
  );
  const ready = new Promise<string>((resolve, reject) => {
    const timeoutMs = opts.readyTimeoutMs ?? 120_000;
    const until = Date.now() + timeoutMs;
    const timer = setInterval(() => {
      const m = /Orchestrator running[\s\S]*?API:\s+(http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
      if (m) {
        clearInterval(timer);
        resolve(m[1]!);
      } else if (Date.now() > until) {
        clearInterval(timer);
        reject(new Error(`npm start not ready within ${timeoutMs} ms:\n${out}`));
      }
    }, 100);
    void exited.then(({ code, signal }) => {
      clearInterval(timer);
      reject(new Error(`npm start exited early (code ${code}, signal ${signal}):\n${out}`));
    });
  });
  ready.catch(() => undefined);
  return {
    child,
    output: () => out,
    ready,
    exited,
    token: () => readFileSync(join(opts.dataDir, 'api-token'), 'utf8').trim(),
    ctrlC: () => process.kill(-child.pid!, 'SIGINT'),
  };
}

/** Kills what is left of every local mode started by this file (SIGKILL to each process group). */
export function killAllLocalModes(): void {
  for (const pgid of groups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  groups.clear();
}

/** Whether a process is alive (signal 0). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The lines local mode wrote to `<data dir>/exit.log`, parsed. */
export function exitLog(dataDir: string): Record<string, unknown>[] {
  const f = join(dataDir, 'exit.log');
  if (!existsSync(f)) return [];
  return readFileSync(f, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Polls `fn` until it returns a value (not undefined), at most `ms` (a generous bound, not a measurement). */
export function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  return pollUntil(fn, {
    forMs: ms,
    timeout: (last) => new Error(`timed out after ${ms} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`),
  });
}
