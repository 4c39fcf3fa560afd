/**
 * A real Kafka wire-protocol cluster for tests and benchmarks, without Docker: librdkafka's own
 * mock cluster, started by Debian's `kcat` (apt package `kcat`, librdkafka 2.0):
 *
 *   kcat -X test.mock.num.brokers=3 -X debug=mock -b localhost -C -t keepalive
 *
 * prints `bootstrap.servers=127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3` on stderr and serves three
 * brokers (topics are created on first use, 4 partitions each) for as long as it runs. `kcat` is
 * the consumer of the topic `keepalive` that keeps the cluster up; `stop()` kills it.
 *
 * One defect of that mock is corrected in front of it: its Metadata responses name broker 0 as
 * the controller, and there is no broker 0 (they are 1, 2, 3). KafkaJS sends an idempotent
 * producer's InitProducerId to the controller, so against the bare mock an idempotent producer
 * cannot connect ("Broker 0 not found in the cached metadata"). A small TCP proxy per broker
 * (`controllerFix`, on by default) passes every byte through unchanged except two fields it
 * rewrites in place (same lengths): in Metadata responses the controller id (to the lowest
 * broker id) and each broker's port (to its proxy, so every later connection stays proxied), and
 * in FindCoordinator responses the coordinator's port. Everything else — produce, fetch,
 * consumer groups, offsets, InitProducerId itself — is the mock's own behaviour.
 *
 * No kcat: `startKafkaMock` throws, naming the package; a test that needs Kafka fails, it is
 * never skipped silently (`.ci/run` installs kcat when it is missing).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface KafkaMock {
  /** bootstrap brokers for clients (the proxies unless controllerFix is off) */
  brokers: string[];
  /** the mock's own broker addresses (kcat uses these directly) */
  mockBrokers: string[];
  stop(): Promise<void>;
}

const KCAT = process.env.KCAT_PATH ?? 'kcat';

/** Throws a clear error when kcat is not installed. */
export function requireKcat(): void {
  const r = spawnSync(KCAT, ['-V'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error(
      `kcat is needed for the Kafka tests (librdkafka's mock cluster) and was not found (${r.error?.message ?? `exit ${r.status}`}): ` +
        'apt-get install -y kcat (or set KCAT_PATH); .ci/run installs it',
    );
  }
}

export async function startKafkaMock(
  opts: { brokers?: number; controllerFix?: boolean; readyTimeoutMs?: number } = {},
): Promise<KafkaMock> {
  requireKcat();
  const child = spawn(
    KCAT,
    ['-X', `test.mock.num.brokers=${opts.brokers ?? 3}`, '-X', 'debug=mock', '-b', 'localhost', '-C', '-t', 'keepalive'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const mockBrokers = await new Promise<string[]>((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(
      () => fail(new Error(`kcat printed no bootstrap.servers within ${opts.readyTimeoutMs ?? 30_000} ms:\n${seen.slice(-2000)}`)),
      opts.readyTimeoutMs ?? 30_000,
    );
    const fail = (e: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(e);
    };
    const onData = (d: Buffer) => {
      seen += d.toString();
      const m = /bootstrap\.servers=(\S+)/.exec(seen);
      if (!m) return;
      clearTimeout(timer);
      child.stderr!.off('data', onData);
      // debug=mock logs every request: keep draining stderr, or kcat blocks on a full pipe
      child.stderr!.resume();
      resolve(m[1]!.split(','));
    };
    child.stderr!.on('data', onData);
    child.once('error', (e) => fail(new Error(`kcat could not start: ${e.message}`)));
    child.once('exit', (code, signal) =>
      fail(new Error(`kcat exited (code ${code}, signal ${signal}) before the mock cluster was up:\n${seen.slice(-2000)}`)),
    );
  });
  const stopKcat = () => stopChild(child);
  if (opts.controllerFix === false) return { brokers: mockBrokers, mockBrokers, stop: stopKcat };
  const proxy = await startControllerFix(mockBrokers);
  return {
    brokers: proxy.addresses,
    mockBrokers,
    stop: async () => {
      await proxy.close();
      await stopKcat();
    },
  };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

// ---------------------------------------------------------------------------------------------
// the controller-fixing proxy

const METADATA = 3;
const FIND_COORDINATOR = 10;

interface Proxy {
  addresses: string[];
  close(): Promise<void>;
}

async function startControllerFix(mockBrokers: string[]): Promise<Proxy> {
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  /** mock port → proxy port */
  const portMap = new Map<number, number>();
  for (const addr of mockBrokers) {
    const [host, portText] = addr.split(':') as [string, string];
    const target = { host, port: Number(portText) };
    const server = createServer((client) => {
      const upstream = connect(target);
      sockets.add(client);
      sockets.add(upstream);
      const pending = new Map<number, { apiKey: number; apiVersion: number }>();
      const close = () => {
        client.destroy();
        upstream.destroy();
        sockets.delete(client);
        sockets.delete(upstream);
      };
      client.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
      framed(client, (frame) => {
        // request header: api_key int16, api_version int16, correlation_id int32
        if (frame.length >= 8) pending.set(frame.readInt32BE(4), { apiKey: frame.readInt16BE(0), apiVersion: frame.readInt16BE(2) });
        upstream.write(withLength(frame));
      });
      framed(upstream, (frame) => {
        const req = frame.length >= 4 ? pending.get(frame.readInt32BE(0)) : undefined;
        if (req) {
          pending.delete(frame.readInt32BE(0));
          try {
            if (req.apiKey === METADATA) fixMetadata(frame, req.apiVersion, portMap);
            else if (req.apiKey === FIND_COORDINATOR) fixFindCoordinator(frame, req.apiVersion, portMap);
          } catch (e) {
            // a response this proxy cannot read is passed on as it is (the client will say what is wrong)
            process.stderr.write(`kafka mock proxy: could not rewrite api ${req.apiKey} v${req.apiVersion}: ${(e as Error).message}\n`);
          }
        }
        client.write(withLength(frame));
      });
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', () => resolve()));
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('proxy has no port');
    portMap.set(target.port, address.port);
    servers.push(server);
  }
  return {
    addresses: [...portMap.values()].map((p) => `127.0.0.1:${p}`),
    close: async () => {
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
}

/** Calls `onFrame` with each Kafka frame (without its int32 length prefix) read from `socket`. */
function framed(socket: Socket, onFrame: (frame: Buffer) => void): void {
  let buf: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    while (buf.length >= 4) {
      const size = buf.readInt32BE(0);
      if (buf.length < 4 + size) break;
      onFrame(Buffer.from(buf.subarray(4, 4 + size)));
      buf = buf.subarray(4 + size);
    }
  });
}

function withLength(frame: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeInt32BE(frame.length, 0);
  return Buffer.concat([len, frame]);
}

/** A cursor over a response (non-flexible versions only: KafkaJS uses none of the flexible ones). */
class Reader {
  constructor(
    readonly buf: Buffer,
    public at: number,
  ) {}
  int16(): number {
    const v = this.buf.readInt16BE(this.at);
    this.at += 2;
    return v;
  }
  int32(): number {
    const v = this.buf.readInt32BE(this.at);
    this.at += 4;
    return v;
  }
  /** skips a (nullable) string */
  string(): void {
    const len = this.int16();
    if (len > 0) this.at += len;
  }
}

function fixPort(r: Reader, portMap: Map<number, number>): void {
  const port = r.buf.readInt32BE(r.at);
  const mapped = portMap.get(port);
  if (mapped !== undefined) r.buf.writeInt32BE(mapped, r.at);
  r.at += 4;
}

/** Metadata v0-v8 response: brokers' ports → proxies, controller id → an existing broker. */
function fixMetadata(frame: Buffer, version: number, portMap: Map<number, number>): void {
  if (version >= 9) throw new Error('flexible Metadata versions are not handled');
  const r = new Reader(frame, 4);
  if (version >= 3) r.int32(); // throttle_time_ms
  const ids: number[] = [];
  const brokers = r.int32();
  for (let i = 0; i < brokers; i++) {
    ids.push(r.int32()); // node_id
    r.string(); // host
    fixPort(r, portMap);
    if (version >= 1) r.string(); // rack
  }
  if (version >= 2) r.string(); // cluster_id
  if (version >= 1 && ids.length > 0) {
    const controller = r.buf.readInt32BE(r.at);
    if (!ids.includes(controller)) r.buf.writeInt32BE(Math.min(...ids), r.at);
  }
}

/** FindCoordinator v0-v2 response: the coordinator's port → its proxy. */
function fixFindCoordinator(frame: Buffer, version: number, portMap: Map<number, number>): void {
  if (version >= 3) throw new Error('flexible FindCoordinator versions are not handled');
  const r = new Reader(frame, 4);
  if (version >= 1) r.int32(); // throttle_time_ms
  r.int16(); // error_code
  if (version >= 1) r.string(); // error_message
  r.int32(); // node_id
  r.string(); // host
  fixPort(r, portMap);
}

// ---------------------------------------------------------------------------------------------
// kcat as a test client

export interface KcatRecord {
  key?: string;
  value: string;
  headers?: Record<string, string>;
  partition?: number;
}

/**
 * Produces records with kcat (librdkafka's producer, not the client under test), one `kcat -P`
 * per record so that keys, headers and partitions can differ; waits until kcat has them acked.
 */
export async function kcatProduce(brokers: string[], topic: string, records: KcatRecord[]): Promise<void> {
  for (const rec of records) {
    // kcat -P reads newline-delimited values: one record, so no newline inside the value
    if (rec.value.includes('\n')) throw new Error('kcatProduce: a value must not contain a newline');
    const args = ['-b', brokers.join(','), '-P', '-t', topic, '-X', 'acks=all'];
    if (rec.key !== undefined) args.push('-k', rec.key);
    if (rec.partition !== undefined) args.push('-p', String(rec.partition));
    for (const [k, v] of Object.entries(rec.headers ?? {})) args.push('-H', `${k}=${v}`);
    await new Promise<void>((resolve, reject) => {
      const p = spawn(KCAT, args, { stdio: ['pipe', 'ignore', 'pipe'] });
      let err = '';
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      p.once('error', reject);
      p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`kcat -P exited ${code}: ${err}`))));
      p.stdin.end(rec.value + '\n');
    });
  }
}

/**
 * Produces many records with one kcat process: record i has the key `k<i>` (so the records spread
 * over the partitions by librdkafka's key hash) and the value `values[i]` (no newline, no `|`).
 */
export async function kcatProduceMany(brokers: string[], topic: string, values: string[]): Promise<void> {
  const lines = values.map((v, i) => {
    if (v.includes('\n') || v.includes('|')) throw new Error('kcatProduceMany: a value must not contain a newline or |');
    return `k${i}|${v}`;
  });
  await new Promise<void>((resolve, reject) => {
    const p = spawn(KCAT, ['-b', brokers.join(','), '-P', '-t', topic, '-K', '|', '-X', 'acks=all'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.once('error', reject);
    p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`kcat -P exited ${code}: ${err}`))));
    p.stdin.end(lines.join('\n') + '\n');
  });
}

export interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
}

/**
 * Reads a topic from the beginning to its current end with kcat (`-C -e -J`): every record with
 * its key, value and headers.
 */
export async function kcatConsume(brokers: string[], topic: string): Promise<ConsumedRecord[]> {
  const out = await new Promise<string>((resolve, reject) => {
    const p = spawn(KCAT, ['-b', brokers.join(','), '-C', '-t', topic, '-o', 'beginning', '-e', '-J', '-q'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (text += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.once('error', reject);
    p.once('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`kcat -C exited ${code}: ${err}`))));
  });
  return out
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => {
      const j = JSON.parse(l) as {
        topic: string;
        partition: number;
        offset: number;
        key: string | null;
        payload: string | null;
        headers?: string[];
      };
      const headers: Record<string, string> = {};
      const h = j.headers ?? [];
      for (let i = 0; i + 1 < h.length; i += 2) headers[h[i]!] = h[i + 1]!;
      return { topic: j.topic, partition: j.partition, offset: j.offset, key: j.key, value: j.payload, headers };
    });
}
