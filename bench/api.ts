/**
 * Control API latency under load: the API handler behind the local HTTP listener (local/http.ts),
 * over DynamoDB Local with 50 registered agents (heartbeats with histograms), hammered from a
 * SECOND process over loopback: 8 keep-alive connections, closed loop, GET /agents then
 * GET /metrics for a fixed time each. The load process measures each request (send → last body
 * byte) and reports p50/p99 and throughput; the server side is this process. A short
 * single-connection run of GET /agents first gives the latency without queueing.
 *
 * DynamoDB Local is a single Java process sharing the 2 cores with the server and the load
 * generator, so these are local-mode figures: in the cloud a request costs one Lambda invocation
 * plus the same DynamoDB reads (GET /agents: one Scan + one BatchGet per 100 agents; /metrics:
 * the same plus the ledger head).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createClients } from '../shared/adapters/aws/clients';
import { ensureTables } from '../shared/adapters/aws/tables';
import { DynamoRegistry } from '../shared/adapters/aws/dynamo-registry';
import { DynamoHeartbeats } from '../shared/adapters/aws/dynamo-heartbeats';
import { createDynamoLedger } from '../shared/adapters/aws/dynamo-ledger';
import { TABLES } from '../shared/definitions/tables';
import { ControlService } from '../shared/core/control/service';
import { healthPolicyFrom } from '../shared/core/health/policy';
import { loadConfig } from '../shared/core/config';
import { versionSortKey } from '../shared/core/bundle/identity';
import type { Envelope } from '../shared/core/envelope';
import type { DispatchItem } from '../shared/core/dispatch';
import { createApiHandler } from '../functions/api/app';
import { createStreamHandler } from '../functions/api/stream-core';
import { createRpcServer } from '../functions/api/rpc/server';
import { startHttpServer } from '../local/http';
import { startDynamoLocal } from '../local/emulators';
import { LocalComponentControl } from '../local/components';
import type { BenchResult } from './types';

const AGENTS = 50;
const CONNECTIONS = 8;
const SECONDS_PER_ROUTE = 5;
/** a short single-connection run: latency without queueing behind other requests */
const SECONDS_SINGLE = 3;

/** The load generator, run as `node --input-type=module -e` in a child process (plain JS). */
const LOADER = `
const [url, token, path, seconds, conns] = process.argv.slice(1);
const until = performance.now() + Number(seconds) * 1000;
const lat = [];
let errors = 0;
async function worker() {
  while (performance.now() < until) {
    const t0 = performance.now();
    try {
      const res = await fetch(url + path, { headers: { authorization: 'Bearer ' + token } });
      await res.arrayBuffer();
      if (res.status !== 200) errors++;
    } catch { errors++; }
    lat.push(performance.now() - t0);
  }
}
// warm-up: one request per connection, not measured
await Promise.all(Array.from({ length: Number(conns) }, () => fetch(url + path, { headers: { authorization: 'Bearer ' + token } }).then((r) => r.arrayBuffer())));
const t0 = performance.now();
await Promise.all(Array.from({ length: Number(conns) }, worker));
const secondsTaken = (performance.now() - t0) / 1000;
lat.sort((a, b) => a - b);
const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
process.stdout.write(JSON.stringify({ n: lat.length, errors, rps: lat.length / secondsTaken, p50: q(0.5), p99: q(0.99), max: lat[lat.length - 1] }));
`;

interface LoadResult {
  n: number;
  errors: number;
  rps: number;
  p50: number;
  p99: number;
  max: number;
}

function load(url: string, token: string, path: string, seconds = SECONDS_PER_ROUTE, connections = CONNECTIONS): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', LOADER, url, token, path, String(seconds), String(connections)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(JSON.parse(out) as LoadResult) : reject(new Error(`load process exited ${code}: ${err}`)),
    );
  });
}

/**
 * The API under test: DynamoDB Local with AGENTS registered agents (heartbeats with histograms),
 * the real control core, the API handler, the stream and the gRPC/Connect services behind the
 * local listener (HTTP/1.1 and h2c on one port). bench/rpc.ts uses it too.
 */
export async function startApiFixture(): Promise<{ url: string; token: string; close(): Promise<void> }> {
  const ddb = await startDynamoLocal();
  try {
    const clients = createClients({ region: 'us-east-1', endpoints: { dynamodb: ddb.endpoint }, localCredentials: true });
    const names = { Registry: 'bench-api-registry', Heartbeats: 'bench-api-heartbeats', Ledger: 'bench-api-ledger' };
    await ensureTables(clients.ddbRaw, TABLES, names);
    const registry = new DynamoRegistry(clients.ddb, names.Registry);
    const heartbeats = new DynamoHeartbeats(clients.ddb, names.Heartbeats);
    const published: Envelope[] = [];
    const events = { publish: async (e: Envelope[]) => void published.push(...e) };
    const ledger = createDynamoLedger(clients.ddb, names.Ledger, events);
    const now = Date.now();
    for (let i = 0; i < AGENTS; i++) {
      const name = `agent-${String(i).padStart(3, '0')}`;
      await registry.register({
        name,
        version: '1.0.0',
        versionKey: versionSortKey('1.0.0'),
        bundleKey: `agents/${name}/1.0.0.mjs`,
        sha256: randomBytes(32).toString('hex'),
        size: 100,
        signer: null,
        manifest: { cycleSeconds: 10, timeoutSeconds: 5, subscriptions: [], hasOnEnvelope: false },
        at: new Date(now).toISOString(),
        firstRunAt: now + 10_000,
      });
      for (const ms of [4, 40, 400])
        await heartbeats.complete(name, {
          runId: `${name}-${ms}`,
          at: now,
          outcome: 'ok',
          error: null,
          durationMs: ms,
          generation: 0,
          stateChanges: {},
          expectBy: null,
          countsAsCycle: true,
        });
    }
    const dispatched: DispatchItem[] = [];
    const dispatcher = { dispatch: async (items: DispatchItem[]) => void dispatched.push(...items) };
    const control = new ControlService({ registry, heartbeats, dispatcher, events, policy: healthPolicyFrom(loadConfig({})) });
    const on = { setEnabled: () => undefined, isEnabled: () => true };
    const components = new LocalComponentControl({ rule: () => on, schedule: () => on, extra: { runner: [on] } });
    const token = randomBytes(24).toString('hex');
    const deps = {
      auth: { mode: 'token' as const, token },
      control,
      registry,
      heartbeats,
      ledger,
      replay: ledger.replay.bind(ledger),
      events,
      components,
    };
    const http = await startHttpServer({
      handler: createApiHandler(deps),
      streamHandler: createStreamHandler(deps),
      rpc: createRpcServer(deps),
      port: 0,
    });
    return {
      url: http.url,
      token,
      async close() {
        await http.close();
        await ddb.stop();
      },
    };
  } catch (e) {
    await ddb.stop();
    throw e;
  }
}

export async function run(): Promise<BenchResult[]> {
  const api = await startApiFixture();
  try {
    const http = api;
    const token = api.token;

    const single = await load(http.url, token, '/agents', SECONDS_SINGLE, 1);
    const agents = await load(http.url, token, '/agents');
    const metrics = await load(http.url, token, '/metrics');
    for (const [what, r] of [
      ['/agents', single],
      ['/agents', agents],
      ['/metrics', metrics],
    ] as const)
      if (r.errors > 0) throw new Error(`${what}: ${r.errors} failed requests`);
    const note = `${AGENTS} agents, ${CONNECTIONS} keep-alive connections from a second process, ${SECONDS_PER_ROUTE} s, DynamoDB Local`;
    const r2 = (x: number) => Number(x.toFixed(2));
    return [
      {
        name: 'GET /agents p50, one connection',
        value: r2(single.p50),
        unit: 'ms',
        note: `${AGENTS} agents, sequential requests from a second process, DynamoDB Local`,
      },
      { name: 'GET /agents p99, one connection', value: r2(single.p99), unit: 'ms' },
      { name: 'GET /agents p50', value: r2(agents.p50), unit: 'ms', note },
      { name: 'GET /agents p99', value: r2(agents.p99), unit: 'ms' },
      { name: 'GET /agents throughput', value: Math.round(agents.rps), unit: 'req/s', note: `${agents.n} requests` },
      { name: 'GET /metrics p50', value: r2(metrics.p50), unit: 'ms', note },
      { name: 'GET /metrics p99', value: r2(metrics.p99), unit: 'ms' },
      { name: 'GET /metrics throughput', value: Math.round(metrics.rps), unit: 'req/s', note: `${metrics.n} requests` },
    ];
  } finally {
    await api.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of await run()) console.log(`${r.name}: ${r.value} ${r.unit}${r.note ? ` (${r.note})` : ''}`);
}
